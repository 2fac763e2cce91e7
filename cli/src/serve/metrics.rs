//! Prometheus metrics in the text exposition format: runs by status and language, run
//! latency histograms by language, and the queue gauges (read from the store at scrape time).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency buckets in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    runs: Mutex<BTreeMap<(i64, i64), u64>>,
    latency: Mutex<BTreeMap<i64, Histogram>>,
    http: Mutex<BTreeMap<(String, u16), u64>>,
    lost_leases: Mutex<u64>,
}

impl Metrics {
    /// A finished run: its status, language and seconds from claim to result.
    pub fn run(&self, status: i64, language: i64, secs: f64) {
        if let Ok(mut m) = self.runs.lock() {
            *m.entry((status, language)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(language).or_default();
            if h.counts.is_empty() {
                h.counts = vec![0; BUCKETS.len()];
            }
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// A result write refused because the lease had moved on.
    pub fn lost_lease(&self) {
        if let Ok(mut n) = self.lost_leases.lock() {
            *n += 1;
        }
    }

    /// An HTTP response.
    pub fn http(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.http.lock() {
            *m.entry((route.to_string(), status)).or_default() += 1;
        }
    }

    /// The exposition text, with the queue gauges given.
    pub fn render(&self, queued: i64, processing: i64, workers_alive: i64) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP runcell_queue_depth Submissions waiting (In Queue)."
        );
        let _ = writeln!(o, "# TYPE runcell_queue_depth gauge");
        let _ = writeln!(o, "runcell_queue_depth {queued}");
        let _ = writeln!(o, "# HELP runcell_processing Submissions being run.");
        let _ = writeln!(o, "# TYPE runcell_processing gauge");
        let _ = writeln!(o, "runcell_processing {processing}");
        let _ = writeln!(
            o,
            "# HELP runcell_workers_alive Registered workers seen recently."
        );
        let _ = writeln!(o, "# TYPE runcell_workers_alive gauge");
        let _ = writeln!(o, "runcell_workers_alive {workers_alive}");
        let _ = writeln!(
            o,
            "# HELP runcell_runs_total Finished runs by Judge0 status and language."
        );
        let _ = writeln!(o, "# TYPE runcell_runs_total counter");
        if let Ok(m) = self.runs.lock() {
            for ((s, l), n) in m.iter() {
                let _ = writeln!(
                    o,
                    "runcell_runs_total{{status=\"{s}\",language=\"{l}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP runcell_run_seconds Seconds from claim to result, by language."
        );
        let _ = writeln!(o, "# TYPE runcell_run_seconds histogram");
        if let Ok(m) = self.latency.lock() {
            for (l, h) in m.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        o,
                        "runcell_run_seconds_bucket{{language=\"{l}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    o,
                    "runcell_run_seconds_bucket{{language=\"{l}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(o, "runcell_run_seconds_sum{{language=\"{l}\"}} {}", h.sum);
                let _ = writeln!(
                    o,
                    "runcell_run_seconds_count{{language=\"{l}\"}} {}",
                    h.count
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP runcell_lost_leases_total Results dropped: lease moved on."
        );
        let _ = writeln!(o, "# TYPE runcell_lost_leases_total counter");
        let _ = writeln!(
            o,
            "runcell_lost_leases_total {}",
            self.lost_leases.lock().map_or(0, |n| *n)
        );
        let _ = writeln!(
            o,
            "# HELP runcell_http_responses_total HTTP responses by route and status."
        );
        let _ = writeln!(o, "# TYPE runcell_http_responses_total counter");
        if let Ok(m) = self.http.lock() {
            for ((r, s), n) in m.iter() {
                let _ = writeln!(
                    o,
                    "runcell_http_responses_total{{route=\"{r}\",code=\"{s}\"}} {n}"
                );
            }
        }
        o
    }
}
