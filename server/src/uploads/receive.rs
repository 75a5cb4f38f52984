//! `POST /api/uploads`: a multipart form with a `kind` field (`model` | `data`) and a `file`
//! field, in either order. The file goes straight to a scratch file (hashed and counted on the
//! way, refused past the cap) — never whole in memory — then to the blob store.

use super::describe::describe;
use super::{UploadId, UploadService};
use crate::redis::pool::now_ms;
use crate::routes::error::ApiError;
use app::wire::{Upload, UploadKind};
use axum::extract::Multipart;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The `kind` field is a word; anything longer is not a kind.
const MAX_KIND_BYTES: usize = 32;

/// A scratch file removed when dropped, whatever path the request took.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Received {
    scratch: Scratch,
    name: String,
    bytes: u64,
    sha256: String,
}

/// Receives, validates, describes and stores one upload.
/// `owner`: who uploads it (the sign-in name), stored with the file.
pub async fn receive(
    service: &UploadService,
    mut form: Multipart,
    owner: Option<String>,
) -> Result<Upload, ApiError> {
    let mut kind = None;
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("kind") => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                    text.extend_from_slice(&chunk);
                    if text.len() > MAX_KIND_BYTES {
                        return Err(bad_kind(&String::from_utf8_lossy(&text)));
                    }
                }
                kind = Some(parse_kind(&String::from_utf8_lossy(&text))?);
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("upload").to_owned();
                file = Some(save(service, &name, &mut field).await?);
            }
            // Unknown fields are drained and ignored, like extra CSV columns.
            _ => while field.chunk().await.map_err(bad_form)?.is_some() {},
        }
    }
    let kind = kind.ok_or_else(|| missing("kind", "`model` or `data`"))?;
    let file = file.ok_or_else(|| missing("file", "the model or CSV file"))?;

    let path = file.scratch.0.clone();
    let summary = tokio::task::spawn_blocking(move || describe(kind, &path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| invalid_file(kind, &file.name, e))?;

    let id = UploadId::new();
    let upload = Upload {
        id: id.to_string(),
        kind,
        name: file.name.clone(),
        bytes: file.bytes,
        sha256: file.sha256.clone(),
        created_at_ms: now_ms(),
        summary,
        owner,
    };
    service
        .blobs
        .put_file(&id.file_key(kind), &file.scratch.0)
        .await
        .map_err(ApiError::internal)?;
    service
        .put_record(id, &upload)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(id = %id, kind = ?kind, bytes = file.bytes, "stored an upload");
    Ok(upload)
}

/// Streams the file field into a scratch file, hashing and counting.
async fn save(
    service: &UploadService,
    name: &str,
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<Received, ApiError> {
    tokio::fs::create_dir_all(&service.scratch)
        .await
        .map_err(ApiError::internal)?;
    let scratch = Scratch(service.scratch.join(format!("{}.part", UploadId::new())));
    let mut out = tokio::fs::File::create(&scratch.0)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
        bytes += chunk.len() as u64;
        if bytes > service.max_bytes {
            return Err(too_large(name, service.max_bytes));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    if bytes == 0 {
        return Err(ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_file",
            format!("{name} is empty: choose the file again"),
        ));
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Received {
        scratch,
        name: display_name(name),
        bytes,
        sha256,
    })
}

/// The browser's file name, for display: its last path component, length-capped.
fn display_name(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .map_or("upload".into(), |n| n.to_string_lossy().into_owned());
    base.chars().take(200).collect()
}

fn parse_kind(text: &str) -> Result<UploadKind, ApiError> {
    match text.trim() {
        "model" => Ok(UploadKind::Model),
        "data" => Ok(UploadKind::Data),
        other => Err(bad_kind(other)),
    }
}

fn bad_kind(text: &str) -> ApiError {
    let shown: String = text.chars().take(MAX_KIND_BYTES).collect();
    ApiError::invalid(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
        format!("the `kind` field must be `model` or `data`, not {shown:?}"),
    )
}

fn missing(field: &str, what: &str) -> ApiError {
    ApiError::invalid(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
        format!("the form has no `{field}` field: send {what}"),
    )
}

fn too_large(name: &str, max: u64) -> ApiError {
    ApiError::invalid(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "{} is larger than the upload limit of {} (MAX_UPLOAD_BYTES); nothing was stored",
            display_name(name),
            human_bytes(max)
        ),
    )
}

fn bad_form(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::invalid(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!(
            "the upload is not a readable multipart form: {}",
            e.body_text()
        ),
    )
}

fn invalid_file(kind: UploadKind, name: &str, e: shaplab::Error) -> ApiError {
    let (code, what) = match kind {
        UploadKind::Model => ("invalid_model", "a model shaplab can explain"),
        UploadKind::Data => ("invalid_data", "a CSV data file shaplab can read"),
    };
    ApiError::invalid(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("{name} is not {what}: {e}"),
    )
}

/// 268435456 → "256 MiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_the_largest_whole_unit() {
        assert_eq!(human_bytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }

    #[test]
    fn a_browser_file_name_never_becomes_a_path() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:model.json"), "C:model.json");
        assert_eq!(display_name(""), "upload");
    }

    #[test]
    fn the_kind_field_accepts_model_and_data_only() {
        assert_eq!(parse_kind(" model\n").ok(), Some(UploadKind::Model));
        assert_eq!(parse_kind("data").ok(), Some(UploadKind::Data));
        assert!(parse_kind("spreadsheet").is_err());
    }
}
