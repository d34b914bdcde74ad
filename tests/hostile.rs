//! Hostile input against the release binary in its default mode: every
//! case must get its expected answer, after every case the server must
//! answer `/-/healthy`, and at the end the data written before the suite
//! must read back exactly as before, with no panic caught on the way.
//! Then the connection-abuse cases (idle and trickling connections, slow
//! bodies) and the cancellation of a query whose client left, measured.

mod hostile_cases;
mod release_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hostile_cases::cases::{self, Send};
use hostile_cases::raw;
use release_server::Tessera;

/// Lines of `value` series for tenant-independent text import.
fn seed_lines(name: &str, hosts: &[&str]) -> String {
    let mut out = String::new();
    for h in hosts {
        for i in 0..=60 {
            out.push_str(&format!(
                "{name}{{job=\"api\",host=\"{h}\"}} {} {}\n",
                i * 3 + h.len(),
                i * 60_000
            ));
        }
    }
    out
}

/// The answers that must not change: a range query, a series lookup and
/// an instant query of the seeded tenant.
fn snapshot(t: &Tessera) -> Vec<String> {
    let get = |path: &str, params: &[(&str, &str)]| {
        t.client()
            .get(t.url(path))
            .header("X-Scope-OrgID", "acme")
            .query(params)
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    vec![
        get(
            "/api/v1/query_range",
            &[
                ("query", "up"),
                ("start", "0"),
                ("end", "3600"),
                ("step", "60"),
            ],
        ),
        get("/api/v1/series", &[("match[]", "up")]),
        get(
            "/api/v1/query",
            &[("query", "sum by (host) (up)"), ("time", "3600")],
        ),
    ]
}

fn run(t: &Tessera, c: &cases::Case) -> (Option<u16>, String) {
    let http = t.client();
    let resp = match &c.send {
        Send::Get(path, pairs) => http.get(t.url(path)).query(pairs).send(),
        Send::Form(path, pairs) => http.post(t.url(path)).form(pairs).send(),
        Send::Post(path, headers, body) => {
            let mut r = http.post(t.url(path)).body(body.clone());
            for (k, v) in headers {
                r = r.header(*k, v);
            }
            r.send()
        }
        Send::Method(m, path) => {
            let bytes = raw::request(m, path, &[("Content-Length", "0")], b"");
            return raw::send(&t.addr(), &bytes);
        }
        Send::Raw(bytes) => return raw::send(&t.addr(), bytes),
    };
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            (Some(status), r.text().unwrap_or_default())
        }
        // The server may refuse a huge upload before reading it all.
        Err(e) => (None, e.to_string()),
    }
}

fn healthy(t: &Tessera) -> bool {
    t.client()
        .get(t.url("/-/healthy"))
        .timeout(Duration::from_secs(10))
        .send()
        .is_ok_and(|r| r.status() == 200)
}

#[test]
fn hostile_requests_never_take_the_server_down_nor_touch_stored_data() {
    let mut t = Tessera::start(None);
    t.import(
        ("X-Scope-OrgID", "acme"),
        seed_lines("up", &["a", "b", "c"]),
    );
    t.import(
        ("X-Scope-OrgID", "anonymous"),
        seed_lines("up", &["a", "b"]),
    );
    let before = snapshot(&t);
    assert!(before[0].contains("\"host\":\"c\""), "{}", before[0]);
    let all = cases::all();
    assert!(all.len() >= 60, "only {} cases", all.len());
    eprintln!("{} hostile cases", all.len());
    let mut failures = Vec::new();
    for c in &all {
        let started = Instant::now();
        let (status, body) = run(&t, c);
        let took = started.elapsed();
        // A server may refuse a huge upload and close before reading it all;
        // the client then sees a reset instead of the 413.
        let cut_off = status.is_none() && c.status == Some(413);
        let status_ok = cut_off || c.status.is_none() || status == c.status;
        if !status_ok || (!cut_off && !body.contains(c.body)) {
            failures.push(format!(
                "{}: got {status:?} {:?}, want {:?} containing {:?}",
                c.name,
                body.chars().take(300).collect::<String>(),
                c.status,
                c.body
            ));
        }
        assert!(t.alive(), "the server died on case {:?}", c.name);
        assert!(
            healthy(&t),
            "the server stopped answering after case {:?}",
            c.name
        );
        assert!(
            took < Duration::from_secs(60),
            "case {:?} took {took:?}",
            c.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    assert_eq!(
        snapshot(&t),
        before,
        "data written before the suite changed"
    );
    let metrics = t
        .client()
        .get(t.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("\ntessera_panics_total 0\n"),
        "a panic was caught:\n{}",
        t.log()
    );
    assert!(!t.log().contains("panicked"), "{}", t.log());
}

/// Raises this process's open-file limit for the many sockets below.
fn raise_nofile() {
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn a_thousand_idle_and_a_thousand_trickling_connections_do_not_delay_a_query() {
    raise_nofile();
    let t = Tessera::start_with(None, &["--web.header-read-timeout=3s"]);
    t.import(("X-Scope-OrgID", "anonymous"), seed_lines("up", &["a"]));
    let addr = t.addr();
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut trickling: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // A byte every 200 ms from each trickler while a normal query runs.
    let mut latencies = Vec::new();
    for round in 0..5 {
        for s in trickling.iter_mut() {
            let _ = s.write_all(b"X");
        }
        let started = Instant::now();
        let resp = t
            .client()
            .get(t.url("/api/v1/query"))
            .query(&[("query", "sum(up)"), ("time", "3600")])
            .timeout(Duration::from_secs(10))
            .send()
            .unwrap_or_else(|e| panic!("round {round}: the query did not answer: {e}"));
        assert_eq!(resp.status(), 200);
        let body = resp.text().unwrap();
        assert!(body.contains("\"value\":[3600,\"181\"]"), "{body}");
        latencies.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    latencies.sort();
    println!(
        "query latency with 1000 idle + 1000 trickling connections: median {:?}, max {:?}",
        latencies[2], latencies[4]
    );
    // The header deadline closes both kinds: reads see EOF, not a hang.
    std::thread::sleep(Duration::from_secs(4));
    let closed = idle
        .into_iter()
        .chain(trickling)
        .filter(|s| {
            let mut s = s.try_clone().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 512];
            // A 408 first is fine; what matters is that the socket ends.
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(_) => return false,
                }
            }
        })
        .count();
    assert_eq!(
        closed, 2000,
        "connections still open past the header deadline"
    );
}

#[test]
fn slow_and_oversubscribed_bodies_are_cut_off_with_their_own_status() {
    let t = Tessera::start_with(
        None,
        &[
            "--web.min-body-rate=1000",
            "--web.max-inflight-body-bytes=1048576",
        ],
    );
    let addr = t.addr();
    // A body trickled below the minimum rate: 408 once the grace is over.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(&raw::request(
        "POST",
        "/api/v1/import/prometheus",
        &[("Content-Length", "100000")],
        b"",
    ))
    .unwrap();
    let started = Instant::now();
    let status = loop {
        if slow.write_all(b"u").is_err() {
            break raw::read_status(&mut slow);
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(20) {
            slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            break raw::read_status(&mut slow);
        }
        slow.set_nonblocking(true).unwrap();
        let mut peek = [0u8; 16];
        let got = slow.peek(&mut peek);
        slow.set_nonblocking(false).unwrap();
        if matches!(got, Ok(n) if n > 0) {
            break raw::read_status(&mut slow);
        }
    };
    assert_eq!(status, Some(408), "after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // Bodies together past the budget: the one that does not fit gets 503.
    let mut holder = TcpStream::connect(&addr).unwrap();
    holder
        .write_all(&raw::request(
            "POST",
            "/api/v1/import/prometheus",
            &[("Content-Length", "2000000")],
            b"",
        ))
        .unwrap();
    holder.write_all(&vec![b'#'; 1000 * 1024]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let resp = t
        .client()
        .post(t.url("/api/v1/import/prometheus"))
        .body(vec![b'#'; 200 * 1024])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.text().unwrap().contains("web.max-inflight-body-bytes"));
    drop(holder);
    std::thread::sleep(Duration::from_millis(300));
    // Once the holder is gone, the budget is back.
    let resp = t
        .client()
        .post(t.url("/api/v1/import/prometheus"))
        .body("ok_metric 1\n")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn a_query_whose_client_leaves_stops_using_cpu() {
    let t = Tessera::start(None);
    let mut lines = String::new();
    for s in 0..400 {
        for i in 0..=240 {
            lines.push_str(&format!(
                "stress{{s=\"{s}\"}} {} {}\n",
                i * (s % 7 + 1),
                i * 15_000
            ));
        }
    }
    t.import(("X-Scope-OrgID", "anonymous"), lines);
    let params = [
        ("query", "sum(stddev_over_time(stress[5m:1s]))"),
        ("start", "300"),
        ("end", "3600"),
        ("step", "1"),
        // Computed both times: the second run must not come from the
        // range-query results cache.
        ("nocache", "1"),
    ];
    // The whole query, for scale.
    let before = cpu_seconds(t.pid());
    let started = Instant::now();
    let resp = t
        .client()
        .get(t.url("/api/v1/query_range"))
        .query(&params)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().unwrap_or_default());
    let full_wall = started.elapsed();
    let full_cpu = cpu_seconds(t.pid()) - before;
    // The same query, abandoned after a fifth of its run time.
    let quiet = cpu_seconds(t.pid());
    let client = reqwest::blocking::Client::builder()
        .timeout(full_wall / 5)
        .build()
        .unwrap();
    let gone = client
        .get(t.url("/api/v1/query_range"))
        .query(&params)
        .send();
    assert!(gone.is_err(), "the query finished before the client left");
    let at_leave = cpu_seconds(t.pid());
    std::thread::sleep(full_wall + Duration::from_secs(1));
    let after_leave = cpu_seconds(t.pid()) - at_leave;
    println!(
        "full query: {full_cpu:.2} s CPU in {full_wall:?}; abandoned after {:?}: {:.2} s CPU before leaving, {after_leave:.2} s after",
        full_wall / 5,
        at_leave - quiet
    );
    assert!(
        full_cpu > 0.5,
        "the query is too light to measure: {full_cpu:.2} s"
    );
    assert!(
        after_leave < full_cpu * 0.25,
        "the abandoned query kept running: {after_leave:.2} s of {full_cpu:.2} s"
    );
    let metrics = t
        .client()
        .get(t.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("\ntessera_panics_total 0\n"));
}
