//! Failure text normalisation: what varies between occurrences of one failure (times,
//! ids, addresses, generated names, the order of a Go map's entries) is replaced by a
//! placeholder, so that two occurrences of one cause compare equal or nearly so.
//!
//! Kubernetes triage (test-infra `triage/summarize`) blanks dates, renumbers hex
//! constants, IPv4 addresses, UUIDs, long hex runs and `minion-group-`/`default-pool-`
//! node names, and sorts `map[…]` entries. trellis does all of that and also
//! normalises e2e namespaces, pod-name hashes, kind/GKE node names, bracketed and bare
//! IPv6, Ginkgo v2 dates and klog timestamps: occurrences of one cause that triage
//! keeps apart are one cluster here.

use regex::{Captures, Regex};
use std::sync::LazyLock;

/// Texts longer than this (after normalisation) keep their first and last half of
/// it, as Kubernetes triage does.
pub const MAX_COMPARED_BYTES: usize = 10_000;
/// What stands where the middle of an over-long text was cut.
const CUT_MARK: &str = "\n...[truncated]...\n";

/// First pass: times and dates, UUIDs and IP addresses. These run first because the
/// generated-name rules of the second pass would otherwise take a piece of them
/// (`pvc-b2184348-6071-…` is a UUID, not the namespace `pvc-b2184348` numbered 6071).
static TIMES_IDS_ADDRESSES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // 2024-03-01T10:00:01.5Z, 2024-03-01 10:00:01
        r"(?P<time>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
        // May 27 01:21:18.458 (Ginkgo v1), I0512 21:01:20.962188 (klog), 10:04:41.2
        r"|\b[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?",
        r"|\b[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+",
        r"|\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b)",
        // 03/01/24 (Ginkgo v2)
        r"|(?P<date>\b\d{2}/\d{2}/\d{2}\b)",
        r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
        r"|(?P<ip4>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b)",
        r"|(?P<ip6>\[[0-9a-fA-F:]*:[0-9a-fA-F:]+\](?::\d{1,5})?)",
        // Bare IPv6: checked in the replacer to have "::" or eight groups, so that
        // "a:b:c" in prose stays as it is.
        r"|(?P<ip6bare>\b[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\b)",
    ))
    .expect("valid normaliser pattern")
});

/// Second pass: generated names and hex ids. Leftmost match wins, then the first
/// alternative: GKE nodes before pods (both end in short random suffixes), pods before
/// hex ids (their hash segment looks like hex), nodes before namespaces.
static GENERATED_NAMES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // Controllers' template hashes in labels: pod-template-hash:7d9f8b6c4
        r"(?P<hash>\b(?P<hashkey>pod-template-hash|controller-revision-hash)[:=][a-z0-9]+\b)",
        // gke-<cluster>-<pool>-<8 hex>-<4>: gke-e2e-default-pool-3f2a1b4c-x7k2
        r"|(?P<gke>\bgke-[a-z0-9-]+?-[0-9a-f]{8}-[a-z0-9]{4}\b)",
        // pods from deployments/replica sets and generateName: web-7d9f8b6c4-x2k9p
        r"|(?P<pod>\b(?P<podbase>[a-z0-9]+(?:-[a-z0-9]+)*?)-[a-z0-9]{8,10}-[a-z0-9]{5}\b)",
        // nodes: kind-worker2, e2e-123-minion-group-abcd, bootstrap-e2e-default-pool-x1
        r"|(?P<node>\b[a-z0-9]+(?:-[a-z0-9]+)*-(?:minion|node|worker|control-plane|master|default-pool)(?:-[a-z0-9]+)*\d*\b)",
        r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{8,}\b)",
        // e2e namespaces: services-8543, nsdeletetest-1234
        r"|(?P<ns>\b(?P<nsbase>[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*)-\d{3,6}\b)",
    ))
    .expect("valid normaliser pattern")
});

/// A Go map as `%v` prints it: `map[k1:v1 k2:v2]`, with no brackets inside.
static GO_MAP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"map\[([^\[\]]*)\]").expect("valid map pattern"));

/// Replaces the parts of a failure message that differ between occurrences of the
/// same failure.
pub fn normalize(text: &str) -> String {
    let text = text.trim();
    let pass1 = TIMES_IDS_ADDRESSES.replace_all(text, |caps: &Captures<'_>| {
        let m = caps.get(0).map_or("", |m| m.as_str());
        if caps.name("time").is_some() {
            "TIME".to_string()
        } else if caps.name("date").is_some() {
            "DATE".to_string()
        } else if caps.name("uuid").is_some() {
            "UUID".to_string()
        } else if caps.name("ip4").is_some()
            || caps.name("ip6").is_some()
            || (caps.name("ip6bare").is_some() && is_ipv6(m))
        {
            "IP".to_string()
        } else {
            m.to_string()
        }
    });
    // Go prints map entries in a random order: sort them (entries after the first pass,
    // so a timestamp inside one does not decide where it sorts).
    let sorted = if pass1.contains("map[") {
        GO_MAP.replace_all(&pass1, |caps: &Captures<'_>| {
            let mut entries: Vec<&str> = caps[1].split(' ').collect();
            entries.sort_unstable();
            format!("map[{}]", entries.join(" "))
        })
    } else {
        std::borrow::Cow::Borrowed(pass1.as_ref())
    };
    // URL-encoded selectors (`labelSelector=name%3Dweb-…`): decoded, so the name
    // after the "=" starts a word as it does everywhere else.
    let sorted = if sorted.contains('%') {
        std::borrow::Cow::Owned(
            sorted
                .replace("%3D", "=")
                .replace("%3d", "=")
                .replace("%2C", ",")
                .replace("%2c", ","),
        )
    } else {
        sorted
    };
    let out = GENERATED_NAMES.replace_all(&sorted, |caps: &Captures<'_>| {
        let with = |name: &str| caps.name(name).map_or("", |m| m.as_str());
        if caps.name("hash").is_some() {
            format!("{}:HASH", with("hashkey"))
        } else if caps.name("gke").is_some() || caps.name("node").is_some() {
            "NODE".to_string()
        } else if caps.name("pod").is_some() {
            format!("{}-POD", with("podbase"))
        } else if caps.name("hex").is_some() {
            "HEX".to_string()
        } else {
            format!("{}-N", with("nsbase"))
        }
    });
    shorten(out.into_owned())
}

/// Whether a bare `x:y:z` match is an IPv6 address: "::" in it, or eight groups.
fn is_ipv6(m: &str) -> bool {
    m.contains("::") || (m.matches(':').count() == 7 && !m.split(':').any(str::is_empty))
}

/// Kubernetes triage's rule for long texts: drop repeated consecutive lines, then keep
/// the first and last [`MAX_COMPARED_BYTES`]/2 bytes around a cut mark.
pub fn shorten(text: String) -> String {
    if text.len() <= MAX_COMPARED_BYTES {
        return text;
    }
    let mut deduped = String::with_capacity(text.len());
    let mut last: Option<&str> = None;
    for line in text.split_inclusive('\n') {
        if last != Some(line) {
            deduped.push_str(line);
        }
        last = Some(line);
    }
    if deduped.len() <= MAX_COMPARED_BYTES {
        return deduped;
    }
    let half = MAX_COMPARED_BYTES / 2;
    let mut head = half;
    while !deduped.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = deduped.len() - half;
    while !deduped.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}{CUT_MARK}{}", &deduped[..head], &deduped[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_removes_what_varies() {
        let a = normalize(
            "I0512 21:01:20.962188 pod web-7d9f8b6c4-x2k9p on node kind-worker2 in ns services-8543 \
             failed: dial tcp 10.96.0.12:443: i/o timeout (uid 6b1e0c1a-1d7e-4a55-9a4e-0f0a1b2c3d4e, 0xc000a1)",
        );
        assert_eq!(
            a,
            "TIME pod web-POD on node NODE in ns services-N failed: dial tcp IP: i/o timeout (uid UUID, HEX)"
        );
        assert_eq!(normalize("at 2024-03-01T10:00:01.5Z"), "at TIME");
    }

    /// #16 item 3: the namespace rule took `pvc-b2184348-6071` out of a UUID.
    #[test]
    fn a_uuid_after_a_name_prefix_is_one_uuid() {
        assert_eq!(
            normalize("volume pvc-b2184348-6071-40bf-8e60-0123456789ab not bound"),
            "volume pvc-UUID not bound"
        );
    }

    /// #16 item 4: Go map entries in another order, and GKE node names.
    #[test]
    fn go_maps_are_sorted_and_gke_nodes_named() {
        let a = normalize("labels map[app:web tier:front zone:a] differ");
        let b = normalize("labels map[zone:a app:web tier:front] differ");
        assert_eq!(a, b);
        assert_eq!(a, "labels map[app:web tier:front zone:a] differ");
        assert_eq!(
            normalize("map[app:web pod-template-hash:7d9f8b6c4]"),
            "map[app:web pod-template-hash:HASH]"
        );
        assert_eq!(
            normalize("node gke-e2e-prod-default-pool-3f2a1b4c-x7k2 not ready"),
            "node NODE not ready"
        );
    }

    #[test]
    fn names_in_url_encoded_selectors_are_normalised() {
        assert_eq!(
            normalize("pods?labelSelector=name%3Dwebserver-hfq4ml6vf5-f8f46&limit=500"),
            "pods?labelSelector=name=webserver-POD&limit=500"
        );
    }

    #[test]
    fn ipv6_bare_and_bracketed_but_not_prose() {
        assert_eq!(normalize("dial tcp [fd00:10:96::1]:443"), "dial tcp IP");
        assert_eq!(normalize("from fd00:10:244::5 to x"), "from IP to x");
        assert_eq!(normalize("ratio a:b:c kept"), "ratio a:b:c kept");
    }

    /// #16 item 2: texts are compared on 10,000 bytes, head and tail, as triage does.
    #[test]
    fn long_texts_keep_their_head_and_tail() {
        let prefix = "cluster bring-up log line\n".repeat(20);
        let distinct: String = (0..1200).map(|i| format!("step {i} ok\n")).collect();
        let text = format!("{prefix}{distinct}ERROR: etcd did not start");
        let n = normalize(&text);
        assert!(
            n.len() <= MAX_COMPARED_BYTES + CUT_MARK.len(),
            "{}",
            n.len()
        );
        assert!(
            n.ends_with("ERROR: etcd did not start"),
            "the error at the end survives"
        );
        assert!(n.contains(CUT_MARK));
        // Repeated consecutive lines are dropped first.
        assert_eq!(n.matches("cluster bring-up log line").count(), 1);
    }
}
