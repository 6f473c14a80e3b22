//! Typed metric handles and the embedded spec from this service's own obs.yaml, once per
//! component: one binary runs either (`OBS_COMPONENT=api|worker`), and each binds only the
//! metrics its component declares.

fn main() {
    obs_build::Builder::new("obs.yaml").component("api").compile();
    obs_build::Builder::new("obs.yaml")
        .component("worker")
        .file_name("obs_worker.rs")
        .compile();
}
