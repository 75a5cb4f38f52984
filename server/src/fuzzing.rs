//! The server's entry points for outside input, as the libFuzzer targets `upload` and `api`
//! (`fuzz/`) and their replay test (`server/tests/fuzz_replay.rs`) call them: whatever the
//! bytes, each returns and never panics. Not an API; the engine's own parsers are fuzzed
//! through `shaplab::fuzzing`.
//!
//! - [`upload`]: any bytes as the body of `POST /api/uploads` (multipart with a fixed
//!   boundary), received, checked and stored exactly as the route does, into a scratch blob
//!   store that is emptied again after each success.
//! - [`api_input`]: the first byte picks what the rest is: one of the JSON bodies the API
//!   decodes, a cohort or feature-group expression, or a `/ranked` query string, each parsed
//!   against a small categorical LightGBM model as a job would.

use crate::blobs::BlobStore;
use crate::jobs::cohort::Cohort;
use crate::jobs::groups::Grouping;
use crate::jobs::rank_query::RankQuery;
use crate::uploads::UploadService;
use axum::extract::{FromRequest, Multipart, Request};
use shaplab::Ensemble;
use std::sync::OnceLock;

/// The boundary the fuzzer's bodies are framed with (`--fuzz--` starts a part).
pub const BOUNDARY: &str = "fuzz";

struct Harness {
    runtime: tokio::runtime::Runtime,
    uploads: UploadService,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("shaplab-fuzz-upload-{}", std::process::id()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let blobs = BlobStore::local(&dir.join("blobs")).expect("a scratch blob store");
        Harness {
            runtime,
            uploads: UploadService {
                blobs,
                scratch: dir.join("scratch"),
                // Small: the cap's refusal path is reached by inputs a fuzzer can grow.
                max_bytes: 64 << 10,
                deadline: std::time::Duration::from_secs(10),
            },
        }
    })
}

/// `bytes` as an upload's multipart body: `Ok` when stored, else the refusal's error code.
pub fn upload(bytes: &[u8]) -> Result<(), &'static str> {
    let h = harness();
    h.runtime.block_on(async {
        let request = Request::builder()
            .method("POST")
            .uri("/api/uploads")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(axum::body::Body::from(bytes.to_vec()))
            .expect("a request");
        let form = Multipart::from_request(request, &())
            .await
            .map_err(|_| "not_multipart")?;
        let upload = crate::uploads::receive::receive(&h.uploads, form, None)
            .await
            .map_err(|e| e.code)?;
        let _ = h
            .uploads
            .blobs
            .delete_prefix(&format!("uploads/{}", upload.id))
            .await;
        Ok(())
    })
}

fn model() -> &'static Ensemble {
    static MODEL: OnceLock<Ensemble> = OnceLock::new();
    MODEL.get_or_init(|| {
        let bytes = include_bytes!("../../fixtures/lgb_cat_binary/model.txt");
        Ensemble::from_bytes(bytes).expect("the fixture loads")
    })
}

/// `bytes[0]` picks the parser, `bytes[1..]` is its input; whether it was accepted.
pub fn api_input(bytes: &[u8]) -> bool {
    let Some((&which, rest)) = bytes.split_first() else {
        return false;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 8 {
        0 => serde_json::from_slice::<app::wire::JobRequest>(rest).is_ok(),
        1 => serde_json::from_slice::<crate::jobs::whatif::WhatIfRequest>(rest).is_ok(),
        2 => serde_json::from_slice::<app::wire_team::SignIn>(rest).is_ok(),
        3 => serde_json::from_slice::<app::wire_team::ShareRequest>(rest).is_ok(),
        4 => serde_json::from_slice::<crate::routes::admin::RequeueRequest>(rest).is_ok(),
        5 => Cohort::parse(&text, model()).is_ok(),
        6 => Grouping::parse(&text, model(), None).is_ok(),
        _ => {
            let pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(rest).into_owned().collect();
            RankQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).is_ok()
        }
    }
}
