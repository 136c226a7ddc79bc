//! The smoke suite: does this cluster do the basic things? API discovery and version,
//! namespaces, ConfigMap and Secret CRUD with a watch, a Deployment rolling out, a
//! Service with endpoints, DNS from a pod, pod logs and exec, and RBAC denying a
//! restricted service account. Each test works in a namespace of its own and deletes
//! it; every wait has a deadline (TRELLIS_SMOKE_TIMEOUT, default 120 s).

mod api;
mod config;
mod rbac;
mod support;
mod workloads;

use kube::Client;
use libtest_mimic::Trial;
use std::future::Future;
use std::pin::Pin;
use support::{TestNamespace, TestResult};

type Body = fn(Client, String) -> Pin<Box<dyn Future<Output = TestResult>>>;

/// Runs `body` in a fresh namespace, then deletes the namespace whatever happened.
fn namespaced(name: &'static str, short: &'static str, body: Body) -> Trial {
    Trial::test(name, move || {
        support::block_on(async move {
            let client = support::client().await?;
            let ns = TestNamespace::create(&client, short).await?;
            let result = body(client, ns.name.clone()).await;
            let closed = ns.close().await;
            result.and(closed)
        })
    })
}

/// Every smoke test, named `area::what` as `--list` shows them.
pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("api::discovery_and_version", || {
            support::block_on(api::discovery_and_version())
        }),
        Trial::test("namespaces::create_and_delete", || {
            support::block_on(api::namespace_lifecycle())
        }),
        namespaced("configmaps::crud_and_watch", "cm", |c, ns| {
            Box::pin(config::configmap_crud_and_watch(c, ns))
        }),
        namespaced("secrets::crud", "secret", |c, ns| {
            Box::pin(config::secret_crud(c, ns))
        }),
        namespaced("deployments::rolling_update", "deploy", |c, ns| {
            Box::pin(workloads::deployment_rollout(c, ns))
        }),
        namespaced("services::endpoints", "svc", |c, ns| {
            Box::pin(workloads::service_endpoints(c, ns))
        }),
        namespaced("dns::resolve_from_pod", "dns", |c, ns| {
            Box::pin(workloads::dns_from_pod(c, ns))
        }),
        namespaced("pods::logs_and_exec", "pod", |c, ns| {
            Box::pin(workloads::logs_and_exec(c, ns))
        }),
        namespaced(
            "rbac::restricted_service_account_denied",
            "rbac",
            |c, ns| Box::pin(rbac::restricted_account_denied(c, ns)),
        ),
    ]
}
