//! JWT authentication end to end: keys are generated here (an HS256 secret
//! and P-256 keys for ES256), written to a temporary directory as a secret
//! file, a PEM public key and a two-key JWKS, and tokens are signed with
//! them the way an identity provider (or Grafana forwarding one's token)
//! would.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use tempfile::TempDir;

use tessera::auth::{AuthConfig, AuthConfigError, AuthError, Authenticator, Caller};

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "tessera";
const TENANT_CLAIM: &str = "https://example.com/tenant";
const HS_SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

/// A P-256 key pair with what the tests need of it.
struct EcKey {
    signing: EncodingKey,
    public_pem: String,
    /// The public key as a JWK without `kid`.
    jwk: Value,
}

fn ec_key() -> EcKey {
    let sk = SigningKey::random(&mut rand::rngs::OsRng);
    let private_pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
    let vk = sk.verifying_key();
    let public_pem = vk.to_public_key_pem(LineEnding::LF).unwrap();
    let point = vk.to_encoded_point(false);
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    });
    EcKey {
        signing: EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        public_pem,
        jwk,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims of a token that passes every check, for tenant `acme`.
fn good_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": [AUDIENCE, "grafana"],
        "sub": "alice@example.com",
        "exp": now() + 600,
        "nbf": now() - 10,
        TENANT_CLAIM: "acme",
        "role": "reader",
    })
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn config_yaml(keys_file: &str, algorithms: &str) -> String {
    format!(
        "mode: jwt
jwt:
  keys_file: {keys_file}
  algorithms: [{algorithms}]
  issuer: '{ISSUER}'
  audience: {AUDIENCE}
  tenant_claim: '{TENANT_CLAIM}'
  policy_claim: role
  default_policy: viewer
  leeway: 30s
policies:
  reader: {{read: true}}
  viewer: {{read: true, forced_matchers: ['{{purpose=\"external\"}}']}}
"
    )
}

fn authenticator(dir: &Path, keys_file: &str, algorithms: &str) -> Authenticator {
    try_authenticator(dir, keys_file, algorithms).unwrap()
}

fn try_authenticator(
    dir: &Path,
    keys_file: &str,
    algorithms: &str,
) -> Result<Authenticator, AuthConfigError> {
    let cfg: AuthConfig = serde_yaml::from_str(&config_yaml(keys_file, algorithms)).unwrap();
    Authenticator::new(&cfg, dir)
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let value = format!("Bearer {token}");
    h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
    h
}

fn expect_401(a: &Authenticator, token: &str, want: &str) -> String {
    match a.authenticate(&bearer(token)) {
        Err(e @ AuthError::Unauthorized { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(want), "want {want:?}, got {msg:?}");
            assert_eq!(e.www_authenticate(), Some(r#"Bearer realm="tessera""#));
            msg
        }
        other => panic!("want 401 {want:?}, got {other:?}"),
    }
}

fn expect_caller(a: &Authenticator, token: &str) -> Caller {
    a.authenticate(&bearer(token))
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Keys {
    dir: TempDir,
    ec1: EcKey,
    ec2: EcKey,
    hs: EncodingKey,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let ec1 = ec_key();
    let ec2 = ec_key();
    std::fs::write(dir.path().join("hs.secret"), format!("{HS_SECRET}\n")).unwrap();
    std::fs::write(dir.path().join("ec1.pem"), &ec1.public_pem).unwrap();
    let mut k1 = ec1.jwk.clone();
    k1["kid"] = json!("k1");
    k1["alg"] = json!("ES256");
    let mut k2 = ec2.jwk.clone();
    k2["kid"] = json!("k2");
    let jwks = json!({ "keys": [k1, k2] });
    std::fs::write(dir.path().join("jwks.json"), jwks.to_string()).unwrap();
    Keys {
        dir,
        ec1,
        ec2,
        hs: EncodingKey::from_secret(HS_SECRET.as_bytes()),
    }
}

#[test]
fn valid_tokens_give_tenant_and_policy_from_claims() {
    let k = keys();
    let es = authenticator(k.dir.path(), "ec1.pem", "ES256");
    let c = expect_caller(
        &es,
        &sign(Algorithm::ES256, None, &good_claims(), &k.ec1.signing),
    );
    assert_eq!(c.tenant.as_str(), "acme");
    assert_eq!(c.tenants, std::slice::from_ref(&c.tenant));
    assert_eq!(c.policy.name, "reader");
    assert_eq!(c.credential, "jwt:alice@example.com");
    // Without the policy claim the default policy applies.
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("role");
    let c = expect_caller(&es, &sign(Algorithm::ES256, None, &claims, &k.ec1.signing));
    assert_eq!(c.policy.name, "viewer");
    assert_eq!(c.policy.forced_matchers.len(), 1);
    // HS256 with the secret file (its trailing newline is not part of it).
    let hs = authenticator(k.dir.path(), "hs.secret", "HS256");
    let c = expect_caller(&hs, &sign(Algorithm::HS256, None, &good_claims(), &k.hs));
    assert_eq!(c.tenant.as_str(), "acme");
    // An absolute keys_file path ignores the base directory.
    let abs = k.dir.path().join("ec1.pem");
    let a = authenticator(Path::new("/nonexistent"), abs.to_str().unwrap(), "ES256");
    expect_caller(
        &a,
        &sign(Algorithm::ES256, None, &good_claims(), &k.ec1.signing),
    );
}

#[test]
fn each_failed_check_is_a_distinct_401() {
    let k = keys();
    let a = authenticator(k.dir.path(), "ec1.pem", "ES256");
    let es = |claims: &Value| sign(Algorithm::ES256, None, claims, &k.ec1.signing);
    let with = |key: &str, v: Value| {
        let mut c = good_claims();
        c[key] = v;
        c
    };
    let without = |key: &str| {
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good_claims().to_string())
    );
    let cases: Vec<(String, &str)> = vec![
        (es(&with("exp", json!(now() - 120))), "expired"),
        (es(&with("nbf", json!(now() + 120))), "not valid yet"),
        (
            sign(Algorithm::ES256, None, &good_claims(), &k.ec2.signing),
            "signature is invalid",
        ),
        (
            es(&with("aud", json!("other"))),
            "audience does not include \"tessera\"",
        ),
        (es(&with("iss", json!("https://evil"))), "issuer is not"),
        (none_token, "alg none"),
        (
            sign(Algorithm::HS256, None, &good_claims(), &k.hs),
            "algorithm \"HS256\" is not allowed",
        ),
        (
            sign(Algorithm::HS384, None, &good_claims(), &k.hs),
            "algorithm \"HS384\" is not allowed",
        ),
        (
            es(&without(TENANT_CLAIM)),
            "no \"https://example.com/tenant\" claim",
        ),
        (es(&without("exp")), "no \"exp\" claim"),
        (es(&without("aud")), "no \"aud\" claim"),
        (es(&with(TENANT_CLAIM, json!(7))), "must be a string"),
        (
            es(&with(TENANT_CLAIM, json!("a/b"))),
            "not a valid tenant id",
        ),
        (
            es(&with("role", json!(["reader"]))),
            "\"role\" must be a string",
        ),
        ("not-a-jwt".to_string(), "malformed JWT"),
        ("a.b.c".to_string(), "malformed JWT"),
    ];
    let mut seen = Vec::new();
    for (token, want) in &cases {
        let msg = expect_401(&a, token, want);
        seen.push(msg);
    }
    // The first eight are the checks the issue lists; each reads differently.
    let mut first: Vec<&String> = seen.iter().take(8).collect();
    first.sort();
    first.dedup();
    assert_eq!(first.len(), 8, "{seen:#?}");
}

#[test]
fn leeway_tolerates_small_clock_skew() {
    let k = keys();
    let a = authenticator(k.dir.path(), "ec1.pem", "ES256");
    let mut c = good_claims();
    c["exp"] = json!(now() - 5);
    c["nbf"] = json!(now() + 5);
    expect_caller(&a, &sign(Algorithm::ES256, None, &c, &k.ec1.signing));
}

#[test]
fn jwks_selects_the_key_by_kid() {
    let k = keys();
    let a = authenticator(k.dir.path(), "jwks.json", "ES256");
    let claims = good_claims();
    expect_caller(
        &a,
        &sign(Algorithm::ES256, Some("k1"), &claims, &k.ec1.signing),
    );
    expect_caller(
        &a,
        &sign(Algorithm::ES256, Some("k2"), &claims, &k.ec2.signing),
    );
    // A token whose kid names the other key fails on the signature.
    let swapped = sign(Algorithm::ES256, Some("k2"), &claims, &k.ec1.signing);
    expect_401(&a, &swapped, "signature is invalid");
    expect_401(
        &a,
        &sign(Algorithm::ES256, Some("k9"), &claims, &k.ec1.signing),
        "key id \"k9\", which is not known",
    );
    // Without a kid every fitting key is tried.
    expect_caller(&a, &sign(Algorithm::ES256, None, &claims, &k.ec2.signing));
}

#[test]
fn tenant_header_and_policy_claim_rules() {
    let k = keys();
    let a = authenticator(k.dir.path(), "ec1.pem", "ES256");
    let token = sign(Algorithm::ES256, None, &good_claims(), &k.ec1.signing);
    let mut h = bearer(&token);
    h.insert("X-Scope-OrgID", HeaderValue::from_static("other"));
    let e = a.authenticate(&h).unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(
        e.to_string()
            .contains("does not match the credential's tenant acme"),
        "{e}"
    );
    h.insert("X-Scope-OrgID", HeaderValue::from_static("acme"));
    assert_eq!(a.authenticate(&h).unwrap().tenant.as_str(), "acme");
    let mut c = good_claims();
    c["role"] = json!("root");
    let e = a
        .authenticate(&bearer(&sign(Algorithm::ES256, None, &c, &k.ec1.signing)))
        .unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(e.to_string().contains("policy \"root\""), "{e}");
    let mut basic = HeaderMap::new();
    basic.insert(AUTHORIZATION, HeaderValue::from_static("Basic dTpw"));
    let e = a.authenticate(&basic).unwrap_err();
    assert!(e.to_string().contains("not accepted in mode jwt"), "{e}");
    let e = a.authenticate(&HeaderMap::new()).unwrap_err();
    assert_eq!(e.www_authenticate(), Some(r#"Bearer realm="tessera""#));
}

#[test]
fn bad_key_files_are_refused_at_startup() {
    let k = keys();
    let d = k.dir.path();
    std::fs::write(d.join("short.secret"), "too-short").unwrap();
    let sk = SigningKey::random(&mut rand::rngs::OsRng);
    let pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
    std::fs::write(d.join("private.pem"), pem.as_bytes()).unwrap();
    std::fs::write(d.join("bad.json"), "{\"keys\": 5}").unwrap();
    std::fs::write(
        d.join("bad.pem"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let cases = [
        ("missing.pem", "ES256", "reading"),
        ("short.secret", "HS256", "at least 32"),
        ("short.secret", "ES256", "neither JWKS JSON nor a PEM"),
        ("private.pem", "ES256", "private key"),
        ("bad.json", "ES256", "not a JWKS"),
        ("bad.pem", "ES256", "not an RSA or EC public key"),
        ("hs.secret", "HS256, ES256", "ES256 is listed but no key"),
        ("ec1.pem", "RS256", "RS256 is listed but no key"),
        ("jwks.json", "HS256", "HS256 is listed but no key"),
    ];
    for (file, algs, want) in cases {
        let got = try_authenticator(d, file, algs);
        match got {
            Err(e @ AuthConfigError::Keys(_)) => {
                assert!(e.to_string().contains(want), "{file} {algs}: {e}")
            }
            other => panic!("{file} {algs}: {other:?}"),
        }
    }
}
