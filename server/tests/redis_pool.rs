//! The Redis connection layer against a real redis-server: bounded calls, the breaker that makes
//! calls fail fast during an outage, and recovery without rebuilding the pool.

mod support;

use server::redis::{RedisCallError, RedisPool};
use std::time::{Duration, Instant};
use support::proxy::{Mode, Proxy};
use support::{TestRedis, settings};

fn ping() -> redis::Cmd {
    redis::cmd("PING")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_redis_is_down_and_flow_again_once_it_returns() {
    let metrics = server::telemetry::metrics_handle().expect("the metrics recorder");
    let mut redis = TestRedis::start();
    let timeout = Duration::from_millis(500);
    let pool = RedisPool::new(&redis.url(), &settings(&redis.url(), timeout)).expect("pool");
    let pong: String = pool.query(&ping()).await.expect("Redis is up");
    assert_eq!(pong, "PONG");

    redis.kill();
    // The first failures each take at most the timeout...
    let mut errors = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let err = pool
            .query::<String>(&ping())
            .await
            .expect_err("Redis is down");
        assert!(started.elapsed() <= timeout + Duration::from_millis(100));
        assert!(err.is_unavailable(), "{err}");
        errors.push(err);
    }
    // ...then the breaker is open and calls are refused without touching the network.
    let started = Instant::now();
    let err = pool
        .query::<String>(&ping())
        .await
        .expect_err("breaker open");
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, RedisCallError::BreakerOpen { .. }), "{err}");
    assert!(err.is_unavailable());
    let status = pool.status();
    assert_eq!(status.breaker_opened_total, 1);
    assert!(status.rejected_total >= 1);
    assert!(status.last_error.is_some_and(|e| !e.contains("breaker")));

    // Redis returns: the probe (health) goes through the open breaker and closes it.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.probe::<String>(&ping()).await.is_err() {
        assert!(Instant::now() < deadline, "no recovery within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pong: String = pool.query(&ping()).await.expect("calls flow again");
    assert_eq!(pong, "PONG");
    assert_eq!(pool.status().consecutive_failures, 0);

    // The outage is visible to Prometheus: errors by kind and the breaker's transitions.
    let text = metrics.render();
    assert!(
        text.contains(r#"shaplab_redis_errors_total{kind="breaker_open"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"shaplab_redis_breaker_transitions_total{to="open"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"shaplab_redis_breaker_transitions_total{to="closed"}"#),
        "{text}"
    );
    assert!(
        text.contains("shaplab_redis_command_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_reply_from_redis_is_not_an_outage() {
    let redis = TestRedis::start();
    let pool = RedisPool::new(
        &redis.url(),
        &settings(&redis.url(), Duration::from_secs(1)),
    )
    .expect("pool");
    for _ in 0..5 {
        let err = pool
            .query::<String>(&redis::cmd("NO-SUCH-COMMAND"))
            .await
            .expect_err("unknown command");
        assert!(!err.is_unavailable(), "{err}");
        assert_eq!(err.kind(), "reply");
    }
    let pong: String = pool.query(&ping()).await.expect("breaker still closed");
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_times_out_and_its_connections_are_replaced() {
    let redis = TestRedis::start();
    let timeout = Duration::from_millis(300);
    let pool = RedisPool::new(&redis.url(), &settings(&redis.url(), timeout)).expect("pool");
    let _: String = pool.query(&ping()).await.expect("up");

    // SIGSTOP: the socket stays open but nothing answers (what a half-open connection looks like).
    redis.signal("STOP");
    for _ in 0..8 {
        let started = Instant::now();
        let _ = pool.probe::<String>(&ping()).await.expect_err("paused");
        assert!(started.elapsed() <= 2 * timeout + Duration::from_millis(200));
    }
    assert!(pool.status().rebuilds_total >= 1, "{:?}", pool.status());
    redis.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.probe::<String>(&ping()).await.is_err() {
        assert!(Instant::now() < deadline, "no recovery after SIGCONT");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_the_first_probe_already_succeeds() {
    let mut redis = TestRedis::start();
    let mut settings = settings(&redis.url(), Duration::from_secs(1));
    settings.pool_size = 4;
    let pool = RedisPool::new(&redis.url(), &settings).expect("pool");
    for _ in 0..4 {
        let _: String = pool
            .query(&ping())
            .await
            .expect("every connection is opened");
    }

    // Redis goes away and every connection tries, and fails, to reconnect: each manager now
    // holds a failed connection attempt that the next command will see first.
    redis.kill();
    for _ in 0..4 {
        let _ = pool
            .probe::<String>(&ping())
            .await
            .expect_err("Redis is down");
    }
    redis.restart();
    let pong: String = pool
        .probe(&ping())
        .await
        .expect("one probe after the restart already finds Redis");
    assert_eq!(pong, "PONG");
    let pong: String = pool
        .query_idempotent(&ping())
        .await
        .expect("idempotent calls recover the same way");
    assert_eq!(pong, "PONG");
}

/// QUEUE.md bar 19: every consumer is back within 5 s of a Redis restart. A restart breaks every
/// pooled connection at once; a call that meets a broken one fails (a script is not resent),
/// so before the pool woke them all, each of the 10 connections cost one failure and another
/// breaker interval: ~11 s for the API and ~21 s for workers (scripts/soak.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_every_pooled_connection_is_usable_again_within_five_seconds() {
    let mut redis = TestRedis::start();
    let mut settings = settings(&redis.url(), Duration::from_secs(1));
    settings.pool_size = 10;
    let pool = RedisPool::new(&redis.url(), &settings).expect("pool");
    let incr = || {
        let mut cmd = redis::cmd("INCR");
        cmd.arg("restart-probe");
        cmd
    };
    for _ in 0..10 {
        let _: i64 = pool
            .query(&incr())
            .await
            .expect("every connection is opened");
    }
    // Killed and back before anything is sent: every connection holds a dead socket.
    redis.kill();
    redis.restart();
    let restarted = Instant::now();
    // A worker's loop: call, and on a failure wait a little and call again, until ten calls
    // in a row (every connection, round-robin) have succeeded.
    let mut in_a_row = 0;
    while in_a_row < 10 {
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "the pool was not usable again within 5 s of the restart"
        );
        match pool.query::<i64>(&incr()).await {
            Ok(_) => in_a_row += 1,
            Err(_) => {
                in_a_row = 0;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_call_fails_within_one_timeout_and_counts_towards_a_rebuild() {
    let redis = TestRedis::start();
    let proxy = Proxy::start(redis.port);
    let timeout = Duration::from_millis(300);
    let mut settings = settings(&proxy.url(), timeout);
    settings.pool_size = 1;
    let pool = RedisPool::new(&proxy.url(), &settings).expect("pool");
    let _: String = pool.query(&ping()).await.expect("up");

    // Nothing comes back. redis-rs's own response timeout (set to the same length) fires as an
    // I/O error; it must still be a timeout: not retried as a dropped connection would be
    // (that doubled the wait), and counted towards replacing the connection.
    proxy.set(Mode::Blackhole);
    for _ in 0..3 {
        let started = Instant::now();
        let err = pool.probe::<String>(&ping()).await.expect_err("blackholed");
        let took = started.elapsed();
        assert!(matches!(err, RedisCallError::Timeout(_)), "{err}");
        assert!(took < timeout + Duration::from_millis(150), "took {took:?}");
    }
    assert_eq!(pool.status().rebuilds_total, 1, "{:?}", pool.status());

    proxy.set(Mode::Pass);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.probe::<String>(&ping()).await.is_err() {
        assert!(Instant::now() < deadline, "no recovery after the blackhole");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
