//! The team service with `SHAPLAB_AUTH=users`, end to end over HTTP on a real Redis: sign-in
//! (wrong passwords, lockout, sign-out), owners (someone else's job and uploads are 404),
//! share links (read-only, revocable), API keys, the job list (search, rename, delete), the
//! admin role, CSRF, the rate limit and the security headers.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::auth::{AuthConfig, AuthMode};
use support::TestApp;
use support::backend::Backend;
use support::fixture;
use support::team::{Client, add_user};

async fn users_app(redis: &Backend, rate_per_minute: u32) -> TestApp {
    let auth = AuthConfig {
        mode: AuthMode::Users,
        rate_per_minute,
        ..AuthConfig::default()
    };
    TestApp::spawn_with_auth(&redis.url(), redis.settings(), auth).await
}

/// A job on the small LightGBM fixture, submitted by `client` and finished; its id and
/// upload ids.
async fn job_of(client: &mut Client) -> (String, String, String) {
    let model = std::fs::read(fixture("lgb_reg_d3/model.txt")).expect("fixture");
    let data = std::fs::read(fixture("lgb_reg_d3/data.csv")).expect("fixture");
    let model = client.upload("model", "churn-model.txt", model).await;
    let data = client.upload("data", "customers.csv", data).await;
    let answer = client
        .post("/api/jobs", json!({"model": model, "data": data}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let id = answer.json["id"].as_str().expect("an id").to_owned();
    let started = std::time::Instant::now();
    loop {
        let job = client.get(&format!("/api/jobs/{id}")).await;
        match job.json["state"].as_str() {
            Some("succeeded") => break,
            Some("queued" | "running") if started.elapsed().as_secs() < 60 => {}
            _ => panic!("job {id} did not succeed: {}", job.text),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (id, model, data)
}

fn code(answer: &support::team::Answer) -> &str {
    answer.json["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn sign_in_owners_shares_keys_and_the_job_list() {
    let redis = Backend::start();
    let app = users_app(&redis, 0).await;
    add_user(&app, "alice", false).await;
    add_user(&app, "bob", false).await;
    add_user(&app, "carol", true).await;

    // Signed out: the API answers 401, pages send the browser to the sign-in page.
    let mut alice = Client::browser(&app);
    assert_eq!(
        alice.get("/api/jobs").await.status,
        StatusCode::UNAUTHORIZED
    );
    let page = alice.get("/jobs/p0-0123?x=1").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers["location"],
        "/signin?next=%2Fjobs%2Fp0-0123%3Fx%3D1"
    );
    assert_eq!(alice.get("/signin").await.status, StatusCode::OK);

    // A wrong password is refused without saying which half was wrong.
    let wrong = alice.sign_in("alice", "not-her-password").await;
    assert_eq!(
        (wrong.status, code(&wrong)),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );
    let signed = alice.sign_in("alice", "alice-password").await;
    assert_eq!(signed.status, StatusCode::NO_CONTENT, "{}", signed.text);
    let cookie = signed.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http gets no Secure flag: {cookie}"
    );
    let me = alice.get("/api/me").await;
    assert_eq!(me.json["user"], "alice");
    assert_eq!(me.json["via"], "session");
    assert_eq!(me.json["can_sign_out"], true);

    // CSRF: a cookie-borne change without the page's token is refused.
    let token = alice.cookies.remove("shaplab_csrf").unwrap();
    let forged = alice.post("/api/keys", json!({"label": "x"})).await;
    assert_eq!(
        (forged.status, code(&forged)),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    alice.cookies.insert("shaplab_csrf".into(), token);

    let (id, model, data) = job_of(&mut alice).await;
    let job_path = format!("/api/jobs/{id}");
    assert_eq!(alice.get(&job_path).await.status, StatusCode::OK);

    // Bob sees none of it: the same 404 as a job that never existed.
    let mut bob = Client::browser(&app);
    assert_eq!(
        bob.sign_in("bob", "bob-password").await.status,
        StatusCode::NO_CONTENT
    );
    let theirs = bob.get(&job_path).await;
    let nothing = bob.get("/api/jobs/p0-00000000000000000000000000").await;
    assert_eq!(
        (theirs.status, code(&theirs)),
        (StatusCode::NOT_FOUND, "job_not_found")
    );
    assert_eq!(code(&nothing), "job_not_found");
    for path in [
        format!("{job_path}/summary"),
        format!("{job_path}/shap.csv"),
        format!("{job_path}/report.html"),
        format!("/api/compare?a={id}&b={id}"),
    ] {
        assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        bob.get(&format!("/api/uploads/{model}")).await.status,
        StatusCode::NOT_FOUND
    );
    let reuse = bob
        .post("/api/jobs", json!({"model": model, "data": data}))
        .await;
    assert_eq!(
        (reuse.status, code(&reuse)),
        (StatusCode::UNPROCESSABLE_ENTITY, "upload_not_found"),
        "as for an upload that never existed"
    );
    assert_eq!(
        bob.delete(&format!("{job_path}?purge=true")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(bob.get("/api/jobs").await.json["total"], 0);
    let requeue = bob.post("/api/admin/dead/requeue", json!({})).await;
    assert_eq!(
        (requeue.status, code(&requeue)),
        (StatusCode::FORBIDDEN, "admin_only")
    );

    // The admin sees every job and may requeue.
    let mut carol = Client::browser(&app);
    carol.sign_in("carol", "carol-password").await;
    assert_eq!(carol.get(&job_path).await.status, StatusCode::OK);
    assert_eq!(
        carol
            .post("/api/admin/dead/requeue", json!({}))
            .await
            .status,
        StatusCode::OK
    );

    // A share link: Bob reads the job (and its files' records) but changes nothing.
    let share = alice
        .post(
            &format!("{job_path}/shares"),
            json!({"expires_in_hours": 24}),
        )
        .await;
    assert_eq!(share.status, StatusCode::CREATED, "{}", share.text);
    let url = share.json["url"].as_str().expect("the link").to_owned();
    assert!(url.starts_with("/s/") && url.len() > 40, "{url}");
    assert!(share.json["expires_at_ms"].as_u64().is_some());
    let opened = bob.get(&url).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert_eq!(opened.headers["location"], format!("/jobs/{id}"));
    assert_eq!(bob.get(&job_path).await.status, StatusCode::OK);
    assert_eq!(
        bob.get(&format!("{job_path}/summary")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bob.get(&format!("/api/uploads/{model}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bob.delete(&format!("{job_path}?purge=true")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.get(&format!("{job_path}/shares")).await.status,
        StatusCode::NOT_FOUND
    );
    // …also without any account, and nothing beyond that job.
    let mut stranger = Client::browser(&app);
    stranger.get(&url).await;
    assert_eq!(stranger.get(&job_path).await.status, StatusCode::OK);
    assert_eq!(stranger.get("/api/me").await.json["via"], "share");
    assert_eq!(
        stranger.get("/api/jobs").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stranger.get(&format!("/jobs/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(stranger.get("/").await.status, StatusCode::SEE_OTHER);
    // Revoked: gone for both.
    let listed = alice.get(&format!("{job_path}/shares")).await;
    let share_id = listed.json[0]["id"].as_str().expect("a share").to_owned();
    assert_eq!(
        listed.json[0]["url"],
        Value::Null,
        "the link is never shown again"
    );
    let revoked = alice.delete(&format!("{job_path}/shares/{share_id}")).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(bob.get(&job_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        stranger.get(&job_path).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(bob.get(&url).await.status, StatusCode::NOT_FOUND);

    // An API key: a script lists Alice's jobs and submits without cookies or CSRF.
    let key = alice.post("/api/keys", json!({"label": "nightly"})).await;
    assert_eq!(key.status, StatusCode::CREATED);
    let secret = key.json["key"].as_str().expect("the secret").to_owned();
    assert!(secret.starts_with("shk_"));
    let mut script = Client::script(&app, &secret);
    let mine = script.get("/api/jobs").await;
    assert_eq!(mine.json["jobs"][0]["id"], id.as_str());
    assert_eq!(mine.json["jobs"][0]["model_name"], "churn-model.txt");
    assert_eq!(mine.json["jobs"][0]["data_name"], "customers.csv");
    assert_eq!(mine.json["jobs"][0]["state"], "succeeded");
    assert_eq!(mine.json["jobs"][0]["rows"], 60);
    let again = script
        .post(
            "/api/jobs",
            json!({"model": model, "data": data, "output": "raw"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    let keys = alice.get("/api/keys").await;
    assert_eq!(keys.json[0]["key"], Value::Null, "the secret is shown once");
    let key_id = keys.json[0]["id"].as_str().unwrap().to_owned();
    alice.delete(&format!("/api/keys/{key_id}")).await;
    let refused = script.get("/api/jobs").await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );

    // The list: two jobs, newest first; search, rename, page, delete.
    let listed = alice.get("/api/jobs?per_page=1").await;
    assert_eq!(listed.json["total"], 2);
    assert_eq!(listed.json["jobs"].as_array().unwrap().len(), 1);
    let renamed = alice
        .send(
            reqwest::Method::PATCH,
            &job_path,
            Some(json!({"label": "March churn"})),
        )
        .await;
    assert_eq!(renamed.json["label"], "March churn");
    let found = alice.get("/api/jobs?q=march").await;
    assert_eq!(
        (
            found.json["total"].as_u64(),
            found.json["jobs"][0]["id"].as_str()
        ),
        (Some(1), Some(id.as_str()))
    );
    assert_eq!(
        alice.get("/api/jobs?q=nothing-like-it").await.json["total"],
        0
    );
    let deleted = alice.delete(&format!("{job_path}?purge=true")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(alice.get(&job_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        carol.get(&format!("{job_path}/shap.csv")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(alice.get("/api/jobs").await.json["total"], 1);

    // Sign-out ends the session.
    assert_eq!(
        alice.delete("/api/session").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(alice.get("/api/me").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_name_for_a_while() {
    let redis = Backend::start();
    let app = users_app(&redis, 0).await;
    add_user(&app, "dave", false).await;
    let mut guesser = Client::browser(&app);
    for _ in 0..5 {
        let wrong = guesser.sign_in("dave", "guess").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now: the lockout does not look at it.
    let locked = guesser.sign_in("dave", "dave-password").await;
    assert_eq!(
        (locked.status, code(&locked)),
        (StatusCode::TOO_MANY_REQUESTS, "signin_locked")
    );
    let wait: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&wait), "{wait}");
    assert_eq!(locked.json["retryable"], true);
    assert!(locked.json["message"].as_str().unwrap().contains("minutes"));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let redis = Backend::start();
    let app = users_app(&redis, 5).await;
    add_user(&app, "erin", false).await;
    let mut erin = Client::browser(&app);
    erin.sign_in("erin", "erin-password").await;
    for _ in 0..5 {
        assert_eq!(erin.get("/api/jobs").await.status, StatusCode::OK);
    }
    let limited = erin.get("/api/jobs").await;
    assert_eq!(
        (limited.status, code(&limited)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Health stays answerable (the outage banner and load balancers need it).
    assert_eq!(erin.get("/api/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn pages_and_api_answers_carry_the_security_headers() {
    let redis = Backend::start();
    let app = users_app(&redis, 0).await;
    let mut browser = Client::browser(&app);
    browser.cookies.clear();
    let page = browser.get("/signin").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    // Every inline script carries this response's nonce.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce");
    let scripts = page.text.matches("<script").count();
    assert!(scripts >= 1);
    assert_eq!(
        page.text.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{}",
        page.text
    );
    assert!(
        browser.cookies.contains_key("shaplab_csrf"),
        "the page hands out the CSRF token"
    );
    for answer in [
        page,
        browser.get("/api/health").await,
        browser.get("/api/jobs").await,
    ] {
        assert_eq!(answer.headers["x-content-type-options"], "nosniff");
        assert_eq!(answer.headers["referrer-policy"], "same-origin");
        assert_eq!(answer.headers["x-frame-options"], "DENY");
    }
    let api = browser.get("/api/health").await;
    assert!(
        api.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

#[tokio::test]
async fn proxy_sign_in_trusts_the_header_only_from_trusted_addresses() {
    let redis = Backend::start();
    let trusting = AuthConfig {
        mode: AuthMode::Proxy,
        admins: vec!["root@example.org".into()],
        ..AuthConfig::default()
    };
    let app = TestApp::spawn_with_auth(&redis.url(), redis.settings(), trusting).await;
    let http = reqwest::Client::new();
    let me = |user: &'static str| {
        http.get(app.url("/api/me"))
            .header("x-forwarded-user", user)
            .send()
    };
    let answer: Value = me("frank@example.org").await.unwrap().json().await.unwrap();
    assert_eq!(
        (answer["user"].as_str(), answer["admin"].as_bool()),
        (Some("frank@example.org"), Some(false))
    );
    let answer: Value = me("root@example.org").await.unwrap().json().await.unwrap();
    assert_eq!(answer["admin"], true);
    assert_eq!(
        http.get(app.url("/api/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let distrusting = AuthConfig {
        mode: AuthMode::Proxy,
        trusted_proxies: vec![server::auth::config::Network::parse("10.0.0.0/8").unwrap()],
        ..AuthConfig::default()
    };
    let app = TestApp::spawn_with_auth(&redis.url(), redis.settings(), distrusting).await;
    let spoofed = http
        .get(app.url("/api/jobs"))
        .header("x-forwarded-user", "frank@example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(
        spoofed.status(),
        StatusCode::UNAUTHORIZED,
        "loopback is not a trusted proxy here"
    );
}

#[tokio::test]
async fn serve_without_sign_in_refuses_an_address_others_can_reach() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("SHAPLAB_AUTH")
        .env("REDIS_URL", "redis://127.0.0.1:1/0")
        .output()
        .await
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve 0.0.0.0 without sign-in"),
        "{stderr}"
    );
    assert!(stderr.contains("SHAPLAB_AUTH=users"), "{stderr}");
}
