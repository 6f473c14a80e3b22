//! Typed metric handles and the embedded spec from this service's own obs.yaml.

fn main() {
    obs_build::Builder::new("obs.yaml").compile();
}
