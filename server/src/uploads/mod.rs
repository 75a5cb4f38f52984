//! Uploaded model and data files: received in a stream, capped in size, validated by the
//! engine, described, and stored in the blob store with a small JSON record beside them.
//!
//! Uploads need no Redis: an analyst can upload while the queue is down, and nothing about a
//! file is lost if Redis restarts. The record lives next to the bytes (`uploads/{id}/meta.json`).
//!
//! - [`receive`]: multipart field → temporary file, with SHA-256 and the size cap on the way.
//! - [`describe`]: the engine's verdict on a file (a model's shape, a table's shape).
//! - [`expiry`]: uploads unused for `UPLOAD_TTL` are deleted.

pub mod describe;
pub mod expiry;
pub mod receive;

use crate::blobs::{BlobError, BlobStore};
use app::wire::{Upload, UploadKind};
use std::path::PathBuf;
use uuid::Uuid;

/// Where uploads go and how big they may be.
pub struct UploadService {
    pub blobs: BlobStore,
    /// Scratch space for files being received (local even when blobs are remote).
    pub scratch: PathBuf,
    /// `MAX_UPLOAD_BYTES`.
    pub max_bytes: u64,
    /// `SHAPLAB_UPLOAD_DEADLINE` (default 15 min): an upload still arriving after this is
    /// refused, so a stalled or deliberately slow client cannot hold a connection and a
    /// scratch file forever.
    pub deadline: std::time::Duration,
}

/// An upload id: a UUID, so it can never name a path outside `uploads/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadId(Uuid);

impl UploadId {
    pub fn new() -> Self {
        UploadId(Uuid::new_v4())
    }

    /// Accepts only the canonical form this server hands out.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::try_parse(text).ok().map(UploadId)
    }

    fn meta_key(&self) -> String {
        format!("uploads/{}/meta.json", self.0)
    }

    /// Where the file's bytes are stored.
    pub fn file_key(&self, kind: UploadKind) -> String {
        let name = match kind {
            UploadKind::Model => "model",
            UploadKind::Data => "data.csv",
        };
        format!("uploads/{}/{name}", self.0)
    }
}

impl Default for UploadId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl UploadService {
    /// The stored record of an upload.
    pub async fn get(&self, id: UploadId) -> Result<Upload, BlobError> {
        let bytes = self.blobs.get_bytes(&id.meta_key()).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| BlobError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }

    /// Marks an upload as used now (a job was submitted with it): rewriting its record moves
    /// its last-written time, which is what [`expiry`] counts `UPLOAD_TTL` from.
    pub async fn touch(&self, id: UploadId, upload: &Upload) -> Result<(), BlobError> {
        self.put_record(id, upload).await
    }

    async fn put_record(&self, id: UploadId, upload: &Upload) -> Result<(), BlobError> {
        let json = serde_json::to_vec(upload)
            .map_err(|e| BlobError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        self.blobs.put_bytes(&id.meta_key(), json).await
    }
}
