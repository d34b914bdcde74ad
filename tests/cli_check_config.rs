//! `tessera check-config FILE`: valid files pass, and each kind of mistake
//! is named with its key or line and a non-zero exit.

use std::process::Command;

fn check(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.yml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("check-config")
        .arg(&path)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn valid_and_invalid_files() {
    let (code, out) = check("listen: \"127.0.0.1:9201\"\nquery:\n  timeout: 30s\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("valid"), "{out}");
    let cases: &[(&str, &str)] = &[
        ("limits:\n  max_series_per_tenant: 10\n  bogus: 1\n", "unknown field `bogus`"),
        ("limits:\n  max_series_per_tenant: 10\n  bogus: 1\n", "line 3"),
        ("query:\n  lookback_delta: 0s\n", "query.lookback_delta must be positive"),
        ("block_range: 1 hour\n", "block_range"),
        ("tenants:\n  \"bad tenant/..\":\n    retention: 1d\n", "tenants."),
        ("auth:\n  mode: tokens\n", "auth"),
        (
            "auth:\n  mode: tokens\n  tokens:\n    - {name: a, sha256: nothex, tenant: t, policy: p}\n  policies:\n    p: {read: true}\n",
            "sha256",
        ),
    ];
    for (yaml, needle) in cases {
        let (code, out) = check(yaml);
        assert_eq!(code, 1, "{yaml}: {out}");
        assert!(out.contains("invalid"), "{yaml}: {out}");
        assert!(out.contains(needle), "{yaml}: expected {needle:?} in {out}");
    }
}
