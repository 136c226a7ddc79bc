//! RBAC for service-account tokens: a request is allowed when a RoleBinding in its
//! namespace or a ClusterRoleBinding names the service account and the bound role has
//! a rule matching the verb, API group and resource. The admin token may do anything.

use crate::http::User;
use crate::resources::by_kind;
use crate::store::{Key, Selector, Store};
use serde_json::Value;

pub fn allowed(
    store: &Store,
    user: &User,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    let User::ServiceAccount {
        namespace: sa_ns,
        name,
    } = user
    else {
        return true;
    };
    let names_me = |binding: &Value| {
        binding["subjects"].as_array().is_some_and(|subjects| {
            subjects.iter().any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["name"] == name.as_str()
                    && s["namespace"] == sa_ns.as_str()
            })
        })
    };
    let mut roles: Vec<Value> = Vec::new();
    for (_, b) in store.all(by_kind("ClusterRoleBinding")) {
        if names_me(&b) {
            roles.extend(role(store, &b["roleRef"], ""));
        }
    }
    if let Some(ns) = namespace {
        let sel = Selector::in_namespace(ns);
        for b in store.list(by_kind("RoleBinding"), &sel).0 {
            if names_me(&b) {
                roles.extend(role(store, &b["roleRef"], ns));
            }
        }
    }
    roles.iter().any(|r| {
        r["rules"].as_array().into_iter().flatten().any(|rule| {
            matches(rule, "verbs", verb)
                && matches(rule, "apiGroups", group)
                && matches(rule, "resources", resource)
        })
    })
}

fn role(store: &Store, role_ref: &Value, namespace: &str) -> Option<Value> {
    let name = role_ref["name"].as_str()?;
    match role_ref["kind"].as_str()? {
        "ClusterRole" => store.get(&Key::new(by_kind("ClusterRole"), "", name)),
        "Role" => store.get(&Key::new(by_kind("Role"), namespace, name)),
        _ => None,
    }
}

fn matches(rule: &Value, field: &str, want: &str) -> bool {
    rule[field]
        .as_array()
        .is_some_and(|v| v.iter().any(|x| x == "*" || x == want))
}
