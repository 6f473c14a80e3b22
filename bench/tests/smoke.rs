//! Every benchmark at tiny sizes, so none of them rots: this checks that each runs and
//! measures something, not how fast (targets are met in the full runs of BENCHMARKS.md).

use bench::Effort;

#[test]
fn scrape_encodes_the_same_series_three_ways() {
    let r = bench::scrape::run(100, Effort::SMOKE);
    assert!(r.obs > 0.0 && r.prometheus > 0.0 && r.prometheus_client > 0.0);
    assert!(r.bytes > 100 * 20, "100 series of text");
}

#[test]
fn native_histograms_store_fewer_series_than_classic_ones() {
    for r in [
        bench::native::demo(200, Effort::SMOKE).unwrap(),
        bench::native::large(1_400, 3, Effort::SMOKE).unwrap(),
    ] {
        let [classic_text, classic_protobuf, native] = &r.forms[..] else {
            panic!("{r:?}")
        };
        assert_eq!(classic_text.stored_series, classic_protobuf.stored_series);
        // Each label set is one native series against at least its +Inf bucket, sum and count.
        assert!(
            native.stored_series + 2 * r.label_sets <= classic_text.stored_series,
            "{r:?}"
        );
        for form in &r.forms {
            assert!(form.bytes > 0 && form.encode > 0.0, "{r:?}");
        }
    }
}

#[test]
fn memory_per_series_is_measured_for_every_registry() {
    let m = bench::series_memory::run(20_000).expect("children measure");
    for (name, bytes) in [
        ("obs", m.obs),
        ("prometheus-client", m.prometheus_client),
        ("prometheus-client pairs", m.prometheus_client_pairs),
        ("prometheus", m.prometheus),
    ] {
        // Each keeps at least the counter and its label value; none needs a page per series.
        assert!(bytes > 8.0 && bytes < 4096.0, "{name}: {bytes} bytes per series");
    }
}

#[test]
fn hot_path_measures_every_operation() {
    let r = bench::hot::run(2, Effort::SMOKE);
    for ns in [
        r.obs_handle_inc,
        r.obs_closed_lookup_inc,
        r.obs_open_lookup_inc,
        r.obs_open_apply_inc,
        r.prometheus_cached_inc,
        r.prometheus_lookup_inc,
    ] {
        assert!(ns > 0.0 && ns.is_finite());
    }
}

#[test]
fn http_servers_all_answer_load() {
    let r = bench::servers::run(Effort::SMOKE);
    for rps in [r.bare, r.bare_layered, r.obs, r.obs_with_logs, r.axum_prometheus] {
        assert!(rps > 10.0, "{r:?}");
    }
}

#[test]
fn tracing_cases_are_measured_and_spans_reach_the_receiver() {
    let r = bench::traces::run(Effort::SMOKE).unwrap();
    assert_eq!(r.nanos.len(), bench::traces::CASES.len());
    for ns in &r.nanos {
        assert!(*ns > 0.0 && ns.is_finite(), "{r:?}");
    }
    // 200 requests at 100% sampled reach the receiver, plus about 20 at 10%.
    assert!(r.spans_received >= u64::from(r.requests_per_case), "{r:?}");
}

#[test]
fn the_load_tester_and_wrk_both_drive_the_same_server() {
    // wrk comes from Debian; scripts/test.sh installs it.
    let r = bench::servers::drivers(Effort::SMOKE).expect("wrk is installed");
    assert!(r.wrk > 10.0 && r.loadtest > 10.0, "{r:?}");
}

#[test]
fn in_memory_router_costs_are_measured() {
    let r = bench::servers::in_memory(Effort::SMOKE);
    for ns in [r.bare, r.bare_layered, r.obs, r.axum_prometheus] {
        assert!(ns > 0.0 && ns.is_finite(), "{r:?}");
    }
}

#[test]
fn websocket_throughput_and_memory_are_measured() {
    let t = bench::websocket::throughput(Effort::SMOKE);
    assert!(t.bare > 10.0 && t.obs > 10.0 && t.obs_lean > 10.0, "{t:?}");
    let m = bench::websocket::memory(Effort::SMOKE).unwrap();
    assert!(
        m.bare_kb_per_connection.is_finite()
            && m.obs_kb_per_connection.is_finite()
            && m.obs_lean_kb_per_connection.is_finite(),
        "{m:?}"
    );
}

#[test]
fn the_generator_scales_on_synthetic_specs() {
    let command = bench::generator_scale::generator_binary().unwrap();
    let results = bench::generator_scale::run(&[10, 20], Effort::SMOKE, &command).unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r.seconds > 0.0 && r.command_seconds > 0.0 && r.files >= 5),
        "{results:?}"
    );
}

#[test]
fn the_demo_lifecycle_is_timed() {
    let r = bench::lifecycle::run(Effort::SMOKE).unwrap();
    assert!(r.startup_ms > 0.0);
    assert!(r.shutdown_ms >= r.drain_ms, "{r:?}");
}

#[test]
fn the_soak_samples_the_demo_under_load_and_plots_it() {
    let soak = bench::soak::run(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(10),
        5,
    )
    .unwrap();
    assert!(soak.samples.len() >= 12, "{} samples", soak.samples.len());
    let last = soak.samples.last().unwrap();
    assert!(last.rss_kib > 0.0 && last.fds > 0.0 && last.series > 10.0, "{last:?}");
    assert!(last.requests > 100, "{last:?}");
    assert!(last.failures * 100 <= last.requests, "more than 1% failed: {last:?}");
    assert!(
        soak.samples
            .iter()
            .all(|s| s.rss_kib > 0.0 && s.fds > 0.0 && s.series > 10.0),
        "every sample is of a live demo"
    );
    assert!(
        soak.failures.values().sum::<u64>() >= last.failures,
        "every failure has its kind: {:?}",
        soak.failures
    );
    assert!(soak.per_minute(|s| s.rss_kib).is_finite());
    let svg = soak.svg();
    assert_eq!(svg.matches("<polyline").count(), 3);
    assert!(soak.markdown(5).contains("slope per minute after warm-up"));
}

#[test]
fn websocket_fanout_reaches_every_socket_and_closes_each_on_sigterm() {
    // At most 60 a process: the sockets are spread over two servers, as 50,000 are when
    // one process may not hold them all.
    let r = bench::fanout::run(100, 2, 60).expect("runs");
    assert_eq!(r.held, 100);
    assert_eq!(r.servers, 2);
    assert_eq!(r.reached_all, 100, "every socket read every heartbeat");
    assert_eq!(r.close_frames, 100, "every socket got its close frame");
    // The child exits 0 only when its shutdown report says clean (everything done within
    // the grace); `run` fails otherwise.
    assert!(r.kb_per_socket.is_finite());
}

#[test]
fn the_scale_out_cases_all_store_what_the_targets_offer() {
    let fleet = bench::scale_out::Fleet {
        services: 4,
        series_per_service: 50,
    };
    let timing = bench::scale_out::Timing {
        interval: std::time::Duration::from_secs(1),
        warm_up: std::time::Duration::from_secs(5),
        window: std::time::Duration::from_secs(3),
    };
    let results = bench::scale_out::run(&[fleet], timing).expect("runs (Debian's prometheus and victoria-metrics)");
    assert_eq!(results.len(), 4, "one Prometheus, then 1, 2 and 4 vmagent shards");
    for m in &results {
        // Every case stores about what is offered: the measurement sees real ingestion.
        assert!(m.ingested_per_second > 0.5 * m.offered_per_second, "{m:?}");
        assert!(m.scraper_mib > 0.0, "{m:?}");
    }
}
