//! The `generator` command: render `generated/` from obs.yaml, check it is current,
//! validate a spec, print the JSON Schema, compare a running service with its spec, write a
//! first spec from a running service.
//!
//! Exit codes: 0 success; 1 the spec is invalid, generated files are stale, a running
//! service drifted from its spec, or `init` found its output file already there; 2 usage,
//! I/O or network error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use generator::{check, check_generated, default_out, generate, GenerateError};

/// The command's allocator. Parsing a spec twice (the position index and serde_yaml),
/// thousands of PromQL expressions and the rendered files builds and drops many small
/// strings: under glibc's allocator `malloc` and `free` were a quarter of a large
/// generate's instructions (BENCHMARKS.md section 5). The library leaves the choice to
/// whoever links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "generator", version, about = "Render observability artifacts from obs.yaml")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    generate: GenerateArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Render every artifact into the output directory (the default command).
    Generate(GenerateArgs),
    /// Validate a spec and print its diagnostics; writes nothing.
    Check {
        /// The spec to validate.
        #[arg(long, default_value = "obs.yaml")]
        spec: PathBuf,
    },
    /// Print the JSON Schema of obs.yaml.
    Schema,
    /// Explain a diagnostic code, with a spec that triggers it and the fix; without a code,
    /// list every code.
    Explain {
        /// The code, as printed in brackets: `metric-counter-suffix`.
        code: Option<String>,
        /// Print the whole registry as Markdown (DIAGNOSTICS.md).
        #[arg(long, conflicts_with = "code")]
        markdown: bool,
    },
    /// Compare two specs by what they mean (metrics, alerts, rules, SLOs, dashboards,
    /// routing), for a pull request; breaking changes first.
    Diff {
        /// `OLD NEW`; with `--base`, only `NEW` (default `obs.yaml`), compared with itself
        /// at that commit.
        #[arg(num_args = 0..=2, value_name = "SPEC")]
        specs: Vec<PathBuf>,
        /// Compare NEW with itself at this git commit (`main`, `HEAD~1`, a hash).
        #[arg(long)]
        base: Option<String>,
        /// `markdown` (a pull-request comment) or `json`.
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
        /// Exit 1 when a change is breaking.
        #[arg(long, value_parser = ["breaking"])]
        fail_on: Option<String>,
    },
    /// Write an obs.yaml declaring what a running service already exposes: every metric
    /// family (builtin groups where they match), with starter alerts and a dashboard proposed.
    Init {
        /// The exposition: a URL (`http://127.0.0.1:8000/metrics`) or a file holding one.
        #[arg(long, value_name = "URL|FILE")]
        from: String,
        /// The spec to write; `-` prints it.
        #[arg(long, default_value = "obs.yaml")]
        output: PathBuf,
        /// The service's name; default: the name of the directory the spec goes into.
        #[arg(long)]
        service: Option<String>,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
        /// Give up fetching after this many seconds.
        #[arg(long, default_value = "10")]
        timeout_seconds: u64,
    },
    /// Replay every alert of the spec (SLO burn-rate alerts included) over what a Prometheus
    /// recorded: when each would have fired and resolved, notifications a day, which never fired.
    Backtest(BacktestArgs),
    /// Serve a local web page that draws every generated dashboard from a live Prometheus,
    /// without Grafana.
    Preview {
        /// The Prometheus to read, e.g. http://127.0.0.1:9090.
        #[arg(long)]
        prometheus: String,
        /// The spec whose dashboards to draw.
        #[arg(long, default_value = "obs.yaml")]
        spec: PathBuf,
        /// Where to listen (3001: the generated stacks' Grafana has 3000).
        #[arg(long, default_value = "127.0.0.1:3001")]
        listen: String,
    },
    /// Compare a running service's /metrics with the spec; exit 1 on any difference.
    Drift {
        /// The exposition to check, e.g. http://127.0.0.1:8000/metrics.
        #[arg(long)]
        url: String,
        /// The spec the service should match.
        #[arg(long, default_value = "obs.yaml")]
        spec: PathBuf,
        /// Component the service runs as (default: the best match).
        #[arg(long)]
        component: Option<String>,
        /// Give up fetching after this many seconds.
        #[arg(long, default_value = "10")]
        timeout_seconds: u64,
    },
}

#[derive(Args, Debug, Clone)]
struct GenerateArgs {
    /// The spec to render.
    #[arg(long, default_value = "obs.yaml")]
    spec: PathBuf,
    /// Output directory; default: `generated/` beside the spec.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write nothing; exit 1 listing files that are missing, stale or no longer produced.
    #[arg(long)]
    check: bool,
    /// Also every `examples/*/obs.yaml`, each into its own `generated/`.
    #[arg(long)]
    all: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Generate(args)) => run_generate(&args),
        None => run_generate(&cli.generate),
        Some(Command::Check { spec }) => run_check(&spec),
        Some(Command::Schema) => {
            print!("{}", generator::targets::schema_text());
            0
        }
        Some(Command::Explain { code, markdown }) => run_explain(code.as_deref(), markdown),
        Some(Command::Diff {
            specs,
            base,
            format,
            fail_on,
        }) => match (specs.as_slice(), base.as_deref()) {
            ([old, new], None) => run_diff(Some(old), new, None, &format, fail_on.is_some()),
            ([], Some(base)) => run_diff(None, Path::new("obs.yaml"), Some(base), &format, fail_on.is_some()),
            ([new], Some(base)) => run_diff(None, new, Some(base), &format, fail_on.is_some()),
            _ => {
                eprintln!("error: give `diff OLD NEW`, or `diff --base REF [NEW]`");
                2
            }
        },
        Some(Command::Init {
            from,
            output,
            service,
            force,
            timeout_seconds,
        }) => run_init(&generator::init::Options {
            from: generator::init::Source::parse(&from),
            service,
            output,
            force,
            timeout: std::time::Duration::from_secs(timeout_seconds),
        }),
        Some(Command::Backtest(args)) => run_backtest(args),
        Some(Command::Preview {
            prometheus,
            spec,
            listen,
        }) => run_preview(&spec, &prometheus, &listen),
        Some(Command::Drift {
            url,
            spec,
            component,
            timeout_seconds,
        }) => run_drift(
            &spec,
            &url,
            component.as_deref(),
            std::time::Duration::from_secs(timeout_seconds),
        ),
    };
    ExitCode::from(code)
}

/// The old spec's text: a file, or NEW as git has it at `base`.
fn old_spec(old: Option<&Path>, new: &Path, base: Option<&str>) -> Result<(String, String), String> {
    match (old, base) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map(|text| (text, path.display().to_string()))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        (None, Some(base)) => {
            // `./` makes the path relative to the working directory, as the user typed it;
            // git names no file by an absolute path.
            let relative = match new.strip_prefix(std::env::current_dir().unwrap_or_default()) {
                Ok(inside) => inside.to_path_buf(),
                Err(_) if new.is_absolute() => {
                    return Err(format!(
                        "{} is outside the working directory; run diff from inside the repository",
                        new.display()
                    ))
                }
                Err(_) => new.to_path_buf(),
            };
            let object = format!("{base}:./{}", relative.display());
            let output = std::process::Command::new("git")
                .args(["show", &object])
                .output()
                .map_err(|e| format!("cannot run git: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "git show {object}: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            let text = String::from_utf8(output.stdout).map_err(|_| format!("{object} is not UTF-8"))?;
            Ok((text, object))
        }
        (None, None) => Err("give the old spec (`diff OLD NEW`) or a commit to compare with (`--base main`)".into()),
    }
}

fn run_diff(old: Option<&Path>, new: &Path, base: Option<&str>, format: &str, fail_on_breaking: bool) -> u8 {
    let (old_text, old_name) = match old_spec(old, new, base) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    let old_checked = match contract::load_bytes(old_text.as_bytes(), &old_name)
        .map_err(GenerateError::from)
        .and_then(generator::Checked::new)
    {
        Ok(checked) => checked,
        Err(error) => return report_failure(&error),
    };
    let new_checked = match check(new) {
        Ok(checked) => checked,
        Err(error) => return report_failure(&error),
    };
    let changes = generator::diff::compare(&old_checked, &new_checked);
    if format == "json" {
        let report = serde_json::json!({"old": old_name, "new": new.display().to_string(), "changes": changes});
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!(
            "{}",
            generator::diff::markdown(&changes, &old_name, &new.display().to_string())
        );
    }
    u8::from(fail_on_breaking && changes.iter().any(|c| c.breaking))
}

fn specs(args: &GenerateArgs) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut specs = vec![(
        args.spec.clone(),
        args.out.clone().unwrap_or_else(|| default_out(&args.spec)),
    )];
    if args.all {
        if args.out.is_some() {
            return Err("--all writes each spec beside itself; it cannot take --out".into());
        }
        let mut examples: Vec<PathBuf> = std::fs::read_dir("examples")
            .map_err(|e| format!("cannot list examples/: {e}"))?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("obs.yaml")))
            .filter(|path| path.is_file())
            .collect();
        examples.sort();
        specs.extend(examples.into_iter().map(|spec| {
            let out = default_out(&spec);
            (spec, out)
        }));
    }
    Ok(specs)
}

fn run_generate(args: &GenerateArgs) -> u8 {
    let specs = match specs(args) {
        Ok(specs) => specs,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    let mut worst = 0;
    for (spec, out) in specs {
        let code = if args.check {
            check_one(&spec, &out)
        } else {
            generate_one(&spec, &out)
        };
        worst = worst.max(code);
    }
    worst
}

fn report_failure(error: &GenerateError) -> u8 {
    eprint!("{error}");
    if !error.to_string().ends_with('\n') {
        eprintln!();
    }
    error.exit_code()
}

fn print_warnings(report: &contract::Report) {
    for warning in &report.diagnostics {
        eprintln!("{warning}");
    }
}

fn generate_one(spec: &Path, out: &Path) -> u8 {
    match generate(spec, out) {
        Ok((checked, written)) => {
            print_warnings(&checked.report);
            for path in &written.changed {
                println!("wrote   {}", out.join(path).display());
            }
            for path in &written.removed {
                println!("removed {}", out.join(path).display());
            }
            println!(
                "{}: {} written, {} unchanged, {} removed",
                out.display(),
                written.changed.len(),
                written.unchanged,
                written.removed.len()
            );
            0
        }
        Err(error) => report_failure(&error),
    }
}

fn check_one(spec: &Path, out: &Path) -> u8 {
    match check_generated(spec, out) {
        Ok((_, drift)) if drift.is_clean() => {
            println!("{}: up to date", out.display());
            0
        }
        Ok((_, drift)) => {
            for line in drift.lines() {
                eprintln!("{}: {line}", out.display());
            }
            eprintln!(
                "{} is not what {} produces; run `cargo run -p generator -- generate --spec {} --out {}`",
                out.display(),
                spec.display(),
                spec.display(),
                out.display()
            );
            1
        }
        Err(error) => report_failure(&error),
    }
}

fn run_drift(spec: &Path, url: &str, component: Option<&str>, timeout: std::time::Duration) -> u8 {
    match generator::drift::run(spec, url, component, timeout) {
        Ok(report) if report.findings.is_empty() => {
            println!(
                "{url}: matches {} (component {}, {} families)",
                spec.display(),
                report.component,
                report.families
            );
            0
        }
        Ok(report) => {
            for finding in &report.findings {
                println!("{finding}");
            }
            eprintln!(
                "{url}: {} difference(s) from {} (component {})",
                report.findings.len(),
                spec.display(),
                report.component
            );
            1
        }
        Err(generator::drift::DriftError::Spec(error)) => report_failure(&error),
        Err(error) => {
            eprintln!("error: {error}");
            2
        }
    }
}

fn run_init(options: &generator::init::Options) -> u8 {
    match generator::init::run(options) {
        Ok(written) => {
            print_warnings(&written.report);
            let inference = &written.inference;
            let groups: Vec<&str> = inference.groups.iter().map(|g| g.builtin().as_str()).collect();
            let target = if options.output == Path::new("-") {
                "the spec".to_string()
            } else {
                options.output.display().to_string()
            };
            eprintln!(
                "{target}: {} families read; builtin groups [{}], {} custom metrics, {} left undeclared; drift against this exposition: {}; PROPOSAL comments mark suggested alerts and the dashboard",
                inference.families,
                groups.join(", "),
                inference.custom.len(),
                inference.skipped.len(),
                match written.drift.len() {
                    0 => "nothing".to_string(),
                    n => format!("{n} finding(s), listed in the spec's header"),
                },
            );
            if options.output != Path::new("-") {
                eprintln!(
                    "next: generator check --spec {0}; generator drift --spec {0} --url <the service's /metrics>",
                    options.output.display()
                );
            }
            0
        }
        Err(error) => {
            eprintln!("error: {error}");
            match error {
                generator::init::InitError::Exists(_) => 1,
                _ => 2,
            }
        }
    }
}

#[derive(Args, Debug)]
struct BacktestArgs {
    /// The Prometheus holding the data, e.g. http://127.0.0.1:9090.
    #[arg(long)]
    prometheus: String,
    /// Start: now-7d, -24h, RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds.
    #[arg(long, allow_hyphen_values = true)]
    from: String,
    /// End, in the same forms.
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    to: String,
    /// Only this alert (repeatable).
    #[arg(long = "alert")]
    alerts: Vec<String>,
    /// The spec whose alerts to replay.
    #[arg(long, default_value = "obs.yaml")]
    spec: PathBuf,
    /// Replay these Prometheus rule files instead of the spec's rules (repeatable).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Evaluation interval of groups that set none (default: the spec's).
    #[arg(long)]
    evaluation_interval: Option<String>,
    /// `table`, `markdown` or `json`.
    #[arg(long, default_value = "table", value_parser = ["table", "markdown", "json"])]
    format: String,
    /// Give up on one query after this many seconds.
    #[arg(long, default_value = "60")]
    timeout_seconds: u64,
}

fn run_backtest(args: BacktestArgs) -> u8 {
    use generator::backtest;
    let fail = |error: backtest::BacktestError| match error {
        backtest::BacktestError::Spec(error) => report_failure(&error),
        other => {
            eprintln!("error: {other}");
            2
        }
    };
    let interval = match args.evaluation_interval.as_deref().map(contract::Duration::parse) {
        None => None,
        Some(Ok(interval)) => Some(interval),
        Some(Err(error)) => {
            eprintln!("error: --evaluation-interval: {error}");
            return 2;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let times = backtest::parse_time("--from", &args.from, now)
        .and_then(|from| Ok((from, backtest::parse_time("--to", &args.to, now)?)));
    let (from_ms, mut to_ms) = match times {
        Ok(times) => times,
        Err(error) => return fail(error),
    };
    if to_ms > now {
        // Past now nothing is recorded yet: every alert would seem to resolve at now.
        eprintln!("note: --to is in the future; replaying up to now");
        to_ms = now;
    }
    let (checked, rules) = match backtest::load_rules(&args.spec, &args.rules, interval) {
        Ok(loaded) => loaded,
        Err(error) => return fail(error),
    };
    let rules = match backtest::select(rules, &args.alerts) {
        Ok(rules) => rules,
        Err(error) => return fail(error),
    };
    let options = backtest::Options {
        prometheus: args.prometheus,
        from_ms,
        to_ms,
        timeout: std::time::Duration::from_secs(args.timeout_seconds),
    };
    let recorded = backtest::recorded_names(&checked);
    let alertmanager = checked.loaded.spec.alertmanager.as_ref();
    match backtest::run_blocking(&rules, &recorded, alertmanager, &options) {
        Ok(report) => {
            match args.format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&report.json()).unwrap_or_default()),
                "markdown" => print!("{}", report.markdown()),
                _ => print!("{}", report.table()),
            }
            u8::from(!report.failed().is_empty())
        }
        Err(error) => fail(error),
    }
}

fn run_preview(spec: &Path, prometheus: &str, listen: &str) -> u8 {
    let checked = match check(spec) {
        Ok(checked) => checked,
        Err(error) => return report_failure(&error),
    };
    let dashboards = match generator::render(&checked).map(|tree| generator::preview::dashboards(&tree)) {
        Ok(Ok(dashboards)) => dashboards,
        Ok(Err(message)) => {
            eprintln!("error: {message}");
            return 2;
        }
        Err(error) => return report_failure(&error),
    };
    let scrape = checked.loaded.spec.stack.prometheus.scrape_interval.as_secs_f64();
    let preview = std::sync::Arc::new(generator::preview::Preview::new(dashboards, prometheus, scrape));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the server: {error}");
            return 2;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("error: cannot listen on {listen}: {error}");
                return 2;
            }
        };
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| listen.to_string());
        eprintln!(
            "preview of {} dashboard(s) from {prometheus} on http://{address}/ (Ctrl-C stops it)",
            preview.dashboards.len()
        );
        tokio::select! {
            served = generator::preview::serve(listener, preview) => match served {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("error: serving the preview: {error}");
                    2
                }
            },
            _ = tokio::signal::ctrl_c() => 0,
        }
    })
}

fn run_explain(code: Option<&str>, markdown: bool) -> u8 {
    if markdown {
        return match generator::diagnostics_doc::markdown() {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(error) => {
                eprintln!("error: rendering DIAGNOSTICS.md: {error}");
                2
            }
        };
    }
    let Some(id) = code else {
        print!("{}", generator::diagnostics_doc::listing());
        return 0;
    };
    match contract::Code::from_id(id.trim_matches(|c| c == '[' || c == ']')) {
        Some(code) => {
            print!("{}", code.explain());
            0
        }
        None => {
            let ids = contract::Code::ALL.iter().map(|c| c.id());
            let hint = match contract::suggest::closest(id, ids) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => "; `generator explain` lists every code".into(),
            };
            eprintln!("error: `{id}` is not a diagnostic code{hint}");
            2
        }
    }
}

fn run_check(spec: &Path) -> u8 {
    match check(spec) {
        Ok(checked) => {
            print!("{}", checked.report);
            if let Some(events) = checked.loaded.spec.logging.events_summary() {
                println!("{events}");
            }
            println!("{}: ok", spec.display());
            0
        }
        Err(error) => report_failure(&error),
    }
}
