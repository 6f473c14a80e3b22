//! A parser for the Prometheus text exposition format (and the OpenMetrics subset services
//! emit): families with their TYPE and HELP, and samples with labels and values. Used by the
//! drift check and the monitor; errors name the line.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A family: its declared type (if any) and its samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFamily {
    pub name: String,
    pub kind: Option<String>,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

/// Why an exposition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

fn suffix_base(name: &str) -> Option<&str> {
    ["_bucket", "_sum", "_count", "_total", "_created", "_info"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

/// HELP text with its escapes undone: `\\\\` and `\\n` (text format), and `\\"` (OpenMetrics);
/// any other backslash stays as written, as Prometheus reads it.
fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(labels);
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next() != Some('=') || chars.next() != Some('"') {
            return Err(format!("label `{}` has no quoted value", name.trim()));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => return Err("unterminated escape".into()),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => return Err(format!("label `{}` is not closed", name.trim())),
            }
        }
        labels.insert(name.trim().to_string(), value);
    }
}

/// Parses a whole exposition into families in order of appearance.
pub fn parse(text: &str) -> Result<Vec<ParsedFamily>, ParseError> {
    let mut families: Vec<ParsedFamily> = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let family_index = |families: &mut Vec<ParsedFamily>, by_name: &mut BTreeMap<String, usize>, name: &str| -> usize {
        *by_name.entry(name.to_string()).or_insert_with(|| {
            families.push(ParsedFamily {
                name: name.to_string(),
                ..ParsedFamily::default()
            });
            families.len() - 1
        })
    };
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        let line = line.trim();
        if line.is_empty() || line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                return Err(ParseError {
                    line: number,
                    message: "TYPE needs a name and a type".into(),
                });
            };
            let i = family_index(&mut families, &mut by_name, name);
            families[i].kind = Some(kind.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let i = family_index(&mut families, &mut by_name, name);
            families[i].help = Some(unescape_help(help));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                // The last `}` after the `{`: one before it (`}{`) closes nothing.
                let close = line
                    .rfind('}')
                    .filter(|close| *close > open)
                    .ok_or_else(|| ParseError {
                        line: number,
                        message: "`{` is not closed".into(),
                    })?;
                let labels =
                    parse_labels(&line[open + 1..close]).map_err(|message| ParseError { line: number, message })?;
                (&line[..open], labels, &line[close + 1..])
            }
            None => {
                let split = line.find(char::is_whitespace).ok_or_else(|| ParseError {
                    line: number,
                    message: "a sample needs a value".into(),
                })?;
                (&line[..split], BTreeMap::new(), &line[split..])
            }
        };
        let value_text = rest.split_whitespace().next().ok_or_else(|| ParseError {
            line: number,
            message: format!("`{name}` has no value"),
        })?;
        let value = parse_value(value_text).ok_or_else(|| ParseError {
            line: number,
            message: format!("`{value_text}` is not a number"),
        })?;
        // A sample belongs to the family declared with its name or its base name.
        let owner = if by_name.contains_key(name) {
            name.to_string()
        } else {
            suffix_base(name)
                .filter(|base| by_name.contains_key(*base))
                .unwrap_or(name)
                .to_string()
        };
        let i = family_index(&mut families, &mut by_name, &owner);
        families[i].samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(families)
}

impl ParsedFamily {
    /// The family's name as obs declares it: OpenMetrics names counters without `_total`.
    pub fn declared_name(&self) -> String {
        let counter_samples_total = self.samples.iter().all(|s| s.name == format!("{}_total", self.name));
        if self.kind.as_deref() == Some("counter")
            && !self.name.ends_with("_total")
            && (self.samples.is_empty() || counter_samples_total)
        {
            format!("{}_total", self.name)
        } else {
            self.name.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP http_requests_total HTTP requests.
# TYPE http_requests_total counter
http_requests_total{route="/a",method="GET",status="200"} 3
http_requests_total{route="/b\"c",method="GET",status="500"} 1
# TYPE d_seconds histogram
d_seconds_bucket{le="0.1"} 1
d_seconds_bucket{le="+Inf"} 2
d_seconds_sum 0.3
d_seconds_count 2
# TYPE up gauge
up 1
"#;

    #[test]
    fn help_escapes_are_undone() {
        let text = "# HELP x_total A \\\\ b\\nc \\q.\n# TYPE x_total counter\nx_total 1\n";
        let families = parse(text).unwrap();
        assert_eq!(families[0].help.as_deref(), Some("A \\ b\nc \\q."));
    }

    #[test]
    fn groups_samples_into_families() {
        let families = parse(TEXT).unwrap();
        assert_eq!(families.len(), 3);
        assert_eq!(families[0].samples[1].labels["route"], "/b\"c");
        assert_eq!(families[1].samples.len(), 4);
        assert_eq!(
            (
                families[1].samples[1].labels["le"].as_str(),
                families[1].samples[1].value
            ),
            ("+Inf", 2.0)
        );
        assert_eq!(parse("x +Inf\n").unwrap()[0].samples[0].value, f64::INFINITY);
    }

    #[test]
    fn reads_openmetrics_counter_names() {
        let families = parse("# TYPE a counter\na_total 1\n# EOF\n").unwrap();
        assert_eq!(families[0].declared_name(), "a_total");
    }

    #[test]
    fn reports_the_broken_line() {
        assert_eq!(parse("# TYPE a gauge\na{x=\"1\" 2\n").unwrap_err().line, 2);
        assert_eq!(parse("a one\n").unwrap_err().line, 1);
    }
}
