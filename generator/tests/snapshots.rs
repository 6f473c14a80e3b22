//! Every file generated for `tests/fixtures/focused.good.yaml`, snapshot-tested: a reviewer
//! sees exactly how a change alters each output.

use std::path::Path;

#[test]
fn focused_fixture_renders_as_snapshotted() {
    let checked = generator::check(Path::new("tests/fixtures/focused.good.yaml")).unwrap();
    let tree = generator::render(&checked).unwrap();
    assert!(tree.files.len() >= 6, "{:?}", tree.files.keys());
    for (path, contents) in &tree.files {
        if path == "obs.schema.json" {
            continue; // the schema follows the model, not the spec; its own test covers it
        }
        insta::assert_snapshot!(format!("focused__{}", path.replace('/', "__")), contents);
    }
}
