//! Metrics: the families the spec declares, their series, caps and exposition.

pub mod cells;
pub mod encode;
pub mod family;
pub mod native;
mod open_series;
pub mod protobuf;
pub mod registry;

pub use cells::{Counter, Gauge, Histogram};
pub use encode::{Format, Negotiated};
pub use registry::{CounterFamily, GaugeFamily, HistogramFamily, MetricError, Registry};
