//! The service's own obs.yaml into typed handles and the embedded spec.

fn main() {
    obs_build::Builder::new("obs.yaml").compile();
}
