//! The Ed25519 key that signs electronic results, and the published public
//! keys.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::{Profile, ResultSettings};

pub struct Signer {
    key: SigningKey,
    /// `ed25519-` and the first 16 hex digits of the public key's SHA-256.
    pub key_id: String,
}

fn parse_seed(b64: &str) -> anyhow::Result<SigningKey> {
    let bytes = STANDARD.decode(b64.trim()).context("the signing key is not base64")?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("the signing key is not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn key_id(public: &VerifyingKey) -> String {
    format!("ed25519-{}", &hex::encode(Sha256::digest(public.as_bytes()))[..16])
}

impl Signer {
    /// The configured key; in the local profile without one, the key in
    /// `key_file`, generated there on first start.
    pub fn load(settings: &ResultSettings, profile: Profile) -> anyhow::Result<Self> {
        let key = match (&settings.signing_key, profile) {
            (Some(k), _) => parse_seed(k.expose_secret())?,
            (None, Profile::Production) => bail!("the production profile needs results.signing_key"),
            (None, Profile::Local) => load_or_create(&settings.key_file)?,
        };
        Ok(Self { key_id: key_id(&key.verifying_key()), key })
    }

    pub fn public_key_b64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.key.sign(message).to_bytes())
    }
}

fn load_or_create(path: &Path) -> anyhow::Result<SigningKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return parse_seed(&text).with_context(|| format!("reading the signing key in {}", path.display()));
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, STANDARD.encode(seed)).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a result signing key (local profile)");
    Ok(SigningKey::from_bytes(&seed))
}

/// Whether `signature_b64` is `public_b64`'s signature of `message`.
pub fn verify(public_b64: &str, message: &[u8], signature_b64: &str) -> bool {
    let key = STANDARD.decode(public_b64).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
    let sig = STANDARD.decode(signature_b64).ok().and_then(|b| <[u8; 64]>::try_from(b).ok());
    match (key.and_then(|k| VerifyingKey::from_bytes(&k).ok()), sig) {
        (Some(key), Some(sig)) => key.verify(message, &Signature::from_bytes(&sig)).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_keeps_its_generated_key() {
        let dir = tempfile::tempdir().unwrap();
        let settings = ResultSettings { signing_key: None, key_file: dir.path().join("k") };
        let a = Signer::load(&settings, Profile::Local).unwrap();
        let b = Signer::load(&settings, Profile::Local).unwrap();
        assert_eq!(a.key_id, b.key_id, "the generated key is reused");
        let sig = a.sign(b"hello");
        assert!(verify(&a.public_key_b64(), b"hello", &sig));
        assert!(!verify(&a.public_key_b64(), b"hellp", &sig));
        assert!(!verify("junk", b"hello", &sig));
        assert!(Signer::load(&settings, Profile::Production).is_err());
    }

    #[test]
    fn configured_keys_are_used_and_checked() {
        let settings =
            ResultSettings { signing_key: Some(STANDARD.encode([7u8; 32]).into()), key_file: "/nonexistent/k".into() };
        let s = Signer::load(&settings, Profile::Production).unwrap();
        assert!(s.key_id.starts_with("ed25519-") && s.key_id.len() == 24);
        let bad = ResultSettings { signing_key: Some("short".to_string().into()), key_file: "/x".into() };
        assert!(Signer::load(&bad, Profile::Local).is_err());
    }
}
