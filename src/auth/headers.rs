//! Reading `Authorization` and `X-Scope-OrgID`.
//!
//! Structural problems (a header given twice, bytes outside visible ASCII,
//! a value over [`MAX_HEADER_LEN`], undecodable Basic credentials) are 400:
//! no retry with other credentials can fix the request's shape. Credentials
//! that are absent, empty or of an unsupported scheme are 401, so the
//! client is told to authenticate.

use base64::Engine;

use super::{AuthError, Scheme};
use crate::tenant::TenantId;

/// The header naming the tenant(s), as in Cortex, Mimir and Loki.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// Longest accepted `Authorization` or `X-Scope-OrgID` value, in bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// Separator of tenant ids in a federated `X-Scope-OrgID` (Mimir's `|`).
const TENANT_SEPARATOR: char = '|';

/// The `Authorization` header's name.
const AUTHORIZATION: &str = "authorization";

/// A request's headers as auth reads them, without an HTTP framework's
/// types: every value sent for a name (matched case-insensitively), as
/// bytes. `api/` implements it for its header map.
pub trait RequestHeaders {
    /// The values of header `name`, in the order sent.
    fn values(&self, name: &str) -> Vec<&[u8]>;
}

/// Credentials taken from `Authorization`.
#[derive(PartialEq)]
pub(crate) enum Credentials {
    Bearer(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Bearer(_) => f.write_str("Bearer(..)"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user:?}, ..)"),
        }
    }
}

/// The single value of header `name`, if present, as visible ASCII.
fn single_value<'h>(
    headers: &'h dyn RequestHeaders,
    name: &str,
) -> Result<Option<&'h str>, AuthError> {
    let all = headers.values(name);
    let mut values = all.into_iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::BadRequest(format!(
            "{name} header given more than once"
        )));
    }
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::BadRequest(format!(
            "{name} header is {} bytes; the limit is {MAX_HEADER_LEN}",
            value.len()
        )));
    }
    // Visible ASCII (and tabs), as `http::HeaderValue::to_str` accepts.
    let visible = value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
    let text = std::str::from_utf8(value)
        .ok()
        .filter(|_| visible)
        .ok_or_else(|| AuthError::BadRequest(format!("{name} header is not visible ASCII")))?;
    Ok(Some(text))
}

/// Parses `Authorization`; `None` when the header is absent.
pub(crate) fn credentials(headers: &dyn RequestHeaders) -> Result<Option<Credentials>, AuthError> {
    let Some(text) = single_value(headers, AUTHORIZATION)? else {
        return Ok(None);
    };
    let text = text.trim();
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim_start();
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Err(AuthError::unauthorized(
                "empty bearer token",
                Scheme::Bearer,
            ));
        }
        return Ok(Some(Credentials::Bearer(rest.to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        return basic(rest).map(Some);
    }
    Err(AuthError::unauthorized(
        format!("unsupported authorization scheme {scheme:?}; use Bearer or Basic"),
        Scheme::Bearer,
    ))
}

fn basic(encoded: &str) -> Result<Credentials, AuthError> {
    if encoded.is_empty() {
        return Err(AuthError::unauthorized(
            "empty basic credentials",
            Scheme::Basic,
        ));
    }
    let bad = |why: &str| AuthError::BadRequest(format!("malformed Basic credentials: {why}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad("not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| bad("no ':' between user and password"))?;
    Ok(Credentials::Basic {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// The tenants named by `X-Scope-OrgID` (`a` or `a|b|c`), in the order
/// given with repeats dropped; `None` when the header is absent.
pub(crate) fn tenants(headers: &dyn RequestHeaders) -> Result<Option<Vec<TenantId>>, AuthError> {
    let Some(text) = single_value(headers, TENANT_HEADER)? else {
        return Ok(None);
    };
    let mut out: Vec<TenantId> = Vec::new();
    for part in text.split(TENANT_SEPARATOR) {
        let t = TenantId::new(part)
            .map_err(|e| AuthError::BadRequest(format!("invalid {TENANT_HEADER} header: {e}")))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(Some(out))
}

/// Joins tenant ids the way the header writes them, for messages.
pub(crate) fn join_tenants(ts: &[TenantId]) -> String {
    let parts: Vec<&str> = ts.iter().map(TenantId::as_str).collect();
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn headers(name: &str, values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    fn b64(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// What a case expects: credentials, or a status and message fragment.
    #[derive(Debug)]
    enum Want<'a> {
        None,
        Bearer(&'a str),
        Basic(&'a str, &'a str),
        Status(u16, &'a str),
    }

    #[test]
    fn authorization_header_is_parsed() {
        let basic_ok = format!("Basic {}", b64(b"alice:pa:ss"));
        let basic_empty_pw = format!("Basic {}", b64(b"bob:"));
        let no_colon = format!("Basic {}", b64(b"alice"));
        let not_utf8 = format!("Basic {}", b64(b"\xff:x"));
        let huge = format!("Bearer {}", "a".repeat(MAX_HEADER_LEN));
        let at_limit = format!("Bearer {}", "a".repeat(MAX_HEADER_LEN - 7));
        let cases: Vec<(Vec<&[u8]>, Want)> = vec![
            (vec![], Want::None),
            (vec![b"Bearer abc"], Want::Bearer("abc")),
            (vec![b"bearer   abc "], Want::Bearer("abc")),
            (vec![b"BEARER a.b.c"], Want::Bearer("a.b.c")),
            (vec![basic_ok.as_bytes()], Want::Basic("alice", "pa:ss")),
            (vec![basic_empty_pw.as_bytes()], Want::Basic("bob", "")),
            (vec![at_limit.as_bytes()], Want::Bearer("")),
            (vec![b"Bearer"], Want::Status(401, "empty bearer token")),
            (vec![b"Bearer   "], Want::Status(401, "empty bearer token")),
            (
                vec![b""],
                Want::Status(401, "unsupported authorization scheme"),
            ),
            (vec![b"Digest x=1"], Want::Status(401, "\"Digest\"")),
            (vec![b"Basic"], Want::Status(401, "empty basic")),
            (vec![b"Basic !!!notb64"], Want::Status(400, "not base64")),
            (vec![no_colon.as_bytes()], Want::Status(400, "no ':'")),
            (vec![not_utf8.as_bytes()], Want::Status(400, "not UTF-8")),
            (
                vec![b"Bearer a", b"Bearer b"],
                Want::Status(400, "more than once"),
            ),
            (
                vec![b"Bearer caf\xc3\xa9"],
                Want::Status(400, "not visible ASCII"),
            ),
            (
                vec![huge.as_bytes()],
                Want::Status(400, "the limit is 8192"),
            ),
        ];
        for (values, want) in &cases {
            let got = credentials(&headers("authorization", values));
            match (got, want) {
                (Ok(None), Want::None) => {}
                (Ok(Some(Credentials::Bearer(t))), Want::Bearer(w)) => {
                    if !w.is_empty() {
                        assert_eq!(t, *w)
                    }
                }
                (Ok(Some(Credentials::Basic { user, password })), Want::Basic(u, p)) => {
                    assert_eq!((user.as_str(), password.as_str()), (*u, *p));
                }
                (Err(e), Want::Status(code, frag)) => {
                    assert_eq!(e.status(), *code, "{e}");
                    assert!(e.to_string().contains(frag), "{e}");
                }
                (got, want) => panic!("{values:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn tenant_header_is_parsed() {
        let long = "a".repeat(TenantId::MAX_LEN + 1);
        let huge = "a|".repeat(MAX_HEADER_LEN);
        type Case<'a> = (Vec<&'a [u8]>, Result<Option<&'a str>, &'a str>);
        let cases: Vec<Case> = vec![
            (vec![], Ok(None)),
            (vec![b"team-a"], Ok(Some("team-a"))),
            (vec![b"a|b"], Ok(Some("a|b"))),
            (vec![b"b|a|b"], Ok(Some("b|a"))),
            (vec![b""], Err("tenant id is empty")),
            (vec![b"a|"], Err("tenant id is empty")),
            (vec![b"a/b"], Err("unsupported character '/'")),
            (vec![b".."], Err("not allowed")),
            (vec![long.as_bytes()], Err("limit is 150")),
            (vec![b"caf\xc3\xa9"], Err("not visible ASCII")),
            (vec![b"a", b"b"], Err("more than once")),
            (vec![huge.as_bytes()], Err("the limit is 8192")),
        ];
        for (values, want) in cases {
            let got = tenants(&headers(TENANT_HEADER, &values));
            match (got, want) {
                (Ok(None), Ok(None)) => {}
                (Ok(Some(ts)), Ok(Some(w))) => assert_eq!(join_tenants(&ts), w),
                (Err(e), Err(w)) => {
                    assert_eq!(e.status(), 400);
                    let msg = e.to_string();
                    assert!(msg.contains(w) && msg.contains(TENANT_HEADER), "{msg}");
                }
                (got, want) => panic!("{values:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
