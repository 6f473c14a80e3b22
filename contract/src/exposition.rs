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
    /// The OpenMetrics `# UNIT` of the family, when given.
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
}

/// Why an exposition could not be read, and where (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
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

/// The labels between `{` and `}`; an error carries the character offset in `text` where
/// reading stopped.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().enumerate().peekable();
    let at = |chars: &mut std::iter::Peekable<std::iter::Enumerate<std::str::Chars<'_>>>| {
        chars.peek().map(|(i, _)| *i).unwrap_or(text.chars().count())
    };
    loop {
        while chars.peek().is_some_and(|(_, c)| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(labels);
        }
        let start = at(&mut chars);
        let name: String = std::iter::from_fn(|| chars.next_if(|(_, c)| *c != '=').map(|(_, c)| c)).collect();
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err((start, format!("label `{}` has no quoted value", name.trim())));
        }
        let quote = at(&mut chars);
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err((quote, format!("label `{}` has no quoted value", name.trim())));
        }
        let mut value = String::new();
        loop {
            let position = at(&mut chars);
            match chars.next().map(|(_, c)| c) {
                Some('\\') => match chars.next().map(|(_, c)| c) {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => return Err((position, "unterminated escape".into())),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => return Err((quote, format!("label `{}` is not closed", name.trim()))),
            }
        }
        labels.insert(name.trim().to_string(), value);
    }
}

/// The 1-based column of byte offset `at` in `line`, counted in characters.
fn column(line: &str, at: usize) -> usize {
    line[..at.min(line.len())].chars().count() + 1
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
    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        let line = raw.trim();
        // Byte offset of `line` in `raw`, so that columns count from the real line start.
        let indent = raw.len() - raw.trim_start().len();
        let error = |at: usize, message: String| ParseError {
            line: number,
            column: column(raw, indent + at),
            message,
        };
        if line.is_empty() || line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                return Err(error(0, "TYPE needs a name and a type".into()));
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
        if let Some(rest) = line.strip_prefix("# UNIT ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(unit)) = (parts.next(), parts.next()) {
                let i = family_index(&mut families, &mut by_name, name);
                families[i].unit = Some(unit.to_string());
            }
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
                    .ok_or_else(|| error(open, "`{` is not closed".into()))?;
                let inside = &line[open + 1..close];
                let labels = parse_labels(inside).map_err(|(at, message)| {
                    let byte = inside.char_indices().nth(at).map_or(inside.len(), |(b, _)| b);
                    error(open + 1 + byte, message)
                })?;
                (&line[..open], labels, &line[close + 1..])
            }
            None => {
                let split = line
                    .find(char::is_whitespace)
                    .ok_or_else(|| error(line.len(), "a sample needs a value".into()))?;
                (&line[..split], BTreeMap::new(), &line[split..])
            }
        };
        let value_at = line.len() - rest.trim_start().len();
        let value_text = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| error(line.len(), format!("`{name}` has no value")))?;
        let value =
            parse_value(value_text).ok_or_else(|| error(value_at, format!("`{value_text}` is not a number")))?;
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

impl Sample {
    /// The sample's labels besides the family's own (`le` on a bucket), as name and value.
    pub fn own_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        let bucket = self.name.ends_with("_bucket");
        self.labels
            .iter()
            .filter(move |(name, _)| !(bucket && name.as_str() == "le"))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

impl ParsedFamily {
    /// The family's name as obs declares it: OpenMetrics names counters without `_total`.
    pub fn declared_name(&self) -> String {
        let total = format!("{}_total", self.name);
        let created = format!("{}_created", self.name);
        let counter_samples_total = self.samples.iter().all(|s| s.name == total || s.name == created);
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
        let families = parse("# TYPE a counter\na_total 1\na_created 1.7e9\n# EOF\n").unwrap();
        assert_eq!(families[0].declared_name(), "a_total");
    }

    #[test]
    fn reads_openmetrics_units() {
        let families = parse("# TYPE b_seconds gauge\n# UNIT b_seconds seconds\nb_seconds 1\n# EOF\n").unwrap();
        assert_eq!(families[0].unit.as_deref(), Some("seconds"));
        assert_eq!(parse("# TYPE c gauge\nc 1\n").unwrap()[0].unit, None);
    }

    #[test]
    fn reports_the_broken_line_and_column() {
        let at = |text: &str| {
            let error = parse(text).unwrap_err();
            (error.line, error.column)
        };
        assert_eq!(at("# TYPE a gauge\na{x=\"1\" 2\n"), (2, 2));
        assert_eq!(at("a one\n"), (1, 3));
        assert_eq!(at("  a one\n"), (1, 5));
        assert_eq!(at("a{x=\"1\",y=2} 1\n"), (1, 11));
        assert_eq!(at("a{x=\"1\",y} 1\n"), (1, 9));
        assert_eq!(at("é{x=\"1\"} one\n"), (1, 10));
        assert_eq!(at("<html>\n"), (1, 7));
        assert_eq!(
            parse("a one\n").unwrap_err().to_string(),
            "line 1, column 3: `one` is not a number"
        );
    }
}
