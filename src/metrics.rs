//! Prometheus metrics: token outcomes and request latency by route pattern (never by raw path or user).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a token request ended.
#[derive(Debug, Clone, Copy)]
pub enum TokenOutcome {
    /// 200.
    Issued,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 500.
    ConfigError,
}

const OUTCOMES: [&str; 4] = ["issued", "forbidden", "not_found", "config_error"];
const BUCKETS_SECONDS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS_SECONDS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// Counters shared by every worker.
#[derive(Default)]
pub struct Metrics {
    tokens: [AtomicU64; 4],
    routes: RwLock<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Count a token request.
    pub fn token(&self, outcome: TokenOutcome) {
        self.tokens[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Record a request's latency under its route pattern.
    pub fn observe(&self, route: &str, elapsed: Duration) {
        let record = |h: &Histogram| {
            // One counter per observation: the bucket it falls in (cumulated when rendered).
            let secs = elapsed.as_secs_f64();
            if let Some(i) = BUCKETS_SECONDS.iter().position(|le| secs <= *le) {
                h.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
            h.count.fetch_add(1, Ordering::Relaxed);
            h.sum_nanos.fetch_add(
                elapsed.as_nanos().min(u64::MAX as u128) as u64,
                Ordering::Relaxed,
            );
        };
        if let Some(h) = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
        {
            record(h);
            return;
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        record(routes.entry(route.to_owned()).or_default());
    }

    /// The Prometheus text exposition.
    pub fn render(&self, audit_dropped: u64, touch_failures: u64) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP jwt_tokens_total Token requests by outcome.\n# TYPE jwt_tokens_total counter\n",
        );
        for (i, name) in OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "jwt_tokens_total{{outcome=\"{name}\"}} {}",
                self.tokens[i].load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP jwt_audit_dropped_total Audit events dropped: the queue was full or the store \
             could not write them.\n",
        );
        out.push_str("# TYPE jwt_audit_dropped_total counter\n");
        let _ = writeln!(out, "jwt_audit_dropped_total {audit_dropped}");
        out.push_str(
            "# HELP jwt_store_touch_failures_total Last-use and cleanup writes of the token path \
             that failed (the tokens were issued).\n",
        );
        out.push_str("# TYPE jwt_store_touch_failures_total counter\n");
        let _ = writeln!(out, "jwt_store_touch_failures_total {touch_failures}");
        out.push_str("# HELP http_request_duration_seconds Request latency by route pattern.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, h) in self.routes.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            let mut n = 0;
            for (i, le) in BUCKETS_SECONDS.iter().enumerate() {
                n += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let m = Metrics::default();
        for micros in [50, 50, 300, 2_000, 2_000_000] {
            m.observe("{asset}", Duration::from_micros(micros));
        }
        let text = m.render(0, 0);
        let bucket = |le: &str| {
            let line =
                format!("http_request_duration_seconds_bucket{{route=\"{{asset}}\",le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&line))
                .unwrap_or_else(|| panic!("no bucket {le} in\n{text}"))
                .to_owned()
        };
        assert_eq!(bucket("0.0001"), "2");
        assert_eq!(bucket("0.00025"), "2");
        assert_eq!(bucket("0.0005"), "3");
        assert_eq!(bucket("0.0025"), "4");
        assert_eq!(bucket("1"), "4");
        assert_eq!(bucket("+Inf"), "5");
        assert!(text.contains("http_request_duration_seconds_count{route=\"{asset}\"} 5\n"));
    }
}
