//! `generated/elasticsearch/`: the ILM policy and the index template of the service's log
//! indices, as Elasticsearch's `PUT _ilm/policy/<name>` and `PUT _index_template/<name>`
//! take them. The runtime installs the same two documents at start-up when they are
//! missing; these files are for review and for an operator who installs them by hand.

use crate::output::Tree;
use crate::plan::Plan;

pub const POLICY_PATH: &str = "elasticsearch/ilm-policy.json";
pub const TEMPLATE_PATH: &str = "elasticsearch/index-template.json";

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

pub fn render(plan: &Plan<'_>, tree: &mut Tree) {
    let logging = &plan.loaded.spec.logging;
    let Some(es) = &logging.elasticsearch else { return };
    tree.add(POLICY_PATH, pretty(&contract::elasticsearch::ilm_policy(es)));
    tree.add(
        TEMPLATE_PATH,
        pretty(&contract::elasticsearch::index_template(logging, es)),
    );
}
