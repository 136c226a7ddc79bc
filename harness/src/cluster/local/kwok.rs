//! kwok's side of a local cluster: its configuration (kwok's stock stages, one stage
//! of ours that ends the conformance pod's test container, and the ClusterLogs /
//! ClusterExec rules that make pod logs and exec work through the real API server)
//! and the Node objects it then keeps Ready.
//!
//! What kwok simulates, and so what no suite may count as tested here: no container
//! runs. Pods go Running with fake IPs from 10.244.0.0/16; Job pods succeed; a pod's
//! log is the cluster's one simulated log file; exec runs the command on this host as
//! `nobody`, inside the cluster's network namespace, with a private `/tmp`.

use k8s_openapi::api::core::v1::Node;
use serde_json::json;

/// The annotation kwok's docs give simulated nodes; the smoke suite looks for it to
/// skip what needs a real kubelet.
pub const NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Pod IPs kwok hands out: never routed, so a dial to one fails at once.
pub const POD_CIDR: &str = "10.244.0.0/16";

/// The uid exec'd commands run as.
const EXEC_UID: i64 = 65534;

/// Ends the test container of trellis's conformance pod (exit 0) once it is Running,
/// leaving the helper running so results can be copied out, as the real image does
/// when its run is over. Only pods trellis manages are touched.
const CONFORMANCE_STAGE: &str = r#"apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: trellis-conformance-container-done
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.metadata.labels["app.kubernetes.io/managed-by"]'
      operator: 'In'
      values: ['trellis']
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.status.containerStatuses.[] | select( .name == "conformance-container" ) | .state.terminated.reason'
      operator: 'DoesNotExist'
  delay:
    durationMilliseconds: 2000
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        restartCount: 0
        {{ if eq .name "conformance-container" }}
        ready: false
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        {{ else }}
        ready: true
        state:
          running:
            startedAt: {{ $now | Quote }}
        {{ end }}
      {{ end }}
"#;

/// The whole kwok `--config`: stock stages, ours, logs and exec for every pod.
pub fn config(stock_stages: &str, log_file: &str) -> String {
    let logs = json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "trellis-simulated-log"},
        "spec": {"logs": [{"logsFile": log_file, "follow": false}]},
    });
    let exec = json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterExec",
        "metadata": {"name": "trellis-host-exec"},
        "spec": {"execs": [{"local": {
            "workDir": "/tmp",
            "envs": [{"name": "PATH", "value": "/usr/local/bin:/usr/bin:/bin"}],
            "securityContext": {"runAsUser": EXEC_UID, "runAsGroup": EXEC_UID},
        }}]},
    });
    // JSON is YAML: the two rules need no YAML writer.
    format!(
        "{}\n---\n{CONFORMANCE_STAGE}---\n{logs}\n---\n{exec}\n",
        stock_stages.trim_end()
    )
}

/// The kwok command line.
pub fn args(kubeconfig: &str, config: &str, node_ip: &str, cert: &str, key: &str) -> Vec<String> {
    vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--config={config}"),
        "--manage-all-nodes=true".into(),
        format!("--node-ip={node_ip}"),
        "--node-port=10250".into(),
        format!("--server-address={node_ip}:10250"),
        format!("--tls-cert-file={cert}"),
        format!("--tls-private-key-file={key}"),
        format!("--cidr={POD_CIDR}"),
        "--node-lease-duration-seconds=40".into(),
    ]
}

/// A Node object for kwok to manage: untainted, its kubelet version the cluster's,
/// its address kwok's kubelet endpoint (so logs and exec reach kwok).
pub fn node(name: &str, version: &str, node_ip: &str) -> Node {
    let value = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": node_ip},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": version,
                "kubeProxyVersion": version,
                "containerRuntimeVersion": "kwok://v0.8.0",
                "kernelVersion": "simulated",
                "osImage": "kwok simulated node",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": "",
                "bootID": "",
                "systemUUID": "",
            },
        },
    });
    serde_json::from_value(value).expect("a Node literal is a valid Node")
}

/// One line of a container log in the CRI format kwok serves logs from.
pub fn cri_log(text: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let stamp = at.format("%Y-%m-%dT%H:%M:%S%.9fZ");
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(&format!("{stamp} stdout F {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_written_in_cri_format_one_entry_per_line() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-02T04:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            cri_log("a\nb c", at),
            "2026-12-02T04:00:00.000000000Z stdout F a\n2026-12-02T04:00:00.000000000Z stdout F b c\n"
        );
    }

    #[test]
    fn nodes_carry_the_cluster_version_and_kwok_address() {
        let n = node("kwok-node-0", "v1.37.2", "10.250.0.100");
        let status = n.status.unwrap();
        assert_eq!(status.node_info.unwrap().kubelet_version, "v1.37.2");
        assert_eq!(status.addresses.unwrap()[0].address, "10.250.0.100");
        assert!(
            n.spec.and_then(|s| s.taints).is_none(),
            "nodes must be untainted"
        );
    }

    #[test]
    fn the_config_holds_every_document_once() {
        let c = config("kind: Stage\nmetadata: {name: pod-ready}\n", "/run/x/log");
        assert_eq!(c.matches("\n---\n").count(), 3, "{c}");
        assert!(c.contains("\"logsFile\":\"/run/x/log\""));
        assert!(c.contains("\"runAsUser\":65534"));
    }
}
