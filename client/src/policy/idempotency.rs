//! Idempotency keys: stable per business operation across retries, new when the payload changes.
//!
//! `key = UUIDv4-shaped(SHA-256(namespace, operation id, payload))`: the same operation with the
//! same payload gets the same key on every retry, in every process (so a crash-and-resume keeps
//! it); a changed payload is a different request and gets a different key. The namespace keeps two
//! clients' operations apart.

use sha2::{Digest, Sha256};

pub fn idempotency_key(namespace: &str, operation_id: &str, payload: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [namespace.as_bytes(), operation_id.as_bytes(), payload] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_operation_new_per_payload() {
        let a = idempotency_key("app", "create-17", b"{\"x\":1}");
        assert_eq!(a, idempotency_key("app", "create-17", b"{\"x\":1}"));
        assert_ne!(a, idempotency_key("app", "create-17", b"{\"x\":2}"));
        assert_ne!(a, idempotency_key("app", "create-18", b"{\"x\":1}"));
        assert_ne!(a, idempotency_key("other", "create-17", b"{\"x\":1}"));
        // Length-prefixed parts: moving a byte between parts changes the key.
        assert_ne!(idempotency_key("ab", "c", b""), idempotency_key("a", "bc", b""));
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
    }
}
