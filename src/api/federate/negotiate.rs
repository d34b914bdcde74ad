//! Content negotiation for `/federate` (`expfmt.Negotiate` in
//! `prometheus/common`, with `goautoneg.ParseAccept`).

/// The exposition formats `/federate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`, the default.
    Text,
    /// Varint-length-delimited `io.prometheus.client.MetricFamily` messages.
    ProtoDelimited,
}

/// The content type of the delimited protobuf format (`expfmt.FmtProtoDelim`).
const PROTO_DELIMITED: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
/// The protobuf message the protobuf format carries.
const PROTO_MESSAGE: &str = "io.prometheus.client.MetricFamily";
/// Media ranges looked at; a longer `Accept` header is judged by its first
/// ones (the header's size is bounded by the connection's limits anyway).
const MAX_RANGES: usize = 64;

impl Format {
    /// The format for a request's `Accept` header: media ranges by
    /// descending `q` (stable, so ties keep their order), the first that
    /// names the delimited protobuf format or `text/plain` (without a
    /// version or with `version=0.0.4`) wins; otherwise text.
    ///
    /// Unlike upstream, ranges with `q=0` are skipped (RFC 9110: not
    /// acceptable), and protobuf's `encoding=text` and `compact-text` debug
    /// forms are not offered: such a request gets the next range it accepts.
    /// A header that is not UTF-8, or a range that does not parse, is
    /// ignored rather than refused, as upstream ignores it.
    pub(crate) fn negotiate(accept: Option<&[u8]>) -> Format {
        let Some(accept) = accept.and_then(|a| std::str::from_utf8(a).ok()) else {
            return Format::Text;
        };
        let mut ranges: Vec<(f64, Option<Format>)> = accept
            .split(',')
            .take(MAX_RANGES)
            .filter_map(parse_range)
            .filter(|(q, _)| *q > 0.0)
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges
            .into_iter()
            .find_map(|(_, f)| f)
            .unwrap_or(Format::Text)
    }

    /// The `Content-Type` of a response in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => super::text::CONTENT_TYPE,
            Format::ProtoDelimited => PROTO_DELIMITED,
        }
    }
}

/// One media range: its `q` and the format it names, if one of ours.
/// `None` when it does not parse (no `/`, or a `q` that is not a number).
fn parse_range(range: &str) -> Option<(f64, Option<Format>)> {
    let mut parts = range.split(';');
    let (ty, sub) = parts.next()?.trim().split_once('/')?;
    let (ty, sub) = (ty.trim(), sub.trim());
    let mut q = 1.0;
    let (mut proto, mut encoding, mut version) = (None, None, None);
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if k.eq_ignore_ascii_case("q") {
            q = v.parse::<f64>().ok().filter(|q| q.is_finite())?;
        } else if k.eq_ignore_ascii_case("proto") {
            proto = Some(v);
        } else if k.eq_ignore_ascii_case("encoding") {
            encoding = Some(v);
        } else if k.eq_ignore_ascii_case("version") {
            version = Some(v);
        }
    }
    let format = if ty.eq_ignore_ascii_case("application")
        && sub.eq_ignore_ascii_case("vnd.google.protobuf")
        && proto == Some(PROTO_MESSAGE)
        && encoding == Some("delimited")
    {
        Some(Format::ProtoDelimited)
    } else if ty.eq_ignore_ascii_case("text")
        && sub.eq_ignore_ascii_case("plain")
        && matches!(version, None | Some("0.0.4"))
    {
        Some(Format::Text)
    } else {
        None
    };
    Some((q, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

    #[test]
    fn accept_headers_pick_a_format() {
        // Prometheus 2.42's scrape header with native histograms enabled.
        let prom_242 = format!(
            "{PROTO},application/openmetrics-text;version=1.0.0;q=0.8,\
             application/openmetrics-text;version=0.0.1;q=0.75,\
             text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        );
        let proto_low = format!("text/plain;q=0.3,{PROTO};q=0.7");
        let proto_zero = format!("{PROTO};q=0,text/plain;q=0.1");
        let proto_text = PROTO.replace("delimited", "text");
        let spaced = "application/vnd.google.protobuf ; proto=\"io.prometheus.client.MetricFamily\" ; encoding=delimited ; q=0.9";
        let many_q = format!("{}{PROTO}", "text/html;q=0.9,".repeat(40));
        let v1_then_proto = format!("text/plain;version=1.0.0,{PROTO};q=0.1");
        let too_many = format!("{}{PROTO}", "text/html;q=0.9,".repeat(MAX_RANGES));
        let cases: &[(Option<&str>, Format)] = &[
            (None, Format::Text),
            (Some(""), Format::Text),
            (Some("*/*"), Format::Text),
            (Some("text/plain"), Format::Text),
            (Some(PROTO), Format::ProtoDelimited),
            (Some(&prom_242), Format::ProtoDelimited),
            (Some(&proto_low), Format::ProtoDelimited),
            (Some(&proto_zero), Format::Text),
            (Some(&proto_text), Format::Text),
            (Some(spaced), Format::ProtoDelimited),
            (Some(&many_q), Format::ProtoDelimited),
            (Some(&too_many), Format::Text),
            (
                Some("application/vnd.google.protobuf;encoding=delimited"),
                Format::Text,
            ),
            (Some(&v1_then_proto), Format::ProtoDelimited),
            (Some(&format!("{PROTO};q=abc")), Format::Text),
            (Some(&format!("{PROTO};q=NaN,text/plain")), Format::Text),
            (Some(";;,,/,=;q=,\u{1F600}/x"), Format::Text),
        ];
        for (accept, want) in cases {
            let got = Format::negotiate(accept.map(str::as_bytes));
            assert_eq!(got, *want, "{accept:?}");
        }
        assert_eq!(Format::negotiate(Some(b"\xff\xfe")), Format::Text);
    }
}
