//! argon2id with OWASP parameters (19 MiB, 2 iterations, 1 lane), run on a
//! pool of its own with one thread per core: a login flood then takes at most
//! those threads (and 19 MiB each), never the async workers nor the blocking
//! pool that the database work needs.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the calling thread: for the CLI and for code already on the
/// blocking pool.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| anyhow::anyhow!("{e}"))
}

fn hashers() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(hashing_threads())
            .thread_name(|i| format!("argon2-{i}"))
            .build()
            .expect("starting the password hashing threads")
    })
}

/// Runs `f` on the hashing pool; requests queue there when all its threads are busy.
async fn on_hashers<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let (done, result) = tokio::sync::oneshot::channel();
    hashers().spawn(move || {
        let _ = done.send(f());
    });
    result.await.map_err(ApiError::internal)
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    let started = Instant::now();
    let hash = on_hashers(move || hash_blocking(&password)).await?.map_err(ApiError::internal)?;
    LAST_HASH_MICROS.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    Ok(hash)
}

/// How long the last hash took, queue included (a first guess until one ran).
static LAST_HASH_MICROS: AtomicU64 = AtomicU64::new(50_000);

/// Waits about as long as the last hash took: an answer that needed no hash
/// takes the time of one that did.
pub async fn wait_as_long_as_a_hash() {
    tokio::time::sleep(Duration::from_micros(LAST_HASH_MICROS.load(Ordering::Relaxed))).await;
}

/// Hashes a new account's password. Registrations hash on at most half of
/// the hashing threads, so that logins always have the others.
pub async fn hash_for_registration(password: String) -> Result<String, ApiError> {
    static TURNS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let turns = TURNS.get_or_init(|| tokio::sync::Semaphore::new((hashing_threads() / 2).max(1)));
    let _turn = turns.acquire().await.map_err(ApiError::internal)?;
    hash(password).await
}

fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A hash of nothing anyone knows, verified against when the account does
/// not exist so that unknown and known e-mails take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking(&uuid::Uuid::new_v4().to_string()).expect("hashing the dummy password"))
}

/// Verifies `password` against `stored`, or against the dummy hash when
/// there is no account; false in that case whatever the password.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    on_hashers(move || {
        let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let ok = PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok());
        ok && stored.is_some()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn hashes_verify_and_the_dummy_never_does() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong".into(), Some(h)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
