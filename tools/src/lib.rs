//! Operator tools for a service on obs, outside the runtime so a service that links the
//! runtime never compiles a command-line parser, a progress bar or its own WebSocket client:
//! `loadtest` drives WebSocket or HTTP load and `monitor` watches logs, metrics and probes.
//! Both read the service's obs.yaml (`--spec`) for its paths, ports, log keys and defaults.

pub mod docker;
pub mod loadtest;
pub mod monitor;
pub mod monitor_cli;
pub mod spec_file;
