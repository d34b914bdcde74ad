//! Tenant identity. Every read and write path in the engine takes a [`TenantId`].

pub mod limits;

use std::fmt;

/// Why a string was refused as a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantIdError {
    /// The id was empty.
    #[error("tenant id is empty")]
    Empty,
    /// The id was longer than [`TenantId::MAX_LEN`] bytes.
    #[error("tenant id is {0} bytes long; the limit is 150")]
    TooLong(usize),
    /// The id held a byte outside `A-Za-z0-9!-_.*'()`.
    #[error("tenant id contains the unsupported character {0:?}")]
    BadChar(char),
    /// The id was `.` or `..`.
    #[error("tenant id {0:?} is not allowed")]
    Reserved(String),
}

/// A validated tenant id, following Mimir's rules: 1 to 150 bytes of
/// `A-Za-z0-9!-_.*'()`, and neither `.` nor `..`.
///
/// Because the character set excludes `/` and the two dot names are refused,
/// a `TenantId` is always safe to use as a single directory name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Longest tenant id accepted, in bytes.
    pub const MAX_LEN: usize = 150;

    /// The tenant used when a request names none.
    pub fn anonymous() -> TenantId {
        TenantId("anonymous".to_string())
    }

    /// Validates `s` as a tenant id.
    pub fn new(s: &str) -> Result<TenantId, TenantIdError> {
        if s.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(TenantIdError::TooLong(s.len()));
        }
        if let Some(c) = s.chars().find(|c| !is_tenant_char(*c)) {
            return Err(TenantIdError::BadChar(c));
        }
        if s == "." || s == ".." {
            return Err(TenantIdError::Reserved(s.to_string()));
        }
        Ok(TenantId(s.to_string()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_tenant_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '!' | '-' | '_' | '.' | '*' | '\'' | '(' | ')')
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.0)
    }
}

impl std::str::FromStr for TenantId {
    type Err = TenantIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantId::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mimir_charset() {
        for ok in [
            "a",
            "anonymous",
            "A-b_c.d*e'f(g)!",
            "..a",
            "x".repeat(150).as_str(),
        ] {
            assert_eq!(TenantId::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_bad_ids() {
        let cases: &[(&str, TenantIdError)] = &[
            ("", TenantIdError::Empty),
            (".", TenantIdError::Reserved(".".into())),
            ("..", TenantIdError::Reserved("..".into())),
            ("a/b", TenantIdError::BadChar('/')),
            ("a b", TenantIdError::BadChar(' ')),
            ("a|b", TenantIdError::BadChar('|')),
            ("é", TenantIdError::BadChar('é')),
        ];
        for (s, want) in cases {
            assert_eq!(&TenantId::new(s).unwrap_err(), want, "input {s:?}");
        }
        assert_eq!(
            TenantId::new(&"x".repeat(151)).unwrap_err(),
            TenantIdError::TooLong(151)
        );
    }
}
