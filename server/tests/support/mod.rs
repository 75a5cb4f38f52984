//! Test helpers: real redis-server processes on free loopback ports, and the app on port 0.

#![allow(dead_code)] // each test binary uses a different subset

use server::blobs::BlobStore;
use server::config::RedisSettings;
use server::redis::RedisPool;
use server::redis::probe::{HealthProbe, RedisMode};
use server::startup::{self, AppState};
use server::uploads::UploadService;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A redis-server child on a loopback port; killed when dropped.
pub struct TestRedis {
    pub port: u16,
    child: Option<Child>,
}

impl TestRedis {
    pub fn start() -> Self {
        let port = free_port();
        let mut redis = TestRedis { port, child: None };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to connected clients) and waits for the port to close.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        wait_until(Duration::from_secs(5), || !accepts(self.port));
    }

    /// Sends a signal (`STOP`, `CONT`, …) to the server process.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{name}"), &child.id().to_string()])
                .status();
        }
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts (again) on the same port, with an empty dataset.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        self.child = Some(spawn_redis(self.port, &["--appendonly", "no"]));
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The app (API + pages) on a free port, talking to `redis_url`.
/// The upload deadline of test apps that do not test it.
const DEFAULT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(900);

pub struct TestApp {
    pub addr: SocketAddr,
    /// Blobs and scratch files of this app (removed on drop).
    pub data_dir: PathBuf,
    /// The app's queue (same pool as the API).
    pub queue: Arc<server::queue::Queue>,
    /// The app's Redis pool: its breaker state and counters, read without a network call.
    pub pool: Arc<RedisPool>,
    /// Embedded workers, when spawned with [`TestApp::spawn_with_jobs`].
    pub workers: Option<server::jobs::workers::Workers>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn(redis_url: &str, settings: RedisSettings) -> Self {
        Self::spawn_with_upload_cap(redis_url, settings, 256 * 1024 * 1024).await
    }

    /// Like [`spawn`](Self::spawn), with blobs in a fresh temporary directory and `max_bytes`
    /// as the upload cap.
    pub async fn spawn_with_upload_cap(
        redis_url: &str,
        settings: RedisSettings,
        max_bytes: u64,
    ) -> Self {
        Self::spawn_full(redis_url, settings, max_bytes, None, Default::default()).await
    }

    /// An app with one embedded worker (chunks of 64 rows) and the given sign-in settings.
    pub async fn spawn_with_auth(
        redis_url: &str,
        settings: RedisSettings,
        auth: server::auth::AuthConfig,
    ) -> Self {
        let jobs = server::jobs::JobsConfig {
            chunk_rows: 64,
            ..server::jobs::JobsConfig::default()
        };
        Self::spawn_full(
            redis_url,
            settings,
            256 * 1024 * 1024,
            Some((jobs, 1)),
            auth,
        )
        .await
    }

    /// An app with `workers` embedded SHAP workers (test queue timings: 1 s lease) and
    /// `chunk_rows` rows per chunk.
    pub async fn spawn_with_jobs(
        redis_url: &str,
        settings: RedisSettings,
        chunk_rows: u64,
        workers: usize,
    ) -> Self {
        let jobs = server::jobs::JobsConfig {
            chunk_rows,
            ..server::jobs::JobsConfig::default()
        };
        Self::spawn_with_config(redis_url, settings, jobs, workers).await
    }

    /// Like [`spawn_with_jobs`](Self::spawn_with_jobs) with the whole jobs configuration
    /// (e.g. a short `result_ttl`); with workers, the result sweep runs too.
    pub async fn spawn_with_config(
        redis_url: &str,
        settings: RedisSettings,
        jobs: server::jobs::JobsConfig,
        workers: usize,
    ) -> Self {
        Self::spawn_full(
            redis_url,
            settings,
            256 * 1024 * 1024,
            Some((jobs, workers)),
            Default::default(),
        )
        .await
    }

    async fn spawn_full(
        redis_url: &str,
        settings: RedisSettings,
        max_bytes: u64,
        jobs: Option<(server::jobs::JobsConfig, usize)>,
        auth: server::auth::AuthConfig,
    ) -> Self {
        Self::spawn_limited(redis_url, settings, max_bytes, jobs, auth, DEFAULT_DEADLINE).await
    }

    /// An app with `workers` embedded workers, the jobs' ceilings in `jobs.limits`, and this
    /// upload deadline (sign-in off).
    pub async fn spawn_with_limits(
        redis_url: &str,
        settings: RedisSettings,
        jobs: server::jobs::JobsConfig,
        workers: usize,
        upload_deadline: std::time::Duration,
    ) -> Self {
        let max_bytes = 256 * 1024 * 1024;
        let jobs = Some((jobs, workers));
        Self::spawn_limited(
            redis_url,
            settings,
            max_bytes,
            jobs,
            Default::default(),
            upload_deadline,
        )
        .await
    }

    async fn spawn_limited(
        redis_url: &str,
        settings: RedisSettings,
        max_bytes: u64,
        jobs: Option<(server::jobs::JobsConfig, usize)>,
        auth: server::auth::AuthConfig,
        upload_deadline: std::time::Duration,
    ) -> Self {
        let pool = Arc::new(RedisPool::new(redis_url, &settings).expect("valid URL"));
        let health = Arc::new(HealthProbe::new(
            pool.clone(),
            redis_url,
            &settings,
            RedisMode::External,
        ));
        let queue = Arc::new(server::queue::Queue::new(
            pool.clone(),
            server::queue::QueueConfig::for_tests(),
        ));
        let data_dir = temp_dir("app");
        let blobs = BlobStore::local(&data_dir.join("blobs")).expect("blob dir");
        let (jobs, workers) = jobs.unwrap_or_default();
        let workers = (workers > 0).then(|| {
            let mut running = server::jobs::workers::Workers::start(
                queue.clone(),
                server::jobs::executor::shap_executor(
                    blobs.clone(),
                    data_dir.join("cache"),
                    jobs.cache_bytes,
                ),
                workers,
            );
            running.sweep_results(queue.clone(), blobs.clone(), jobs.result_ttl);
            running.sweep_uploads(blobs.clone(), jobs.upload_ttl);
            running.warm_summaries(queue.clone(), blobs.clone(), data_dir.join("cache"));
            running
        });
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let router = startup::router(
            AppState {
                health,
                uploads: Arc::new(UploadService {
                    blobs,
                    scratch: data_dir.join("scratch"),
                    max_bytes,
                    deadline: upload_deadline,
                }),
                queue: queue.clone(),
                jobs: Arc::new(jobs),
                workers: workers
                    .as_ref()
                    .map_or_else(Vec::new, |w| w.workers.clone())
                    .into(),
                private_redis: None,
                whatif: Default::default(),
                auth: Arc::new(server::auth::Auth::new(
                    auth,
                    pool.clone(),
                    &queue.config().prefix,
                )),
            },
            startup::leptos_options(addr),
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(startup::serve(listener, router, async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            data_dir,
            queue,
            pool,
            workers,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A fresh directory under the system temp dir, unique to this process and call.
pub fn temp_dir(label: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("shaplab-test-{label}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Settings as the environment would give them, with a short timeout for tests.
pub fn settings(url: &str, timeout: Duration) -> RedisSettings {
    RedisSettings {
        url: Some(url.to_owned()),
        timeout,
        keepalive: server::config::Keepalive::After(Duration::from_secs(5)),
        pool_size: 2,
        cluster: false,
    }
}

/// A loopback port nobody listens on now, and never handed out before in this test process:
/// the kernel may give a just-released port to the next caller, and two tests starting
/// servers at once (six cluster nodes each) must not both get it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Starts `redis-server` on a loopback `port` (no RDB snapshots, plus `extra` settings) and
/// waits until it accepts connections.
fn spawn_redis(port: u16, extra: &[&str]) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (make test installs it)");
    assert!(
        wait_until(Duration::from_secs(10), || accepts(port)),
        "redis-server did not start on port {port}"
    );
    child
}

/// Sends one inline Redis command and ignores the reply.
pub fn send_inline(port: u16, command: &str) {
    use std::io::{Read, Write};
    if let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
        let _ = stream.write_all(format!("{command}\r\n").as_bytes());
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.read(&mut [0u8; 64]);
    }
}

pub fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Queue helpers (harness, executors, invariant check).
pub mod queue;

/// Queue scenario bodies of QUEUE.md, run on a single Redis and on the loopback cluster.
pub mod scenarios;

/// A 6-process loopback Redis Cluster (3 primaries, 3 replicas).
pub mod cluster;

/// Job endpoint helpers (fixture jobs over HTTP, JSON reads, the CLI's reference values).
pub mod jobs;

/// A TCP proxy in front of a redis-server that can pass, blackhole or reset its traffic.
pub mod proxy;

/// Outage suite helpers (timed API calls, the 503 envelope check, the breaker's state).
pub mod outage;

/// Single servers and whole clusters that crash and come back (scenarios 15, 16, 19).
pub mod restart;

/// One redis-server or a loopback cluster, chosen by `SHAPLAB_TEST_REDIS`.
pub mod backend;

/// A redis-server with AOF (`appendfsync always`) in its own directory, so a SIGKILL and a
/// restart on the same port come back with every acknowledged write.
pub struct AofRedis {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl AofRedis {
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("shaplab-aof-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("AOF directory");
        let mut redis = AofRedis {
            port,
            dir,
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no shutdown save, only what the AOF already holds survives.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        wait_until(Duration::from_secs(5), || !accepts(self.port));
    }

    /// Starts (again) on the same port, loading the AOF.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let dir = self.dir.to_string_lossy().into_owned();
        let aof = [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            &dir,
        ];
        self.child = Some(spawn_redis(self.port, &aof));
    }
}

impl Drop for AofRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file under the repository's `fixtures/` (written by scripts/gen_fixtures.py).
pub fn fixture(rel: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

/// Uploads `bytes` as a `kind` (`model` | `data`) file named `name`; the upload id (the upload
/// must succeed).
pub async fn upload(app: &TestApp, kind: &str, name: &str, bytes: Vec<u8>) -> String {
    upload_to(&app.url(""), kind, name, bytes).await
}

/// [`upload`] to the server at `base` (`http://127.0.0.1:port`), e.g. a `shaplab serve`
/// process the test started.
pub async fn upload_to(base: &str, kind: &str, name: &str, bytes: Vec<u8>) -> String {
    let body = upload_record_to(base, kind, name, bytes).await;
    body["id"].as_str().expect("an id").to_owned()
}

/// [`upload_to`], returning the whole record (id, name, summary, …).
pub async fn upload_record_to(
    base: &str,
    kind: &str,
    name: &str,
    bytes: Vec<u8>,
) -> serde_json::Value {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    let response = reqwest::Client::new()
        .post(format!("{base}/api/uploads"))
        .multipart(form)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{name}");
    response.json().await.expect("JSON")
}

/// Team-service helpers: a client with a cookie jar or an API key, accounts made in Redis.
pub mod team;
