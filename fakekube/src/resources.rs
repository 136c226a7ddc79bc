//! The API resources the fake serves, and the discovery documents that describe them.

use serde_json::{json, Value};

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group; "" is the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn core(plural: &'static str, kind: &'static str, namespaced: bool) -> Resource {
    Resource {
        group: "",
        version: "v1",
        plural,
        kind,
        namespaced,
    }
}

const fn grouped(
    group: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        group,
        version: "v1",
        plural,
        kind,
        namespaced,
    }
}

pub static RESOURCES: &[Resource] = &[
    core("namespaces", "Namespace", false),
    core("nodes", "Node", false),
    core("pods", "Pod", true),
    core("services", "Service", true),
    core("configmaps", "ConfigMap", true),
    core("secrets", "Secret", true),
    core("serviceaccounts", "ServiceAccount", true),
    core("events", "Event", true),
    grouped(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "ClusterRole",
        false,
    ),
    grouped(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
    grouped(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
];

/// Resources of the CustomResourceDefinitions created so far. Process-wide, not per
/// fake cluster (a test fake: a CRD made on one is served by every one in the
/// process), and never removed, so each is leaked once to live as long as the
/// built-in ones.
static CUSTOM: std::sync::RwLock<Vec<&'static Resource>> = std::sync::RwLock::new(Vec::new());

/// Every served resource: the built-in ones, then the custom ones.
pub fn all() -> Vec<&'static Resource> {
    let custom = CUSTOM.read().unwrap_or_else(|p| p.into_inner());
    RESOURCES.iter().chain(custom.iter().copied()).collect()
}

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    all()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Serves the resources a CustomResourceDefinition declares (each served version);
/// an invalid definition is a 422, as the real API server answers.
pub fn register_custom(crd: &Value) -> Result<(), String> {
    let spec = &crd["spec"];
    let text = |v: &Value, field: &str| {
        v.as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("spec.{field}: Required value"))
    };
    let group = text(&spec["group"], "group")?;
    let plural = text(&spec["names"]["plural"], "names.plural")?;
    let kind = text(&spec["names"]["kind"], "names.kind")?;
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let versions: Vec<String> = spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool() != Some(false))
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    if versions.is_empty() {
        return Err("spec.versions: Invalid value: must have at least one served version".into());
    }
    let mut custom = CUSTOM.write().unwrap_or_else(|p| p.into_inner());
    for version in versions {
        let known = RESOURCES
            .iter()
            .chain(custom.iter().copied())
            .any(|r| r.group == group && r.version == version && r.plural == plural);
        if known {
            continue;
        }
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        custom.push(Box::leak(Box::new(Resource {
            group: leak(&group),
            version: leak(&version),
            plural: leak(&plural),
            kind: leak(&kind),
            namespaced,
        })));
    }
    Ok(())
}

pub fn by_kind(kind: &str) -> &'static Resource {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .expect("kind is served")
}

fn groups() -> Vec<(&'static str, &'static str)> {
    let mut g: Vec<(&str, &str)> = all()
        .into_iter()
        .map(|r| (r.group, r.version))
        .filter(|(g, _)| !g.is_empty())
        .collect();
    g.sort();
    g.dedup();
    g
}

/// `GET /api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1` or `GET /apis/GROUP/v1`; `None` for a group the fake does not serve.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let list: Vec<Value> = all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.kind.to_lowercase(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            })
        })
        .collect();
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}
