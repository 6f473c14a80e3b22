//! Headless Chromium (Debian's `chromium`, which scripts/test.sh installs) opening a page the
//! way a person would, JavaScript and all: the DOM once the page settled, or a screenshot.

use std::path::Path;
use std::process::Command;

const BROWSER: &str = "chromium";

fn run(args: &[String]) -> String {
    let output = Command::new(BROWSER).args(args).output().unwrap_or_else(|error| {
        panic!("cannot run {BROWSER} ({error}); install Debian's chromium, or run ./scripts/test.sh")
    });
    assert!(
        output.status.success(),
        "{BROWSER} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn flags(budget_ms: u64) -> Vec<String> {
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1400,1800",
    ]
    .iter()
    .map(|f| f.to_string())
    // Virtual time stands still while fetches are pending, so the page's queries all answer.
    .chain([format!("--virtual-time-budget={budget_ms}")])
    .collect()
}

/// The page's DOM after its scripts ran (and its fetches answered) for `budget_ms` of
/// virtual time.
pub fn dom(url: &str, budget_ms: u64) -> String {
    let mut args = flags(budget_ms);
    args.extend(["--dump-dom".to_string(), url.to_string()]);
    run(&args)
}

/// A PNG of the page as drawn after `budget_ms` of virtual time.
pub fn screenshot(url: &str, budget_ms: u64, path: &Path) {
    let mut args = flags(budget_ms);
    args.extend([format!("--screenshot={}", path.display()), url.to_string()]);
    run(&args);
    assert!(path.is_file(), "{BROWSER} wrote no screenshot at {}", path.display());
}

/// One panel as the preview left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelState {
    pub kind: String,
    pub title: String,
    pub state: String,
    pub series: usize,
    pub message: String,
}

fn attribute(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    tag.find(&key)
        .map(|at| {
            let rest = &tag[at + key.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())]
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .unwrap_or_default()
}

/// The panels of a preview page's DOM (rows left out), with the message each shows.
pub fn panels(dom: &str) -> Vec<PanelState> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find("<div class=\"panel") {
        rest = &rest[at..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        let next = rest[1..]
            .find("<div class=\"panel")
            .map(|n| n + 1)
            .unwrap_or(rest.len());
        let inner = &rest[..next];
        let message = inner
            .find("<div class=\"message\">")
            .map(|m| {
                let text = &inner[m + 21..];
                text[..text.find("</div>").unwrap_or(text.len())].to_string()
            })
            .unwrap_or_default();
        let state = attribute(tag, "data-state");
        if state != "row" {
            out.push(PanelState {
                kind: attribute(tag, "data-type"),
                title: attribute(tag, "data-title"),
                state,
                series: attribute(tag, "data-series").parse().unwrap_or(0),
                message,
            });
        }
        rest = &rest[next..];
    }
    out
}

/// The value of one of `<body>`'s attributes.
pub fn body_attribute(dom: &str, name: &str) -> String {
    let start = dom.find("<body").unwrap_or(0);
    let tag = &dom[start..start + dom[start..].find('>').unwrap_or(0)];
    attribute(tag, name)
}

/// Serves the preview of `dashboards` on a loopback port for the rest of the test.
pub async fn serve_preview(dashboards: Vec<generator::preview::Dashboard>, prometheus: &str) -> u16 {
    let preview = std::sync::Arc::new(generator::preview::Preview::new(dashboards, prometheus, 1.0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(generator::preview::serve(listener, preview));
    port
}

/// Every panel of the dashboard `uid` in the preview on `port` that reads Prometheus drew at
/// least one series (log panels say why they cannot, text panels are static); returns how
/// many panels there are.
pub async fn assert_every_panel_drawn(port: u16, uid: &str) -> usize {
    // Refresh off: a dump taken on a refresh tick would catch the panels mid-draw.
    let url = format!("http://127.0.0.1:{port}/#{uid}&refresh=off");
    let dom = tokio::task::spawn_blocking(move || dom(&url, 30_000)).await.unwrap();
    assert_eq!(
        body_attribute(&dom, "data-state"),
        "done",
        "{uid}: the page never settled"
    );
    let panels = panels(&dom);
    assert!(!panels.is_empty(), "{uid}: no panel");
    for panel in &panels {
        let expected = match panel.kind.as_str() {
            "logs" => "unsupported",
            "text" => "static",
            _ => "drawn",
        };
        assert_eq!(panel.state, expected, "{uid}: {panel:#?}");
        if expected == "drawn" {
            assert!(panel.series >= 1, "{uid}: {panel:#?}");
        }
    }
    panels.len()
}
