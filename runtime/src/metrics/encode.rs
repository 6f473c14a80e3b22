//! The exposition: Prometheus text format 0.0.4 and OpenMetrics 1.0, written straight from
//! the families into one buffer (label text is pre-rendered per series, numbers formatted
//! with itoa/ryu), so a scrape of 100k series costs little more than copying them.

/// Which exposition format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub const TEXT_CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";
    pub const OPENMETRICS_CONTENT_TYPE: &'static str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text => Self::TEXT_CONTENT_TYPE,
            Self::OpenMetrics => Self::OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// What a scrape gets: one of the text formats, or the protobuf exposition (the only one
/// carrying native histograms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    Text(Format),
    Protobuf,
}

impl Negotiated {
    /// The supported media range the `Accept` header weighs highest (the first on a tie):
    /// Prometheus lists protobuf first, with its weight, when it scrapes native histograms.
    /// Protobuf counts only as `io.prometheus.client.MetricFamily`, length-delimited.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Text(Format::Text);
        };
        let mut best: Option<(f64, Self)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut quality = 1.0;
            let mut proto = None;
            let mut encoding = None;
            for parameter in parts {
                let Some((key, value)) = parameter.split_once('=') else {
                    continue;
                };
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = value.trim().parse().unwrap_or(0.0),
                    "proto" => proto = Some(value.trim().to_string()),
                    "encoding" => encoding = Some(value.trim().to_string()),
                    _ => {}
                }
            }
            let candidate = match media.as_str() {
                "application/vnd.google.protobuf"
                    if proto.as_deref() == Some("io.prometheus.client.MetricFamily")
                        && encoding.as_deref() == Some("delimited") =>
                {
                    Self::Protobuf
                }
                "application/openmetrics-text" => Self::Text(Format::OpenMetrics),
                "text/plain" | "*/*" | "text/*" => Self::Text(Format::Text),
                _ => continue,
            };
            if quality > 0.0 && best.as_ref().is_none_or(|(q, _)| quality > *q) {
                best = Some((quality, candidate));
            }
        }
        best.map(|(_, chosen)| chosen).unwrap_or(Self::Text(Format::Text))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text(format) => format.content_type(),
            Self::Protobuf => super::protobuf::CONTENT_TYPE,
        }
    }
}

/// Appends a float the way Prometheus parses it: integers without a fraction, `NaN`,
/// `+Inf`, `-Inf`, else the shortest round-tripping form.
pub fn push_f64(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

pub fn push_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// HELP text escaping (backslash and newline).
pub fn push_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `name{labels}` or `name{labels,extra}`.
pub fn push_series(out: &mut String, name: &str, suffix: &str, labels: &str, extra: Option<(&str, &str)>) {
    out.push_str(name);
    out.push_str(suffix);
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    out.push_str(labels);
    if let Some((key, value)) = extra {
        if !labels.is_empty() {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        out.push_str(value);
        out.push('"');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_prometheus_parses_them() {
        let mut out = String::new();
        for v in [1.0, 0.25, 1e20, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -3.0] {
            push_f64(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "1 0.25 1e20 NaN +Inf -Inf -3 ");
    }

    #[test]
    fn protobuf_is_served_when_weighed_highest() {
        let prometheus_3 = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(Negotiated::from_accept(Some(prometheus_3)), Negotiated::Protobuf);
        let prometheus_2 = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Negotiated::from_accept(Some(prometheus_2)), Negotiated::Protobuf);
        let default_3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(
            Negotiated::from_accept(Some(default_3)),
            Negotiated::Text(Format::OpenMetrics)
        );
        // Another protobuf message, or text delimited differently, is not ours to serve.
        assert_eq!(
            Negotiated::from_accept(Some(
                "application/vnd.google.protobuf;proto=other.Message;encoding=delimited"
            )),
            Negotiated::Text(Format::Text)
        );
        assert_eq!(Negotiated::from_accept(None), Negotiated::Text(Format::Text));
    }

    #[test]
    fn negotiates_openmetrics_only_when_asked() {
        assert_eq!(
            Negotiated::from_accept(Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")),
            Negotiated::Text(Format::OpenMetrics)
        );
        assert_eq!(
            Negotiated::from_accept(Some("text/plain")),
            Negotiated::Text(Format::Text)
        );
        assert_eq!(Negotiated::from_accept(None), Negotiated::Text(Format::Text));
    }
}
