//! Config validation and request authentication in modes `none` and
//! `tokens`; JWTs are covered by `tests/auth_jwt.rs`.

use std::path::Path;

use base64::Engine;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};

use super::*;

fn config(yaml: &str) -> AuthConfig {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn build(yaml: &str) -> Result<Authenticator, AuthConfigError> {
    Authenticator::new(&config(yaml), Path::new("."))
}

/// A `tokens` config: token `tok-a` (tenant a, policy rw), token `tok-ro`
/// (tenant a, read only), token `tok-fed` (tenant a, federating over b),
/// user alice/secret (tenant b, write only).
fn tokens_yaml() -> String {
    format!(
        "mode: tokens
tokens:
  - {{name: a, sha256: {}, tenant: a, policy: rw}}
  - {{name: ro, sha256: {}, tenant: a, policy: ro}}
  - {{name: fed, sha256: {}, tenant: a, policy: fed}}
basic_users:
  - {{username: alice, sha256: {}, tenant: b, policy: wo}}
policies:
  rw: {{read: true, write: true}}
  ro: {{read: true}}
  wo: {{write: true}}
  fed: {{read: true, write: true, federation: true, allowed_tenants: [b]}}
  ops: {{admin: true}}
metrics_policy: ro
",
        sha256_hex(b"tok-a"),
        sha256_hex(b"tok-ro"),
        sha256_hex(b"tok-fed"),
        sha256_hex(b"secret"),
    )
}

fn request(auth: Option<&str>, org: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(a) = auth {
        h.insert(AUTHORIZATION, HeaderValue::from_str(a).unwrap());
    }
    if let Some(o) = org {
        h.insert(TENANT_HEADER, HeaderValue::from_str(o).unwrap());
    }
    h
}

fn basic(user_pass: &str) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(user_pass);
    format!("Basic {enc}")
}

#[test]
fn default_config_is_mode_none_with_public_health() {
    let c = config("{}");
    assert_eq!(c, AuthConfig::default());
    assert_eq!(c.mode, AuthMode::None);
    assert!(c.health_public);
    let a = Authenticator::new(&c, Path::new(".")).unwrap();
    assert!(a.health_public() && a.metrics_public());
    assert_eq!(a.mode(), AuthMode::None);
}

#[test]
fn invalid_configs_are_refused_with_the_entry_named() {
    let h = sha256_hex(b"x");
    let pol = "policies: {p: {read: true}}";
    let cases: Vec<(String, &str)> = vec![
        (format!("mode: tokens\n{pol}"), "at least one entry"),
        (
            format!("tokens: [{{name: t, sha256: {h}, tenant: a, policy: p}}]\n{pol}"),
            "only used with mode: tokens",
        ),
        (
            format!("mode: tokens\ntokens: [{{name: t, sha256: {h}, tenant: a, policy: q}}]\n{pol}"),
            "token \"t\": policy \"q\" is not defined",
        ),
        (
            format!("mode: tokens\ntokens: [{{name: t, sha256: abc, tenant: a, policy: p}}]\n{pol}"),
            "64 hexadecimal",
        ),
        (
            format!("mode: tokens\ntokens: [{{name: t, sha256: {h}, tenant: 'a/b', policy: p}}]\n{pol}"),
            "token \"t\": tenant",
        ),
        (
            format!(
                "mode: tokens\ntokens: [{{name: t, sha256: {h}, tenant: a, policy: p}}, \
                 {{name: t, sha256: {}, tenant: a, policy: p}}]\n{pol}",
                sha256_hex(b"y")
            ),
            "token \"t\" appears twice",
        ),
        (
            format!(
                "mode: tokens\ntokens: [{{name: t, sha256: {h}, tenant: a, policy: p}}, \
                 {{name: u, sha256: {h}, tenant: b, policy: p}}]\n{pol}"
            ),
            "same sha256",
        ),
        (
            format!("mode: tokens\nbasic_users: [{{username: 'a:b', sha256: {h}, tenant: a, policy: p}}]\n{pol}"),
            "':'",
        ),
        (
            format!("mode: tokens\nbasic_users: [{{username: '', sha256: {h}, tenant: a, policy: p}}]\n{pol}"),
            "empty name",
        ),
        (format!("mode: jwt\n{pol}"), "needs a jwt section"),
        (
            format!("metrics_policy: nope\n{pol}"),
            "metrics_policy: policy \"nope\"",
        ),
        (format!("admin_policy: nope\n{pol}"), "admin_policy"),
        ("policies: {p: {forced_matchers: ['{a=']}}".into(), "policy \"p\": forced_matchers"),
    ];
    for (yaml, want) in cases {
        let err = build(&yaml).unwrap_err().to_string();
        assert!(err.contains(want), "{yaml}\n=> {err}");
    }
}

#[test]
fn unknown_keys_are_refused_by_the_yaml_reader() {
    let cases = [
        ("mode: token", "unknown variant"),
        ("modes: none", "unknown field"),
        (
            "tokens: [{name: t, sha256: x, tenant: a, policy: p, plain: s}]",
            "unknown field",
        ),
        (
            "jwt: {keys_file: k, algorithms: [HS512], issuer: i, audience: a, tenant_claim: t}",
            "unknown variant",
        ),
        (
            "jwt: {keys_file: k, algorithms: [HS256], audience: a, tenant_claim: t}",
            "missing field",
        ),
    ];
    for (yaml, want) in cases {
        let err = serde_yaml::from_str::<AuthConfig>(yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{yaml}: {err}");
    }
}

#[test]
fn mode_none_trusts_the_tenant_header() {
    let a = build("{}").unwrap();
    type Case<'a> = (Option<&'a str>, Result<&'a str, &'a str>);
    let cases: &[Case] = &[
        (None, Ok("anonymous")),
        (Some("team-a"), Ok("team-a")),
        (Some("a|b|a"), Ok("a|b")),
        (Some(""), Err("tenant id is empty")),
        (Some("a/b"), Err("unsupported character")),
    ];
    for (org, want) in cases {
        // An Authorization header is ignored: the proxy in front decides.
        let got = a.authenticate(&request(Some("Bearer whatever"), *org));
        match (got, want) {
            (Ok(c), Ok(w)) => {
                assert_eq!(headers::join_tenants(&c.tenants), *w);
                assert_eq!(c.tenant, c.tenants[0]);
                assert_eq!(c.policy.name, "default");
                assert!(c.require_read().is_ok());
            }
            (Err(e), Err(w)) => {
                assert_eq!(e.status(), 400);
                assert!(e.to_string().contains(w), "{e}");
            }
            (got, want) => panic!("{org:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn tokens_mode_maps_credentials_to_tenant_and_policy() {
    let a = build(&tokens_yaml()).unwrap();
    let alice = basic("alice:secret");
    // (Authorization, tenant, policy, credential) on success
    let ok = [
        ("Bearer tok-a", "a", "rw", "token:a"),
        ("bearer tok-ro", "a", "ro", "token:ro"),
        (alice.as_str(), "b", "wo", "user:alice"),
    ];
    for (auth, tenant, policy, credential) in ok {
        let c = a.authenticate(&request(Some(auth), None)).unwrap();
        assert_eq!(c.tenant.as_str(), tenant);
        assert_eq!(c.tenants, std::slice::from_ref(&c.tenant));
        assert_eq!(c.policy.name, policy);
        assert_eq!(c.credential, credential);
    }
    let wrong_pw = basic("alice:secreT");
    let bob = basic("bob:secret");
    // (Authorization, status, message fragment, WWW-Authenticate)
    let bad: &[(Option<&str>, u16, &str, Option<&str>)] = &[
        (
            None,
            401,
            "missing Authorization",
            Some(r#"Bearer realm="tessera""#),
        ),
        (
            Some("Bearer tok-b"),
            401,
            "unknown bearer token",
            Some("Bearer realm"),
        ),
        (
            Some("Bearer "),
            401,
            "empty bearer token",
            Some("Bearer realm"),
        ),
        (
            Some(&wrong_pw),
            401,
            "wrong password",
            Some(r#"Basic realm="tessera""#),
        ),
        (Some(&bob), 401, "unknown user", Some("Basic realm")),
        (Some("Basic %%%"), 400, "not base64", None),
        (
            Some("Token tok-a"),
            401,
            "unsupported authorization scheme",
            Some("Bearer"),
        ),
    ];
    for (auth, status, frag, challenge) in bad {
        let e = a.authenticate(&request(*auth, None)).unwrap_err();
        assert_eq!(e.status(), *status, "{auth:?}: {e}");
        assert!(e.to_string().contains(frag), "{auth:?}: {e}");
        match (e.www_authenticate(), challenge) {
            (None, None) => {}
            (Some(got), Some(w)) => assert!(got.starts_with(w), "{got}"),
            (got, w) => panic!("{auth:?}: challenge {got:?}, want {w:?}"),
        }
    }
}

#[test]
fn basic_only_config_challenges_with_basic() {
    let yaml = format!(
        "mode: tokens\nbasic_users: [{{username: u, sha256: {}, tenant: a, policy: p}}]\n\
         policies: {{p: {{read: true}}}}",
        sha256_hex(b"pw")
    );
    let a = build(&yaml).unwrap();
    let e = a.authenticate(&request(None, None)).unwrap_err();
    assert_eq!(e.www_authenticate(), Some(r#"Basic realm="tessera""#));
    let e = a
        .authenticate(&request(Some("Bearer pw"), None))
        .unwrap_err();
    assert_eq!(e.status(), 401, "{e}");
}

#[test]
fn header_never_overrides_the_credentials_tenant() {
    let a = build(&tokens_yaml()).unwrap();
    // (token, X-Scope-OrgID, tenants read, or 403 fragment)
    let cases: &[(&str, &str, Result<&str, &str>)] = &[
        ("tok-a", "a", Ok("a")),
        (
            "tok-a",
            "b",
            Err("X-Scope-OrgID b does not match the credential's tenant a"),
        ),
        ("tok-a", "a|b", Err("does not match")),
        ("tok-fed", "a", Ok("a")),
        ("tok-fed", "b", Ok("b")),
        ("tok-fed", "a|b", Ok("a|b")),
        ("tok-fed", "b|a|b", Ok("b|a")),
        (
            "tok-fed",
            "a|c",
            Err("names tenant c, which policy \"fed\""),
        ),
    ];
    for (token, org, want) in cases {
        let got = a.authenticate(&request(Some(&format!("Bearer {token}")), Some(org)));
        match (got, want) {
            (Ok(c), Ok(w)) => {
                assert_eq!(headers::join_tenants(&c.tenants), *w);
                assert_eq!(c.tenant.as_str(), "a");
            }
            (Err(e), Err(w)) => {
                assert_eq!(e.status(), 403, "{e}");
                assert!(e.to_string().contains(w), "{e}");
            }
            (got, want) => panic!("{token} {org}: got {got:?}, want {want:?}"),
        }
    }
    // A malformed header is 400 for a valid credential, but credentials
    // are checked first.
    let e = a
        .authenticate(&request(Some("Bearer tok-a"), Some("a/b")))
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let e = a.authenticate(&request(None, Some("a/b"))).unwrap_err();
    assert_eq!(e.status(), 401);
}

#[test]
fn permissions_and_special_endpoints() {
    let a = build(&tokens_yaml()).unwrap();
    let caller = |auth: &str, org: Option<&str>| a.authenticate(&request(Some(auth), org)).unwrap();
    let rw = caller("Bearer tok-a", None);
    let ro = caller("Bearer tok-ro", None);
    let wo = caller(&basic("alice:secret"), None);
    let fed = caller("Bearer tok-fed", Some("a|b"));
    assert!(rw.require_read().is_ok());
    assert_eq!(rw.require_write().unwrap().as_str(), "a");
    assert_eq!(ro.require_write().unwrap_err().status(), 403);
    assert!(ro
        .require_write()
        .unwrap_err()
        .to_string()
        .contains("may not write"));
    assert!(wo
        .require_read()
        .unwrap_err()
        .to_string()
        .contains("may not read"));
    assert!(wo.require_write().is_ok());
    assert!(fed.require_read().is_ok());
    let e = fed.require_write().unwrap_err();
    assert!(e.to_string().contains("writes go to one tenant, a"), "{e}");
    // metrics_policy is `ro`; nobody here is admin.
    assert!(!a.metrics_public() && a.health_public());
    assert!(a.authorize_metrics(&ro).is_ok());
    assert_eq!(a.authorize_metrics(&rw).unwrap_err().status(), 403);
    assert_eq!(a.authorize_admin(&rw).unwrap_err().status(), 403);
    assert!(a.policy("ops").unwrap().admin);
    let open = build("{}").unwrap();
    let anon = open.authenticate(&HeaderMap::new()).unwrap();
    assert!(open.authorize_admin(&anon).is_ok() && open.authorize_metrics(&anon).is_ok());
}

#[test]
fn argon2_tokens_and_users_verify() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let params = argon2::Params::new(256, 1, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let phc = |s: &str| {
        hasher
            .hash_password(s.as_bytes(), &salt)
            .unwrap()
            .to_string()
    };
    let yaml = format!(
        "mode: tokens\ntokens: [{{name: t, argon2: '{}', tenant: a, policy: p}}]\n\
         basic_users: [{{username: u, argon2: '{}', tenant: b, policy: p}}]\n\
         policies: {{p: {{read: true}}}}",
        phc("tok"),
        phc("pw")
    );
    let a = build(&yaml).unwrap();
    assert_eq!(
        a.authenticate(&request(Some("Bearer tok"), None))
            .unwrap()
            .tenant
            .as_str(),
        "a"
    );
    let u = a
        .authenticate(&request(Some(&basic("u:pw")), None))
        .unwrap();
    assert_eq!(u.tenant.as_str(), "b");
    assert!(a.authenticate(&request(Some("Bearer pw"), None)).is_err());
    assert!(a
        .authenticate(&request(Some(&basic("u:tok")), None))
        .is_err());
}

#[test]
fn authenticator_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Authenticator>();
    shared::<Caller>();
}

#[test]
fn debug_output_holds_no_hashes() {
    let a = build(&tokens_yaml()).unwrap();
    let dump = format!("{a:?}");
    assert!(!dump.contains(&sha256_hex(b"tok-a")), "{dump}");
    assert!(dump.contains("Sha256(..)"));
}
