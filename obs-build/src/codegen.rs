//! The Rust a service compiles against: one typed handle per metric its obs.yaml declares
//! for the component, closed label sets as enums, and the spec itself embedded. Built as
//! tokens (quote) and printed by prettyplease, so the output always parses and every name
//! taken from the spec is a legal identifier that no keyword can capture.

use heck::ToUpperCamelCase;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use contract::catalog::{BuiltinGroup, Catalog, Family, Origin};
use contract::model::MetricType;

/// Keywords that cannot be raw identifiers either; they get a trailing underscore.
const NOT_RAW: [&str; 5] = ["self", "Self", "super", "crate", "_"];
/// Names the generated module defines itself; a metric by one of them gets a trailing `_`.
const GENERATED_ITEMS: [&str; 7] = [
    "Metrics",
    "SPEC",
    "SPEC_YAML",
    "SPEC_FILE",
    "COMPONENT",
    "generated",
    "log_fields",
];

/// What the generated module embeds besides the handles.
#[derive(Debug, Clone)]
pub struct Embedded<'a> {
    /// The spec's text, served unless the process is told otherwise.
    pub yaml: &'a str,
    /// The spec's file name, for messages.
    pub file: &'a str,
    pub component: &'a str,
    /// The fields obs.yaml declares for log lines (`logging.fields`).
    pub log_fields: &'a [String],
}

/// `name` as an identifier: characters Rust does not allow become `_`, keywords become raw
/// identifiers (`r#type`) or, where Rust forbids that, get a trailing `_`.
pub fn ident(name: &str) -> Ident {
    let mut text: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_digit()) {
        text.insert(0, '_');
    }
    if NOT_RAW.contains(&text.as_str()) || GENERATED_ITEMS.contains(&text.as_str()) {
        return format_ident!("{text}_");
    }
    if syn::parse_str::<Ident>(&text).is_ok() {
        Ident::new(&text, Span::call_site())
    } else {
        Ident::new_raw(&text, Span::call_site())
    }
}

/// `value` as a type or variant name: UpperCamelCase, `V` before a leading digit.
pub fn type_name(value: &str) -> String {
    let mut name = value.to_upper_camel_case();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'V');
    }
    name
}

/// Distinct names for `values`, numbering the later of any two that coincide; `taken`
/// names are never produced.
fn distinct(values: &[String], taken: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for value in values {
        let base = type_name(value);
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) || taken.contains(&name.as_str()) {
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

/// Families code can update: everything but the process collector's.
fn settable<'a>(catalog: &'a Catalog, component: &'a str) -> impl Iterator<Item = &'a Family> + 'a {
    catalog
        .for_component(component)
        .filter(|f| f.origin != Origin::Builtin(BuiltinGroup::Process))
}

/// The module of one labelled family: an enum per closed label and `Family::with`.
fn family_module(family: &Family, rt: &syn::Path) -> TokenStream {
    let (_, family_type, cell) = kind_parts(family.kind);
    let (family_type, cell) = (format_ident!("{family_type}"), format_ident!("{cell}"));
    let module = ident(&family.name);
    let module_doc = format!(" Labels of `{}`.", family.name);
    let family_doc = format!(" `{}`, by label.", family.name);
    let label_types = distinct(
        &family.labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
        &["Family", "Self"],
    );
    let mut enums = Vec::new();
    let mut params = Vec::new();
    let mut as_values = Vec::new();
    let mut indices = Vec::new();
    for (label, type_text) in family.labels.iter().zip(&label_types) {
        let arg = ident(&label.name);
        match &label.values {
            Some(allowed) => {
                let type_ident = format_ident!("{type_text}");
                let variants: Vec<Ident> = distinct(allowed, &["Self"])
                    .iter()
                    .map(|v| format_ident!("{v}"))
                    .collect();
                let variant_docs = allowed.iter().map(|v| format!(" `{v}`"));
                let enum_doc = format!(" Values of `{}`.", label.name);
                let count = variants.len();
                enums.push(quote! {
                    #[doc = #enum_doc]
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
                    pub enum #type_ident {
                        #( #[doc = #variant_docs] #variants, )*
                    }

                    impl #type_ident {
                        /// Every value, in the spec's order.
                        pub const ALL: [Self; #count] = [ #( Self::#variants ),* ];

                        /// The label value as exposed.
                        pub fn as_str(self) -> &'static str {
                            match self { #( Self::#variants => #allowed, )* }
                        }

                        /// The position in [`Self::ALL`].
                        pub fn index(self) -> usize {
                            self as usize
                        }
                    }
                });
                params.push(quote!(#arg: #type_ident));
                as_values.push(quote!(#arg.as_str()));
                indices.push(quote!(#arg.index()));
            }
            None => {
                params.push(quote!(#arg: &str));
                as_values.push(quote!(#arg));
            }
        }
    }
    let all_closed = family.labels.iter().all(|l| l.values.is_some());
    // Every series of a closed family exists from the start: lend it, no lock and no
    // reference count. Open labels can create series, so they hand out an owned handle.
    let with = if all_closed {
        quote! {
            /// The series for these labels.
            pub fn with(&self, #(#params),*) -> &#rt::metrics::#cell {
                self.0.get(&[#(#indices),*])
            }
        }
    } else {
        quote! {
            /// The series for these labels.
            pub fn with(&self, #(#params),*) -> #rt::metrics::#cell {
                self.0.with(&[#(#as_values),*])
            }
        }
    };
    quote! {
        #[doc = #module_doc]
        pub mod #module {
            #(#enums)*

            #[doc = #family_doc]
            #[derive(Debug, Clone)]
            pub struct Family(pub #rt::metrics::#family_type);

            impl Family {
                #with
            }
        }
    }
}

/// The generated module's source text.
pub fn module(catalog: &Catalog, embedded: &Embedded<'_>, runtime_path: &str) -> Result<String, String> {
    let rt: syn::Path =
        syn::parse_str(runtime_path).map_err(|e| format!("`{runtime_path}` is not a Rust path to the runtime: {e}"))?;
    let mut fields = Vec::new();
    let mut binds = Vec::new();
    let mut modules = Vec::new();
    for family in settable(catalog, embedded.component) {
        let name = family.name.as_str();
        let field = ident(name);
        let (getter, _, cell) = kind_parts(family.kind);
        let (getter, cell) = (format_ident!("{getter}"), format_ident!("{cell}"));
        let label_names = family.labels.iter().map(|l| l.name.as_str());
        let lookup = quote!(registry.#getter(#name, &[#(#label_names),*])?);
        let help = format!(" {}", family.help.replace('\n', " "));
        if family.labels.is_empty() {
            fields.push(quote!(#[doc = #help] pub #field: #rt::metrics::#cell,));
            binds.push(quote!(#field: #lookup.single(),));
        } else {
            fields.push(quote!(#[doc = #help] pub #field: #field::Family,));
            binds.push(quote!(#field: #field::Family(#lookup),));
            modules.push(family_module(family, &rt));
        }
    }
    let (yaml, file, component) = (embedded.yaml, embedded.file, embedded.component);
    let setters = embedded.log_fields.iter().map(|name| {
        let setter = ident(name);
        let doc = format!(
            " Puts `{name}` on every later line of the request, WebSocket session or job this runs in; false outside one."
        );
        quote! {
            #[doc = #doc]
            pub fn #setter(value: impl ::core::convert::Into<#rt::context::FieldValue>) -> bool {
                #rt::context::record(#name, value)
            }
        }
    });
    // Wrapped so that a service using only some handles gets no dead-code warnings.
    let tokens = quote! {
        pub use self::generated::*;

        #[allow(dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals, clippy::all)]
        mod generated {
        /// The obs.yaml this binary was built from; served unless `OBS_SPEC` names another.
        pub const SPEC_YAML: &str = #yaml;
        /// Where the embedded spec was read from.
        pub const SPEC_FILE: &str = #file;
        /// The component these handles are for.
        pub const COMPONENT: &str = #component;
        /// The embedded spec, as the runtime takes it.
        pub const SPEC: #rt::EmbeddedSpec = #rt::EmbeddedSpec {
            yaml: SPEC_YAML,
            file: SPEC_FILE,
            component: COMPONENT,
        };

        /// Typed handles for every metric obs.yaml declares for this component.
        #[derive(Debug, Clone)]
        pub struct Metrics {
            #(#fields)*
        }

        impl Metrics {
            /// Binds every handle to its family; fails when the spec the process runs with
            /// lacks a metric the binary was built with.
            pub fn bind(registry: &#rt::metrics::Registry) -> ::core::result::Result<Self, #rt::metrics::MetricError> {
                Ok(Self { #(#binds)* })
            }
        }

        #(#modules)*

        /// The log fields obs.yaml declares (`logging.fields`), one setter each: a field the
        /// spec does not declare has none, so it does not compile.
        pub mod log_fields {
            #(#setters)*
        }
        }
    };
    let file = syn::parse2::<syn::File>(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(format!(
        "// @generated by obs-build from {}; do not edit.\n\n{}",
        embedded.file,
        prettyplease::unparse(&file)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(yaml: &str) -> String {
        let spec: contract::Spec = serde_yaml_from(yaml);
        let embedded = Embedded {
            yaml,
            file: "obs.yaml",
            component: "app",
            log_fields: &spec.logging.fields,
        };
        module(&Catalog::from_spec(&spec), &embedded, "::runtime").unwrap()
    }

    fn serde_yaml_from(yaml: &str) -> contract::Spec {
        contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec
    }

    #[test]
    fn names_values_as_rust_identifiers() {
        assert_eq!(type_name("GET"), "Get");
        assert_eq!(type_name("abnormal_close"), "AbnormalClose");
        assert_eq!(type_name("5xx"), "V5xx");
        assert_eq!(distinct(&["a-b".into(), "a_b".into()], &[]), ["AB", "AB2"]);
        assert_eq!(distinct(&["self".into()], &["Self"]), ["Self2"]);
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(ident("crate").to_string(), "crate_");
        assert_eq!(ident("http_requests_total").to_string(), "http_requests_total");
    }

    #[test]
    fn generates_a_setter_per_declared_log_field_only() {
        let code = generate("service: {name: s}\nlogging: {fields: [user_id, type]}");
        assert!(code.contains("pub mod log_fields"), "{code}");
        assert!(code.contains("pub fn user_id(\n"), "{code}");
        assert!(
            code.contains("value: impl ::core::convert::Into<::runtime::context::FieldValue>,"),
            "{code}"
        );
        assert!(
            code.contains("::runtime::context::record(\"user_id\", value)"),
            "{code}"
        );
        assert!(code.contains("pub fn r#type("), "a keyword is a raw identifier: {code}");
        assert!(
            !code.contains("fn workspace_id"),
            "undeclared: no setter, so no compile: {code}"
        );
    }

    #[test]
    fn generates_a_field_per_settable_metric() {
        let code = generate(
            "service: {name: s}\nmetrics:\n  builtin: {process: {}}\n  custom:\n    - {name: a_total, type: counter, help: A., labels: [{name: type, values: [x, y]}]}\n    - {name: g, type: gauge, help: G.}\n    - {name: b_total, type: counter, help: B., labels: [{name: client, max_series: 5}]}",
        );
        assert!(code.contains("pub a_total: a_total::Family,"), "{code}");
        assert!(code.contains("pub g: ::runtime::metrics::Gauge,"), "{code}");
        assert!(
            code.contains("pub fn with(&self, r#type: Type) -> &::runtime::metrics::Counter"),
            "{code}"
        );
        assert!(code.contains("self.0.get(&[r#type.index()])"), "{code}");
        assert!(
            code.contains("pub fn with(&self, client: &str) -> ::runtime::metrics::Counter"),
            "{code}"
        );
        assert!(code.contains("pub const COMPONENT: &str = \"app\";"), "{code}");
        assert!(
            !code.contains("process_cpu_seconds_total"),
            "collected metrics get no handle"
        );
    }

    #[test]
    fn keyword_and_colliding_names_still_parse() {
        let code = generate(
            "service: {name: s}\nmetrics:\n  custom:\n    - {name: fn_total, type: counter, help: F., labels: [{name: self, values: [self, Self, crate, '1']}, {name: family, values: [a]}, {name: Family, values: [b]}]}",
        );
        syn::parse_file(&code).unwrap();
        assert!(code.contains("pub enum Self2"), "{code}");
        assert!(code.contains("pub enum Family2"), "{code}");
        assert!(code.contains("self_: Self2"), "{code}");
    }

    #[test]
    fn metrics_named_like_generated_items_or_prelude_types_do_not_capture_them() {
        let code = generate(
            "service: {name: s}\nmetrics:\n  custom:\n    - {name: Metrics, type: gauge, help: M., labels: [{name: Result, values: [Ok]}]}\n    - {name: Result, type: gauge, help: R.}\n    - {name: SPEC, type: gauge, help: S.}",
        );
        syn::parse_file(&code).unwrap();
        assert!(code.contains("pub mod Metrics_"), "{code}");
        assert!(code.contains("pub SPEC_: ::runtime::metrics::Gauge"), "{code}");
        assert!(code.contains("-> ::core::result::Result<Self"), "{code}");
    }
}
