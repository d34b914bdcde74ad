//! The README's configuration reference cannot drift from the code: every
//! flag `tessera <command> --help` prints (for every command `tessera
//! --help` lists) and every key the config file accepts must have a row in
//! a README table.
//!
//! Config keys are discovered from the parser itself: each section is fed
//! an unknown key, and serde's `deny_unknown_fields` error lists the keys
//! it expected; sections inside maps (`tenants.*`) and lists
//! (`auth.tokens[]`) are found the same way.

use std::process::Command;

use serde_json::{json, Value};
use tessera::config::Config;

const PROBE: &str = "no_such_key_for_the_reference_test";

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera");
    assert!(out.status.success(), "tessera {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The commands `tessera --help` lists (without `help`).
fn commands() -> Vec<String> {
    let text = help(&["--help"]);
    let list = text
        .split("Commands:")
        .nth(1)
        .expect("a Commands: section")
        .split("\n\n")
        .next()
        .unwrap_or_default();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The long flags `tessera <command> --help` prints (without `--help`).
fn flags(command: &str) -> Vec<String> {
    help(&[command, "--help"])
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches("-h, ");
            let flag = l.strip_prefix("--")?.split([' ', '=']).next()?;
            Some(format!("--{flag}"))
        })
        .filter(|f| f != "--help" && f != "--version")
        .collect()
}

/// README table rows (lines starting with `|` with at least `min` cells).
fn rows(readme: &str, min: usize) -> Vec<&str> {
    readme
        .lines()
        .filter(|l| l.starts_with('|') && l.matches('|').count() > min)
        .collect()
}

/// One step of a config path: a key, any key of a map, any list element.
#[derive(Clone)]
enum Seg {
    Key(String),
    AnyKey,
    AnyItem,
}

fn nest(path: &[Seg], inner: Value) -> Value {
    path.iter().rev().fold(inner, |v, seg| match seg {
        Seg::Key(k) => json!({ k.clone(): v }),
        Seg::AnyKey => json!({ "x": v }),
        Seg::AnyItem => json!([v]),
    })
}

fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::AnyKey => s.push_str(".*"),
            Seg::AnyItem => s.push_str("[]"),
        }
    }
    s
}

/// The keys of the section at `path`, if it is a section: what serde says
/// it expected instead of an unknown key.
fn section_keys(path: &[Seg]) -> Option<Vec<String>> {
    let yaml = nest(path, json!({ PROBE: 1 })).to_string();
    let err = Config::from_yaml(&yaml).err()?.to_string();
    if !err.contains(&format!("unknown field `{PROBE}`")) {
        return None;
    }
    let expected = err.split("expected").nth(1)?;
    Some(
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// Every config key that holds a value, as a dotted path
/// (`tenants.*.retention`, `auth.tokens[].name`); sections are not keys.
fn config_keys(path: Vec<Seg>, out: &mut Vec<String>) {
    let Some(keys) = section_keys(&path) else {
        return;
    };
    for k in keys {
        let mut p = path.clone();
        p.push(Seg::Key(k));
        let section = [None, Some(Seg::AnyKey), Some(Seg::AnyItem)]
            .into_iter()
            .map(|sub| p.iter().cloned().chain(sub).collect::<Vec<_>>())
            .find(|q| section_keys(q).is_some());
        match section {
            Some(q) => config_keys(q, out),
            None => out.push(dotted(&p)),
        }
    }
}

#[test]
fn the_key_discovery_finds_nested_sections() {
    let mut keys = Vec::new();
    config_keys(Vec::new(), &mut keys);
    for want in [
        "listen",
        "wal.sync",
        "tenants.*.retention",
        "auth.tokens[].tenant",
        "auth.policies.*.limits.max_concurrent_queries",
        "auth.jwt.keys_file",
    ] {
        assert!(keys.iter().any(|k| k == want), "{want} not in {keys:?}");
    }
    assert!(!keys.iter().any(|k| k.contains(PROBE) || k == "base_dir"));
}

#[test]
fn every_config_key_has_a_readme_row() {
    let readme = readme();
    let rows = rows(&readme, 3);
    let mut keys = Vec::new();
    config_keys(Vec::new(), &mut keys);
    assert!(keys.len() > 30, "{keys:?}");
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !rows.iter().any(|r| r.contains(&format!("`{k}`"))))
        .collect();
    assert!(
        missing.is_empty(),
        "config keys without a README table row: {missing:?}"
    );
}

#[test]
fn every_flag_of_every_command_has_a_readme_row() {
    let readme = readme();
    let rows = rows(&readme, 3);
    let cmds = commands();
    for want in ["serve", "check-config", "smoke", "bench-write"] {
        assert!(cmds.iter().any(|c| c == want), "{want} not in {cmds:?}");
    }
    let mut missing = Vec::new();
    for cmd in &cmds {
        let fs = flags(cmd);
        if cmd == "serve" {
            assert!(fs.len() >= 12, "{fs:?}");
        }
        // A row names the command's flag as `--flag` and the command, so
        // flags of the same name in two commands need a row each.
        for f in fs {
            let tag = format!("`{f}`");
            let documented = rows
                .iter()
                .any(|r| r.contains(&tag) && (cmd == "serve" || r.contains(cmd.as_str())));
            if !documented {
                missing.push(format!("tessera {cmd} {f}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags without a README table row: {missing:?}"
    );
}

#[test]
fn serve_flags_rows_give_key_default_and_example() {
    let readme = readme();
    for f in flags("serve") {
        let row = rows(&readme, 4)
            .into_iter()
            .find(|r| r.starts_with(&format!("| `{f}` |")))
            .unwrap_or_else(|| panic!("no `| {f} |` row"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(
            cells[1..5].iter().all(|c| !c.is_empty()),
            "{f}: flag, key, default and example must all be filled: {row}"
        );
    }
}
