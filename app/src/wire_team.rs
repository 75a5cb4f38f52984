//! Wire types of the team service: who is signed in, the job list, share links and API keys.
//! (The SHAP results' types are in [`crate::wire`].)

use crate::wire::JobState;
use serde::{Deserialize, Serialize};

/// `GET /api/me`: who the server takes this browser (or key) for.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Me {
    /// The signed-in user; `None` when nobody is (only share-link viewers and the sign-in
    /// page see that).
    pub user: Option<String>,
    pub admin: bool,
    /// `SHAPLAB_AUTH`: `none`, `users` or `proxy`.
    pub mode: String,
    /// How this request was identified: `none` (no sign-in configured), `session`, `key`,
    /// `proxy`, or `share` (a share link's read-only viewer).
    pub via: String,
    /// The job a share-link viewer may read (they can do nothing else).
    pub share_job: Option<String>,
    /// Users mode: sign-out is offered (proxy sign-in is the proxy's to end).
    pub can_sign_out: bool,
}

/// `POST /api/session`: sign in (answers 204 with the session cookie set).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SignIn {
    pub user: String,
    pub password: String,
}

/// `GET /api/jobs?q=&page=&per_page=`: the signed-in user's jobs, newest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobList {
    pub jobs: Vec<JobListItem>,
    /// Jobs matching `q` (all pages).
    pub total: u64,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// One line of the job list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobListItem {
    pub id: String,
    /// The name the user gave the job (`PATCH /api/jobs/{id}`), if any.
    pub label: Option<String>,
    /// The model and data files' names as uploaded (absent once the uploads expired).
    pub model_name: Option<String>,
    pub data_name: Option<String>,
    pub state: JobState,
    pub rows: u64,
    pub created_at_ms: u64,
    /// From start to end (or to now while running); absent before it starts.
    pub duration_ms: Option<u64>,
    /// The results were deleted (expired, or deleted by the user): only the record remains.
    pub expired: bool,
}

/// `PATCH /api/jobs/{id}`: rename a job (an empty label removes the name).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobRename {
    pub label: String,
}

/// `POST /api/jobs/{id}/shares`: make a read-only link.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ShareRequest {
    /// The link stops working after this many hours; `None`: until revoked.
    pub expires_in_hours: Option<u32>,
}

/// A share link (`GET /api/jobs/{id}/shares` lists them; `DELETE …/shares/{id}` revokes one).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Share {
    pub id: String,
    pub job: String,
    /// The link itself (`/s/<token>`): only in the answer that created it, never again.
    pub url: Option<String>,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
}

/// `POST /api/keys`: make an API key for scripts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct KeyRequest {
    pub label: String,
}

/// An API key (`GET /api/keys` lists them; `DELETE /api/keys/{id}` revokes one).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ApiKey {
    pub id: String,
    pub label: String,
    pub created_at_ms: u64,
    /// The secret (`Authorization: Bearer <key>`): only in the answer that created it.
    pub key: Option<String>,
}
