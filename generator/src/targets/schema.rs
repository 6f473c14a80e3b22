//! `generated/obs.schema.json`: the JSON Schema of obs.yaml, so editors can complete and
//! check it (obs.yaml names it in its yaml-language-server comment).

use crate::output::Tree;

pub const PATH: &str = "obs.schema.json";

pub fn text() -> String {
    let mut text = serde_json::to_string_pretty(&contract::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

pub fn render(tree: &mut Tree) {
    tree.add(PATH, text());
}
