//! The runtime a Rust service links to serve exactly what its obs.yaml declares: the
//! declared metrics (and only those) on `/metrics`, health and readiness with the bodies
//! the spec names, JSON logs with request and trace ids, OTLP traces, HTTP and WebSocket
//! instrumentation, and a graceful shutdown that drops nothing it accepted.

pub mod base64;
pub mod builtins;
pub mod client_ip;
pub mod config;
pub mod connections;
pub mod context;
pub mod elasticsearch;
pub mod embedded;
pub mod errors;
pub mod events;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod http_client;
pub mod jobs;
pub mod logging;
pub mod loki;
pub mod metrics;
pub mod observability;
pub mod postgres_ping;
pub mod pushgateway;
pub mod redis_ping;
pub mod routes;
pub mod server;
pub mod shipping;
pub mod shutdown;
pub mod throttle;
pub mod traces;
pub mod websocket;

pub use config::ServiceConfig;
pub use embedded::EmbeddedSpec;
pub use observability::{LoggingError, Observability, StartError};
pub use server::{serve, serve_on, ShutdownReport};
