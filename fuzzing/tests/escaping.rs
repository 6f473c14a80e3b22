//! Property: any text a user can put into obs.yaml that obs copies into generated YAML,
//! JSON, PromQL or promtool tests comes out escaped: every file parses, promtool accepts
//! the rules and runs the tests, and the value reads back unchanged. And whatever string a
//! label value is, each of obs's writers quotes it so it reads back the same.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;

/// Text a person might type: printable characters, quotes, backslashes, YAML and PromQL
/// punctuation, non-ASCII; not template syntax (`{{`), which alert-template-invalid refuses.
fn user_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-zA-Z0-9 "'\\:#&*!|>%@`,\[\]{}é€🚀-]{1,24}"#)
        .unwrap()
        .prop_filter("template syntax is refused by design", |s| {
            !s.contains("{{") && !s.trim().is_empty()
        })
}

fn quoted(text: &str) -> String {
    // A JSON string is a YAML double-quoted scalar with the same escapes.
    serde_json::to_string(text).unwrap()
}

fn spec(description: &str, team: &str, help: &str, kind: &str, summary: &str) -> String {
    format!(
        r#"service:
  name: prop
  description: {description}
  labels: {{team: {team}}}
  runbook_url: https://runbooks.example.com/{{alert}}
metrics:
  custom:
    - name: events_total
      type: counter
      help: {help}
      labels: [{{name: kind, values: [{kind}, other]}}]
alerts:
  - group: prop
    rules:
      - name: EventsStopped
        threshold: {{query: "sum(rate(events_total[5m]))", below: 1}}
        severity: warning
        summary: {summary}
        description: No events.
slos:
  - name: events
    objective: 99
    sli:
      errors: 'events_total{{kind="other"}}'
      total: events_total
"#,
        description = quoted(description),
        team = quoted(team),
        help = quoted(help),
        kind = quoted(kind),
        summary = quoted(summary),
    )
}

fn promtool(args: &[&str]) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool is installed");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn yml_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path().display().to_string()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn user_text_survives_every_generated_format(
        description in user_text(),
        team in user_text(),
        help in user_text(),
        kind in user_text(),
        summary in user_text(),
    ) {
        prop_assume!(kind.trim() != "other");
        let text = spec(&description, &team, &help, &kind, &summary);
        let loaded = contract::load_bytes(text.as_bytes(), "prop.yaml").unwrap();
        let checked = match generator::Checked::new(loaded) {
            Ok(checked) => checked,
            Err(error) => panic!("a spec of plain text is refused:\n{error}\n{text}"),
        };
        let tree = generator::render(&checked).unwrap();
        let dir = tempfile::tempdir().unwrap();
        generator::output::write(&tree, dir.path()).unwrap();
        for (path, contents) in &tree.files {
            if path.ends_with(".json") {
                serde_json::from_str::<serde_json::Value>(contents).unwrap();
            }
            if path.ends_with(".yml") || path.ends_with(".yaml") {
                serde_yaml::from_str::<serde_yaml::Value>(contents).unwrap();
            }
        }
        let alerts: serde_yaml::Value =
            serde_yaml::from_str(&tree.files["prometheus/rules/alerts.yml"]).unwrap();
        let rule = &alerts["groups"][0]["rules"][0];
        prop_assert_eq!(rule["annotations"]["summary"].as_str(), Some(summary.trim()));
        prop_assert_eq!(rule["labels"]["team"].as_str(), Some(team.as_str()));
        let rules = yml_files(&dir.path().join("prometheus/rules"));
        let mut args = vec!["check", "rules"];
        args.extend(rules.iter().map(String::as_str));
        let (ok, output) = promtool(&args);
        prop_assert!(ok, "{}", output);
        for test in yml_files(&dir.path().join("prometheus/tests")) {
            let (ok, output) = promtool(&["test", "rules", &test]);
            prop_assert!(ok, "{}:\n{}", test, output);
        }
    }

    #[test]
    fn any_label_value_reads_back_from_every_writer(value in any::<String>()) {
        obs_fuzz::label_value(value.as_bytes());
    }

    #[test]
    fn any_exposition_text_is_read_or_refused(text in any::<String>()) {
        obs_fuzz::exposition(text.as_bytes());
    }
}
