//! Server-side API call latency as ClusterLoader2's APIResponsiveness measures it
//! without Prometheus: two scrapes of kube-apiserver's `/metrics`, the
//! `apiserver_request_duration_seconds` histograms diffed, per (verb, resource,
//! subresource, scope), quantiles read from the buckets the way Prometheus's
//! `histogram_quantile` does (linear within the bucket).

use std::collections::BTreeMap;
use std::time::Duration;

const HISTOGRAM: &str = "apiserver_request_duration_seconds_bucket{";

/// What a request is counted under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CallKey {
    pub verb: String,
    pub resource: String,
    pub subresource: String,
    pub scope: String,
}

/// Cumulative bucket counts by upper bound (`le`, +Inf last).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(Vec<(f64, f64)>);

/// Every request-duration histogram of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape(BTreeMap<CallKey, Buckets>);

/// Reads the request-duration histograms out of a `/metrics` text, summing the
/// series that differ only in labels the key does not have (group, version,
/// component, dry_run).
pub fn parse(text: &str) -> Scrape {
    let mut sums: BTreeMap<CallKey, BTreeMap<u64, (f64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(HISTOGRAM) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        let Ok(count) = value.trim().parse::<f64>() else {
            continue;
        };
        let label = |name: &str| label_value(labels, name).unwrap_or_default();
        let le = match label("le").as_str() {
            "+Inf" => f64::INFINITY,
            v => match v.parse::<f64>() {
                Ok(le) => le,
                Err(_) => continue,
            },
        };
        let key = CallKey {
            verb: label("verb"),
            resource: label("resource"),
            subresource: label("subresource"),
            scope: label("scope"),
        };
        // Bounds as ordered bits: `le` values are positive.
        let slot = sums
            .entry(key)
            .or_default()
            .entry(le.to_bits())
            .or_insert((le, 0.0));
        slot.1 += count;
    }
    Scrape(
        sums.into_iter()
            .map(|(k, b)| (k, Buckets(b.into_values().collect())))
            .collect(),
    )
}

/// `name="value"` in a Prometheus label set (values here never hold quotes).
fn label_value(labels: &str, name: &str) -> Option<String> {
    let start = labels
        .match_indices(&format!("{name}=\""))
        .find(|(at, _)| *at == 0 || labels.as_bytes()[at - 1] == b',')?
        .0
        + name.len()
        + 2;
    let end = labels[start..].find('"')? + start;
    Some(labels[start..end].to_string())
}

/// Calls ClusterLoader2 leaves out of API responsiveness: long-running verbs,
/// streaming subresources, and requests that are not on a resource (`/openapi/v3`,
/// `/healthz`).
pub fn excluded(key: &CallKey) -> bool {
    key.resource.is_empty()
        || matches!(
            key.verb.as_str(),
            "WATCH" | "WATCHLIST" | "CONNECT" | "PROXY"
        )
        || matches!(
            key.subresource.as_str(),
            "log" | "exec" | "proxy" | "attach" | "portforward"
        )
}

/// The requests between two scrapes.
pub fn diff(before: &Scrape, after: &Scrape) -> BTreeMap<CallKey, Buckets> {
    after
        .0
        .iter()
        .filter(|(k, _)| !excluded(k))
        .filter_map(|(k, b)| {
            let earlier = before.0.get(k);
            let counts: Vec<(f64, f64)> =
                b.0.iter()
                    .map(|(le, n)| {
                        let was = earlier
                            .and_then(|e| e.0.iter().find(|(l, _)| l == le))
                            .map_or(0.0, |(_, n)| *n);
                        (*le, (n - was).max(0.0))
                    })
                    .collect();
            let total = counts.last().map_or(0.0, |(_, n)| *n);
            (total > 0.0).then(|| (k.clone(), Buckets(counts)))
        })
        .collect()
}

impl Buckets {
    pub fn count(&self) -> u64 {
        self.0.last().map_or(0, |(_, n)| *n as u64)
    }

    /// The `q` quantile in seconds, as `histogram_quantile`: the bucket holding rank
    /// q·count, linear between its bounds (from 0 for the first); in the +Inf bucket,
    /// the highest finite bound.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count() as f64;
        if total == 0.0 {
            return 0.0;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, n) in &self.0 {
            if n >= rank {
                if le.is_infinite() {
                    return lower.0;
                }
                if n == lower.1 {
                    return le;
                }
                return lower.0 + (le - lower.0) * (rank - lower.1) / (n - lower.1);
            }
            lower = (le, n);
        }
        lower.0
    }
}

/// SIG Scalability's API call latency SLO for a call: p99 within 1 s for mutating and
/// single-object calls, 5 s for a namespace-scoped LIST, 30 s for a cluster-scoped one.
pub fn slo(key: &CallKey) -> Duration {
    crate::model::api_call_slo(&key.verb, &key.scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.1"} 2
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.2"} 2
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="+Inf"} 2
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1",le="+Inf"} 7
"#;
    const AFTER: &str = r#"apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.1"} 4
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.2"} 12
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="+Inf"} 12
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1",le="+Inf"} 9
apiserver_request_duration_seconds_sum{verb="LIST"} 1.5
"#;

    #[test]
    fn the_requests_between_scrapes_and_their_quantiles() {
        let calls = diff(&parse(BEFORE), &parse(AFTER));
        // WATCH is long-running: left out.
        assert_eq!(calls.len(), 1);
        let (key, b) = calls.iter().next().unwrap();
        assert_eq!(
            (key.verb.as_str(), key.scope.as_str()),
            ("LIST", "namespace")
        );
        // 10 requests: 2 under 0.1 s, 8 in (0.1, 0.2].
        assert_eq!(b.count(), 10);
        // Rank 5 of 10: 3 into the 8 of the second bucket.
        assert!((b.quantile(0.5) - (0.1 + 0.1 * 3.0 / 8.0)).abs() < 1e-12);
        assert!((b.quantile(0.99) - (0.1 + 0.1 * 7.9 / 8.0)).abs() < 1e-12);
        assert!((b.quantile(0.1) - 0.05).abs() < 1e-12);
        assert_eq!(slo(key), Duration::from_secs(5));
    }
}
