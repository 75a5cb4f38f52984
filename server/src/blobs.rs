//! The blob store: uploaded files and (later) chunk results, via the `object_store` crate.
//!
//! Bytes never go through Redis: Redis holds state and references, blobs hold data. By default
//! the store is a local directory (`.shaplab/blobs`), which is all one machine needs; several
//! machines share an S3-compatible bucket through `BLOB_STORE_URL` (a build with
//! object_store's `aws` feature). Large files move in parts, never whole in memory.

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as BlobPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size of the parts files are copied in. S3 (and MinIO, R2, moto) refuse a multipart upload
/// whose parts but the last are under 5 MiB, so anything smaller fails every upload over one
/// part with `EntityTooSmall` (found by scripts/multihost.sh); 8 MiB keeps ~40 MiB in flight.
const PART: usize = 8 << 20;

#[derive(Debug, Error)]
pub enum BlobError {
    #[error("blob {0} does not exist")]
    NotFound(String),
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
    #[error("blob store URL {url:?} is not usable: {message}")]
    Url { url: String, message: String },
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Where the store is, for logs and health (never contains credentials: those come from
    /// the environment, not the URL).
    pub location: String,
}

impl BlobStore {
    /// A store in a local directory (created if missing).
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)?;
        // Cleanup: deleting a job's last blob removes its emptied directories too, so expired
        // jobs leave nothing behind (it stops at `dir`).
        let store = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
        Ok(BlobStore {
            store: Arc::new(store),
            location: dir.display().to_string(),
        })
    }

    /// `BLOB_STORE_URL` when set (`file:///abs/dir`, or `s3://bucket/prefix` with `AWS_*`
    /// variables in builds that include S3), else `data_dir/blobs`.
    pub fn from_env(data_dir: &Path) -> Result<Self, BlobError> {
        match std::env::var("BLOB_STORE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => Self::local(&data_dir.join("blobs")),
            Some(url) => Self::from_url(&url),
        }
    }

    fn from_url(raw: &str) -> Result<Self, BlobError> {
        let bad = |message: String| BlobError::Url {
            url: raw.to_owned(),
            message,
        };
        let url = url::Url::parse(raw).map_err(|e| bad(e.to_string()))?;
        if url.scheme() == "file" {
            return Self::local(Path::new(url.path()));
        }
        let options = std::env::vars().filter(|(k, _)| k.starts_with("AWS_"));
        let (store, prefix) =
            object_store::parse_url_opts(&url, options).map_err(|e| bad(e.to_string()))?;
        if !prefix.as_ref().is_empty() {
            return Err(bad(
                "a prefix inside the bucket is not supported yet; use a bucket of its own".into(),
            ));
        }
        Ok(BlobStore {
            store: Arc::from(store),
            location: raw.to_owned(),
        })
    }

    /// Copies a local file into the store under `key`, in parts.
    pub async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobError> {
        let mut source = tokio::fs::File::open(file).await?;
        let upload = self.store.put_multipart(&BlobPath::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0u8; PART];
        loop {
            let n = source.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// Stores a small value (metadata) under `key`.
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.store
            .put(&BlobPath::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Reads a small value whole.
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, BlobError> {
        let found = self.store.get(&BlobPath::from(key)).await;
        Ok(not_found_as(key, found)?.bytes().await?)
    }

    /// Deletes every blob under `prefix` (a path prefix: `jobs/ab` covers `jobs/ab/x`, not
    /// `jobs/abc`); returns how many. Blobs already gone are not an error.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let listed = self
            .store
            .list(Some(&BlobPath::from(prefix)))
            .map(|meta| meta.map(|m| m.location))
            .boxed();
        let mut deleted = self.store.delete_stream(listed);
        let mut n = 0;
        while let Some(outcome) = deleted.next().await {
            match outcome {
                Ok(_) => n += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }

    /// Every blob under `prefix` with when it was last written (ms since the Unix epoch, by
    /// the store's clock).
    pub async fn list_modified(&self, prefix: &str) -> Result<Vec<(String, i64)>, BlobError> {
        let mut listed = self.store.list(Some(&BlobPath::from(prefix)));
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            out.push((
                meta.location.to_string(),
                meta.last_modified.timestamp_millis(),
            ));
        }
        Ok(out)
    }

    /// Copies the blob `key` into a local file, in parts.
    pub async fn get_to_file(&self, key: &str, dest: &Path) -> Result<(), BlobError> {
        let found = self.store.get(&BlobPath::from(key)).await;
        let mut stream = not_found_as(key, found)?.into_stream();
        let mut out = tokio::fs::File::create(dest).await?;
        while let Some(part) = stream.next().await {
            out.write_all(&part?).await?;
        }
        out.flush().await?;
        Ok(())
    }
}

fn not_found_as<T>(key: &str, result: object_store::Result<T>) -> Result<T, BlobError> {
    result.map_err(|e| match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_owned()),
        other => BlobError::Store(other),
    })
}
