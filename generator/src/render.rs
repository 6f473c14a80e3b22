//! The one minijinja environment: templates embedded from `generator/templates/<target>/`,
//! strict undefined variables, and filters that quote values for YAML and JSON so templates
//! only format.

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

/// A template embedded under its path in `generator/templates/`.
macro_rules! template {
    ($path:literal) => {
        ($path, include_str!(concat!("../templates/", $path)))
    };
}

/// Every template, by name (its path under `generator/templates/`).
const TEMPLATES: &[(&str, &str)] = &[
    template!("prometheus/prometheus.yml.j2"),
    template!("prometheus/rules.yml.j2"),
    template!("prometheus/tests.yml.j2"),
    template!("alertmanager/alertmanager.yml.j2"),
    template!("grafana/datasources.yml.j2"),
    template!("grafana/dashboards.yml.j2"),
    template!("compose/docker-compose.yml.j2"),
    template!("docs/OBSERVABILITY.md.j2"),
    template!("diagnostics/DIAGNOSTICS.md.j2"),
    template!("docs/macros.md.j2"),
    template!("docs/sections/intro.md.j2"),
    template!("docs/sections/components.md.j2"),
    template!("docs/sections/endpoints.md.j2"),
    template!("docs/sections/metrics.md.j2"),
    template!("docs/sections/logs.md.j2"),
    template!("docs/sections/traces.md.j2"),
    template!("docs/sections/health.md.j2"),
    template!("docs/sections/alerts.md.j2"),
    template!("docs/sections/slos.md.j2"),
    template!("docs/sections/dashboards.md.j2"),
    template!("docs/sections/routing.md.j2"),
    template!("docs/sections/running.md.j2"),
];

/// Builds the environment with every template loaded; a template that does not compile is
/// a bug caught by the first test that renders anything.
pub fn environment() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("yaml", yaml_filter);
    env.add_filter("json", json_filter);
    env.add_filter("json_pretty", json_pretty_filter);
    env.add_filter("md", markdown_cell_filter);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Renders a template with a serializable context.
pub fn render<S: serde::Serialize>(env: &Environment<'_>, name: &str, context: &S) -> Result<String, Error> {
    env.get_template(name)?.render(Value::from_serialize(context))
}

/// Whether `text` can stand unquoted in YAML and read back as the same string.
fn is_plain_yaml(text: &str) -> bool {
    if text.is_empty()
        || text.trim() != text
        || text.contains([
            '\n', '\t', '#', '\'', '"', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`',
        ])
    {
        return false;
    }
    if text.starts_with(['-', '?', ':']) || text.contains(": ") || text.ends_with(':') {
        return false;
    }
    // Go's yaml.v2 (Prometheus, Alertmanager) is YAML 1.1: these are booleans there, and
    // `1:20` is a base-60 integer.
    const YAML11_BOOLS: [&str; 8] = ["y", "n", "yes", "no", "on", "off", "true", "false"];
    if YAML11_BOOLS.contains(&text.to_ascii_lowercase().as_str()) {
        return false;
    }
    if text.contains(':')
        && text
            .split(':')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    {
        return false;
    }
    // Words of letters, digits and `_ . / -` that start with a letter are strings to every
    // YAML resolver except the null word: no parse needed (it was most of a large render).
    let starts_with_letter = text.starts_with(|c: char| c.is_ascii_alphabetic());
    if starts_with_letter
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_ ./-".contains(&b))
        && !["null", "nan", "inf", "infinity"]
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
    {
        return true;
    }
    reads_back_as_itself(text)
}

fn reads_back_as_itself(text: &str) -> bool {
    matches!(serde_yaml::from_str::<serde_yaml::Value>(text), Ok(serde_yaml::Value::String(s)) if s == text)
}

/// `{{ value | yaml }}` for a scalar; `{{ value | yaml(indent) }}` lets a multi-line string
/// become a `|-` block indented by `indent` spaces.
fn yaml_filter(value: Value, indent: Option<usize>) -> Result<String, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok("null".into());
    }
    if let Some(text) = value.as_str() {
        if let (Some(indent), true) = (indent, text.contains('\n')) {
            if !text.lines().any(|l| l.trim_end() != l) && !text.starts_with(' ') {
                let pad = " ".repeat(indent);
                let body: Vec<String> = text
                    .lines()
                    .map(|l| {
                        if l.is_empty() {
                            String::new()
                        } else {
                            format!("{pad}{l}")
                        }
                    })
                    .collect();
                return Ok(format!("|-\n{}", body.join("\n")));
            }
        }
        if is_plain_yaml(text) {
            return Ok(text.to_string());
        }
        // Single quotes keep PromQL's double quotes and backslashes verbatim.
        if text.chars().all(yaml_raw) {
            return Ok(format!("'{}'", text.replace('\'', "''")));
        }
        return Ok(yaml_double_quoted(text));
    }
    // Numbers and booleans print as themselves; anything else is a template mistake.
    match value.kind() {
        minijinja::value::ValueKind::Bool => Ok(if value.is_true() { "true" } else { "false" }.into()),
        minijinja::value::ValueKind::Number => Ok(value.to_string()),
        kind => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("yaml filter takes a scalar, got {kind}"),
        )),
    }
}

/// Whether YAML allows `c` as it is in a scalar (its "printable" set; tab and line breaks
/// count too, though only quoted escapes keep them exact).
fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}'
}

/// Whether `c` reads back as itself inside a quoted YAML scalar: printable and no line
/// break, counting the ones YAML 1.1 parsers fold (NEL, LS, PS).
fn yaml_raw(c: char) -> bool {
    yaml_printable(c) && !matches!(c, '\t' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A double-quoted YAML scalar that reads back as `text`: every character YAML does not
/// allow raw (controls, DEL, C1 controls, U+FFFE, U+FFFF) and every line break, YAML 1.1's
/// NEL, LS and PS included, written as an escape.
fn yaml_double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if yaml_raw(c) => out.push(c),
            c if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// `{{ value | json }}`: compact JSON, without the HTML escaping of `tojson`.
fn json_filter(value: Value) -> Result<String, Error> {
    serde_json::to_string(&value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

/// `{{ text | md }}`: safe inside a Markdown table cell (`|` escaped, one line).
fn markdown_cell_filter(text: String) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `{{ value | json_pretty(indent) }}`: two-space pretty JSON whose lines after the first
/// are indented by `indent`, to nest inside a template's own JSON.
fn json_pretty_filter(value: Value, indent: Option<usize>) -> Result<String, Error> {
    let text =
        serde_json::to_string_pretty(&value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    let pad = " ".repeat(indent.unwrap_or(0));
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                line.to_string()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_yaml_would_misread() {
        for plain in [
            "ws-counter",
            "/metrics",
            "http://app_blue:8000",
            "15s",
            "NoActiveConnections",
        ] {
            assert!(is_plain_yaml(plain), "{plain}");
        }
        for quoted in [
            "true", "1.0", "null", "a: b", "x #y", "", " pad", "~", "yes", "Off", "y", "1:20", "{{ x }}", "*", "0x10",
            "-5",
        ] {
            assert!(!is_plain_yaml(quoted), "{quoted}");
        }
    }

    #[test]
    fn the_word_shortcut_agrees_with_parsing() {
        for word in [
            "NaN",
            "nan",
            "Inf",
            "inf",
            "Infinity",
            "NULL",
            "Null",
            "True",
            "FALSE",
            "e5",
            "E10",
            "x1",
            "a.b",
            "a/b",
            "a-b",
            "A b",
            "N",
            "Y",
            "On",
            "ok",
            "no_data",
            "http_requests_total",
            "v1.2.3",
        ] {
            assert_eq!(
                is_plain_yaml(word),
                reads_back_as_itself(word)
                    && !matches!(
                        word.to_ascii_lowercase().as_str(),
                        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false"
                    ),
                "{word}"
            );
        }
    }

    #[test]
    fn yaml_filter_round_trips_strings() {
        for text in [
            "sum(rate(x[5m])) > 0.5",
            "say \"hi\"\\",
            "multi\nline",
            "{{ $labels.job }} down",
        ] {
            let rendered = yaml_filter(Value::from(text), None).unwrap();
            let back: String = serde_yaml::from_str(&rendered).unwrap();
            assert_eq!(back, text);
        }
        assert_eq!(yaml_filter(Value::from(true), None).unwrap(), "true");
        assert_eq!(yaml_filter(Value::from(false), None).unwrap(), "false");
        let block = yaml_filter(Value::from("a > 1\nand\nb > 1"), Some(4)).unwrap();
        let back: std::collections::BTreeMap<String, String> = serde_yaml::from_str(&format!("k: {block}")).unwrap();
        assert_eq!(back["k"], "a > 1\nand\nb > 1");
    }
}
