//! The JSON Schema editors use (`generated/obs.schema.json`) accepts every spec we ship and
//! rejects what the loader rejects for shape (unknown keys, wrong types).

use std::path::PathBuf;

fn validator() -> jsonschema::Validator {
    let text = generator::targets::schema_text();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the generated schema compiles")
}

fn as_json(yaml: &str) -> serde_json::Value {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn accepts_every_shipped_spec() {
    let validator = validator();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut specs = vec![
        root.join("obs.yaml"),
        root.join("generator/tests/fixtures/focused.good.yaml"),
    ];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        specs.push(entry.unwrap().path().join("obs.yaml"));
    }
    for path in specs {
        let instance = as_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}:\n{}", path.display(), errors.join("\n"));
    }
}

#[test]
fn rejects_unknown_keys_and_wrong_types() {
    let validator = validator();
    assert!(!validator.is_valid(&as_json("service: {name: a, prot: 80}")));
    assert!(!validator.is_valid(&as_json("service: {name: a, port: eighty}")));
    assert!(!validator.is_valid(&as_json("service: {name: a}\nshutdown: {drain: 5x}")));
    assert!(!validator.is_valid(&as_json("metrics: {}")));
    assert!(validator.is_valid(&as_json("service: {name: a}")));
}
