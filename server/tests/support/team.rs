//! A signed-in client for the team-service suites: keeps its cookies (session, CSRF, share
//! link) like a browser, or sends an API key like a script.

use super::TestApp;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::auth::AuthStore;
use std::collections::BTreeMap;

/// The sign-in records of the app's Redis.
pub fn store(app: &TestApp) -> AuthStore {
    AuthStore::new(app.pool.clone(), &app.queue.config().prefix)
}

/// One browser (its cookie jar) or one script (its key).
pub struct Client {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub bearer: Option<String>,
}

/// An answer: status, headers and the body (JSON when it is JSON, else `Value::Null`).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Client {
    /// A browser that has loaded a page (so it holds the CSRF cookie the page sets).
    pub fn browser(app: &TestApp) -> Self {
        let mut cookies = BTreeMap::new();
        cookies.insert("shaplab_csrf".into(), "csrf-of-this-browser".into());
        Client {
            base: app.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies,
            bearer: None,
        }
    }

    pub fn script(app: &TestApp, key: &str) -> Self {
        Client {
            cookies: BTreeMap::new(),
            bearer: Some(key.into()),
            ..Self::browser(app)
        }
    }

    pub async fn send(&mut self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", jar.join("; "));
        }
        if let Some(csrf) = self.cookies.get("shaplab_csrf")
            && method != Method::GET
        {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(key) = &self.bearer {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        self.answer(response).await
    }

    pub async fn answer(&mut self, response: reqwest::Response) -> Answer {
        for cookie in response.headers().get_all(SET_COOKIE) {
            let text = cookie.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if text.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.into(), v.into());
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        self.post("/api/session", json!({"user": user, "password": password}))
            .await
    }

    /// Uploads a file as this client; its upload id.
    pub async fn upload(&mut self, kind: &str, name: &str, bytes: Vec<u8>) -> String {
        let form = reqwest::multipart::Form::new()
            .text("kind", kind.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
            );
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut request = self
            .http
            .post(format!("{}/api/uploads", self.base))
            .header("cookie", jar.join("; "))
            .multipart(form);
        if let Some(csrf) = self.cookies.get("shaplab_csrf") {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(key) = &self.bearer {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("the server answers");
        let answer = self.answer(response).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json["id"].as_str().expect("an id").to_owned()
    }
}

/// Adds a local account straight in Redis (as `shaplab user add` does).
pub async fn add_user(app: &TestApp, name: &str, admin: bool) {
    store(app)
        .add_user(name, &format!("{name}-password"), admin)
        .await
        .expect("user added");
}
