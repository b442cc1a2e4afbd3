//! The two exposition formats and which one a scrape gets: Prometheus text 0.0.4, or
//! OpenMetrics 1.0.0 when the `Accept` header prefers it (Prometheus asks for it first).
//!
//! OpenMetrics is made from the rendered text, not rendered a second time: the sample lines are
//! the same in both, so only the `# HELP`/`# TYPE` lines change (a counter's family is named
//! without `_total`, and `# UNIT` follows where the name ends in a unit), and `# EOF` ends it.

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What ends every OpenMetrics exposition.
pub const EOF: &str = "# EOF\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format an `Accept` header prefers, as client_golang's `expfmt.Negotiate` picks it:
    /// the highest-quality entry that is OpenMetrics (version 1.0.0, 0.0.1 or none) or text;
    /// text when none is, or when no header was sent.
    pub fn negotiate<'a>(accept: impl Iterator<Item = &'a str>) -> Format {
        let mut best: Option<(f32, Format)> = None;
        for entry in accept.flat_map(|header| header.split(',')) {
            let mut parts = entry.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let (mut quality, mut version) = (1.0f32, None);
            for parameter in parts {
                match parameter.split_once('=') {
                    Some(("q", q)) => quality = q.trim().parse().unwrap_or(0.0),
                    Some(("version", v)) => version = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            let format = match (media.as_str(), version.as_deref()) {
                ("application/openmetrics-text", None | Some("1.0.0" | "0.0.1")) => {
                    Format::OpenMetrics
                }
                ("text/plain", None | Some("0.0.4")) | ("*/*", _) => Format::Text,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, format));
            }
        }
        best.map_or(Format::Text, |(_, format)| format)
    }
}

/// The OpenMetrics form of a text exposition, without the closing `# EOF` (so parts made
/// apart can follow). Expects each `# HELP` followed by its `# TYPE`, as the text format
/// writers here and `prometheus::TextEncoder` write them.
pub fn from_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 64);
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with('#') {
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("# HELP ") else {
            // A lone TYPE line, or a comment: OpenMetrics allows neither in that form.
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                write_descriptor(&mut out, rest, None);
            }
            continue;
        };
        let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
        match lines.peek().and_then(|l| l.strip_prefix("# TYPE ")) {
            Some(typed) if typed.split(' ').next() == Some(name) => {
                write_descriptor(&mut out, typed, Some(help));
                lines.next();
            }
            _ => write_descriptor(&mut out, &format!("{name} unknown"), Some(help)),
        }
    }
    out
}

/// HELP (if any), TYPE and UNIT lines for `typed` ("name kind") in OpenMetrics.
fn write_descriptor(out: &mut String, typed: &str, help: Option<&str>) {
    let (name, kind) = typed.split_once(' ').unwrap_or((typed, "unknown"));
    let kind = match kind {
        "untyped" => "unknown",
        kind => kind,
    };
    let family = match kind {
        "counter" => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    if let Some(help) = help {
        out.push_str("# HELP ");
        out.push_str(family);
        out.push(' ');
        // The text format leaves `"` bare in HELP; OpenMetrics escapes it.
        out.push_str(&help.replace('"', "\\\""));
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(family);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    if let Some(unit) = unit_of(family) {
        out.push_str("# UNIT ");
        out.push_str(family);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
}

/// The unit a family name ends in, of those the Prometheus naming guide uses here.
fn unit_of(family: &str) -> Option<&'static str> {
    ["seconds", "bytes", "ratio"]
        .into_iter()
        .find(|unit| family.ends_with(&format!("_{unit}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_acceptable_format_wins() {
        let prometheus_2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let cases = [
            (vec![], Format::Text),
            (vec![prometheus_2], Format::OpenMetrics),
            (vec!["text/plain;version=0.0.4"], Format::Text),
            (
                vec!["text/plain;q=0.9", "application/openmetrics-text;q=0.5"],
                Format::Text,
            ),
            (
                vec!["application/openmetrics-text; version=2.0.0"],
                Format::Text,
            ),
            (vec!["application/openmetrics-text;q=0"], Format::Text),
            (vec!["application/vnd.google.protobuf"], Format::Text),
        ];
        for (headers, expected) in cases {
            assert_eq!(
                Format::negotiate(headers.iter().copied()),
                expected,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn counters_lose_total_in_their_family_name_and_units_are_declared() {
        let text = "# HELP a_requests_total Requests \"sent\".\n# TYPE a_requests_total counter\na_requests_total{x=\"1\"} 3\n# HELP a_wait_seconds Wait.\n# TYPE a_wait_seconds gauge\na_wait_seconds 0.5\n";
        assert_eq!(
            from_text(text),
            "# HELP a_requests Requests \\\"sent\\\".\n# TYPE a_requests counter\na_requests_total{x=\"1\"} 3\n# HELP a_wait_seconds Wait.\n# TYPE a_wait_seconds gauge\n# UNIT a_wait_seconds seconds\na_wait_seconds 0.5\n"
        );
    }
}
