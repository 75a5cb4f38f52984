//! The zero-config Redis: when `REDIS_URL` is unset, `shaplab serve` runs its own
//! `redis-server` on a free loopback port, with AOF on and its data under `.shaplab/redis`,
//! and shuts it down on exit. One machine, no setup, nothing lost across restarts.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Why the private Redis could not be started.
#[derive(Debug, Error)]
pub enum PrivateRedisError {
    #[error(
        "REDIS_URL is not set and no `redis-server` was found on PATH, so shaplab cannot start \
         its private Redis. Install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`; \
         macOS: `brew install redis`) or set REDIS_URL=redis://host:6379 to use an existing one."
    )]
    NotInstalled,
    #[error("cannot prepare the private Redis data directory {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error("cannot start redis-server: {0}")]
    Spawn(io::Error),
    #[error(
        "the private redis-server exited before it was ready (status {status}); see its log at {log}"
    )]
    Exited { status: String, log: PathBuf },
    #[error("the private redis-server did not answer within {0:?}; see its log at {1}")]
    NotReady(Duration, PathBuf),
}

/// A running `redis-server` child owned by this process.
pub struct PrivateRedis {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl PrivateRedis {
    /// Starts `redis-server` with its data in `data_dir/redis` and waits until it answers.
    pub async fn start(data_dir: &Path) -> Result<Self, PrivateRedisError> {
        let dir = data_dir.join("redis");
        std::fs::create_dir_all(&dir).map_err(|source| PrivateRedisError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let dir = std::fs::canonicalize(&dir).map_err(|source| PrivateRedisError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let log = dir.join("redis.log");
        // Another process can take the free port between our probe and redis binding it: retry.
        let mut last = None;
        for _ in 0..3 {
            let port = free_port().map_err(PrivateRedisError::Spawn)?;
            match Self::spawn(&dir, &log, port).await {
                Ok(redis) => return Ok(redis),
                Err(e @ PrivateRedisError::Exited { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(PrivateRedisError::NotReady(Duration::ZERO, log)))
    }

    async fn spawn(dir: &Path, log: &Path, port: u16) -> Result<Self, PrivateRedisError> {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            // The queue must never lose keys to eviction; AOF is the persistence, no RDB snapshots.
            .args(["--maxmemory-policy", "noeviction", "--save", ""])
            .args(["--protected-mode", "yes", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // If shaplab is killed without a chance to shut Redis down, do not leave it running.
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => PrivateRedisError::NotInstalled,
            _ => PrivateRedisError::Spawn(e),
        })?;

        let patience = Duration::from_secs(10);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(PrivateRedisError::Exited {
                    status: status.to_string(),
                    log: log.to_owned(),
                });
            }
            if ping(port).await {
                // For `shaplab user …` and `key …` while this server runs (best effort: without
                // the file they start the private Redis themselves, which fails harmlessly).
                let _ = std::fs::write(dir.join("port"), port.to_string());
                return Ok(PrivateRedis {
                    child,
                    port,
                    log: log.to_owned(),
                });
            }
            if started.elapsed() > patience {
                let _ = child.kill().await;
                return Err(PrivateRedisError::NotReady(patience, log.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The URL of the private Redis a `serve` with this `data_dir` is running, if one is.
    pub async fn running(data_dir: &Path) -> Option<String> {
        let text = std::fs::read_to_string(data_dir.join("redis").join("port")).ok()?;
        let port: u16 = text.trim().parse().ok()?;
        ping(port)
            .await
            .then(|| format!("redis://127.0.0.1:{port}"))
    }

    /// The URL to reach it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Whether the child is still running (readiness: a dead private Redis breaks this instance).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks Redis to shut down cleanly (flushing the AOF), then waits; kills it after 10 s.
    pub async fn stop(mut self) {
        let asked = send_command(self.port, b"SHUTDOWN\r\n").await;
        let exited = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        if !asked || exited.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> io::Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()
        .map(|a| a.port())
}

/// Whether a Redis on `port` answers PING (RESP spoken by hand: no client needed to wait).
async fn ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await.ok()?;
        Some(&reply == b"+PONG\r\n")
    };
    tokio::time::timeout(Duration::from_millis(500), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Sends one inline command, ignoring the reply; true when it was written.
async fn send_command(port: u16, command: &[u8]) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
        stream.write_all(command).await.ok()?;
        let mut sink = [0u8; 64];
        let _ = stream.read(&mut sink).await;
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}
