//! Typed metric handles and the embedded spec from the top-level obs.yaml, exactly as any
//! service on the runtime builds them.

fn main() {
    obs_build::Builder::new("../obs.yaml").compile();
}
