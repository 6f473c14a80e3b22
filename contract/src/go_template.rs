//! Prometheus alert templates (Go `text/template` with Prometheus's data and functions):
//! parsed so a template that Prometheus would refuse, or that fails when the alert fires, is
//! caught by `check`; and expanded where the outcome is certain, so generated promtool tests
//! expect exactly what Prometheus will produce.

use std::collections::BTreeMap;

/// Fields of the data Prometheus hands an alert template (`.Labels`, `.Value`…).
const DATA_FIELDS: [&str; 4] = ["Labels", "ExternalLabels", "ExternalURL", "Value"];

/// Variables Prometheus defines before every alert template.
const PREDEFINED_VARIABLES: [&str; 4] = ["labels", "externalLabels", "externalURL", "value"];

/// Functions a Prometheus template may call: Go's builtins, then Prometheus's own.
const FUNCTIONS: [&str; 48] = [
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne", // Go
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "parseDuration",
    "pathPrefix",
    "externalURL",
    "now",
    "urlQueryEscape",
];

/// Why a template is refused, and where in its text (a character index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub at: usize,
    pub message: String,
}

/// A template that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The text as literal pieces and label look-ups, when nothing else is in it.
    predictable: Option<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Label(String),
}

impl Template {
    /// Whether the expanded text is known before the alert fires.
    pub fn is_predictable(&self) -> bool {
        self.predictable.is_some()
    }

    /// The text Prometheus produces for an alert whose series has `labels` (a missing label
    /// expands to nothing, as Go's map index does); `None` when it depends on more.
    pub fn expand(&self, labels: &BTreeMap<String, String>) -> Option<String> {
        let pieces = self.predictable.as_ref()?;
        Some(
            pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.as_str(),
                    Piece::Label(name) => labels.get(name).map(String::as_str).unwrap_or(""),
                })
                .collect(),
        )
    }
}

/// Whether the text uses template syntax at all.
pub fn has_actions(text: &str) -> bool {
    text.contains("{{")
}

/// Parses one template.
pub fn parse(text: &str) -> Result<Template, TemplateError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser::default();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut predictable = true;
    let mut position = 0;
    let mut trim_next_text = false;
    while position < chars.len() {
        let open = find(&chars, position, "{{");
        let literal_end = open.unwrap_or(chars.len());
        let mut literal: String = chars[position..literal_end].iter().collect();
        if trim_next_text {
            literal = literal.trim_start().to_string();
        }
        let Some(open) = open else {
            pieces.push(Piece::Text(literal));
            break;
        };
        let mut body_start = open + 2;
        let trim_left =
            chars.get(body_start) == Some(&'-') && chars.get(body_start + 1).is_some_and(|c| c.is_whitespace());
        if trim_left {
            literal = literal.trim_end().to_string();
            body_start += 2;
        }
        pieces.push(Piece::Text(literal));
        let (close, body) = action_body(&chars, open, body_start)?;
        let trim_right =
            body.len() >= 2 && body.ends_with('-') && body[..body.len() - 1].ends_with(char::is_whitespace);
        let body = if trim_right { &body[..body.len() - 1] } else { &body[..] };
        match parser.action(body, open)? {
            Action::Nothing => {}
            Action::Label(name) => pieces.push(Piece::Label(name)),
            Action::Other => predictable = false,
        }
        trim_next_text = trim_right;
        position = close + 2;
    }
    if let Some((keyword, at)) = parser.blocks.last() {
        return Err(TemplateError {
            at: *at,
            message: format!("`{{{{ {keyword} }}}}` is never closed with `{{{{ end }}}}`"),
        });
    }
    Ok(Template {
        predictable: predictable.then_some(pieces),
    })
}

fn find(chars: &[char], from: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    (from..chars.len().saturating_sub(needle.len() - 1)).find(|&i| chars[i..].starts_with(&needle))
}

/// The text of the action opened at `open`, up to its `}}` (which may not sit inside a
/// quoted string or a comment), and where that `}}` is.
fn action_body(chars: &[char], open: usize, start: usize) -> Result<(usize, String), TemplateError> {
    let unclosed = || TemplateError {
        at: open,
        message: "`{{` is never closed with `}}`".into(),
    };
    let mut i = start;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == '\\' && q != '`' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None if chars[i..].starts_with(&['/', '*']) => {
                let end = find(chars, i + 2, "*/").ok_or_else(unclosed)?;
                i = end + 1;
            }
            None if chars[i..].starts_with(&['}', '}']) => return Ok((i, chars[start..i].iter().collect())),
            None => {}
        }
        i += 1;
    }
    match quote {
        Some(q) => Err(TemplateError {
            at: open,
            message: format!("a string opened with {q} in this action is never closed"),
        }),
        None => Err(unclosed()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// `$name.field…`; the name is empty for `$`.
    Variable(String, Vec<String>),
    /// `.Field.field…`; empty for `.` itself.
    Field(Vec<String>),
    Literal,
    Pipe,
    Open,
    Close,
    Declare,
    Comma,
}

enum Action {
    /// A comment or an `end`: no text of its own.
    Nothing,
    /// Exactly one label of the alert's series.
    Label(String),
    Other,
}

#[derive(Default)]
struct Parser {
    /// Open blocks, innermost last, with where each opened.
    blocks: Vec<(String, usize)>,
    /// Variables the template declared.
    declared: Vec<String>,
}

impl Parser {
    fn action(&mut self, body: &str, at: usize) -> Result<Action, TemplateError> {
        let error = |message: String| TemplateError { at, message };
        let trimmed = body.trim();
        if trimmed.starts_with("/*") {
            return if trimmed.ends_with("*/") {
                Ok(Action::Nothing)
            } else {
                Err(error("a comment must be the whole action: `{{/* … */}}`".into()))
            };
        }
        let tokens = tokens(trimmed).map_err(error)?;
        let Some(first) = tokens.first() else {
            return Err(error(
                "`{{ }}` is empty; it needs a value such as `$labels.instance`".into(),
            ));
        };
        let mut rest: &[Token] = &tokens[1..];
        if let Token::Word(word) = first {
            match word.as_str() {
                "end" => {
                    if !rest.is_empty() {
                        return Err(error("`{{ end }}` takes nothing after it".into()));
                    }
                    return match self.blocks.pop() {
                        Some(_) => Ok(Action::Nothing),
                        None => Err(error("`{{ end }}` closes nothing".into())),
                    };
                }
                "else" => {
                    if !self
                        .blocks
                        .last()
                        .is_some_and(|(k, _)| matches!(k.as_str(), "if" | "range" | "with"))
                    {
                        return Err(error("`{{ else }}` outside an `if`, `range` or `with`".into()));
                    }
                    if let Some(Token::Word(w)) = rest.first() {
                        if w == "if" || w == "with" {
                            rest = &rest[1..];
                        }
                    }
                    if !rest.is_empty() {
                        self.pipeline(rest).map_err(error)?;
                    }
                    return Ok(Action::Other);
                }
                "if" | "with" | "range" | "block" | "define" => {
                    let keyword = word.clone();
                    if matches!(keyword.as_str(), "define" | "block") {
                        if !matches!(rest.first(), Some(Token::Literal)) {
                            return Err(error(format!("`{keyword}` needs a quoted template name")));
                        }
                        rest = &rest[1..];
                    } else if rest.is_empty() {
                        return Err(error(format!("`{{{{ {keyword} }}}}` needs a condition")));
                    }
                    if !rest.is_empty() {
                        self.pipeline(rest).map_err(error)?;
                    }
                    self.blocks.push((keyword, at));
                    // What a block writes depends on its condition: not predictable.
                    return Ok(Action::Other);
                }
                "template" => {
                    if !matches!(rest.first(), Some(Token::Literal)) {
                        return Err(error("`template` needs a quoted template name".into()));
                    }
                    if rest.len() > 1 {
                        self.pipeline(&rest[1..]).map_err(error)?;
                    }
                    return Ok(Action::Other);
                }
                "break" | "continue" => {
                    if !self.blocks.iter().any(|(k, _)| k == "range") {
                        return Err(error(format!("`{{{{ {word} }}}}` outside a `range`")));
                    }
                    return Ok(Action::Other);
                }
                _ => {}
            }
        }
        self.pipeline(&tokens).map_err(error)?;
        let rebound = self.blocks.iter().any(|(k, _)| k == "range" || k == "with");
        Ok(match tokens.as_slice() {
            [Token::Variable(name, fields)] if name == "labels" && fields.len() == 1 && self.blocks.is_empty() => {
                Action::Label(fields[0].clone())
            }
            [Token::Field(fields)]
                if fields.len() == 2 && fields[0] == "Labels" && !rebound && self.blocks.is_empty() =>
            {
                Action::Label(fields[1].clone())
            }
            _ => Action::Other,
        })
    }

    /// Checks a pipeline: declarations, known functions and variables, the data's fields.
    fn pipeline(&mut self, tokens: &[Token]) -> Result<(), String> {
        let mut tokens = tokens;
        // `$x := …` or `$i, $e := …` (range).
        if let Some(declare) = tokens.iter().position(|t| *t == Token::Declare) {
            let names = &tokens[..declare];
            let mut declared = Vec::new();
            for (index, token) in names.iter().enumerate() {
                match token {
                    Token::Variable(name, fields) if fields.is_empty() && !name.is_empty() && index % 2 == 0 => {
                        declared.push(name.clone())
                    }
                    Token::Comma if index % 2 == 1 => {}
                    _ => return Err("only `$name :=` may stand before `:=`".into()),
                }
            }
            self.declared.extend(declared);
            tokens = &tokens[declare + 1..];
        }
        if tokens.is_empty() {
            return Err("missing a value after `:=`".into());
        }
        let mut depth = 0usize;
        let mut expect_command = true;
        let rebound = self.blocks.iter().any(|(k, _)| k == "range" || k == "with");
        for token in tokens {
            match token {
                Token::Pipe if expect_command => return Err("`|` with nothing before it".into()),
                Token::Pipe => {
                    expect_command = true;
                    continue;
                }
                Token::Open => depth += 1,
                Token::Close => {
                    depth = depth.checked_sub(1).ok_or("`)` without its `(`")?;
                }
                Token::Word(word) if matches!(word.as_str(), "true" | "false" | "nil") => {}
                Token::Word(word) if !FUNCTIONS.contains(&word.as_str()) => {
                    return Err(match crate::suggest::closest(word, FUNCTIONS.iter().copied()) {
                        Some(close) => format!("`{word}` is not a template function; did you mean `{close}`?"),
                        None => format!("`{word}` is not a function Prometheus templates know"),
                    });
                }
                Token::Variable(name, fields) => {
                    let known = name.is_empty()
                        || PREDEFINED_VARIABLES.contains(&name.as_str())
                        || self.declared.contains(name);
                    if !known {
                        return Err(format!(
                            "`${name}` is not defined; alert templates have `$labels`, `$externalLabels`, `$externalURL` and `$value`"
                        ));
                    }
                    if matches!(name.as_str(), "value" | "externalURL") && !fields.is_empty() {
                        return Err(format!("`${name}` is a single value and has no field `{}`", fields[0]));
                    }
                    if name.is_empty() && !fields.is_empty() {
                        check_data_field(&fields[0])?;
                    }
                }
                Token::Field(fields) if !rebound && !fields.is_empty() => check_data_field(&fields[0])?,
                Token::Declare => return Err("`:=` may only follow the variables it declares".into()),
                _ => {}
            }
            expect_command = false;
        }
        if depth > 0 {
            return Err("`(` is never closed".into());
        }
        if expect_command {
            return Err("`|` with nothing after it".into());
        }
        Ok(())
    }
}

fn check_data_field(field: &str) -> Result<(), String> {
    if DATA_FIELDS.contains(&field) {
        return Ok(());
    }
    Err(format!(
        "`.{field}` is not in an alert template's data, which has `.Labels`, `.ExternalLabels`, `.ExternalURL` and `.Value`"
    ))
}

/// Splits an action's text into tokens.
fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let dotted = |i: &mut usize| -> Vec<String> {
        let mut fields = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            let start = *i + 1;
            let mut end = start;
            while end < chars.len() && is_word(chars[end]) {
                end += 1;
            }
            if end == start {
                break;
            }
            fields.push(chars[start..end].iter().collect());
            *i = end;
        }
        fields
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                found.push(Token::Pipe);
                i += 1;
            }
            '(' => {
                found.push(Token::Open);
                i += 1;
            }
            ')' => {
                found.push(Token::Close);
                i += 1;
            }
            ',' => {
                found.push(Token::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                found.push(Token::Declare);
                i += 2;
            }
            '=' => {
                found.push(Token::Declare);
                i += 1;
            }
            '"' | '\'' | '`' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    if chars[j] == '\\' && c != '`' {
                        j += 1;
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(format!("a string opened with {c} is never closed"));
                }
                found.push(Token::Literal);
                i = j + 1;
            }
            '$' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && is_word(chars[end]) {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                i = end;
                found.push(Token::Variable(name, dotted(&mut i)));
            }
            '.' => {
                let fields = dotted(&mut i);
                if fields.is_empty() {
                    i += 1;
                }
                found.push(Token::Field(fields));
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+') && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '_' | '+' | '-'))
                {
                    i += 1;
                }
                found.push(Token::Literal);
            }
            c if is_word(c) => {
                let start = i;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                found.push(Token::Word(chars[start..i].iter().collect()));
                if i < chars.len() && chars[i] == '.' {
                    return Err(format!(
                        "`{}.` reads a field of a function's result; put the call in parentheses",
                        chars[start..i].iter().collect::<String>()
                    ));
                }
            }
            other => return Err(format!("`{other}` cannot appear in a template action")),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expands_label_lookups_like_prometheus() {
        let template = parse("{{ $labels.route }} on {{.Labels.instance}} ({{ $labels.missing }})").unwrap();
        assert_eq!(
            template
                .expand(&labels(&[("route", "/a"), ("instance", "h:1")]))
                .as_deref(),
            Some("/a on h:1 ()")
        );
        let trimmed = parse("a  {{- $labels.x -}}  b {{/* note */}}c").unwrap();
        assert_eq!(trimmed.expand(&labels(&[("x", "1")])).as_deref(), Some("a1b c"));
        assert_eq!(
            parse("no templates").unwrap().expand(&BTreeMap::new()).as_deref(),
            Some("no templates")
        );
    }

    #[test]
    fn values_and_functions_are_valid_but_unpredictable() {
        for text in [
            "{{ $value | humanizePercentage }}",
            "{{ printf \"%.2f\" $value }}",
            "{{ if gt $value 1.0 }}high{{ else }}low{{ end }}",
            "{{ range $i, $e := query \"up\" }}{{ .Labels.job }}{{ end }}",
            "{{ $x := $labels.a }}{{ $x }}",
            "{{ with $labels.a }}{{ . }}{{ end }}",
            "{{ \"}}\" }}",
            "{{-3}}",
        ] {
            let template = parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert!(!template.is_predictable(), "{text}");
        }
    }

    #[test]
    fn refuses_what_prometheus_refuses_or_fails_on() {
        for (text, at, needle) in [
            ("Too many {{ requests fail.", 9, "never closed"),
            ("{{ .Values }}", 0, "`.Values` is not in"),
            ("x {{ $lables.route }}", 2, "`$lables` is not defined"),
            ("{{ humanise $value }}", 0, "did you mean `humanize`"),
            ("{{ if $value }}open", 0, "never closed with `{{ end }}`"),
            ("{{ end }}", 0, "closes nothing"),
            ("{{ }}", 0, "empty"),
            ("{{ \"abc }}", 0, "never closed"),
            ("{{ $value | }}", 0, "nothing after"),
            ("{{ (len $labels }}", 0, "never closed"),
            ("{{ $value.x }}", 0, "single value"),
            ("{{ else }}", 0, "outside"),
        ] {
            let error = parse(text).expect_err(text);
            assert_eq!(error.at, at, "{text}");
            assert!(error.message.contains(needle), "{text}: {}", error.message);
        }
    }
}
