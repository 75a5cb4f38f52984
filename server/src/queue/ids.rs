//! The queue's vocabulary as types: ids that can only be built valid (parse, don't validate),
//! so a handler that holds a [`JobId`] never re-checks it and a key built from it is well formed.

use std::fmt;
use thiserror::Error;

/// An identifier that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{what} {value:?} is not valid: {expected}")]
pub struct IdError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// 64 random bits from the OS CSPRNG: job ids are capabilities in a shared service (someone
/// else's job is 404, but an id must not be guessable either).
fn random_u64() -> u64 {
    u64::from_le_bytes(crate::auth::tokens::random_bytes::<8>())
}

/// A uniform random number in `[0, 1)`, for retry jitter.
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a: a stable hash (unlike `DefaultHasher`, whose output may change between Rust
/// releases), used to map an idempotency key to its partition on every process alike.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A job: `p<partition>-<24 hex digits>`. The partition is part of the id so any process can
/// find the job's keys without a lookup table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId {
    partition: u16,
    text: String,
}

impl JobId {
    /// A fresh random id in `partition` (96 random bits: collisions are not a concern).
    pub(crate) fn generate(partition: u16) -> Self {
        let text = format!(
            "p{partition}-{:016x}{:08x}",
            random_u64(),
            random_u64() as u32
        );
        JobId { partition, text }
    }

    pub fn parse(value: &str) -> Result<Self, IdError> {
        let err = || IdError {
            what: "job id",
            value: value.chars().take(80).collect(),
            expected: "p<partition>-<24 lowercase hex digits>, e.g. p0-3f2a9c0d1b2e4f5a6b7c8d9e",
        };
        let rest = value.strip_prefix('p').ok_or_else(err)?;
        let (partition, hex) = rest.split_once('-').ok_or_else(err)?;
        let partition: u16 = partition
            .parse()
            .ok()
            .filter(|_| {
                !partition.starts_with('+') && (partition == "0" || !partition.starts_with('0'))
            })
            .ok_or_else(err)?;
        let hex_ok = hex.len() == 24
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(err());
        }
        Ok(JobId {
            partition,
            text: value.to_owned(),
        })
    }

    pub fn partition(&self) -> u16 {
        self.partition
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One chunk of a job: `<job id>:<chunk index>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskId {
    pub job: JobId,
    pub chunk: u32,
}

impl TaskId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let err = || IdError {
            what: "task id",
            value: value.chars().take(80).collect(),
            expected: "<job id>:<chunk index>",
        };
        let (job, chunk) = value.rsplit_once(':').ok_or_else(err)?;
        let chunk = chunk
            .parse()
            .ok()
            .filter(|_| chunk.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(err)?;
        Ok(TaskId {
            job: JobId::parse(job)?,
            chunk,
        })
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.job, self.chunk)
    }
}

/// Who holds a lease: unique per worker *per process start* (pid, start time and random bits),
/// so a restarted process never inherits its predecessor's leases: recovery is per task, by
/// lease expiry, never by worker name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    pub fn generate() -> Self {
        let started_ms = super::super::redis::pool::now_ms();
        WorkerId(format!(
            "w-{}-{started_ms}-{:08x}",
            std::process::id(),
            random_u64() as u32
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number handed out with each claim (from a per-partition counter, so it only grows).
/// Every write a worker makes about a task carries it; Redis rejects writes whose token is not
/// the task's current one, so a worker that lost its lease cannot overwrite its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub u64);

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A client-chosen `Idempotency-Key`: 1–255 visible ASCII characters (what Stripe accepts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(value: &str) -> Result<Self, IdError> {
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            Ok(IdempotencyKey(value.to_owned()))
        } else {
            Err(IdError {
                what: "idempotency key",
                value: value.chars().take(80).collect(),
                expected: "1 to 255 visible ASCII characters (no spaces)",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Rows `start..end` of the job's data (half-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRange {
    pub start: u64,
    pub end: u64,
}

impl RowRange {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_job_id_parses_back_to_itself() {
        let id = JobId::generate(3);
        assert_eq!(JobId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.partition(), 3);
    }

    #[test]
    fn malformed_job_ids_are_rejected() {
        for bad in [
            "",
            "p0",
            "p0-",
            "p-0123456789abcdef01234567",
            "p01-0123456789abcdef01234567",
            "p0-0123456789ABCDEF01234567",
            "p0-0123456789abcdef0123456",
            "x0-0123456789abcdef01234567",
            "p0-0123456789abcdef01234567:1",
            "p70000-0123456789abcdef01234567",
        ] {
            assert!(JobId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_task_id_is_its_job_and_chunk() {
        let job = JobId::generate(0);
        let task = TaskId::parse(&format!("{job}:12")).expect("valid");
        assert_eq!(task.job, job);
        assert_eq!(task.chunk, 12);
        assert!(TaskId::parse(&format!("{job}:+1")).is_err());
        assert!(TaskId::parse(&format!("{job}")).is_err());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse("order-42").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
    }

    #[test]
    fn worker_ids_differ_between_workers_of_one_process() {
        assert_ne!(WorkerId::generate(), WorkerId::generate());
    }

    #[test]
    fn the_stable_hash_is_fnv1a() {
        // FNV-1a 64 of "a" is the published test vector 0xaf63dc4c8601ec8c.
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        let unit = random_unit();
        assert!((0.0..1.0).contains(&unit));
    }
}
