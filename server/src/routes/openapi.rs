//! `GET /api/openapi.json`: the API described as OpenAPI 3.0, for client generators, API
//! explorers and contract testing (`scripts/api-contract.sh` runs schemathesis against it).
//!
//! Why a table and not annotations on each handler: the handlers read their bodies and query
//! strings by hand (to answer a bad one with a message naming the fix), so there is no
//! extractor type to derive parameters from. The shapes are not written by hand, though:
//! every body is the JSON Schema derived (schemars) from the very type the handler decodes or
//! encodes, so a field added to a wire type appears here without anyone remembering to.
//! `openapi_lists_every_api_route` checks the table against the router's paths.
//!
//! Every error answer is the one envelope ([`app::wire::ApiErrorBody`]), documented as each
//! operation's `default` response.

use app::wire::{self, ApiErrorBody};
use app::wire_team;
use axum::Json;
use axum::response::IntoResponse;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// What an operation answers on success.
enum Body {
    /// JSON of a type's schema.
    Json(fn(&mut SchemaGenerator) -> Schema),
    /// A download or page of this media type.
    Media(&'static str),
    /// No body (204, 302).
    Empty,
}

/// A query parameter: name, whether required, JSON Schema type, what it means.
type Param = (&'static str, bool, &'static str, &'static str);

struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    params: &'static [Param],
    /// The JSON request body, when there is one (uploads are multipart, see [`document`]).
    request: Option<fn(&mut SchemaGenerator) -> Schema>,
    ok: (u16, Body),
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

const VIEW: &[Param] = &[
    (
        "cohort",
        false,
        "string",
        "Rows matching conditions, e.g. `age>=40 and region=north`",
    ),
    (
        "groups",
        false,
        "string",
        "Feature groups, e.g. `geo=lat,lon; auto`",
    ),
];

#[rustfmt::skip]
const OPS: &[Op] = &[
    Op { method: "get", path: "/healthz", summary: "Liveness: the process answers", params: &[], request: None, ok: (200, Body::Media("text/plain")) },
    Op { method: "get", path: "/readyz", summary: "Readiness: Redis reachable", params: &[], request: None, ok: (200, Body::Media("text/plain")) },
    Op { method: "get", path: "/api/health", summary: "The full health report", params: &[], request: None, ok: (200, Body::Json(schema::<wire::HealthReport>)) },
    Op { method: "post", path: "/api/uploads", summary: "Upload a model or a table (multipart: kind, file)", params: &[], request: None, ok: (201, Body::Json(schema::<wire::Upload>)) },
    Op { method: "get", path: "/api/uploads/{id}", summary: "An upload's record and summary", params: &[], request: None, ok: (200, Body::Json(schema::<wire::Upload>)) },
    Op { method: "post", path: "/api/jobs", summary: "Submit a job (Idempotency-Key header makes retries safe)", params: &[], request: Some(schema::<wire::JobRequest>), ok: (201, Body::Json(schema::<wire::Job>)) },
    Op { method: "get", path: "/api/jobs", summary: "Your jobs, newest first", params: &[("q", false, "string", "Search in names and files"), ("page", false, "integer", "From 1"), ("per_page", false, "integer", "1 to 100")], request: None, ok: (200, Body::Json(schema::<wire_team::JobList>)) },
    Op { method: "get", path: "/api/jobs/{id}", summary: "A job's state and progress (ETag / If-None-Match)", params: &[], request: None, ok: (200, Body::Json(schema::<wire::Job>)) },
    Op { method: "delete", path: "/api/jobs/{id}", summary: "Cancel a job; `purge=true` also deletes its results", params: &[("purge", false, "boolean", "Delete the results too")], request: None, ok: (200, Body::Json(schema::<wire::Job>)) },
    Op { method: "patch", path: "/api/jobs/{id}", summary: "Rename a job", params: &[], request: Some(schema::<wire_team::JobRename>), ok: (200, Body::Json(schema::<wire_team::JobListItem>)) },
    Op { method: "get", path: "/api/jobs/{id}/shares", summary: "A job's share links", params: &[], request: None, ok: (200, Body::Json(schema::<Vec<wire_team::Share>>)) },
    Op { method: "post", path: "/api/jobs/{id}/shares", summary: "Make a read-only share link", params: &[], request: Some(schema::<wire_team::ShareRequest>), ok: (201, Body::Json(schema::<wire_team::Share>)) },
    Op { method: "delete", path: "/api/jobs/{id}/shares/{share}", summary: "Revoke a share link", params: &[], request: None, ok: (204, Body::Empty) },
    Op { method: "get", path: "/api/keys", summary: "Your API keys (never their secrets)", params: &[], request: None, ok: (200, Body::Json(schema::<Vec<wire_team::ApiKey>>)) },
    Op { method: "post", path: "/api/keys", summary: "Make an API key (the secret is shown once)", params: &[], request: Some(schema::<wire_team::KeyRequest>), ok: (201, Body::Json(schema::<wire_team::ApiKey>)) },
    Op { method: "delete", path: "/api/keys/{id}", summary: "Revoke an API key", params: &[], request: None, ok: (204, Body::Empty) },
    Op { method: "get", path: "/api/me", summary: "Who you are signed in as", params: &[], request: None, ok: (200, Body::Json(schema::<wire_team::Me>)) },
    Op { method: "post", path: "/api/session", summary: "Sign in (sets the session cookie)", params: &[], request: Some(schema::<wire_team::SignIn>), ok: (204, Body::Empty) },
    Op { method: "delete", path: "/api/session", summary: "Sign out", params: &[], request: None, ok: (204, Body::Empty) },
    Op { method: "get", path: "/s/{token}", summary: "Open a share link (redirects to the job page)", params: &[], request: None, ok: (303, Body::Empty) },
    Op { method: "get", path: "/api/jobs/{id}/shap.csv", summary: "Every row's SHAP values as CSV", params: &[("groups", false, "string", "Sum the values of feature groups")], request: None, ok: (200, Body::Media("text/csv")) },
    Op { method: "get", path: "/api/jobs/{id}/interactions.csv", summary: "Interaction values as CSV", params: &[], request: None, ok: (200, Body::Media("text/csv")) },
    Op { method: "get", path: "/api/jobs/{id}/summary", summary: "The plots' bounded aggregates (partial while running)", params: VIEW, request: None, ok: (200, Body::Json(schema::<wire::JobSummary>)) },
    Op { method: "get", path: "/api/jobs/{id}/rows/{i}", summary: "One row: values, SHAP, prediction", params: &[], request: None, ok: (200, Body::Json(schema::<wire::JobRow>)) },
    Op { method: "get", path: "/api/jobs/{id}/ranked", summary: "Top or bottom rows by prediction or a feature's SHAP", params: &[("by", false, "string", "`prediction` or `shap`"), ("order", false, "string", "`desc` or `asc`"), ("output", false, "integer", "Output (class) index"), ("limit", false, "integer", "Rows to return"), ("feature", false, "string", "Feature, with by=shap"), ("cohort", false, "string", "Rows matching conditions")], request: None, ok: (200, Body::Json(schema::<wire::RankedRows>)) },
    Op { method: "post", path: "/api/jobs/{id}/whatif", summary: "One row with edited values, explained again", params: &[], request: Some(schema::<crate::jobs::whatif::WhatIfRequest>), ok: (200, Body::Json(schema::<wire::WhatIfRow>)) },
    Op { method: "get", path: "/api/jobs/{id}/pdp", summary: "Partial dependence and ICE curves of one feature", params: &[("feature", true, "string", "Feature name"), ("output", false, "integer", "Output (class) index"), ("grid", false, "integer", "Grid points")], request: None, ok: (200, Body::Json(schema::<wire::PartialDependence>)) },
    Op { method: "get", path: "/api/jobs/{id}/cohorts", summary: "Two cohorts of one job compared", params: &[("a", false, "string", "Cohort A's conditions"), ("b", false, "string", "Cohort B's conditions (every row when empty)")], request: None, ok: (200, Body::Json(schema::<wire::CohortComparison>)) },
    Op { method: "get", path: "/api/jobs/{id}/report.html", summary: "A self-contained HTML report", params: &[("class", false, "integer", "Output (class) index"), ("rows", false, "integer", "Rows shown"), ("cohort", false, "string", "Rows matching conditions"), ("groups", false, "string", "Feature groups"), ("a", false, "string", "Cohort A"), ("b", false, "string", "Cohort B")], request: None, ok: (200, Body::Media("text/html")) },
    Op { method: "get", path: "/api/jobs/{id}/events", summary: "The job's progress as server-sent events", params: &[], request: None, ok: (200, Body::Media("text/event-stream")) },
    Op { method: "get", path: "/api/compare", summary: "Two jobs on the same features compared", params: &[("a", true, "string", "Job A's id"), ("b", true, "string", "Job B's id")], request: None, ok: (200, Body::Json(schema::<wire::JobComparison>)) },
    Op { method: "post", path: "/api/admin/dead/requeue", summary: "Requeue dead-letter tasks (admins)", params: &[], request: Some(schema::<super::admin::RequeueRequest>), ok: (200, Body::Json(schema::<super::admin::RequeueReport>)) },
    Op { method: "get", path: "/metrics", summary: "Prometheus metrics", params: &[], request: None, ok: (200, Body::Media("text/plain")) },
];

/// The path parameters of `path` (`{id}` …), all strings.
fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn operation(op: &Op, g: &mut SchemaGenerator) -> Value {
    let mut params = path_params(op.path);
    params.extend(op.params.iter().map(|(name, required, ty, about)| {
        json!({"name": name, "in": "query", "required": required,
               "description": about, "schema": {"type": ty}})
    }));
    let ok = match &op.ok.1 {
        Body::Json(f) => {
            json!({"description": "OK", "content": {"application/json": {"schema": f(g)}}})
        }
        Body::Media(media) => json!({"description": "OK", "content": {*media: {}}}),
        Body::Empty => json!({"description": "OK"}),
    };
    let mut responses = Map::new();
    responses.insert(op.ok.0.to_string(), ok);
    // A share link is opened by a browser: its refusal is a page, not the envelope.
    let error = if op.path.starts_with("/s/") {
        json!({"description": "The link does not work (a page saying why)",
               "content": {"text/html": {}}})
    } else {
        json!({"description": "An error, always in the envelope (`retryable` says whether to \
                              try again; 429 and 503 carry Retry-After)",
               "content": {"application/json": {"schema": g.subschema_for::<ApiErrorBody>()}}})
    };
    responses.insert("default".into(), error);
    let mut out = json!({
        "summary": op.summary,
        "operationId": format!("{} {}", op.method, op.path),
        "parameters": params,
        "responses": responses,
    });
    if let Some(f) = op.request {
        // The requeue's body is optional (no body: every failed job).
        let required = op.path != "/api/admin/dead/requeue";
        out["requestBody"] =
            json!({"required": required, "content": {"application/json": {"schema": f(g)}}});
    }
    if op.path == "/api/uploads" {
        out["requestBody"] = json!({"required": true, "content": {"multipart/form-data": {
            "schema": {"type": "object", "required": ["kind", "file"], "properties": {
                "kind": {"type": "string", "enum": ["model", "data"]},
                "file": {"type": "string", "format": "binary"}}}}}});
    }
    out
}

/// The whole document.
pub fn document() -> Value {
    let mut g = SchemaSettings::openapi3().into_generator();
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method] = operation(op, &mut g);
    }
    let mut schemas = Map::new();
    for (name, s) in g.take_definitions(true) {
        schemas.insert(name, s);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "shaplab",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Exact SHAP explanations of tree models as a service. Signed-in \
                servers take `Authorization: Bearer shk_…` (an API key) or the session cookie \
                with an `X-CSRF-Token` header on changes.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    })
}

pub async fn openapi() -> impl IntoResponse {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_to_a_component() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').expect("closing quote")];
            assert!(
                schemas.contains_key(name),
                "{name} is referenced, not defined"
            );
        }
        assert!(schemas.contains_key("JobRequest") && schemas.contains_key("ApiErrorBody"));
    }

    #[test]
    fn openapi_lists_every_api_route() {
        let source = include_str!("../startup.rs");
        let doc = document();
        for piece in source.split(".route(").skip(1) {
            let path = piece.split('"').nth(1).expect("a quoted path");
            if path == "/api/openapi.json" {
                continue;
            }
            assert!(doc["paths"].get(path).is_some(), "{path} is missing");
        }
    }
}
