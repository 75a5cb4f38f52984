//! Submitting a job: everything that can be checked before anything is queued is checked
//! here, so a job that reaches the queue can only fail for reasons nobody could foresee.
//!
//! 1. The options make sense: a background size in range; interaction values only where the
//!    engine computes them (path-dependent, raw output — as `shaplab explain --interactions`).
//! 2. Both uploads exist and are of the right kinds.
//! 3. The data's columns satisfy the model, by the engine's own matching rules
//!    ([`shaplab::ColumnMap`]), which needs the parsed model: it is fetched and parsed on a
//!    blocking thread. Missing columns are listed.
//! 4. The CSV header (and the interactions header) is written to the job's result prefix,
//!    then the job is queued; interaction jobs get smaller chunks
//!    ([`super::JobsConfig::interaction_chunk_rows`]).
//!
//! Steps 1–4 need no Redis: only the last call does, so a Redis outage costs the user one
//! 503 with `Retry-After`, never a half-made job.

use super::JobsConfig;
use super::spec::{JobSpec, SPEC_VERSION, results_prefix};
use crate::auth::Identity;
use crate::blobs::BlobError;
use crate::queue::{IdempotencyKey, Queue, QueueError, SubmitRequest, Submitted, TaskPayload};
use crate::uploads::{UploadId, UploadService};
use app::wire::{JobOutput, JobRequest, UploadKind, UploadSummary};
use shaplab::cli::{DEFAULT_BACKGROUND_ROWS, MAX_BACKGROUND_ROWS};
use thiserror::Error;

/// Why a job was not queued.
#[derive(Debug, Error)]
pub enum SubmitError {
    /// The request asks for something that cannot be done as sent.
    #[error("{0}")]
    Invalid(String),
    /// An option this version does not offer through jobs.
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    UploadNotFound(String),
    /// Over one of this deployment's ceilings (see [`crate::jobs::limits`]).
    #[error("{0}")]
    Limit(String),
    #[error("{0}")]
    WrongKind(String),
    /// The data lacks columns the model needs.
    #[error("the data is missing {} column(s) the model needs: {}", .missing.len(), .missing.join(", "))]
    Incompatible { missing: Vec<String> },
    /// The model or data cannot be used together for another reason (the engine says why).
    #[error("{0}")]
    InvalidInput(String),
    /// The blob store failed (ours to fix).
    #[error("blob store: {0}")]
    Blobs(#[from] BlobError),
    /// Parsing on a blocking thread failed to run at all (ours to fix).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Checks `request` and queues it. `Ok` says whether the job is new (201) or an earlier
/// submit with the same key made it (200).
pub async fn submit(
    uploads: &UploadService,
    queue: &Queue,
    config: &JobsConfig,
    request: &JobRequest,
    key: Option<IdempotencyKey>,
    by: &Identity,
) -> Result<Accepted, SubmitError> {
    // The CLI refuses the same combinations: interaction values are path-dependent only (as
    // in shap), and probability output is explained interventionally.
    if request.interactions && request.background_rows.is_some() {
        return Err(SubmitError::Unsupported(
            "interaction values are path-dependent only (as in shap), so they cannot be combined \
             with \"background_rows\"; drop \"background_rows\" or \"interactions\""
                .into(),
        ));
    }
    if request.interactions && request.output == JobOutput::Probability {
        return Err(SubmitError::Unsupported(
            "interaction values explain the raw margin only (probability output is explained \
             interventionally); send \"output\": \"raw\" or drop \"interactions\""
                .into(),
        ));
    }
    let background_rows = match (request.background_rows, request.output) {
        (Some(0), _) => {
            return Err(SubmitError::Invalid(
                "background_rows must be at least 1".into(),
            ));
        }
        (Some(n), _) if n > MAX_BACKGROUND_ROWS as u64 => {
            return Err(SubmitError::Invalid(format!(
                "background_rows is {n}; at most {MAX_BACKGROUND_ROWS} are allowed (interventional \
                 cost grows with every background row; shap's own default is 100)"
            )));
        }
        (Some(n), _) => Some(n),
        // Probability output is explained interventionally, as `shaplab explain` does.
        (None, JobOutput::Probability) => Some(DEFAULT_BACKGROUND_ROWS as u64),
        (None, JobOutput::Raw) => None,
    };

    let covers_from_data = match request.covers.as_deref() {
        None => false,
        Some("data") if background_rows.is_none() => true,
        Some("data") => {
            return Err(SubmitError::Invalid(
                "\"covers\": \"data\" recomputes covers for path-dependent TreeSHAP; \
                 interventional TreeSHAP (\"background_rows\" or probability output) needs none"
                    .into(),
            ));
        }
        Some(other) => {
            return Err(SubmitError::Invalid(format!(
                "\"covers\" is {other:?}; the one value accepted is \"data\" (recompute the node \
                 covers from the job's data rows)"
            )));
        }
    };
    // While Redis is out, answer 503 before reading the uploads and writing headers.
    queue.check_submit(key.as_ref())?;
    let model = record(uploads, "model", &request.model, UploadKind::Model, by).await?;
    let data = record(uploads, "data", &request.data, UploadKind::Data, by).await?;
    let UploadSummary::Data(summary) = &data.1.summary else {
        return Err(SubmitError::WrongKind(format!(
            "upload {} is not a data file",
            request.data
        )));
    };
    if let UploadSummary::Model(m) = &model.1.summary {
        config
            .limits
            .check(m, summary, background_rows)
            .map_err(SubmitError::Limit)?;
    }
    let (columns, rows_total) = (summary.columns.clone(), summary.rows);
    let text = crate::uploads::describe::engine_text_columns(summary);

    let headers = header_for(
        uploads,
        model.0,
        columns,
        text,
        request.interactions,
        background_rows.is_some() || covers_from_data,
    )
    .await?;

    let prefix = results_prefix(
        key.as_ref().map(IdempotencyKey::as_str),
        &request.model,
        &request.data,
        request.output,
        background_rows,
        request.interactions,
    );
    let spec = JobSpec {
        v: SPEC_VERSION,
        model: request.model.clone(),
        data: request.data.clone(),
        output: request.output,
        background_rows,
        results: prefix,
        interactions: request.interactions,
        notes: headers.notes,
        covers_from_data,
        owner: by.user.clone(),
    };
    uploads
        .blobs
        .put_bytes(
            &spec.header_key(),
            format!("{}\n", headers.shap).into_bytes(),
        )
        .await?;
    let chunk_rows = match &headers.interactions {
        Some(header) => {
            uploads
                .blobs
                .put_bytes(
                    &spec.interactions_header_key(),
                    format!("{header}\n").into_bytes(),
                )
                .await?;
            config.interaction_chunk_rows(headers.interaction_values_per_row)
        }
        None => config.chunk_rows_for(background_rows),
    };
    let submitted = queue
        .submit(&SubmitRequest {
            payload: TaskPayload::new(spec.to_payload()),
            rows_total,
            chunk_rows,
            idempotency_key: key,
        })
        .await?;
    Ok(Accepted {
        submitted,
        model_name: model.1.name,
        data_name: data.1.name,
    })
}

/// A submitted job and the names of its files (for the owner's job list).
pub struct Accepted {
    pub submitted: Submitted,
    pub model_name: String,
    pub data_name: String,
}

/// The stored record of an upload that must be of `kind`.
async fn record(
    uploads: &UploadService,
    role: &str,
    id: &str,
    kind: UploadKind,
    by: &Identity,
) -> Result<(UploadId, app::wire::Upload), SubmitError> {
    let not_found = || {
        SubmitError::UploadNotFound(format!(
            "there is no upload {id:?} (given as the {role}): it never existed, or it went \
             unused for longer than UPLOAD_TTL and was deleted; upload the file (again) and use \
             the id the upload returns"
        ))
    };
    let upload_id = UploadId::parse(id).ok_or_else(not_found)?;
    let upload = match uploads.get(upload_id).await {
        Ok(upload) => upload,
        Err(BlobError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    // Someone else's upload is as unknown as one that never existed.
    if !by.may_see(upload.owner.as_deref()) {
        return Err(not_found());
    }
    if upload.kind != kind {
        return Err(SubmitError::WrongKind(format!(
            "upload {id} is a {} file, but it was given as the {role}",
            match upload.kind {
                UploadKind::Model => "model",
                UploadKind::Data => "data",
            }
        )));
    }
    // Used now: its UPLOAD_TTL starts again, so the files outlive the job that needs them.
    uploads.touch(upload_id, &upload).await?;
    Ok((upload_id, upload))
}

/// The CSV headers `shaplab explain` would write for a model and data.
struct Headers {
    shap: String,
    /// The `--interactions` file's header, when asked for.
    interactions: Option<String>,
    /// Interaction values a row yields: outputs × (features + 1)².
    interaction_values_per_row: u64,
    /// The compatibility check's notes (unseen categories).
    notes: Vec<String>,
}

/// Matches the data's columns against the model with the engine's rules and returns the
/// CSV headers `shaplab explain` would write for them.
async fn header_for(
    uploads: &UploadService,
    model: UploadId,
    columns: Vec<String>,
    text: Vec<shaplab::describe::TextColumn>,
    interactions: bool,
    interventional: bool,
) -> Result<Headers, SubmitError> {
    tokio::fs::create_dir_all(&uploads.scratch)
        .await
        .map_err(BlobError::Io)?;
    let file = uploads
        .scratch
        .join(format!("{}.model", uuid::Uuid::new_v4().simple()));
    let fetched = uploads
        .blobs
        .get_to_file(&model.file_key(UploadKind::Model), &file)
        .await;
    let parsed = match fetched {
        Ok(()) => {
            let path = file.clone();
            tokio::task::spawn_blocking(move || {
                let model = shaplab::Ensemble::from_path(&path)?;
                let map = shaplab::ColumnMap::new(&columns, &model)?;
                let notes = shaplab::compat::check_columns(&model, &map, &text)?;
                if !interventional
                    && let Some(why) = shaplab::compat::path_dependent_refusal(&model)
                {
                    return Err(shaplab::Error::Unsupported(format!(
                        "{why}: send \"background_rows\" (e.g. 100), or \"covers\": \"data\""
                    )));
                }
                let k = model.num_outputs;
                let f1 = model.num_features as u64 + 1;
                Ok::<_, shaplab::Error>(Headers {
                    shap: shaplab::output::shap_header(&map.names, k),
                    interactions: interactions
                        .then(|| shaplab::output::interaction_header(&map.names, k)),
                    interaction_values_per_row: k as u64 * f1 * f1,
                    notes,
                })
            })
            .await
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&file).await;
            return Err(match e {
                BlobError::NotFound(_) => SubmitError::UploadNotFound(format!(
                    "the file of model upload {model} is no longer stored; upload it again"
                )),
                other => other.into(),
            });
        }
    };
    let _ = tokio::fs::remove_file(&file).await;
    match parsed {
        Ok(Ok(headers)) => Ok(headers),
        Ok(Err(shaplab::Error::MissingColumns(missing))) => {
            Err(SubmitError::Incompatible { missing })
        }
        Ok(Err(shaplab::Error::Unsupported(m))) => Err(SubmitError::Unsupported(m)),
        Ok(Err(e)) if e.is_user_error() => Err(SubmitError::InvalidInput(e.to_string())),
        Ok(Err(e)) => Err(SubmitError::Internal(e.to_string())),
        Err(join) => Err(SubmitError::Internal(format!(
            "checking the model failed: {join}"
        ))),
    }
}
