//! Rust source for typed metric handles, generated from a spec's catalog by a service's
//! build script. Every declared metric becomes a field; closed label sets become enums; a
//! metric removed from obs.yaml disappears from the struct, so code using it stops compiling.

use std::fmt::Write;

use crate::catalog::{BuiltinGroup, Catalog, Family, Origin};
use crate::model::MetricType;

const KEYWORDS: [&str; 38] = [
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
];

fn ident(name: &str) -> String {
    if KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

fn camel(value: &str) -> String {
    let mut out = String::new();
    for part in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

fn variants(values: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for value in values {
        let mut name = camel(value);
        let base = name.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

fn kind_parts(kind: MetricType) -> (&'static str, &'static str, &'static str) {
    match kind {
        MetricType::Counter => ("counter", "CounterFamily", "Counter"),
        MetricType::Gauge => ("gauge", "GaugeFamily", "Gauge"),
        MetricType::Histogram => ("histogram", "HistogramFamily", "Histogram"),
    }
}

/// `text` as doc-comment lines indented by `indent` spaces.
fn doc(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    text.lines().map(|l| format!("{pad}/// {l}\n")).collect()
}

/// Families code can update: everything but the process collector's.
fn settable<'a>(catalog: &'a Catalog, component: &'a str) -> impl Iterator<Item = &'a Family> + 'a {
    catalog
        .for_component(component)
        .filter(|f| f.origin != Origin::Builtin(BuiltinGroup::Process))
}

/// The module text: `Metrics` with one field per family and a module per labelled family.
pub fn metrics_module(catalog: &Catalog, component: &str, runtime_path: &str) -> String {
    let rt = runtime_path;
    let mut fields = String::new();
    let mut binds = String::new();
    let mut modules = String::new();
    for family in settable(catalog, component) {
        let name = &family.name;
        let field = ident(name);
        let (getter, family_type, cell) = kind_parts(family.kind);
        let label_names: Vec<String> = family.labels.iter().map(|l| format!("{:?}", l.name)).collect();
        let lookup = format!("registry.{getter}({name:?}, &[{}])?", label_names.join(", "));
        fields.push_str(&doc(&family.help, 4));
        if family.labels.is_empty() {
            let _ = writeln!(fields, "    pub {field}: {rt}::metrics::{cell},");
            let _ = writeln!(binds, "            {field}: {lookup}.single(),");
            continue;
        }
        let _ = writeln!(fields, "    pub {field}: {field}::Family,");
        let _ = writeln!(binds, "            {field}: {field}::Family({lookup}),");
        let mut module = format!("/// Labels of `{name}`.\npub mod {field} {{\n");
        let mut params = Vec::new();
        let mut values = Vec::new();
        let mut indices = Vec::new();
        let all_closed = family.labels.iter().all(|l| l.values.is_some());
        for label in &family.labels {
            let arg = ident(&label.name);
            match &label.values {
                Some(allowed) => {
                    let type_name = camel(&label.name);
                    let names = variants(allowed);
                    module.push_str(&doc(&format!("Values of `{}`.", label.name), 4));
                    let _ = writeln!(
                        module,
                        "    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n    pub enum {type_name} {{"
                    );
                    for (variant, value) in names.iter().zip(allowed) {
                        let _ = writeln!(module, "        /// `{value}`\n        {variant},");
                    }
                    let _ = writeln!(module, "    }}\n\n    impl {type_name} {{");
                    let _ = writeln!(
                        module,
                        "        pub const ALL: [Self; {}] = [{}];",
                        names.len(),
                        names
                            .iter()
                            .map(|v| format!("Self::{v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let _ = writeln!(
                        module,
                        "        pub fn as_str(self) -> &'static str {{\n            match self {{"
                    );
                    for (variant, value) in names.iter().zip(allowed) {
                        let _ = writeln!(module, "                Self::{variant} => {value:?},");
                    }
                    let _ = writeln!(module, "            }}\n        }}\n\n        pub fn index(self) -> usize {{\n            self as usize\n        }}\n    }}\n");
                    params.push(format!("{arg}: {type_name}"));
                    values.push(format!("{arg}.as_str()"));
                    indices.push(format!("{arg}.index()"));
                }
                None => {
                    params.push(format!("{arg}: &str"));
                    values.push(arg.clone());
                }
            }
        }
        let _ = writeln!(module, "    /// `{name}`, by label.\n    #[derive(Debug, Clone)]\n    pub struct Family(pub {rt}::metrics::{family_type});\n\n    impl Family {{");
        if all_closed {
            // Every series exists from the start: lend it, no lock and no reference count.
            let _ = writeln!(
                module,
                "        /// The series for these labels.\n        pub fn with(&self, {}) -> &{rt}::metrics::{cell} {{",
                params.join(", ")
            );
            let _ = writeln!(module, "            self.0.get(&[{}])", indices.join(", "));
        } else {
            let _ = writeln!(
                module,
                "        /// The series for these labels.\n        pub fn with(&self, {}) -> {rt}::metrics::{cell} {{",
                params.join(", ")
            );
            let _ = writeln!(module, "            self.0.with(&[{}])", values.join(", "));
        }
        let _ = writeln!(module, "        }}\n    }}\n}}\n");
        modules.push_str(&module);
    }
    format!(
        "// Generated from obs.yaml by spec::codegen in the build script; do not edit.\n\n\
         /// Typed handles for every metric obs.yaml declares for this component.\n\
         #[derive(Debug, Clone)]\n\
         pub struct Metrics {{\n{fields}}}\n\n\
         impl Metrics {{\n\
         \x20   /// Binds every handle to its family; fails when the spec the process runs with\n\
         \x20   /// lacks a metric the binary was built with.\n\
         \x20   pub fn bind(registry: &{rt}::metrics::Registry) -> Result<Self, {rt}::metrics::MetricError> {{\n\
         \x20       Ok(Self {{\n{binds}        }})\n    }}\n}}\n\n{modules}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_as_rust_identifiers() {
        assert_eq!(camel("GET"), "Get");
        assert_eq!(camel("abnormal_close"), "AbnormalClose");
        assert_eq!(camel("5xx"), "V5xx");
        assert_eq!(variants(&["a-b".into(), "a_b".into()]), ["AB", "AB2"]);
        assert_eq!(ident("type"), "type_");
    }

    #[test]
    fn generates_a_field_per_settable_metric() {
        let spec: crate::Spec = serde_yaml::from_str(
            "service: {name: s}\nmetrics:\n  builtin: {process: {}}\n  custom:\n    - {name: a_total, type: counter, help: A., labels: [{name: type, values: [x, y]}]}\n    - {name: g, type: gauge, help: G.}\n    - {name: b_total, type: counter, help: B., labels: [{name: client, max_series: 5}]}",
        )
        .unwrap();
        let code = metrics_module(&Catalog::from_spec(&spec), "app", "::runtime");
        assert!(code.contains("pub a_total: a_total::Family,"), "{code}");
        assert!(code.contains("pub g: ::runtime::metrics::Gauge,"), "{code}");
        assert!(
            code.contains("pub fn with(&self, type_: Type) -> &::runtime::metrics::Counter"),
            "{code}"
        );
        assert!(code.contains("self.0.get(&[type_.index()])"), "{code}");
        // Open labels can create series, so they hand out an owned handle.
        assert!(
            code.contains("pub fn with(&self, client: &str) -> ::runtime::metrics::Counter"),
            "{code}"
        );
        assert!(
            !code.contains("process_cpu_seconds_total"),
            "collected metrics get no handle"
        );
    }
}
