//! The `shaplab` binary as a user runs it: zero-config `serve`, and `check-redis`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{TestRedis, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_shaplab");

#[test]
fn check_redis_reports_a_reachable_redis_and_exits_zero() {
    let redis = TestRedis::start();
    let out = Command::new(BIN)
        .arg("check-redis")
        .env("REDIS_URL", redis.url())
        .env("REDIS_TIMEOUT", "2")
        .output()
        .expect("run shaplab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["redis"]["connected"], true);
    // The test Redis has AOF off: a warning, not a failure.
    assert!(stderr.contains("appendonly yes"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn check_redis_exits_non_zero_when_redis_is_unreachable() {
    let port = free_port();
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("check-redis")
        .env("REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .env("REDIS_TIMEOUT", "1")
        .output()
        .expect("run shaplab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot reach Redis"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn check_redis_rejects_a_malformed_setting_with_exit_code_two() {
    let out = Command::new(BIN)
        .arg("check-redis")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("REDIS_TIMEOUT", "soon")
        .output()
        .expect("run shaplab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("REDIS_TIMEOUT=\"soon\""), "{stderr}");
}

#[test]
fn serve_without_redis_url_starts_and_stops_a_private_redis() {
    let data = std::env::temp_dir().join(format!("shaplab-cli-test-{}", std::process::id()));
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .env_remove("REDIS_URL")
        .env("SHAPLAB_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shaplab serve");

    // The log names the private Redis's URL; read it from stderr.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut redis_port = None;
    let mut serving = false;
    for line in lines.by_ref() {
        let line = line.expect("log line");
        if line.contains("private redis-server") {
            redis_port = line
                .split("redis://127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse::<u16>().ok());
        }
        if line.contains("serving on") {
            serving = true;
            break;
        }
    }
    assert!(serving, "serve never reported it was serving");
    let redis_port = redis_port.expect("the log names the private Redis URL");
    assert!(support::accepts(redis_port));
    assert!(data.join("redis").is_dir());

    let body: serde_json::Value = reqwest::blocking_get(port);
    assert_eq!(body["redis"]["mode"], "private");
    assert_eq!(body["redis"]["connected"], true);
    assert_eq!(body["redis"]["server"]["aof_enabled"], true);
    assert_eq!(body["redis"]["server"]["maxmemory_policy"], "noeviction");
    assert_eq!(reqwest::status(port, "/readyz"), 200);

    // The private Redis dies under the running server: this instance is no longer ready,
    // though it is still alive.
    support::send_inline(redis_port, "SHUTDOWN NOSAVE");
    assert!(support::wait_until(Duration::from_secs(5), || {
        !support::accepts(redis_port)
    }));
    assert_eq!(reqwest::status(port, "/readyz"), 503);
    assert_eq!(reqwest::status(port, "/healthz"), 200);

    // SIGTERM: shaplab stops, and takes its Redis with it.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let exited = support::wait_until(Duration::from_secs(15), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "shaplab did not exit on SIGTERM");
    assert!(support::wait_until(Duration::from_secs(5), || {
        !support::accepts(redis_port)
    }));
    let _ = std::fs::remove_dir_all(&data);
}

/// Tiny blocking GETs (the tests are synchronous; reqwest's blocking client would need another
/// feature).
mod reqwest {
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    pub fn status(port: u16, path: &str) -> u16 {
        runtime().block_on(async {
            ::reqwest::get(format!("http://127.0.0.1:{port}{path}"))
                .await
                .expect("the server answers")
                .status()
                .as_u16()
        })
    }

    pub fn blocking_get(port: u16) -> serde_json::Value {
        runtime().block_on(async {
            ::reqwest::get(format!("http://127.0.0.1:{port}/api/health"))
                .await
                .expect("health answers")
                .json()
                .await
                .expect("JSON")
        })
    }
}

#[test]
fn serve_without_redis_url_or_redis_server_says_how_to_fix_it_in_one_line() {
    let out = Command::new(BIN)
        .args(["serve", "--port", &free_port().to_string(), "--data-dir"])
        .arg(std::env::temp_dir().join("shaplab-no-redis-test"))
        .env_remove("REDIS_URL")
        .env("PATH", "/nonexistent") // no redis-server to be found
        .output()
        .expect("run shaplab serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("shaplab:"))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(line.contains("no `redis-server` was found"), "{line}");
    assert!(line.contains("apt-get install redis-server") && line.contains("REDIS_URL="));
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn explain_writes_shap_values_and_rejects_a_file_that_is_not_a_model() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/xgb_binary_d6");
    let out = std::env::temp_dir().join(format!("shaplab-explain-{}.csv", std::process::id()));
    let run = |model: &str| {
        Command::new(BIN)
            .arg("explain")
            .args(["--model", &format!("{fixture}/{model}")])
            .args(["--data", &format!("{fixture}/data.csv")])
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run shaplab explain")
    };

    let ok = run("model.json");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let csv = std::fs::read_to_string(&out).expect("OUT.csv written");
    let data = std::fs::read_to_string(format!("{fixture}/data.csv")).expect("data");
    assert_eq!(
        csv.lines().count(),
        data.lines().count(),
        "one line per row + header"
    );
    assert!(csv.lines().next().unwrap().ends_with(",base_value"));

    let bad = run("data.csv");
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("model format"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_file(&out);
}
