//! What Elasticsearch is told about a service's logs: the index a line goes to, the ILM
//! policy that ages indices out and the index template that maps the log fields. The
//! generator writes the policy and the template under `generated/elasticsearch/`; the
//! runtime installs the same documents at start-up when they are missing.

use serde_json::{json, Map, Value};

use crate::model::{Elasticsearch, Logging};
use crate::Duration;

/// The field naming a line's stream (`metrics`, `performance`): such a line goes to
/// `<prefix>-<stream>-YYYY.MM.DD` instead of the standard index.
pub const STREAM_FIELD: &str = "stream";
/// The time field every shipped document carries (RFC 3339, UTC), whatever the line's own
/// timestamp format.
pub const TIMESTAMP_FIELD: &str = "@timestamp";
/// The stream of error and critical lines, beside their standard or stream index.
pub const ERRORS_STREAM: &str = "errors";

/// The ILM policy's name, also the template's.
pub fn policy_name(es: &Elasticsearch) -> String {
    format!("{}-logs", es.index_prefix)
}

/// The index of one stream on one UTC day: `analytics-2026.12.03`, `analytics-errors-2026.12.03`.
pub fn index_name(prefix: &str, stream: Option<&str>, (year, month, day): (i32, u8, u8)) -> String {
    match stream {
        Some(stream) => format!("{prefix}-{stream}-{year:04}.{month:02}.{day:02}"),
        None => format!("{prefix}-{year:04}.{month:02}.{day:02}"),
    }
}

/// A duration as ILM's `min_age` writes it (`d`, `h`, `m` or `s`; ILM has no weeks).
fn min_age(duration: Duration) -> String {
    let seconds = duration.as_millis() / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds > 0 && (seconds / size) * size == seconds {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// The ILM policy: hot while written, warm (read-only, merged to one segment) after
/// `ilm.warm_after`, deleted after `ilm.retention`. Daily indices take the place of
/// rollover: each day starts a new index, so no write alias is needed.
pub fn ilm_policy(es: &Elasticsearch) -> Value {
    let ilm = &es.ilm;
    json!({
        "policy": {
            "_meta": {
                "managed_by": "obs",
                "description": format!(
                    "Indices {prefix}-*: warm after {warm}, deleted after {retention}.",
                    prefix = es.index_prefix,
                    warm = min_age(ilm.warm_after),
                    retention = min_age(ilm.retention),
                ),
            },
            "phases": {
                "hot": {
                    "min_age": "0ms",
                    "actions": { "set_priority": { "priority": 100 } }
                },
                "warm": {
                    "min_age": min_age(ilm.warm_after),
                    "actions": {
                        "set_priority": { "priority": 50 },
                        "readonly": {},
                        "forcemerge": { "max_num_segments": 1 }
                    }
                },
                "delete": {
                    "min_age": min_age(ilm.retention),
                    "actions": { "delete": {} }
                }
            }
        }
    })
}

/// How Elasticsearch should map a log field, by what its name says.
pub fn field_type(name: &str, logging: &Logging) -> Value {
    let keys = &logging.keys;
    if name == TIMESTAMP_FIELD || (name == keys.timestamp && logging.timestamp_format.pattern().is_none()) {
        return json!({ "type": "date" });
    }
    if name == keys.message {
        return json!({ "type": "text", "fields": { "keyword": { "type": "keyword", "ignore_above": 1024 } } });
    }
    if name == keys.line {
        return json!({ "type": "integer" });
    }
    let kind = match name {
        "status" | "attempt" | "messages" => "integer",
        "client_ip" => "ip",
        "clean" => "boolean",
        _ if name.ends_with("_ms")
            || name.ends_with("_seconds")
            || name.ends_with("_bytes")
            || name.ends_with("_ratio")
            || name.starts_with("duration") =>
        {
            "double"
        }
        _ if name.ends_with("_count") || name == "count" || name == "suppressed" => "long",
        _ => "keyword",
    };
    json!({ "type": kind })
}

/// The index template for `<prefix>-*`: the ILM policy, one shard, and mappings for the
/// standard keys, the declared fields and the runtime's own; any other string field is a
/// keyword (searchable as a whole, aggregatable), never analysed text.
pub fn index_template(logging: &Logging, es: &Elasticsearch) -> Value {
    let keys = &logging.keys;
    let mut names: Vec<&str> = vec![TIMESTAMP_FIELD];
    names.extend(keys.all());
    names.extend(logging.fields.iter().map(String::as_str));
    names.extend([
        "service",
        "environment",
        "version",
        "replica",
        "trace_id",
        "span_id",
        "request_id",
        STREAM_FIELD,
    ]);
    for event in &logging.events {
        names.extend(event.fields.iter().map(String::as_str));
    }
    let mut properties = Map::new();
    for name in names {
        properties
            .entry(name.to_string())
            .or_insert_with(|| field_type(name, logging));
    }
    json!({
        "index_patterns": [format!("{}-*", es.index_prefix)],
        "priority": 200,
        "_meta": { "managed_by": "obs", "description": "Log lines of the service, mapped as obs.yaml declares them." },
        "template": {
            "settings": {
                "index.lifecycle.name": policy_name(es),
                "index.number_of_shards": 1
            },
            "mappings": {
                "dynamic_templates": [{
                    "strings_as_keywords": {
                        "match_mapping_type": "string",
                        "mapping": { "type": "keyword", "ignore_above": 1024 }
                    }
                }],
                "properties": properties
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logging(yaml: &str) -> Logging {
        let spec = format!("service: {{name: a}}\nlogging:\n{yaml}");
        crate::load_bytes(spec.as_bytes(), "obs.yaml").unwrap().spec.logging
    }

    #[test]
    fn indices_are_daily_per_stream() {
        assert_eq!(index_name("analytics", None, (2026, 12, 3)), "analytics-2026.12.03");
        assert_eq!(
            index_name("analytics", Some("errors"), (2026, 1, 9)),
            "analytics-errors-2026.01.09"
        );
    }

    #[test]
    fn the_policy_warms_then_deletes_at_the_spec_ages() {
        let logging = logging(
            "  elasticsearch:\n    host: es\n    index_prefix: analytics\n    ilm: {warm_after: 1w, retention: 90d}\n",
        );
        let policy = ilm_policy(logging.elasticsearch.as_ref().unwrap());
        assert_eq!(policy["policy"]["phases"]["warm"]["min_age"], "7d");
        assert_eq!(policy["policy"]["phases"]["delete"]["min_age"], "90d");
        assert_eq!(policy["policy"]["phases"]["delete"]["actions"], json!({"delete": {}}));
        let defaults = logging_defaults();
        let policy = ilm_policy(defaults.elasticsearch.as_ref().unwrap());
        assert_eq!(policy["policy"]["phases"]["warm"]["min_age"], "7d");
        assert_eq!(policy["policy"]["phases"]["delete"]["min_age"], "30d");
        assert_eq!(min_age(Duration::parse("36h").unwrap()), "36h");
        assert_eq!(min_age(Duration::parse("90s").unwrap()), "90s");
    }

    fn logging_defaults() -> Logging {
        logging("  elasticsearch:\n    host: es\n    index_prefix: analytics\n")
    }

    #[test]
    fn the_template_maps_fields_by_what_they_hold() {
        let logging = logging(
            "  keys: {message: msg}\n  fields: [request_id, latency_ms, status, client_ip, user_id]\n  \
             elasticsearch:\n    host: es\n    index_prefix: analytics\n",
        );
        let template = index_template(&logging, logging.elasticsearch.as_ref().unwrap());
        assert_eq!(template["index_patterns"], json!(["analytics-*"]));
        assert_eq!(
            template["template"]["settings"]["index.lifecycle.name"],
            "analytics-logs"
        );
        let properties = &template["template"]["mappings"]["properties"];
        assert_eq!(properties["@timestamp"]["type"], "date");
        assert_eq!(properties["timestamp"]["type"], "date");
        assert_eq!(properties["msg"]["type"], "text");
        assert_eq!(properties["level"]["type"], "keyword");
        assert_eq!(properties["latency_ms"]["type"], "double");
        assert_eq!(properties["status"]["type"], "integer");
        assert_eq!(properties["client_ip"]["type"], "ip");
        assert_eq!(properties["user_id"]["type"], "keyword");
        assert_eq!(properties["trace_id"]["type"], "keyword");
    }

    #[test]
    fn a_custom_timestamp_format_is_kept_as_a_keyword() {
        let logging = logging(
            "  timestamp_format: '[year]-[month]-[day] [hour]:[minute]:[second]'\n  \
             elasticsearch:\n    host: es\n    index_prefix: analytics\n",
        );
        let template = index_template(&logging, logging.elasticsearch.as_ref().unwrap());
        let properties = &template["template"]["mappings"]["properties"];
        assert_eq!(properties["timestamp"]["type"], "keyword");
        assert_eq!(properties["@timestamp"]["type"], "date");
    }
}
