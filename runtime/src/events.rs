//! The runtime's own log events (request, shutdown, WebSocket sessions, jobs) under the
//! messages and levels the spec declares for them (`logging.events[].runtime`). Each is
//! emitted once, at its default level, under one target with its key as a field; the log
//! layer writes it with the declared message and level, and drops it when the declared
//! level is below the configured one.

pub use contract::model::RuntimeEvent;

/// The target every runtime event is emitted under; the level filter lets it through, so
/// that the log layer can weigh the declared level instead.
pub const TARGET: &str = "obs_runtime_event";
/// The field naming which runtime event a line is.
pub const KEY_FIELD: &str = "obs_event";

/// Emits a runtime event: `runtime_event!(INFO, RuntimeEvent::Request, status = 200, …)`,
/// the level being the event's default.
#[macro_export]
#[doc(hidden)]
macro_rules! runtime_event {
    ($level:ident, $event:expr $(, $($fields:tt)*)?) => {
        ::tracing::event!(
            target: $crate::events::TARGET,
            ::tracing::Level::$level,
            obs_event = $event.key(),
            $($($fields)*,)?
            "{}",
            $event.default_message()
        )
    };
}

/// Logs an event at the `critical` level the spec can declare (seed services name it): an
/// ERROR event with `critical = true`, written as `critical` (or `CRITICAL`).
#[macro_export]
macro_rules! critical {
    ($($arg:tt)+) => {
        ::tracing::error!(critical = true, $($arg)+)
    };
}
