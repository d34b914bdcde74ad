//! CPU time of a process, from `/proc/<pid>/stat`.

use std::path::Path;

use anyhow::Context;

/// Clock ticks per second of `utime`/`stime`. Linux reports them in
/// `USER_HZ`, which is 100 on every mainstream architecture (it is fixed
/// in the ABI, independent of the kernel's `CONFIG_HZ`).
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds of all threads of `pid` so far.
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat(&stat).with_context(|| format!("parsing {path}"))
}

/// Reads a pid written as text into `path` (as servers' pid files are).
pub(crate) fn read_pid_file(path: &Path) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading pid file {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("pid file {} holds {:?}", path.display(), text.trim()))
}

/// Fields 14 (`utime`) and 15 (`stime`) of `proc(5)`'s stat line, in
/// seconds. The command name (field 2) is parenthesised and may hold spaces
/// or parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> anyhow::Result<f64> {
    let rest = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 1..))
        .context("no ')' after the command name")?;
    // After the name, the first field is field 3 (`state`).
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let mut tick = |name: &str| -> anyhow::Result<u64> {
        let f = fields.next().with_context(|| format!("no {name} field"))?;
        f.parse().with_context(|| format!("{name} is {f:?}"))
    };
    let utime = tick("utime")?;
    let stime = tick("stime")?;
    Ok(utime.saturating_add(stime) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime() {
        let cases = [
            (
                "1 (x) S 0 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0",
                Some(3.0),
            ),
            // A command name with spaces and a parenthesis.
            ("7 (a) b (c) R 0 1 1 0 -1 0 0 0 0 0 1 2 3 4", Some(0.03)),
            ("9 (zero) S 0 1 1 0 -1 0 0 0 0 0 0 0", Some(0.0)),
            ("1 (x) S 0 1 1 0 -1 0 0 0 0 0 5", None),
            ("1 (x) S 0 1 1 0 -1 0 0 0 0 0 five 1", None),
            ("no name at all", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_stat(line).ok(), want, "{line:?}");
        }
    }

    #[test]
    fn reads_this_process() {
        let cpu = cpu_seconds(std::process::id()).unwrap();
        assert!(cpu >= 0.0);
    }
}
