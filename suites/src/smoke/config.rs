//! ConfigMaps and Secrets: create, read, update, patch, delete, and a watch that sees
//! each change in order.

use super::support::{check, err, TestResult};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::ByteString;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client};
use std::time::Duration;

pub async fn configmap_crud_and_watch(client: Client, ns: String) -> TestResult {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let start = api
        .list(&ListParams::default())
        .await
        .map_err(err("listing ConfigMaps"))?;
    let rv = start.metadata.resource_version.unwrap_or_default();
    let mut events = api
        .watch(&WatchParams::default().fields("metadata.name=smoke"), &rv)
        .await
        .map_err(err("watching ConfigMaps"))?
        .boxed();

    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("smoke".into());
    cm.data = Some([("colour".to_string(), "green".to_string())].into());
    api.create(&PostParams::default(), &cm)
        .await
        .map_err(err("creating a ConfigMap"))?;
    let mut got = api
        .get("smoke")
        .await
        .map_err(err("reading the ConfigMap"))?;
    check(
        got.data
            .as_ref()
            .and_then(|d| d.get("colour"))
            .map(String::as_str)
            == Some("green"),
        || format!("read back {:?}", got.data),
    )?;
    got.data = Some([("colour".to_string(), "blue".to_string())].into());
    let replaced = api
        .replace("smoke", &PostParams::default(), &got)
        .await
        .map_err(err("replacing the ConfigMap"))?;
    // A write with the old resourceVersion must conflict.
    let stale = api.replace("smoke", &PostParams::default(), &got).await;
    check(
        matches!(&stale, Err(kube::Error::Api(s)) if s.code == 409),
        || format!("a stale update was not refused with 409: {stale:?}"),
    )?;
    let patch = serde_json::json!({"data": {"size": "large"}});
    let patched = api
        .patch("smoke", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(err("patching the ConfigMap"))?;
    check(patched.data.as_ref().is_some_and(|d| d.len() == 2), || {
        format!("patch gave {:?}", patched.data)
    })?;
    check(
        patched.metadata.resource_version != replaced.metadata.resource_version,
        || "the patch did not change the resourceVersion".into(),
    )?;
    api.delete("smoke", &DeleteParams::default())
        .await
        .map_err(err("deleting the ConfigMap"))?;

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let next = tokio::time::timeout(super::support::deadline(), events.try_next()).await;
        match next {
            Ok(Ok(Some(WatchEvent::Added(_)))) => seen.push("ADDED"),
            Ok(Ok(Some(WatchEvent::Modified(_)))) => seen.push("MODIFIED"),
            Ok(Ok(Some(WatchEvent::Deleted(_)))) => seen.push("DELETED"),
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => return Err(format!("the watch ended early after {seen:?}")),
            Ok(Err(e)) => return Err(format!("watch error after {seen:?}: {e}")),
            Err(_) => return Err(format!("the watch saw only {seen:?}")),
        }
    }
    check(seen == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"], || {
        format!("watch saw {seen:?}")
    })
}

pub async fn secret_crud(client: Client, ns: String) -> TestResult {
    let api: Api<Secret> = Api::namespaced(client, &ns);
    let mut s = Secret::default();
    s.metadata.name = Some("smoke".into());
    s.data = Some([("token".to_string(), ByteString(b"s3cr\x00t".to_vec()))].into());
    api.create(&PostParams::default(), &s)
        .await
        .map_err(err("creating a Secret"))?;
    let mut got = api.get("smoke").await.map_err(err("reading the Secret"))?;
    let value = got
        .data
        .as_ref()
        .and_then(|d| d.get("token"))
        .map(|b| b.0.clone());
    check(value.as_deref() == Some(b"s3cr\x00t".as_slice()), || {
        format!("binary data came back as {value:?}")
    })?;
    got.string_data = Some([("extra".to_string(), "x".to_string())].into());
    got.data
        .get_or_insert_with(Default::default)
        .insert("extra".into(), ByteString(b"x".to_vec()));
    got.string_data = None;
    let updated = api
        .replace("smoke", &PostParams::default(), &got)
        .await
        .map_err(err("updating the Secret"))?;
    check(updated.data.is_some_and(|d| d.len() == 2), || {
        "the update lost a key".into()
    })?;
    api.delete("smoke", &DeleteParams::default())
        .await
        .map_err(err("deleting the Secret"))?;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let gone = api
        .get_opt("smoke")
        .await
        .map_err(err("reading the deleted Secret"))?;
    check(gone.is_none(), || {
        "the Secret is still there after delete".into()
    })
}
