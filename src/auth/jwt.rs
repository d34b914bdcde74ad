//! Bearer JWTs: loading verification keys and checking tokens.
//!
//! Checks, in order: the header's `alg` is listed in the config (`none` is
//! never accepted); a key of that algorithm's family, and of the header's
//! `kid` when the key set has ids, verifies the signature; `exp` (required),
//! `nbf` (when present), `iss` and `aud` (both required) hold, with the
//! configured leeway on the two times. Each failure is a distinct message.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::config::{JwtAlgorithm, JwtConfig};
use crate::tenant::TenantId;

/// Shortest HS256 secret accepted: RFC 7518 section 3.2 asks for a key at
/// least as long as the hash output.
const MIN_HMAC_SECRET_LEN: usize = 32;

/// Largest leeway allowed on `exp`/`nbf`: more would make expiry moot.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(300);

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        }
    }
}

struct Key {
    kid: Option<String>,
    /// The JWK's `alg`, when it pins one.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JwtIdentity {
    pub(crate) subject: Option<String>,
    pub(crate) tenant: TenantId,
    /// The policy claim's value, when the config names a policy claim and
    /// the token carries it.
    pub(crate) policy: Option<String>,
}

/// Keys and rules for verifying JWTs.
pub(crate) struct JwtVerifier {
    keys: Vec<Key>,
    algorithms: Vec<Algorithm>,
    validation: Validation,
    tenant_claim: String,
    policy_claim: Option<String>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material stays out of debug output.
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys.len())
            .field("algorithms", &self.algorithms)
            .field("tenant_claim", &self.tenant_claim)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Loads the key file (already resolved to `path`) and checks the
    /// config. Errors are plain messages; the caller adds context.
    pub(crate) fn new(cfg: &JwtConfig, path: &Path) -> Result<JwtVerifier, String> {
        if cfg.algorithms.is_empty() {
            return Err("algorithms: list at least one of HS256, RS256, ES256".into());
        }
        if cfg.tenant_claim.is_empty() {
            return Err("tenant_claim is empty".into());
        }
        if cfg.leeway.0 > MAX_LEEWAY {
            return Err("leeway: at most 5m".into());
        }
        let algorithms: Vec<Algorithm> = cfg.algorithms.iter().map(|a| a.to_jwt()).collect();
        let keys = load_keys(path, &algorithms)?;
        for alg in &algorithms {
            if !keys.iter().any(|k| usable(k, *alg)) {
                return Err(format!(
                    "algorithm {alg:?} is listed but no key in {path:?} fits it"
                ));
            }
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = cfg.leeway.0.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&cfg.issuer]);
        validation.set_audience(&[&cfg.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(JwtVerifier {
            keys,
            algorithms,
            validation,
            tenant_claim: cfg.tenant_claim.clone(),
            policy_claim: cfg.policy_claim.clone(),
        })
    }

    /// Verifies `token`; the error is the 401 message.
    pub(crate) fn verify(&self, token: &str) -> Result<JwtIdentity, String> {
        let alg = self.allowed_alg(token)?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed JWT header: {e}"))?;
        let fits = |k: &&Key| usable(k, alg);
        let candidates: Vec<&Key> = match &header.kid {
            Some(kid) if self.keys.iter().any(|k| k.kid.is_some()) => {
                let found: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(fits)
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if found.is_empty() {
                    return Err(format!("JWT names key id {kid:?}, which is not known"));
                }
                found
            }
            _ => self.keys.iter().filter(fits).collect(),
        };
        let mut validation = self.validation.clone();
        validation.algorithms = vec![alg];
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => return self.identity(&data.claims),
                // Another key of the set may have signed it.
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
                Err(e) => return Err(self.describe(e.kind())),
            }
        }
        Err("JWT signature is invalid".into())
    }

    /// The header's algorithm, if the config accepts it. Read by hand so
    /// that `alg: none` and unknown names get their own messages.
    fn allowed_alg(&self, token: &str) -> Result<Algorithm, String> {
        let head = token.split('.').next().unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(head.trim_end_matches('='))
            .map_err(|_| "malformed JWT: header is not base64url".to_string())?;
        let header: Value = serde_json::from_slice(&bytes)
            .map_err(|_| "malformed JWT: header is not JSON".to_string())?;
        let Some(name) = header.get("alg").and_then(Value::as_str) else {
            return Err("malformed JWT: header has no alg".into());
        };
        if name.eq_ignore_ascii_case("none") {
            return Err("unsigned JWT (alg none) is not accepted".into());
        }
        match Algorithm::from_str(name) {
            Ok(a) if self.algorithms.contains(&a) => Ok(a),
            _ => Err(format!(
                "JWT algorithm {name:?} is not allowed; allowed: {:?}",
                self.algorithms
            )),
        }
    }

    fn describe(&self, kind: &ErrorKind) -> String {
        let expected = |set: &Option<std::collections::HashSet<String>>| {
            set.iter().flatten().next().cloned().unwrap_or_default()
        };
        match kind {
            ErrorKind::ExpiredSignature => "JWT has expired (exp is in the past)".into(),
            ErrorKind::ImmatureSignature => "JWT is not valid yet (nbf is in the future)".into(),
            ErrorKind::InvalidIssuer => {
                format!("JWT issuer is not {:?}", expected(&self.validation.iss))
            }
            ErrorKind::InvalidAudience => format!(
                "JWT audience does not include {:?}",
                expected(&self.validation.aud)
            ),
            ErrorKind::MissingRequiredClaim(c) => format!("JWT has no {c:?} claim"),
            ErrorKind::InvalidClaimFormat(c) => format!("JWT claim {c:?} is malformed"),
            ErrorKind::InvalidAlgorithm => "JWT algorithm does not fit the key".into(),
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => format!("malformed JWT: {kind:?}"),
            other => format!("JWT rejected: {other:?}"),
        }
    }

    fn identity(&self, claims: &Map<String, Value>) -> Result<JwtIdentity, String> {
        let claim = &self.tenant_claim;
        let tenant = match claims.get(claim) {
            None => return Err(format!("JWT has no {claim:?} claim (the tenant)")),
            Some(Value::String(s)) => TenantId::new(s)
                .map_err(|e| format!("JWT claim {claim:?} is not a valid tenant id: {e}"))?,
            Some(_) => return Err(format!("JWT claim {claim:?} must be a string")),
        };
        let policy = match self.policy_claim.as_ref().map(|c| (c, claims.get(c))) {
            None | Some((_, None)) => None,
            Some((_, Some(Value::String(s)))) => Some(s.clone()),
            Some((c, Some(_))) => return Err(format!("JWT claim {c:?} must be a string")),
        };
        let subject = claims.get("sub").and_then(Value::as_str).map(String::from);
        Ok(JwtIdentity {
            subject,
            tenant,
            policy,
        })
    }
}

fn usable(k: &Key, alg: Algorithm) -> bool {
    k.key.family() == alg.family() && k.alg.is_none_or(|a| a == alg)
}

/// Reads a JWKS (JSON), a PEM public key, or a raw HS256 secret.
fn load_keys(path: &Path, algorithms: &[Algorithm]) -> Result<Vec<Key>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {path:?}: {e}"))?;
    let text = bytes.trim_ascii();
    if text.starts_with(b"{") {
        return load_jwks(text);
    }
    let single = |key| {
        Ok(vec![Key {
            kid: None,
            alg: None,
            key,
        }])
    };
    if text.starts_with(b"-----BEGIN") {
        if text.windows(11).any(|w| w == b"PRIVATE KEY") {
            return Err(format!("{path:?} holds a private key; give the public key"));
        }
        let ec = DecodingKey::from_ec_pem(text);
        let rsa = DecodingKey::from_rsa_pem(text);
        return match (ec, rsa) {
            (Ok(k), _) | (_, Ok(k)) => single(k),
            (Err(e), Err(_)) => Err(format!("{path:?} is not an RSA or EC public key: {e}")),
        };
    }
    if !algorithms.contains(&Algorithm::HS256) {
        return Err(format!(
            "{path:?} is neither JWKS JSON nor a PEM public key (a raw secret needs HS256)"
        ));
    }
    if text.len() < MIN_HMAC_SECRET_LEN {
        return Err(format!(
            "HS256 secret in {path:?} is {} bytes; at least {MIN_HMAC_SECRET_LEN} are needed",
            text.len()
        ));
    }
    single(DecodingKey::from_secret(text))
}

fn load_jwks(text: &[u8]) -> Result<Vec<Key>, String> {
    let set: JwkSet = serde_json::from_slice(text).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = Vec::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let name = jwk.common.key_id.clone().unwrap_or_else(|| format!("#{i}"));
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            continue; // not a signing key
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key {name}: {e}"))?;
        let alg = match jwk.common.key_algorithm {
            Some(a) => Some(
                Algorithm::from_str(&a.to_string())
                    .map_err(|_| format!("JWKS key {name}: alg {a} is not a signing algorithm"))?,
            ),
            None => None,
        };
        if let Some(kid) = &jwk.common.key_id {
            if keys.iter().any(|k: &Key| k.kid.as_ref() == Some(kid)) {
                return Err(format!("JWKS key id {kid:?} appears twice"));
            }
        }
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    if keys.is_empty() {
        return Err("JWKS has no signing keys".into());
    }
    Ok(keys)
}
