//! The one place a request's tenant is decided.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::ApiError;
use crate::tenant::TenantId;

/// The header naming the tenant, as in Cortex, Mimir and Loki.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// The tenant a request acts for: the `X-Scope-OrgID` header, or
/// `anonymous` when the header is absent. An invalid id is refused with 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        tenant_from_headers(&parts.headers).map(Tenant)
    }
}

fn tenant_from_headers(headers: &axum::http::HeaderMap) -> Result<TenantId, ApiError> {
    let mut values = headers.get_all(TENANT_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(TenantId::anonymous());
    };
    if values.next().is_some() {
        return Err(ApiError::BadData(format!(
            "{TENANT_HEADER} header given more than once"
        )));
    }
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadData(format!("{TENANT_HEADER} header is not visible ASCII")))?;
    TenantId::new(text)
        .map_err(|e| ApiError::BadData(format!("invalid {TENANT_HEADER} header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(TENANT_HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn header_decides_the_tenant() {
        let long = "a".repeat(TenantId::MAX_LEN + 1);
        // (header values, tenant or a fragment of the error)
        type Case<'a> = (&'a [&'a [u8]], Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            (&[], Ok("anonymous")),
            (&[b"team-a"], Ok("team-a")),
            (&[b"x"], Ok("x")),
            (&[b""], Err("tenant id is empty")),
            (&[b"a/b"], Err("unsupported character '/'")),
            (&[b".."], Err("not allowed")),
            (&[long.as_bytes()], Err("limit is 150")),
            (&[b"caf\xc3\xa9"], Err("not visible ASCII")),
            (&[b"a", b"b"], Err("more than once")),
        ];
        for (input, want) in cases {
            let got = tenant_from_headers(&headers(input));
            match (got, want) {
                (Ok(t), Ok(w)) => assert_eq!(t.as_str(), *w),
                (Err(e), Err(w)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(w), "{input:?}: {msg}");
                    assert!(msg.contains(TENANT_HEADER), "{msg}");
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
