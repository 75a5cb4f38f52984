//! Secrets: session ids, CSRF tokens, share-link tokens and API keys, all 256 bits from the
//! operating system's CSPRNG. Only their SHA-256 is stored, so a copy of Redis (a backup, a
//! replica) hands out no working credential.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// 32 random bytes as URL-safe base64 (43 characters), optionally after a readable prefix
/// (`shk_` marks an API key in a script or a secret scanner's report).
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// `N` bytes from the OS CSPRNG. The OS refusing randomness leaves nothing safe to do.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

/// What is stored in place of a token: its SHA-256 in hex.
pub fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality that takes as long for a near miss as for a far one (for secrets compared in
/// memory: CSRF tokens).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_url_safe() {
        let a = new_token("shk_");
        let b = new_token("shk_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43);
        assert!(
            a[4..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn same_compares_exactly() {
        assert!(same("token", "token"));
        assert!(!same("token", "tokem"));
        assert!(!same("token", "token2"));
    }
}
