//! Stored secret hashes (SHA-256 or Argon2) and the lookup of static
//! tokens and basic-auth users against them.
//!
//! Secrets presented by clients are hashed on arrival and never kept. SHA-256
//! suits long random tokens; Argon2 suits passwords a person chose. Argon2 is
//! slow on purpose, so a successful verification is remembered under the
//! SHA-256 of the presented secret (never the secret itself) to keep a
//! client that sends the same password on every request from paying for it
//! each time.

use std::collections::HashMap;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Most remembered Argon2 verifications; the cache is emptied when full,
/// which bounds memory however many distinct secrets succeed.
const VERIFIED_CACHE_CAP: usize = 1024;

/// A stored hash of a token or password.
#[derive(Clone)]
pub(crate) enum SecretHash {
    /// SHA-256 digest.
    Sha256([u8; 32]),
    /// An Argon2 PHC string, checked for shape at load time.
    Argon2(String),
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes are not secrets, but there is no reason to spread them
        // through logs either.
        match self {
            SecretHash::Sha256(_) => f.write_str("Sha256(..)"),
            SecretHash::Argon2(_) => f.write_str("Argon2(..)"),
        }
    }
}

impl SecretHash {
    /// Builds a hash from the config's `sha256` / `argon2` keys; exactly one
    /// must be present. `what` names the entry in errors.
    pub(crate) fn from_config(
        what: &str,
        sha256: Option<&str>,
        argon2: Option<&str>,
    ) -> Result<SecretHash, String> {
        match (sha256, argon2) {
            (Some(hex), None) => parse_sha256_hex(hex)
                .map(SecretHash::Sha256)
                .ok_or_else(|| format!("{what}: sha256 must be 64 hexadecimal digits")),
            (None, Some(phc)) => {
                let parsed = PasswordHash::new(phc)
                    .map_err(|e| format!("{what}: argon2 is not a PHC string: {e}"))?;
                if !parsed.algorithm.as_str().starts_with("argon2") {
                    return Err(format!(
                        "{what}: argon2 hash uses algorithm {:?}",
                        parsed.algorithm.as_str()
                    ));
                }
                Ok(SecretHash::Argon2(phc.to_string()))
            }
            (Some(_), Some(_)) => Err(format!("{what}: give only one of sha256 and argon2")),
            (None, None) => Err(format!("{what}: one of sha256 or argon2 is required")),
        }
    }

    /// Whether `secret` hashes to this; `digest` is its SHA-256.
    fn verify(&self, secret: &[u8], digest: &[u8; 32]) -> bool {
        match self {
            SecretHash::Sha256(want) => bool::from(want.ct_eq(digest)),
            SecretHash::Argon2(phc) => match PasswordHash::new(phc) {
                Ok(h) => Argon2::default().verify_password(secret, &h).is_ok(),
                Err(_) => false,
            },
        }
    }
}

/// Lower-case hex SHA-256 of `secret`: the value to put under `sha256:` in
/// the configuration for a token or password.
pub fn sha256_hex(secret: &[u8]) -> String {
    Sha256::digest(secret)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn sha256(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

fn parse_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = (pair.first()?.to_ascii_lowercase() as char).to_digit(16)?;
        let lo = (pair.get(1)?.to_ascii_lowercase() as char).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Static credentials of one kind (tokens or users), each carrying `T`.
#[derive(Debug)]
pub(crate) struct SecretStore<T> {
    entries: Vec<(SecretHash, T)>,
    /// SHA-256 of a secret that passed Argon2 verification -> entry index.
    verified: Mutex<HashMap<[u8; 32], usize>>,
}

impl<T> SecretStore<T> {
    pub(crate) fn new(entries: Vec<(SecretHash, T)>) -> SecretStore<T> {
        SecretStore {
            entries,
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry whose hash `secret` matches. Every SHA-256 entry is
    /// compared (in constant time each) so the time taken does not reveal
    /// which entry came closest.
    pub(crate) fn find(&self, secret: &[u8]) -> Option<&T> {
        self.find_where(secret, |_| true)
    }

    /// Like [`Self::find`], among the entries `keep` accepts (for basic
    /// auth, those with the presented user name).
    pub(crate) fn find_where(&self, secret: &[u8], keep: impl Fn(&T) -> bool) -> Option<&T> {
        let digest = sha256(secret);
        if let Some(&i) = self.verified.lock().get(&digest) {
            if let Some((_, v)) = self.entries.get(i).filter(|(_, v)| keep(v)) {
                return Some(v);
            }
        }
        let mut found = None;
        for (i, (hash, value)) in self.entries.iter().enumerate() {
            let slow = matches!(hash, SecretHash::Argon2(_));
            // Argon2 is only worth running for entries that could match.
            if slow && (found.is_some() || !keep(value)) {
                continue;
            }
            if hash.verify(secret, &digest) && keep(value) && found.is_none() {
                found = Some(i);
                if slow {
                    self.remember(digest, i);
                }
            }
        }
        found.and_then(|i| self.entries.get(i)).map(|(_, v)| v)
    }

    fn remember(&self, digest: [u8; 32], index: usize) {
        let mut cache = self.verified.lock();
        if cache.len() >= VERIFIED_CACHE_CAP {
            cache.clear();
        }
        cache.insert(digest, index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    fn argon2_of(secret: &str) -> String {
        let salt = SaltString::encode_b64(b"fixed-test-salt!").unwrap();
        // Small parameters keep the test fast; verification reads them
        // from the PHC string.
        let params = argon2::Params::new(256, 1, 1, None).unwrap();
        let a = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        a.hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn sha256_hex_matches_known_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(sha256_hex(input), *want);
            assert_eq!(parse_sha256_hex(want), Some(sha256(input)));
            let upper = want.to_ascii_uppercase();
            assert_eq!(parse_sha256_hex(&upper), Some(sha256(input)));
        }
    }

    #[test]
    fn config_hashes_are_checked() {
        let good = sha256_hex(b"x");
        let phc = argon2_of("pw");
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(), &'a str>);
        let short = &good[..63];
        let cases: &[Case] = &[
            (Some(&good), None, Ok(())),
            (None, Some(&phc), Ok(())),
            (Some(short), None, Err("64 hexadecimal")),
            (Some("zz"), None, Err("64 hexadecimal")),
            (Some(&"g".repeat(64)), None, Err("64 hexadecimal")),
            (Some(""), None, Err("64 hexadecimal")),
            (None, Some("not-phc"), Err("not a PHC string")),
            (
                None,
                Some("$pbkdf2-sha256$i=1$c2FsdHNhbHQ$c29tZWxvbmdlcmhhc2hvdXRwdXQ"),
                Err("algorithm"),
            ),
            (Some(&good), Some(&phc), Err("only one")),
            (None, None, Err("is required")),
        ];
        for (sha, argon, want) in cases {
            let got = SecretHash::from_config("token t", *sha, *argon);
            match (got, want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w) && e.contains("token t"), "{e}"),
                (got, want) => panic!("{sha:?} {argon:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn store_finds_by_sha256_and_argon2_and_caches() {
        let store = SecretStore::new(vec![
            (
                SecretHash::from_config("a", Some(&sha256_hex(b"tok-a")), None).unwrap(),
                "a",
            ),
            (
                SecretHash::from_config("b", None, Some(&argon2_of("tok-b"))).unwrap(),
                "b",
            ),
        ]);
        assert_eq!(store.find(b"tok-a"), Some(&"a"));
        assert_eq!(store.find(b"tok-b"), Some(&"b"));
        assert_eq!(store.verified.lock().len(), 1, "argon2 success cached");
        assert_eq!(store.find(b"tok-b"), Some(&"b"));
        assert_eq!(store.find(b"tok-c"), None);
        assert_eq!(store.find(b""), None);
        assert_eq!(store.find_where(b"tok-b", |v| *v == "a"), None);
        assert_eq!(store.find_where(b"tok-a", |v| *v == "a"), Some(&"a"));
        let empty: SecretStore<&str> = SecretStore::new(Vec::new());
        assert!(empty.is_empty());
        assert_eq!(empty.find(b"tok-a"), None);
    }
}
