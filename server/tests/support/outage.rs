//! Helpers for the outage suites: timed API calls, the outage answer (503
//! `queue_unavailable` + `Retry-After`) checked in one place, the breaker's state read from
//! the app's pool, a job big enough to be running when the outage starts, and the figures
//! printed for `--nocapture`.

use super::{TestApp, fixture, upload};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use server::queue::keys::Partition;
use server::redis::breaker::BreakerState;
use server::redis::breakers::hash_tag_of;
use std::time::{Duration, Instant};

/// On top of `REDIS_TIMEOUT`: HTTP and scheduling on a shared 2-core machine.
pub const SLACK: Duration = Duration::from_millis(500);
/// The bound on an answer while the breaker refuses calls.
pub const FAST: Duration = Duration::from_millis(50);

/// One API answer, timed.
pub struct Hit {
    pub what: String,
    pub status: StatusCode,
    pub took: Duration,
    pub retry_after: Option<u64>,
    pub body: Value,
}

/// The three calls the page makes most: submit, poll, and read the summary.
pub struct Endpoints {
    pub submit: Value,
    pub job: String,
}

impl Endpoints {
    pub fn call(&self, i: usize) -> (Method, String, Option<&Value>) {
        match i % 3 {
            0 => (Method::POST, "/api/jobs".to_owned(), Some(&self.submit)),
            1 => (Method::GET, format!("/api/jobs/{}", self.job), None),
            _ => (Method::GET, format!("/api/jobs/{}/summary", self.job), None),
        }
    }
}

pub fn client() -> Client {
    // A request that hangs fails the test instead of hanging it.
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

pub async fn hit(
    client: &Client,
    app: &TestApp,
    (method, path, body): (Method, String, Option<&Value>),
) -> Hit {
    let mut request = client.request(method.clone(), app.url(&path));
    if let Some(body) = body {
        request = request.json(body);
    }
    let started = Instant::now();
    // An error here (connection closed without an answer) is what a panicking handler gives.
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let took = started.elapsed();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let bytes = response.bytes().await.expect("a body");
    Hit {
        what: format!("{method} {path}"),
        status,
        took,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The outage answer: 503, the envelope, a sane `Retry-After`, within `limit`.
pub fn assert_unavailable(hit: &Hit, limit: Duration) {
    assert_eq!(
        hit.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}: {}",
        hit.what,
        hit.body
    );
    assert_eq!(
        hit.body["code"], "queue_unavailable",
        "{}: {}",
        hit.what, hit.body
    );
    assert_eq!(hit.body["retryable"], true);
    assert!(hit.body["request_id"].is_string(), "{}", hit.body);
    let after = hit
        .retry_after
        .unwrap_or_else(|| panic!("{}: no Retry-After", hit.what));
    assert!(
        (1..=5).contains(&after),
        "{}: Retry-After {after}",
        hit.what
    );
    assert!(hit.took <= limit, "{}: took {:?}", hit.what, hit.took);
}

/// Whether a call made now would be refused by the breaker without touching the network:
/// open with the next probe not imminent, or half-open with its one probe in flight.
pub fn breaker_refuses(app: &TestApp) -> bool {
    match app.pool.breaker_for(breaker_tag(app).as_deref()) {
        (BreakerState::HalfOpen, _) => true,
        (BreakerState::Open, next) => next.is_some_and(|d| d > Duration::from_millis(100)),
        (BreakerState::Closed, _) => false,
    }
}

/// The breaker the endpoints' calls go through: on a cluster, that of the test queue's one
/// partition (each hash tag has its own); on one server, the pool's.
fn breaker_tag(app: &TestApp) -> Option<String> {
    let partition = Partition::new(&app.queue.config().prefix, 0).ready();
    hash_tag_of(partition.as_bytes())
}

/// The breaker's state and next probe time, taken before and after a call.
pub type BreakerMark = (BreakerState, Option<Instant>);

pub fn breaker_mark(app: &TestApp) -> BreakerMark {
    app.pool.breaker_mark(breaker_tag(app).as_deref())
}

/// Whether the breaker refused calls from `before` to `after` without a probe finishing in
/// between. A probe that ends (success closes the breaker, failure moves the next probe)
/// changes the mark, and only then can a call made meanwhile have gone to Redis and waited
/// out the timeout: such a call is not one "made with the breaker open".
pub fn refused_throughout(before: BreakerMark, after: BreakerMark) -> bool {
    let refusing = |m: BreakerMark| m.0 != BreakerState::Closed && m.1.is_some();
    refusing(before) && refusing(after) && before.1 == after.1
}

/// `n` calls round the endpoints, each made while the breaker refuses calls and each a 503
/// within `limit`; their times.
pub async fn while_breaker_open(
    client: &Client,
    app: &TestApp,
    ep: &Endpoints,
    n: usize,
    limit: Duration,
) -> Vec<Duration> {
    let start = Instant::now();
    let mut took = Vec::new();
    while took.len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the breaker never stayed open"
        );
        if !breaker_refuses(app) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let before = breaker_mark(app);
        let h = hit(client, app, ep.call(took.len())).await;
        assert_unavailable(&h, limit);
        if refused_throughout(before, breaker_mark(app)) {
            took.push(h.took);
        }
    }
    took
}

/// Polls `ep`'s job until it answers something other than 503 (bounded); that answer and
/// how long it took. Only 503 `queue_unavailable` within `limit` may come before it.
pub async fn first_answer_after_outage(
    client: &Client,
    app: &TestApp,
    ep: &Endpoints,
    limit: Duration,
) -> (Hit, Duration) {
    let start = Instant::now();
    loop {
        let h = hit(client, app, ep.call(1)).await;
        if h.status != StatusCode::SERVICE_UNAVAILABLE {
            return (h, start.elapsed());
        }
        assert_unavailable(&h, limit);
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The binary-classifier fixture's data, its 60 rows repeated to `rows` rows.
pub fn replicated_data(rows: usize) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().expect("a header"));
    let body: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    for i in 0..rows {
        out.push_str(body[i % body.len()]);
        out.push('\n');
    }
    out.into_bytes()
}

/// An app (one embedded worker, 5,000-row chunks) on `url` that has run one small job to
/// success, submitted under `key`: the starting point of the outage scenarios. The client and
/// the endpoints the scenarios then call.
pub async fn app_with_a_finished_job(
    url: &str,
    settings: server::config::RedisSettings,
    key: Option<&str>,
) -> (TestApp, Client, Endpoints) {
    let app = TestApp::spawn_with_jobs(url, settings, 5000, 1).await;
    let client = client();
    let body = upload_job(&app, replicated_data(60)).await;
    let created = submit(&client, &app, &body, key).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ep = Endpoints {
        submit: body,
        job: id_of(&created),
    };
    super::jobs::wait_for_success(&app, &ep.job, Duration::from_secs(20)).await;
    (app, client, ep)
}

/// Uploads the fixture model and `data`; the submit body for them.
pub async fn upload_job(app: &TestApp, data: Vec<u8>) -> Value {
    let model = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let model = upload(app, "model", "model.json", model).await;
    let data = upload(app, "data", "data.csv", data).await;
    json!({"model": model, "data": data})
}

/// Submits `body` (with `key` as Idempotency-Key if given); the answer.
pub async fn submit(client: &Client, app: &TestApp, body: &Value, key: Option<&str>) -> Hit {
    let mut request = client.post(app.url("/api/jobs")).json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let started = Instant::now();
    let response = request.send().await.expect("the server answers");
    Hit {
        what: "POST /api/jobs".into(),
        status: response.status(),
        took: started.elapsed(),
        retry_after: None,
        body: response.json().await.unwrap_or(Value::Null),
    }
}

pub fn id_of(hit: &Hit) -> String {
    hit.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no job id: {}", hit.body))
        .to_owned()
}

pub async fn health(client: &Client, app: &TestApp) -> Value {
    let response = client
        .get(app.url("/api/health"))
        .send()
        .await
        .expect("health answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

/// Every hit of a phase must be quick; prints the phase's figures.
pub fn report(phase: &str, took: &[Duration]) -> Duration {
    let mut sorted = took.to_vec();
    sorted.sort();
    let max = sorted.last().copied().unwrap_or_default();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    eprintln!(
        "{phase}: {} calls, median {median:?}, max {max:?}",
        took.len()
    );
    max
}

pub async fn assert_invariant(app: &TestApp) {
    let problems = app.queue.audit().await.expect("audit");
    assert!(
        problems.is_empty(),
        "queue invariant violated: {problems:#?}"
    );
}
