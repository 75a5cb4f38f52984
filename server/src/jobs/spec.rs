//! The payload stored with each job and handed to every chunk: which uploads, which output,
//! how many background rows, and the blob prefix the results go under.
//!
//! The queue never reads it (it is an opaque string there), but it does fingerprint it for
//! idempotency: a resubmit with the same key must produce the *same* text, so the result
//! prefix is derived from the key and the request when there is a key (see
//! [`results_prefix`]), and the JSON field order is fixed by the struct. Fields added since
//! v1 are left out of the text while they hold their default (`interactions: false`), so a
//! payload written before they existed reads the same and fingerprints the same.

use app::wire::JobOutput;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Payload format version, so a future worker can refuse (or translate) an old payload.
pub const SPEC_VERSION: u32 = 1;

/// What one job computes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub v: u32,
    /// Model upload id.
    pub model: String,
    /// Data upload id.
    pub data: String,
    pub output: JobOutput,
    /// `Some(n)`: interventional TreeSHAP against a seeded sample of n data rows (the same
    /// sample `shaplab explain --background-rows n` draws). `None`: path-dependent.
    pub background_rows: Option<u64>,
    /// Blob prefix of this job's results (`jobs/{nonce}`).
    pub results: String,
    /// Also compute path-dependent interaction values (raw output only), stored per chunk
    /// next to the SHAP blob (see [`JobSpec::interactions_key`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub interactions: bool,
    /// What the submit check noticed about the inputs (unseen categories and how they are
    /// routed), shown with the job. Derived from the inputs alone, so a resubmit with the same
    /// key builds the same text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Recompute the model's node covers from the job's data rows (all of them, so every
    /// chunk uses the same covers) before path-dependent TreeSHAP.
    #[serde(default, skip_serializing_if = "is_false")]
    pub covers_from_data: bool,
    /// Who submitted it (the sign-in name; `local` without sign-in): only they, admins and
    /// holders of a share link see it. Jobs from before owners existed have none (admins').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// [`JobSpec::additivity_key`] from the results prefix alone (what the summary knows).
pub fn additivity_key(results: &str, start: u64, end: u64) -> String {
    format!("{results}/additivity-{start:012}-{end:012}.txt")
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl JobSpec {
    pub fn to_payload(&self) -> String {
        // Serialising plain strings, numbers and an enum cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a payload; a payload this version cannot read is a permanent task error.
    pub fn parse(payload: &str) -> Result<Self, String> {
        let spec: JobSpec = serde_json::from_str(payload)
            .map_err(|e| format!("the job's payload cannot be read ({e}); submit it again"))?;
        if spec.v != SPEC_VERSION {
            return Err(format!(
                "the job was submitted by a different shaplab version (payload v{}, this worker \
                 reads v{SPEC_VERSION}); submit it again",
                spec.v
            ));
        }
        Ok(spec)
    }

    /// The CSV header line (the CLI's exact header, with a trailing newline).
    pub fn header_key(&self) -> String {
        format!("{}/header.csv", self.results)
    }

    /// The blob of rows `start..end` (zero-padded, so keys sort in row order too).
    pub fn chunk_key(&self, start: u64, end: u64) -> String {
        format!("{}/rows-{start:012}-{end:012}.csv", self.results)
    }

    /// The chunk's additivity check: the largest |base + ΣSHAP − f(x)| over rows `start..end`,
    /// as one number, written before [`JobSpec::chunk_key`].
    pub fn additivity_key(&self, start: u64, end: u64) -> String {
        additivity_key(&self.results, start, end)
    }

    /// The interactions CSV header line (`shaplab explain --interactions`'s, with a newline).
    pub fn interactions_header_key(&self) -> String {
        format!("{}/interactions-header.csv", self.results)
    }

    /// The interaction values of rows `start..end`, written by the same task as
    /// [`JobSpec::chunk_key`] (before it, so a finished chunk always has both).
    pub fn interactions_key(&self, start: u64, end: u64) -> String {
        format!("{}/interactions-{start:012}-{end:012}.csv", self.results)
    }

    /// One line: the sums over rows `start..end` of |interaction value| per cell, so the
    /// summary reads `outputs × (features + 1)²` numbers per chunk instead of every row's.
    pub fn interaction_sums_key(&self, start: u64, end: u64) -> String {
        format!(
            "{}/interaction-sums-{start:012}-{end:012}.csv",
            self.results
        )
    }
}

/// The blob prefix for a job's results. With an idempotency key it is a hash of the key and
/// the normalised request, so a repeated submit builds the same payload (and the queue
/// answers "existing"); without one it is random.
pub fn results_prefix(
    idempotency_key: Option<&str>,
    model: &str,
    data: &str,
    output: JobOutput,
    background_rows: Option<u64>,
    interactions: bool,
) -> String {
    let nonce = match idempotency_key {
        Some(key) => {
            let mut h = Sha256::new();
            for part in [
                key,
                model,
                data,
                match output {
                    JobOutput::Raw => "raw",
                    JobOutput::Probability => "probability",
                },
                &background_rows.map_or_else(String::new, |n| n.to_string()),
            ] {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
            // Only when asked, so the prefixes of requests without it are unchanged.
            if interactions {
                h.update(b"interactions\0");
            }
            h.finalize()
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    format!("jobs/{nonce}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(results: String) -> JobSpec {
        JobSpec {
            v: SPEC_VERSION,
            model: "m".into(),
            data: "d".into(),
            output: JobOutput::Raw,
            background_rows: None,
            results,
            interactions: false,
            notes: Vec::new(),
            covers_from_data: false,
            owner: None,
        }
    }

    #[test]
    fn the_same_key_and_request_give_the_same_payload() {
        let a = results_prefix(Some("k1"), "m", "d", JobOutput::Raw, None, false);
        let b = results_prefix(Some("k1"), "m", "d", JobOutput::Raw, None, false);
        assert_eq!(spec(a).to_payload(), spec(b).to_payload());
    }

    #[test]
    fn a_different_request_or_no_key_gives_another_prefix() {
        let a = results_prefix(Some("k1"), "m", "d", JobOutput::Raw, None, false);
        assert_ne!(
            a,
            results_prefix(Some("k1"), "m", "d", JobOutput::Raw, Some(10), false)
        );
        assert_ne!(
            a,
            results_prefix(Some("k2"), "m", "d", JobOutput::Raw, None, false)
        );
        assert_ne!(
            results_prefix(None, "m", "d", JobOutput::Raw, None, false),
            results_prefix(None, "m", "d", JobOutput::Raw, None, false)
        );
    }

    #[test]
    fn a_payload_round_trips_and_a_foreign_one_is_refused() {
        let s = spec("jobs/x".into());
        assert_eq!(JobSpec::parse(&s.to_payload()), Ok(s));
        assert!(JobSpec::parse("not json").is_err());
        let mut old = spec("jobs/x".into());
        old.v = 99;
        assert!(JobSpec::parse(&old.to_payload()).is_err());
    }

    #[test]
    fn interactions_change_the_prefix_and_only_appear_in_the_payload_when_asked() {
        assert_ne!(
            results_prefix(Some("k1"), "m", "d", JobOutput::Raw, None, false),
            results_prefix(Some("k1"), "m", "d", JobOutput::Raw, None, true)
        );
        let plain = spec("jobs/x".into());
        assert!(!plain.to_payload().contains("interactions"));
        // A payload written before the field existed still reads, without interactions.
        let old = r#"{"v":1,"model":"m","data":"d","output":"raw","background_rows":null,"results":"jobs/x"}"#;
        assert_eq!(JobSpec::parse(old), Ok(plain.clone()));
        let mut with = plain;
        with.interactions = true;
        assert_eq!(JobSpec::parse(&with.to_payload()), Ok(with.clone()));
        assert!(with.interactions_key(0, 16) < with.interactions_key(16, 32));
    }

    #[test]
    fn chunk_keys_sort_in_row_order() {
        let s = spec("jobs/x".into());
        assert!(s.chunk_key(5_000, 10_000) < s.chunk_key(10_000, 15_000));
    }
}
