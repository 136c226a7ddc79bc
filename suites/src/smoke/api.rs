//! The API server itself: version, discovery, namespace lifecycle.

use super::support::{check, client, err, TestNamespace, TestResult};

pub async fn discovery_and_version() -> TestResult {
    let client = client().await?;
    let version = client
        .apiserver_version()
        .await
        .map_err(err("GET /version"))?;
    check(
        version.major == "1" && !version.git_version.is_empty(),
        || format!("unexpected /version: {version:?}"),
    )?;
    let discovery = kube::Discovery::new(client)
        .run()
        .await
        .map_err(err("API discovery"))?;
    for (group, kind) in [
        ("", "Pod"),
        ("", "ConfigMap"),
        ("apps", "Deployment"),
        ("rbac.authorization.k8s.io", "Role"),
    ] {
        let found = discovery
            .groups()
            .filter(|g| g.name() == group)
            .flat_map(|g| g.recommended_resources())
            .any(|(r, _)| r.kind == kind);
        check(found, || {
            format!("discovery does not list {kind} in group {group:?}")
        })?;
    }
    Ok(())
}

pub async fn namespace_lifecycle() -> TestResult {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "ns").await?;
    ns.close().await
}
