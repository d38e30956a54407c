//! The real `motcua` binary as a child process, with a clean motcua
//! environment: one-shot commands, and `serve` instances that a test can
//! kill with SIGKILL and start again.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Api, TEST_ENV};

/// `motcua ARGS` run from the crate root, without the caller's `MOTCUA*`
/// and `DATABASE_URL` variables, with `env` on top.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_motcua"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MOTCUA") || k == "DATABASE_URL") {
        cmd.env_remove(k);
    }
    cmd.env("RUST_LOG", "warn").envs(env.iter().copied());
    cmd
}

/// `motcua serve` with the test settings on a port of its own: the local
/// profile with demo data, its documents and signing key under `dir`, its
/// log in `dir/server.log`.
pub struct Server {
    pub api: Api,
    launch: Launch,
    child: Child,
}

/// What a (re)start needs.
struct Launch {
    port: u16,
    database_url: String,
    dir: PathBuf,
    extra_env: Vec<(String, String)>,
}

impl Launch {
    fn spawn(&self) -> Child {
        let (port, files, key) = (
            self.port.to_string(),
            self.dir.join("files").display().to_string(),
            self.dir.join("signing-key").display().to_string(),
        );
        let mut env = TEST_ENV.to_vec();
        env.extend([
            ("MOTCUA__HTTP__PORT", port.as_str()),
            ("DATABASE_URL", self.database_url.as_str()),
            ("MOTCUA__FILES__DIR", files.as_str()),
            ("MOTCUA__RESULTS__KEY_FILE", key.as_str()),
        ]);
        env.extend(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let log = File::options().create(true).append(true).open(self.dir.join("server.log")).unwrap();
        command(&["serve"], &env).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().expect("motcua runs")
    }
}

impl Server {
    /// Starts the process, with `extra_env` on top of the test settings, and
    /// returns at once; [`Server::ready`] waits for it.
    pub fn start(database_url: &str, dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let extra_env = extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let launch = Launch { port, database_url: database_url.to_string(), dir: dir.to_path_buf(), extra_env };
        Self { api: Api::new(format!("http://127.0.0.1:{port}")), child: launch.spawn(), launch }
    }

    /// Waits until `/readyz` answers 200: migrated, seeded and listening.
    pub async fn ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = self.api.client.get(self.api.url("/readyz")).send().await
                && res.status().is_success()
            {
                return;
            }
            let log = || std::fs::read_to_string(self.launch.dir.join("server.log")).unwrap_or_default();
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("motcua serve exited with {status}:\n{}", log());
            }
            assert!(Instant::now() < deadline, "motcua serve not ready after 60 s:\n{}", log());
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts the process again on the same port, database and files.
    pub async fn restart(&mut self) {
        self.child = self.launch.spawn();
        self.ready().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
