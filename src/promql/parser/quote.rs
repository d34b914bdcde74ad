//! Go's string quoting, as upstream prints and reads PromQL strings:
//! `strconv.Quote` (printer, error messages) and `strutil.Unquote`
//! (string literals).

/// Go's `strconv.Quote`: double quotes, Go escapes for control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` of a rune (`strconv.QuoteRune`); `None` (Go's `eof`, -1)
/// quotes as the replacement character.
pub(crate) fn go_quote_rune(c: Option<char>) -> String {
    let c = c.unwrap_or('\u{FFFD}');
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        c if c == quote || c == '\\' => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c if !is_go_printable(c) => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

/// An approximation of Go's `strconv.IsPrint`: control, format, private-use
/// and unassigned-surrogate-like code points are escaped, the rest printed.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (0x80..0xa0).contains(&u)
        || u == 0xad
        || (c.is_whitespace() && c != ' ')
        || (0x200b..=0x200f).contains(&u)
        || (0x2028..=0x202e).contains(&u)
        || (0x2060..=0x206f).contains(&u)
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0xe000..=0xf8ff).contains(&u)
        || u >= 0xf0000)
}

/// `strutil.Unquote`: the value of a lexed string token (quotes included).
/// The lexer has already checked the escapes; bytes from `\x`/octal escapes
/// that do not form UTF-8 come back as an error naming the literal.
pub(crate) fn unquote(tok: &str) -> Result<String, String> {
    let mut chars = tok.chars();
    let quote = chars.next().unwrap_or('"');
    let body = tok.get(1..tok.len().saturating_sub(1)).unwrap_or("");
    if quote == '`' {
        return Ok(body.to_string());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut it = body.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some(e) = it.next() else { break };
        let simple = match e {
            'a' => Some(b'\x07'),
            'b' => Some(b'\x08'),
            'f' => Some(b'\x0c'),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(b'\x0b'),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => (2, 8),
        };
        let mut v: u32 = if radix == 8 { e.to_digit(8).unwrap_or(0) } else { 0 };
        for _ in 0..n {
            let d = it.next().and_then(|c| c.to_digit(radix)).unwrap_or(0);
            v = v * radix + d;
        }
        if matches!(e, 'u' | 'U') {
            let ch = char::from_u32(v).unwrap_or('\u{FFFD}');
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        } else {
            out.push(v as u8);
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in string literal {tok}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_and_unquote_round_trip() {
        for (text, quoted) in [
            ("", r#""""#),
            ("a\"b", r#""a\"b""#),
            ("tab\there", r#""tab\there""#),
            ("\u{1}", r#""\x01""#),
            ("ünï", r#""ünï""#),
            ("back\\slash", r#""back\\slash""#),
        ] {
            assert_eq!(go_quote(text), quoted);
            assert_eq!(unquote(quoted).unwrap(), text);
        }
        assert_eq!(unquote(r"'a\'b'").unwrap(), "a'b");
        assert_eq!(unquote(r#""\x41\101\u00e9\U0001F600""#).unwrap(), "AAé😀");
        assert_eq!(unquote("`a\\n`").unwrap(), "a\\n");
        assert!(unquote(r#""\xff""#).is_err());
        assert_eq!(go_quote_rune(Some('\'')), r"'\''");
        assert_eq!(go_quote_rune(None), "'\u{FFFD}'");
    }
}
