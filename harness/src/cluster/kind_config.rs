//! Checking a kind cluster config before kind sees it, so a typo fails in
//! milliseconds with the field named, not minutes later inside kind.

use super::ClusterError;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const API_VERSION: &str = "kind.x-k8s.io/v1alpha4";

/// What trellis needs to know about a config.
#[derive(Debug, Clone, PartialEq)]
pub struct KindConfig {
    pub path: PathBuf,
    pub control_planes: usize,
    pub workers: usize,
    pub ip_family: String,
    /// Host ports from `extraPortMappings` (preflight checks they are free).
    pub host_ports: Vec<u16>,
}

/// Finds `name` in `dir` (`multi-node` or `multi-node.yaml`), or takes it as a path.
pub fn resolve(name: &str, dir: &Path) -> PathBuf {
    let direct = PathBuf::from(name);
    if direct.is_file() {
        return direct;
    }
    let with_ext = if name.ends_with(".yaml") {
        name.to_string()
    } else {
        format!("{name}.yaml")
    };
    dir.join(with_ext)
}

pub fn load(path: &Path) -> Result<KindConfig, ClusterError> {
    let bad = |reason: String| ClusterError::Config {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let v: Value = crate::yaml::from_str(&text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    if field("kind") != "Cluster" {
        return Err(bad(format!(
            "`kind` must be Cluster, found `{}`",
            field("kind")
        )));
    }
    if field("apiVersion") != API_VERSION {
        return Err(bad(format!(
            "`apiVersion` must be {API_VERSION}, found `{}`",
            field("apiVersion")
        )));
    }
    let mut config = KindConfig {
        path: path.to_path_buf(),
        control_planes: 0,
        workers: 0,
        ip_family: "ipv4".into(),
        host_ports: Vec::new(),
    };
    let nodes = match v.get("nodes") {
        None => Vec::new(),
        Some(Value::Array(n)) => n.clone(),
        Some(_) => return Err(bad("`nodes` must be a list".into())),
    };
    for (i, node) in nodes.iter().enumerate() {
        match node.get("role").and_then(Value::as_str) {
            Some("control-plane") => config.control_planes += 1,
            Some("worker") => config.workers += 1,
            other => {
                return Err(bad(format!(
                    "nodes[{i}].role must be control-plane or worker, found {other:?}"
                )))
            }
        }
        for (j, m) in node
            .get("extraPortMappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match m
                .get("hostPort")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
            {
                Some(p) => config.host_ports.push(p),
                None if m.get("hostPort").is_none() => {}
                None => {
                    return Err(bad(format!(
                        "nodes[{i}].extraPortMappings[{j}].hostPort is not a port number"
                    )))
                }
            }
        }
    }
    // kind's default, with no `nodes`, is one control plane.
    if nodes.is_empty() {
        config.control_planes = 1;
    }
    if config.control_planes == 0 {
        return Err(bad("no node has role control-plane".into()));
    }
    if let Some(family) = v.get("networking").and_then(|n| n.get("ipFamily")) {
        let family = family.as_str().unwrap_or("");
        if !["ipv4", "ipv6", "dual"].contains(&family) {
            return Err(bad(format!(
                "networking.ipFamily must be ipv4, ipv6 or dual, found `{family}`"
            )));
        }
        config.ip_family = family.to_string();
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn shipped_configs_are_valid() {
        let dir = repo().join("kind-configs");
        let shapes = [
            ("single-node", 1, 0, "ipv4"),
            ("multi-node", 1, 2, "ipv4"),
            ("ha", 3, 2, "ipv4"),
            ("ipv6", 1, 2, "ipv6"),
            ("dual-stack", 1, 2, "dual"),
        ];
        for (name, cp, w, family) in shapes {
            let c = load(&resolve(name, &dir)).unwrap();
            assert_eq!(
                (c.control_planes, c.workers, c.ip_family.as_str()),
                (cp, w, family),
                "{name}"
            );
        }
    }

    #[test]
    fn real_kind_configs() {
        let data = repo().join("../shared/data/kind");
        let all = load(&data.join("01-kind-site-example-all-fields.yaml")).unwrap();
        assert_eq!((all.control_planes, all.workers), (1, 3));
        let ports = load(&data.join("02-kind-site-port-mapping.yaml")).unwrap();
        assert_eq!(ports.host_ports, [80]);
        // The CI template still holds shell variables: the field is named.
        let err = load(&data.join("03-kind-ci-e2e-k8s-conformance.yaml")).unwrap_err();
        assert!(err.to_string().contains("networking.ipFamily"), "{err}");
        for f in [
            "04-perf-tests-cl2-write-throughput-kind.yaml",
            "05-test-infra-kind-multizone.yaml",
        ] {
            load(&data.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }
}
