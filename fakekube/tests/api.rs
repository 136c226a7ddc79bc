//! fakekube's API semantics as a kube-rs client sees them over HTTP: authentication,
//! watches that resume from a resourceVersion, graceful namespace deletion, and exec
//! exit codes.

use futures_util::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{AttachParams, DeleteParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use trellis_fakekube::{FakeCluster, Options};

async fn client(cluster: &FakeCluster, token: Option<&str>) -> Client {
    let mut config = kube::Config::new(cluster.url().parse().unwrap());
    config.auth_info.token = token.map(|t| t.to_string().into());
    Client::try_from(config).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[test]
fn requests_without_a_known_token_are_unauthorized() {
    let cluster = FakeCluster::start(Options::default()).unwrap();
    runtime().block_on(async {
        for token in [None, Some("guess")] {
            let pods: Api<Pod> = Api::default_namespaced(client(&cluster, token).await);
            let err = pods.list(&Default::default()).await.unwrap_err();
            assert!(
                matches!(&err, kube::Error::Api(s) if s.code == 401),
                "{err:?}"
            );
        }
    });
}

#[test]
fn a_watch_resumes_exactly_after_its_resource_version() {
    let cluster = FakeCluster::start(Options::default()).unwrap();
    runtime().block_on(async {
        let c = client(&cluster, Some("fakekube-admin-token")).await;
        let cms: Api<ConfigMap> = Api::namespaced(c, "default");
        let pp = PostParams::default();
        let first = cms
            .create(&pp, &object(json!({"metadata": {"name": "a"}})))
            .await
            .unwrap();
        let rv = first.metadata.resource_version.unwrap();
        for name in ["b", "c"] {
            cms.create(&pp, &object(json!({"metadata": {"name": name}})))
                .await
                .unwrap();
        }
        let mut events = Box::pin(cms.watch(&WatchParams::default(), &rv).await.unwrap());
        let mut seen = Vec::new();
        while seen.len() < 2 {
            match tokio::time::timeout(Duration::from_secs(5), events.try_next()).await {
                Ok(Ok(Some(WatchEvent::Added(cm)))) => seen.push(cm.metadata.name.unwrap()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, ["b", "c"], "a watch from a's version starts after a");
    });
}

#[test]
fn namespaces_terminate_then_vanish_with_their_contents() {
    let cluster = FakeCluster::start(Options::default()).unwrap();
    runtime().block_on(async {
        let c = client(&cluster, Some("fakekube-admin-token")).await;
        let namespaces: Api<Namespace> = Api::all(c.clone());
        namespaces
            .create(
                &PostParams::default(),
                &object(json!({"metadata": {"name": "doomed"}})),
            )
            .await
            .unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "doomed");
        cms.create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "x"}})),
        )
        .await
        .unwrap();
        let deleting = namespaces
            .delete("doomed", &DeleteParams::default())
            .await
            .unwrap();
        let ns = deleting.left().expect("the namespace, now terminating");
        assert_eq!(
            ns.status.and_then(|s| s.phase).as_deref(),
            Some("Terminating")
        );
        let refused = cms
            .create(
                &PostParams::default(),
                &object(json!({"metadata": {"name": "y"}})),
            )
            .await;
        assert!(
            matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
            "{refused:?}"
        );
        for _ in 0..100 {
            if namespaces.get_opt("doomed").await.unwrap().is_none() {
                assert!(cluster
                    .objects("ConfigMap")
                    .iter()
                    .all(|c| c["metadata"]["namespace"] != "doomed"));
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the namespace never went away");
    });
}

#[test]
fn exec_reports_output_and_exit_codes() {
    let cluster = FakeCluster::start(Options::default()).unwrap();
    runtime().block_on(async {
        let c = client(&cluster, Some("fakekube-admin-token")).await;
        let pods: Api<Pod> = Api::namespaced(c, "default");
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}]}});
        pods.create(&PostParams::default(), &object(pod)).await.unwrap();
        for _ in 0..100 {
            let p = pods.get("p").await.unwrap();
            if p.status.and_then(|s| s.phase).as_deref() == Some("Running") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut proc = pods.exec("p", ["frobnicate"], &AttachParams::default()).await.unwrap();
        let mut err = String::new();
        proc.stderr().unwrap().read_to_string(&mut err).await.unwrap();
        let status = proc.take_status().unwrap().await.unwrap();
        assert_eq!(err, "sh: frobnicate: not found\n");
        let code = status.details.and_then(|d| d.causes).unwrap()[0].message.clone();
        assert_eq!(code.as_deref(), Some("127"));
    });
}
