//! Every YAML trellis reads goes through here. PRODUCT.yaml comes from vendors,
//! dashboards and kind configs from anyone: so the parser is serde-saphyr (maintained,
//! panic-free) under budgets that bound what a hostile file can cost — its size, its
//! nesting, its node count, and above all alias expansion (a 50 KB "billion laughs"
//! file must not become gigabytes).

use serde::de::DeserializeOwned;

/// The largest YAML file trellis reads (the biggest real TestGrid config is a few MB).
pub const MAX_YAML_BYTES: usize = 32 << 20;

/// Nesting deeper than this is refused (real configs nest a dozen levels).
const MAX_DEPTH: usize = 64;

/// Nodes in one document: ample for kubernetes/test-infra's largest job files.
const MAX_NODES: usize = 2_000_000;

/// Events replayed by aliases across a whole file: anchors reused the way Prow job
/// configs do stay far below it; an alias bomb hits it at once.
const MAX_REPLAYED_EVENTS: usize = 200_000;

/// Parses `text` as YAML into `T`, or says why not (the caller names the file).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    if text.len() > MAX_YAML_BYTES {
        return Err(format!(
            "{} bytes of YAML; trellis reads at most {} MB",
            text.len(),
            MAX_YAML_BYTES >> 20
        ));
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_YAML_BYTES);
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_events = MAX_NODES * 4;
    let mut limits = serde_saphyr::options::AliasLimits::default();
    limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits = limits;
    // One line that names the place; the caller prefixes the file.
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let text = e.to_string();
        text.strip_prefix("error: ")
            .unwrap_or(&text)
            .trim()
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_bomb_is_refused_quickly_and_small() {
        // Nine levels of ten aliases each: a billion strings if expanded.
        let mut y = String::from("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for i in 1..10 {
            let p = i - 1;
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
            ));
        }
        let started = std::time::Instant::now();
        let r: Result<serde_json::Value, String> = from_str(&y);
        assert!(r.is_err(), "an alias bomb parsed");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn deep_nesting_and_oversize_are_refused() {
        let deep = "[".repeat(100_000);
        assert!(from_str::<serde_json::Value>(&deep).is_err());
        let big = "a: b\n".repeat(MAX_YAML_BYTES / 5 + 1);
        let e = from_str::<serde_json::Value>(&big).unwrap_err();
        assert!(e.contains("at most 32 MB"), "{e}");
    }

    #[test]
    fn ordinary_yaml_with_anchors_reads() {
        let v: serde_json::Value =
            from_str("base: &b {x: 1}\nuse: *b\nlist: [1, two, 3.5]\n").unwrap();
        assert_eq!(v["use"]["x"], 1);
        assert_eq!(v["list"][1], "two");
    }
}
