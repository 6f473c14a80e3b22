//! The dashboards of a spec as one model, with where their files go, for every target that
//! renders or describes them.

mod declared;
pub mod layout;
pub mod model;
mod overview;

pub use declared::dashboards;

/// Where Grafana reads provisioned dashboards inside its container.
pub const DASHBOARDS_DIR: &str = "/var/lib/grafana/dashboards";

/// The generated file of the dashboard `uid`.
pub fn dashboard_path(uid: &str) -> String {
    format!("grafana/dashboards/{uid}.json")
}
