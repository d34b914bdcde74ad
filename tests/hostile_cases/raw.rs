//! Raw HTTP/1.1 over a TCP socket, for requests no well-behaved client
//! would send (odd request lines, oversized headers, lying lengths,
//! truncated bodies, trickling bytes).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `bytes` and returns the status code of the first response
/// (`None` if the server closed the connection without answering) and
/// everything the server sent until it closed the connection. Requests
/// built by [`request`] ask for the connection to be closed; the sending
/// half stays open, since a client that closes it has gone away.
pub fn send(addr: &str, bytes: &[u8]) -> (Option<u16>, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer (and close) before taking everything.
    let _ = s.write_all(bytes);
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all).into_owned();
    (parse_status(&text), text)
}

fn parse_status(text: &str) -> Option<u16> {
    let mut parts = text.split(' ');
    match parts.next() {
        Some(v) if v.starts_with("HTTP/1.") => parts.next()?.parse().ok(),
        _ => None,
    }
}

/// Reads a response's status line; `None` on EOF or garbage.
pub fn read_status(s: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 20 {
            break;
        }
    }
    parse_status(&String::from_utf8_lossy(&buf))
}

/// A request head followed by `body`.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}
