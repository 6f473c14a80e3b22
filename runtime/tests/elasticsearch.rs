//! Elasticsearch shipping against a local server that speaks the parts of Elasticsearch's
//! REST protocol the runtime uses: `_bulk` NDJSON action/source pairs answered item by item
//! as Elasticsearch answers them (created, rejected with 400, refused with 429), and GET/PUT
//! of ILM policies and index templates. Lines land in their daily, error and stream indices,
//! redacted, after the policy and the template; only failed items are sent again, rejected
//! ones are counted in the declared metric; a server that is down for a while loses nothing
//! that fit in the queue.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use runtime::elasticsearch::{ElasticsearchSender, Target};
use runtime::shipping::Dropped;
use runtime::{Observability, ServiceConfig};
use serde_json::{json, Map, Value};

mod common;
use common::{capture, wait_until};

/// What the server holds and how it misbehaves.
#[derive(Default)]
struct Store {
    indices: BTreeMap<String, Vec<Value>>,
    policies: BTreeMap<String, Value>,
    templates: BTreeMap<String, Value>,
    /// Requests in arrival order: `PUT /_ilm/policy/x`, `POST /_bulk`…
    log: Vec<String>,
    authorization: Vec<String>,
    /// Answer the next this many `_bulk` requests with a whole 429.
    busy_requests: usize,
    /// Messages whose item is refused with 429 the first time it arrives.
    busy_once: HashSet<String>,
    /// Answer PUTs with 403, as for a user without the `manage_ilm` privilege.
    forbid_puts: bool,
}

type Shared = Arc<Mutex<Store>>;

fn note(store: &Shared, headers: &HeaderMap, request: String) {
    let mut store = store.lock().unwrap();
    store.log.push(request);
    if let Some(auth) = headers.get("authorization") {
        store.authorization.push(auth.to_str().unwrap().to_string());
    }
}

async fn bulk(State(store): State<Shared>, headers: HeaderMap, body: String) -> (StatusCode, Json<Value>) {
    note(&store, &headers, "POST /_bulk".into());
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert!(body.ends_with('\n'), "a _bulk body ends with a newline");
    let mut store = store.lock().unwrap();
    if store.busy_requests > 0 {
        store.busy_requests -= 1;
        let error = json!({"error": {"type": "es_rejected_execution_exception"}, "status": 429});
        return (StatusCode::TOO_MANY_REQUESTS, Json(error));
    }
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len() % 2, 0, "action and source pairs");
    let mut items = Vec::new();
    let mut errors = false;
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).expect("an action line");
        let index = action["create"]["_index"]
            .as_str()
            .expect("a create action with an index")
            .to_string();
        let source: Value = serde_json::from_str(pair[1]).expect("a JSON source");
        let message = source["message"].as_str().unwrap_or_default().to_string();
        let item = if message == "poison" {
            errors = true;
            json!({"create": {"_index": index, "status": 400, "error": {
                "type": "document_parsing_exception", "reason": "failed to parse field [status]"}}})
        } else if store.busy_once.remove(&message) {
            errors = true;
            json!({"create": {"_index": index, "status": 429, "error": {"type": "es_rejected_execution_exception"}}})
        } else {
            store.indices.entry(index.clone()).or_default().push(source);
            json!({"create": {"_index": index, "_id": "x", "status": 201, "result": "created"}})
        };
        items.push(item);
    }
    (
        StatusCode::OK,
        Json(json!({"took": 3, "errors": errors, "items": items})),
    )
}

/// Which documents a route serves.
type Documents = fn(&mut Store) -> &mut BTreeMap<String, Value>;

fn policies(store: &mut Store) -> &mut BTreeMap<String, Value> {
    &mut store.policies
}

fn templates(store: &mut Store) -> &mut BTreeMap<String, Value> {
    &mut store.templates
}

/// GET (404 when missing, as Elasticsearch answers) and PUT of named documents.
fn documents(kind: &'static str, pick: Documents) -> axum::routing::MethodRouter<Shared> {
    get(move |State(store): State<Shared>, Path(name): Path<String>, headers: HeaderMap| async move {
        note(&store, &headers, format!("GET {kind} {name}"));
        let mut store = store.lock().unwrap();
        match pick(&mut store).get(&name) {
            Some(found) => (StatusCode::OK, Json(json!({ name: found }))),
            None => (StatusCode::NOT_FOUND, Json(json!({"error": "resource_not_found_exception", "status": 404}))),
        }
    })
    .put(
        move |State(store): State<Shared>, Path(name): Path<String>, headers: HeaderMap, Json(body): Json<Value>| async move {
            note(&store, &headers, format!("PUT {kind} {name}"));
            let mut store = store.lock().unwrap();
            if store.forbid_puts {
                return (StatusCode::FORBIDDEN, Json(json!({"error": "security_exception", "status": 403})));
            }
            pick(&mut store).insert(name, body);
            (StatusCode::OK, Json(json!({"acknowledged": true})))
        },
    )
}

/// Serves the store on `listener`.
fn serve(listener: tokio::net::TcpListener, store: Shared) -> tokio::task::JoinHandle<()> {
    let app = Router::new()
        .route("/_bulk", post(bulk))
        .route("/_ilm/policy/{name}", documents("policy", policies))
        .route("/_index_template/{name}", documents("template", templates))
        .with_state(store);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

async fn server() -> (SocketAddr, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let store = Shared::default();
    serve(listener, store.clone());
    (address, store)
}

/// Today's date as the indices write it; a test near midnight UTC accepts either day.
fn days() -> Vec<String> {
    let day = |at: time::OffsetDateTime| format!("{:04}.{:02}.{:02}", at.year(), u8::from(at.month()), at.day());
    let now = time::OffsetDateTime::now_utc();
    let mut days = vec![
        day(now - time::Duration::minutes(1)),
        day(now + time::Duration::minutes(1)),
    ];
    days.dedup();
    days
}

/// The documents of `<prefix>-<stream>-<day>` (no stream: the standard index), any of today's days.
fn index(store: &Shared, stream: Option<&str>) -> Vec<Value> {
    let store = store.lock().unwrap();
    days()
        .iter()
        .flat_map(|day| {
            let name = match stream {
                Some(stream) => format!("analytics-{stream}-{day}"),
                None => format!("analytics-{day}"),
            };
            store.indices.get(&name).cloned().unwrap_or_default()
        })
        .collect()
}

fn messages(documents: &[Value]) -> Vec<String> {
    documents
        .iter()
        .map(|d| d["message"].as_str().unwrap().to_string())
        .collect()
}

fn spec(extra: &str) -> contract::Spec {
    let yaml = format!(
        "service: {{name: analytics, version: 1.0.0, environment: test}}\n\
         logging:\n  redact: [password]\n  elasticsearch:\n    enabled: 'true'\n    host: ${{ES_HOST}}\n    \
         port: ${{ES_PORT}}\n    index_prefix: analytics\n    streams: [metrics, performance]\n{extra}"
    );
    contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec
}

fn environment(address: SocketAddr, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Clone {
    let mut vars: Vec<(String, String)> = vec![
        ("ES_HOST".into(), address.ip().to_string()),
        ("ES_PORT".into(), address.port().to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    move |var: &str| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
}

/// The runtime shipping to the server at `address` as `spec_extra` adds to the spec, its
/// subscriber on this thread.
fn shipping_to(
    address: SocketAddr,
    spec_extra: &str,
    vars: &[(&str, &str)],
) -> Result<(Observability, tracing::subscriber::DefaultGuard), runtime::LoggingError> {
    let env = environment(address, vars);
    let config = ServiceConfig::resolve(spec(spec_extra), &env).unwrap();
    let obs = Observability::new(config, &env).unwrap();
    let (writer, _buffer) = capture();
    let guard = tracing::subscriber::set_default(obs.subscriber(writer, &env)?);
    Ok((obs, guard))
}

/// What turns authentication on.
const AUTH: &str = "    auth: true\n    user: analytics\n    password: ${ES_PASSWORD}\n";

#[tokio::test]
async fn lines_land_in_their_daily_error_and_stream_indices_redacted_after_the_policy_and_template() {
    let (address, store) = server().await;
    let (obs, _guard) = shipping_to(address, "", &[]).unwrap();
    let logging = spec("").logging;
    let es = logging.elasticsearch.clone().unwrap();

    tracing::info!(password = "hunter2", user_id = "u-1", "signed in");
    tracing::error!(table = "events", "insert failed");
    tracing::info!(stream = "metrics", events_per_second = 412.5, "ingest rate");
    tracing::info!(stream = "performance", query_ms = 31, "slow path");
    tracing::info!(stream = "nonsense", "not a declared stream");
    runtime::critical!("disk gone");
    obs.flush_logs().await;

    assert_eq!(
        messages(&index(&store, None)),
        ["signed in", "insert failed", "not a declared stream", "disk gone"]
    );
    assert_eq!(messages(&index(&store, Some("errors"))), ["insert failed", "disk gone"]);
    assert_eq!(messages(&index(&store, Some("metrics"))), ["ingest rate"]);
    assert_eq!(messages(&index(&store, Some("performance"))), ["slow path"]);
    let signed_in = &index(&store, None)[0];
    assert_eq!(signed_in["password"], "[REDACTED]", "redacted before it leaves");
    assert_eq!(signed_in["user_id"], "u-1");
    assert_eq!(signed_in["service"], "analytics");
    assert!(signed_in["@timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(index(&store, Some("errors"))[1]["level"], "critical");

    let store = store.lock().unwrap();
    assert_eq!(
        store.policies["analytics-logs"],
        contract::elasticsearch::ilm_policy(&es)
    );
    assert_eq!(
        store.templates["analytics-logs"],
        contract::elasticsearch::index_template(&logging, &es)
    );
    let first_bulk = store.log.iter().position(|r| r == "POST /_bulk").unwrap();
    let put_policy = store.log.iter().position(|r| r == "PUT policy analytics-logs").unwrap();
    let put_template = store
        .log
        .iter()
        .position(|r| r == "PUT template analytics-logs")
        .unwrap();
    assert!(
        put_policy < put_template && put_template < first_bulk,
        "{:?}",
        store.log
    );
    assert!(store.authorization.is_empty(), "no credentials while auth is off");
}

#[tokio::test]
async fn only_failed_items_are_sent_again_and_rejected_ones_are_counted_in_the_metric() {
    let (address, store) = server().await;
    store.lock().unwrap().busy_once.insert("busy".into());
    let (obs, _guard) = shipping_to(address, "", &[]).unwrap();
    for message in ["first", "poison", "busy", "last"] {
        tracing::info!("{message}");
    }
    obs.flush_logs().await;
    assert_eq!(messages(&index(&store, None)), ["first", "last"]);
    // The 429 item waits out the backoff and arrives once; the rejected one never does.
    assert!(
        wait_until(Duration::from_secs(10), || index(&store, None).len() == 3).await,
        "{:?}",
        store.lock().unwrap().log
    );
    obs.flush_logs().await;
    assert_eq!(messages(&index(&store, None)), ["first", "last", "busy"]);
    let exposition = obs.registry.encode(runtime::metrics::Format::Text);
    assert!(
        exposition.contains("obs_log_lines_dropped_total{sink=\"elasticsearch\",reason=\"rejected\"} 1"),
        "{exposition}"
    );
    assert!(exposition.contains("obs_log_lines_dropped_total{sink=\"elasticsearch\",reason=\"queue_full\"} 0"));
}

fn sender(address: SocketAddr) -> ElasticsearchSender {
    let spec = spec("");
    let es = spec.logging.elasticsearch.clone().unwrap();
    runtime::elasticsearch::start(
        runtime::http_client::HttpClient::new(None).unwrap(),
        Target {
            base_url: format!("http://{address}"),
            prefix: "analytics".into(),
            streams: vec!["metrics".into()],
            headers: Vec::new(),
            policy: ("analytics-logs".into(), contract::elasticsearch::ilm_policy(&es)),
            template: (
                "analytics-logs".into(),
                contract::elasticsearch::index_template(&spec.logging, &es),
            ),
        },
        Dropped::default(),
    )
}

fn line(message: &str) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("level".into(), json!("info"));
    line.insert("message".into(), json!(message));
    line
}

#[tokio::test]
async fn a_server_down_for_a_while_loses_nothing_that_fit_in_the_queue() {
    // An address nothing listens on yet.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let shipping = sender(address);
    for n in 0..1_200 {
        // Never waits: a full queue would drop, a down server only delays.
        shipping.send(&line(&format!("line {n}")), false);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store = Shared::default();
    store.lock().unwrap().busy_requests = 1;
    serve(tokio::net::TcpListener::bind(address).await.unwrap(), store.clone());
    assert!(
        wait_until(Duration::from_secs(60), || index(&store, None).len() == 1_200).await,
        "{} of 1200 arrived",
        index(&store, None).len()
    );
    shipping.flush(Duration::from_secs(5)).await;
    let arrived = messages(&index(&store, None));
    let expected: Vec<String> = (0..1_200).map(|n| format!("line {n}")).collect();
    assert_eq!(arrived, expected, "every line, once, in order");
    assert_eq!(shipping.dropped().total(), 0);
}

#[tokio::test]
async fn without_the_right_to_install_the_policy_lines_still_ship() {
    let (address, store) = server().await;
    store.lock().unwrap().forbid_puts = true;
    let shipping = sender(address);
    shipping.send(&line("kept anyway"), false);
    shipping.flush(Duration::from_secs(5)).await;
    assert_eq!(messages(&index(&store, None)), ["kept anyway"]);
    assert!(store.lock().unwrap().policies.is_empty());
}

#[tokio::test]
async fn credentials_go_with_every_request_when_auth_is_on() {
    let (address, store) = server().await;
    let (obs, _guard) = shipping_to(address, AUTH, &[("ES_PASSWORD", "s3cret")]).unwrap();
    tracing::info!("authenticated");
    obs.flush_logs().await;
    assert_eq!(messages(&index(&store, None)), ["authenticated"]);
    let store = store.lock().unwrap();
    // base64("analytics:s3cret")
    assert!(store
        .authorization
        .iter()
        .all(|a| a == "Basic YW5hbHl0aWNzOnMzY3JldA=="));
    assert_eq!(store.authorization.len(), store.log.len(), "{:?}", store.log);
}

#[tokio::test]
async fn a_port_written_into_the_host_stops_the_start() {
    let (address, _store) = server().await;
    let vars = [("ES_HOST", "127.0.0.1:9200")];
    let env = move |var: &str| {
        vars.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
            .or_else(|| (var == "ES_PORT").then(|| address.port().to_string()))
    };
    let config = ServiceConfig::resolve(spec(""), env).unwrap();
    let obs = Observability::new(config, env).unwrap();
    let (writer, _buffer) = capture();
    let Err(error) = obs.subscriber(writer, env) else {
        panic!("a host with a port must stop the start")
    };
    assert!(error.to_string().contains("holds a `:`"), "{error}");
}

#[tokio::test]
async fn auth_without_a_password_stops_the_start() {
    let (address, _store) = server().await;
    let Err(error) = shipping_to(address, AUTH, &[]) else {
        panic!("auth without a password must stop the start")
    };
    let error = error.to_string();
    assert!(error.contains("logging.elasticsearch.password"), "{error}");
}
