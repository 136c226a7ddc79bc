//! RBAC: a service account bound to a Role that may only read ConfigMaps can do that,
//! and is refused (403) everything else.

use super::support::{check, err, object, TestResult};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// A client that authenticates as `account` with a token from the TokenRequest API.
async fn client_as(admin: &Client, ns: &str, account: &str) -> Result<Client, String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let request: TokenRequest = object(
        "the TokenRequest",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": []}}),
    )?;
    let token: TokenRequest = accounts
        .create_subresource("token", account, &PostParams::default(), &request)
        .await
        .map_err(err("requesting a service account token"))?;
    let token = token.status.and_then(|s| s.token).unwrap_or_default();
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| format!("reading KUBECONFIG: {e}"))?;
    config.auth_info = kube::config::AuthInfo {
        token: Some(secrecy::SecretString::from(token)),
        ..Default::default()
    };
    Client::try_from(config).map_err(err("building the service account's client"))
}

pub async fn restricted_account_denied(admin: Client, ns: String) -> TestResult {
    let post = PostParams::default();
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create(
            &post,
            &object(
                "the service account",
                json!({"metadata": {"name": "restricted"}}),
            )?,
        )
        .await
        .map_err(err("creating the service account"))?;
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(
            &post,
            &object(
                "the Role",
                json!({
                    "metadata": {"name": "configmap-reader"},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
                }),
            )?,
        )
        .await
        .map_err(err("creating the Role"))?;
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&post, &object("the RoleBinding", json!({
            "metadata": {"name": "restricted-reads-configmaps"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "restricted", "namespace": ns}],
        }))?)
        .await
        .map_err(err("creating the RoleBinding"))?;
    Api::<ConfigMap>::namespaced(admin.clone(), &ns)
        .create(
            &post,
            &object(
                "the ConfigMap",
                json!({"metadata": {"name": "visible"}, "data": {"k": "v"}}),
            )?,
        )
        .await
        .map_err(err("creating the ConfigMap"))?;

    let restricted = client_as(&admin, &ns, "restricted").await?;
    // RBAC is eventually consistent on real clusters: allow the binding to take effect.
    super::support::wait_for("the RoleBinding to take effect", || async {
        let cms: Api<ConfigMap> = Api::namespaced(restricted.clone(), &ns);
        match cms.get("visible").await {
            Ok(_) => Ok(Some(())),
            Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
            Err(e) => Err(format!("reading an allowed ConfigMap: {e}")),
        }
    })
    .await?;
    let secrets = Api::<Secret>::namespaced(restricted.clone(), &ns)
        .list(&ListParams::default())
        .await;
    check(
        matches!(&secrets, Err(kube::Error::Api(s)) if s.code == 403),
        || format!("listing Secrets as the restricted account was not refused: {secrets:?}"),
    )?;
    let create = Api::<ConfigMap>::namespaced(restricted, &ns)
        .create(
            &post,
            &object("the ConfigMap", json!({"metadata": {"name": "sneaky"}}))?,
        )
        .await;
    check(
        matches!(&create, Err(kube::Error::Api(s)) if s.code == 403),
        || format!("creating a ConfigMap as the restricted account was not refused: {create:?}"),
    )
}
