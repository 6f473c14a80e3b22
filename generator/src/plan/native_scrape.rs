//! Whether a component's scrape job must negotiate native histograms, decided once for the
//! compose stack's scrape config and the Kubernetes ServiceMonitor alike.

use contract::Resolved;

/// The protocols a native-histogram job asks for, protobuf first: native buckets travel only
/// in the protobuf exposition, and naming the order keeps it whatever a release's default is.
pub const NATIVE_SCRAPE_PROTOCOLS: [&str; 5] = [
    "PrometheusProto",
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// How a component's histograms are to be scraped: whether any is native, and whether a
/// native one keeps classic buckets beside (which Prometheus stops ingesting for a histogram
/// once it has native buckets, unless told to keep them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NativeScrape {
    pub native: bool,
    pub classic_beside: bool,
}

impl NativeScrape {
    pub fn of(resolved: &Resolved, component: &str) -> Self {
        let mut scrape = NativeScrape {
            native: false,
            classic_beside: false,
        };
        for family in resolved.catalog.for_component(component).filter(|f| f.is_native()) {
            scrape.native = true;
            scrape.classic_beside |= !family.buckets.is_empty();
        }
        scrape
    }
}
