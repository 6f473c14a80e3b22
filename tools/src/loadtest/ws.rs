//! WebSocket load: sockets opened at a rate, each sending at a rate and timing every reply,
//! or held idle to measure what open connections cost the server.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::{
    histogram, record, Collected, Latency, Progress, Summary, WsLoad, MAX_DURATION, MAX_SOCKETS, REPLY_TIMEOUT,
};

/// Checks a profile's bounds.
pub fn validate_ws(load: &WsLoad) -> Result<(), String> {
    if load.url.starts_with("wss://") {
        // The WebSocket client here is built without TLS; refuse rather than fail every connect.
        return Err(format!(
            "`{}`: wss:// is not supported by loadtest; load the service's ws:// listener",
            load.url
        ));
    }
    if !load.url.starts_with("ws://") {
        return Err(format!("`{}` is not a ws:// URL", load.url));
    }
    if load.sockets == 0 || load.sockets > MAX_SOCKETS {
        return Err(format!("--sockets must be 1 to {MAX_SOCKETS}"));
    }
    if !(load.rate > 0.0 && load.rate.is_finite()) {
        return Err("--rate must be a positive number of sockets per second".into());
    }
    if !(load.send_rate >= 0.0 && (load.send_rate <= 1000.0 || load.send_rate == f64::INFINITY)) {
        return Err("--send-rate must be 0 to 1000 messages per second per socket, or inf".into());
    }
    if load.duration.is_zero() || load.duration > MAX_DURATION {
        return Err(format!("--duration must be 1 to {} seconds", MAX_DURATION.as_secs()));
    }
    Ok(())
}

/// How a socket paces its messages.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pace {
    Idle,
    Every(Duration),
    /// The next message as soon as the last one's reply arrives.
    Unpaced,
}

async fn ws_socket(
    url: String,
    deadline: tokio::time::Instant,
    pace: Pace,
    progress: Arc<Progress>,
    collected: Arc<Mutex<Collected>>,
) {
    let connect = tokio::time::timeout(REPLY_TIMEOUT, tokio_tungstenite::connect_async(&url)).await;
    let mut socket = match connect {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(_)) | Err(_) => {
            progress.failed.fetch_add(1, Ordering::Relaxed);
            collected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .error("connect", &progress);
            return;
        }
    };
    progress.opened.fetch_add(1, Ordering::Relaxed);
    let mut latencies = histogram();
    let mut failure: Option<&'static str> = None;
    if pace != Pace::Idle {
        let mut tick = match pace {
            Pace::Every(every) => Some(tokio::time::interval(every)),
            _ => None,
        };
        let mut sequence = 0u64;
        loop {
            match tick.as_mut() {
                Some(tick) => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = tick.tick() => {}
                },
                None if tokio::time::Instant::now() >= deadline => break,
                None => {}
            }
            sequence += 1;
            let sent = Instant::now();
            // JSON, so services that parse their messages (examples/ws-service) accept it.
            if socket
                .send(Message::Text(format!(r#"{{"sequence":{sequence}}}"#).into()))
                .await
                .is_err()
            {
                failure = Some("send");
                break;
            }
            progress.sent.fetch_add(1, Ordering::Relaxed);
            let reply = loop {
                match tokio::time::timeout(REPLY_TIMEOUT, socket.next()).await {
                    Ok(Some(Ok(Message::Text(_) | Message::Binary(_)))) => break Ok(()),
                    Ok(Some(Ok(Message::Close(_)))) | Ok(None) => break Err("closed_by_server"),
                    Ok(Some(Ok(_))) => continue,
                    Ok(Some(Err(_))) => break Err("protocol"),
                    Err(_) => break Err("timeout"),
                }
            };
            match reply {
                Ok(()) => {
                    record(&mut latencies, sent.elapsed());
                    progress.acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                Err(kind) => {
                    failure = Some(kind);
                    break;
                }
            }
        }
    } else {
        // Idle: hold the socket until the deadline, answering pings.
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                message = socket.next() => match message {
                    Some(Ok(Message::Close(_))) | None => { failure = Some("closed_by_server"); break; }
                    Some(Err(_)) => { failure = Some("protocol"); break; }
                    Some(Ok(_)) => {}
                }
            }
        }
    }
    if failure.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
    }
    let mut collected = collected.lock().unwrap_or_else(|e| e.into_inner());
    let _ = collected.latencies.add(&latencies);
    if let Some(kind) = failure {
        collected.error(kind, &progress);
    }
}

/// Runs a WebSocket load profile.
pub async fn run_ws(load: &WsLoad, progress: Arc<Progress>) -> Result<Summary, String> {
    validate_ws(load)?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + load.duration;
    let collected = Arc::new(Mutex::new(Collected::default()));
    let pace = if load.send_rate == 0.0 {
        Pace::Idle
    } else if load.send_rate.is_infinite() {
        Pace::Unpaced
    } else {
        Pace::Every(Duration::from_secs_f64(1.0 / load.send_rate))
    };
    let mut sockets = tokio::task::JoinSet::new();
    let open_every = Duration::from_secs_f64(1.0 / load.rate);
    let first = tokio::time::Instant::now();
    for i in 0..load.sockets {
        let at = first + open_every * i;
        if at >= deadline {
            break;
        }
        tokio::time::sleep_until(at).await;
        sockets.spawn(ws_socket(
            load.url.clone(),
            deadline,
            pace,
            progress.clone(),
            collected.clone(),
        ));
    }
    // Each socket stops at the deadline, or at most a reply timeout after it.
    let _ = tokio::time::timeout_at(deadline + REPLY_TIMEOUT + Duration::from_secs(5), async {
        while sockets.join_next().await.is_some() {}
    })
    .await;
    sockets.abort_all();
    let seconds = started.elapsed().as_secs_f64();
    let collected = std::mem::take(&mut *collected.lock().unwrap_or_else(|e| e.into_inner()));
    let acknowledged = progress.acknowledged.load(Ordering::Relaxed);
    Ok(Summary {
        mode: "websocket",
        target: load.url.clone(),
        seconds,
        connections_opened: progress.opened.load(Ordering::Relaxed),
        connections_failed: progress.failed.load(Ordering::Relaxed),
        messages_sent: progress.sent.load(Ordering::Relaxed),
        messages_acknowledged: acknowledged,
        throughput_per_second: acknowledged as f64 / seconds.max(1e-9),
        latency: Latency::of(&collected.latencies),
        errors: collected.errors,
        status: BTreeMap::new(),
        service_latency: None,
        late_requests: 0,
    })
}
