//! A labelled corpus of conformance failures for `trellis bench triage`: real
//! conformance test names, ten jobs (some of them presubmits), 32 known root causes,
//! and messages of about 90 to 3,900 bytes with what varies between real occurrences
//! of one failure: pod, namespace and node names, IPv4 and IPv6 addresses, Ginkgo and
//! klog timestamps, UUIDs, pointers, line numbers, Go maps printed in random order,
//! stack traces and log excerpts. Deterministic for a given size.

/// One failure with the cause that produced it.
pub struct LabelledFailure {
    pub job: String,
    pub test: String,
    pub build: String,
    pub text: String,
    pub started: i64,
    pub pr: Option<u64>,
    pub cause: usize,
}

/// Conformance test names, as the v1.29 conformance suite reports them.
const TESTS: [&str; 52] = [
    "[sig-node] Kubelet when scheduling a busybox command in a pod should print the output to logs [NodeConformance] [Conformance]",
    "[sig-network] EndpointSlice should create Endpoints and EndpointSlices for Pods matching a Service [Conformance]",
    "[sig-storage] Secrets should be consumable from pods in volume with mappings [NodeConformance] [Conformance]",
    "[sig-storage] CSIInlineVolumes should run through the lifecycle of a CSIDriver [Conformance]",
    "[sig-node] Downward API should provide container's limits.cpu/memory and requests.cpu/memory as env vars [NodeConformance] [Conformance]",
    "[sig-node] Probing container should have monotonically increasing restart count [NodeConformance] [Conformance]",
    "[sig-api-machinery] Garbage collector should not delete dependents that have both valid owner and owner that's waiting for dependents to be deleted [Conformance]",
    "[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] should be able to deny custom resource creation, update and deletion [Conformance]",
    "[sig-node] Probing container should *not* be restarted with a exec \"cat /tmp/health\" liveness probe [NodeConformance] [Conformance]",
    "[sig-auth] ServiceAccounts ServiceAccountIssuerDiscovery should support OIDC discovery of service account issuer [Conformance]",
    "[sig-node] InitContainer [NodeConformance] should not start app containers if init containers fail on a RestartAlways pod [Conformance]",
    "[sig-api-machinery] server version should find the server version [Conformance]",
    "[sig-apps] CronJob should not schedule jobs when suspended [Slow] [Conformance]",
    "[sig-apps] ReplicaSet should serve a basic image on each replica with a public image [Conformance]",
    "[sig-storage] EmptyDir volumes volume on tmpfs should have the correct mode [LinuxOnly] [NodeConformance] [Conformance]",
    "[sig-apps] ReplicationController should serve a basic image on each replica with a public image [Conformance]",
    "[sig-node] Downward API should provide default limits.cpu/memory from node allocatable [NodeConformance] [Conformance]",
    "[sig-scheduling] SchedulerPreemption [Serial] validates basic preemption works [Conformance]",
    "[sig-node] InitContainer [NodeConformance] should not start app containers and fail the pod if init containers fail on a RestartNever pod [Conformance]",
    "[sig-node] Ephemeral Containers [NodeConformance] will start an ephemeral container in an existing pod [Conformance]",
    "[sig-storage] Projected downwardAPI should update annotations on modification [NodeConformance] [Conformance]",
    "[sig-node] Containers should be able to override the image's default arguments (container cmd) [NodeConformance] [Conformance]",
    "[sig-api-machinery] API priority and fairness should support FlowSchema API operations [Conformance]",
    "[sig-api-machinery] Aggregator Should be able to support the 1.17 Sample API Server using the current Aggregator [Conformance]",
    "[sig-network] Services should have session affinity work for NodePort service [LinuxOnly] [Conformance]",
    "[sig-storage] EmptyDir volumes should support (non-root,0666,tmpfs) [LinuxOnly] [NodeConformance] [Conformance]",
    "[sig-storage] Projected downwardAPI should provide container's memory limit [NodeConformance] [Conformance]",
    "[sig-storage] ConfigMap should be consumable from pods in volume with mappings [NodeConformance] [Conformance]",
    "[sig-storage] Projected configMap should be consumable from pods in volume with mappings [NodeConformance] [Conformance]",
    "[sig-network] EndpointSlice should create and delete Endpoints and EndpointSlices for a Service with a selector specified [Conformance]",
    "[sig-storage] ConfigMap binary data should be reflected in volume [NodeConformance] [Conformance]",
    "[sig-node] Containers should be able to override the image's default command (container entrypoint) [NodeConformance] [Conformance]",
    "[sig-architecture] Conformance Tests should have at least two untainted nodes [Conformance]",
    "[sig-storage] Projected configMap should be consumable from pods in volume [NodeConformance] [Conformance]",
    "[sig-apps] Daemon set [Serial] should verify changes to a daemon set status [Conformance]",
    "[sig-cli] Kubectl client Update Demo should create and stop a replication controller [Conformance]",
    "[sig-scheduling] LimitRange should create a LimitRange with defaults and ensure pod has those defaults applied. [Conformance]",
    "[sig-storage] ConfigMap should be consumable from pods in volume with mappings and Item mode set [LinuxOnly] [NodeConformance] [Conformance]",
    "[sig-instrumentation] Events API should delete a collection of events [Conformance]",
    "[sig-api-machinery] Watchers should be able to restart watching from the last resource version observed by the previous watch [Conformance]",
    "[sig-storage] CSIStorageCapacity should support CSIStorageCapacities API operations [Conformance]",
    "[sig-scheduling] LimitRange should list, patch and delete a LimitRange by collection [Conformance]",
    "[sig-storage] EmptyDir volumes pod should support shared volumes between containers [Conformance]",
    "[sig-network] DNS should provide DNS for pods for Subdomain [Conformance]",
    "[sig-node] Security Context When creating a pod with privileged should run the container as unprivileged when false [LinuxOnly] [NodeConformance] [Conformance]",
    "[sig-apps] ReplicaSet Replicaset should have a working scale subresource [Conformance]",
    "[sig-node] Probing container with readiness probe should not be ready before initial delay and never restart [NodeConformance] [Conformance]",
    "[sig-storage] Projected secret optional updates should be reflected in volume [NodeConformance] [Conformance]",
    "[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] Scaling should happen in predictable order and halt if any stateful pod is unhealthy [Slow] [Conformance]",
    "[sig-node] ConfigMap should run through a ConfigMap lifecycle [Conformance]",
    "[sig-storage] Projected secret should be consumable from pods in volume as non-root with defaultMode and fsGroup set [LinuxOnly] [NodeConformance] [Conformance]",
    "[sig-node] Pods should support remote command execution over websockets [NodeConformance] [Conformance]",
];

const JOBS: [&str; 10] = [
    "ci-kubernetes-e2e-kind",
    "ci-kubernetes-e2e-kind-ipv6",
    "ci-kubernetes-e2e-gci-gce",
    "ci-kubernetes-e2e-gke-conformance",
    "ci-kubernetes-conformance-kind-ga-only",
    "ci-kubernetes-e2e-ubuntu-gce-containerd",
    "ci-kubernetes-e2e-kind-alpha-features",
    "pull-kubernetes-e2e-kind",
    "pull-kubernetes-e2e-gce",
    "pull-kubernetes-conformance-kind-ga-only",
];

/// Root causes: a message template and which tests it strikes. Placeholders (`{…}`)
/// are filled per failure by [`Filler`].
struct Cause {
    template: &'static str,
    /// Tests it strikes: every test when empty, else these indices.
    tests: &'static [usize],
    /// Relative frequency.
    weight: u32,
}

/// A cluster bring-up log every bring-up failure starts with (about 2.3 KB).
const BRINGUP: &str = "{klog} cluster.go:112] Creating cluster \"kind\" ...\n{klog} cluster.go:118]  ✓ Ensuring node image (kindest/node:v1.29.0) 🖼\n{klog} cluster.go:120]  ✓ Preparing nodes 📦 📦 📦\n{klog} cluster.go:131]  ✓ Writing configuration 📜\n{klog} kubeadm.go:301] [init] Using Kubernetes version: v1.29.0\n{klog} kubeadm.go:301] [preflight] Running pre-flight checks\n{klog} kubeadm.go:301] [preflight] Pulling images required for setting up a Kubernetes cluster\n{klog} kubeadm.go:301] [certs] Using certificateDir folder \"/etc/kubernetes/pki\"\n{klog} kubeadm.go:301] [certs] Generating \"ca\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"apiserver\" certificate and key\n{klog} kubeadm.go:301] [certs] apiserver serving cert is signed for DNS names [kind-control-plane kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local localhost] and IPs [{ip} {ip}]\n{klog} kubeadm.go:301] [certs] Generating \"apiserver-kubelet-client\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"front-proxy-ca\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"front-proxy-client\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"etcd/ca\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"etcd/server\" certificate and key\n{klog} kubeadm.go:301] [certs] etcd/server serving cert is signed for DNS names [kind-control-plane localhost] and IPs [{ip} 127.0.0.1 ::1]\n{klog} kubeadm.go:301] [certs] Generating \"etcd/peer\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"etcd/healthcheck-client\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"apiserver-etcd-client\" certificate and key\n{klog} kubeadm.go:301] [certs] Generating \"sa\" key and public key\n{klog} kubeadm.go:301] [kubeconfig] Using kubeconfig folder \"/etc/kubernetes\"\n{klog} kubeadm.go:301] [kubeconfig] Writing \"admin.conf\" kubeconfig file\n{klog} kubeadm.go:301] [kubeconfig] Writing \"kubelet.conf\" kubeconfig file\n{klog} kubeadm.go:301] [control-plane] Using manifest folder \"/etc/kubernetes/manifests\"\n{klog} kubeadm.go:301] [control-plane] Creating static Pod manifest for \"kube-apiserver\"\n{klog} kubeadm.go:301] [kubelet-start] Starting the kubelet\n{klog} kubeadm.go:301] [wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"/etc/kubernetes/manifests\". This can take up to 4m0s\n";

const CAUSES: [Cause; 32] = [
    // 0, 1: the same request failing two ways (the tail differs, the rest is shared).
    Cause { template: "[FAILED] Unexpected error:\n    <*url.Error | {ptr}>: \n    Get \"https://{ip}:6443/api/v1/namespaces/{ns}/pods?labelSelector=name%3D{pod}&limit=500\": dial tcp {ip}:6443: connect: connection refused\n    {\n        Op: \"Get\",\n        URL: \"https://{ip}:6443/api/v1/namespaces/{ns}/pods\",\n        Err: <*net.OpError | {ptr}>{Op: \"dial\", Net: \"tcp\", Source: nil, Addr: <*net.TCPAddr | {ptr}>{IP: [{n}, {n}, {n}, {n}], Port: 6443, Zone: \"\"}, Err: <*os.SyscallError | {ptr}>{Syscall: \"connect\", Err: <syscall.Errno>0x6f}},\n    }\noccurred\nIn [It] at: {file}:{line} @ {g2time}", tests: &[], weight: 30 },
    Cause { template: "[FAILED] Unexpected error:\n    <*url.Error | {ptr}>: \n    Get \"https://{ip}:6443/api/v1/namespaces/{ns}/pods?labelSelector=name%3D{pod}&limit=500\": dial tcp {ip}:6443: i/o timeout\n    {\n        Op: \"Get\",\n        URL: \"https://{ip}:6443/api/v1/namespaces/{ns}/pods\",\n        Err: <*net.OpError | {ptr}>{Op: \"dial\", Net: \"tcp\", Source: nil, Addr: <*net.TCPAddr | {ptr}>{IP: [{n}, {n}, {n}, {n}], Port: 6443, Zone: \"\"}, Err: <*poll.DeadlineExceededError | {ptr}>{}},\n    }\noccurred\nIn [It] at: {file}:{line} @ {g2time}", tests: &[], weight: 25 },
    // 2, 3, 4: cluster bring-up failures sharing the 2.3 KB kubeadm log.
    Cause { template: "{bringup}{klog} kubeadm.go:301] [kubelet-check] Initial timeout of 40s passed.\n{klog} kubeadm.go:301] Unfortunately, an error has occurred: timed out waiting for the condition\n{klog} kubeadm.go:301] This error is likely caused by: The kubelet is not running\nERROR: failed to create cluster: failed to init node with kubeadm: command \"docker exec --privileged kind-control-plane kubeadm init --skip-phases=preflight --config=/kind/kubeadm.conf --skip-token-print --v=6\" failed with error: exit status 1", tests: &[], weight: 8 },
    Cause { template: "{bringup}{klog} kubeadm.go:301] [apiclient] All control plane components are healthy after {secs}\n{klog} kubeadm.go:301] [upload-config] Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace\nerror execution phase upload-config/kubelet: Error writing Crisocket information for the control-plane node: nodes \"kind-control-plane\" not found\nERROR: failed to create cluster: failed to init node with kubeadm: exit status 1", tests: &[], weight: 6 },
    Cause { template: "{bringup}{klog} kubeadm.go:301] [apiclient] All control plane components are healthy after {secs}\n{klog} kubeadm.go:301] [mark-control-plane] Marking the node kind-control-plane as control-plane\nERROR: failed to create cluster: failed to join node with kubeadm: command \"docker exec --privileged kind-worker2 kubeadm join --config /kind/kubeadm.conf --skip-phases=preflight --v=6\" failed with error: exit status 1\nCommand Output: error execution phase kubelet-start: error uploading crisocket: Unauthorized", tests: &[], weight: 5 },
    // 5: pods that never start.
    Cause { template: "[FAILED] wait for pod \"{pod}\" to be running: Timed out after {secs}.\nExpected Pod to be in <v1.PodPhase>: \"Running\"\nGot instead:\n    <*v1.Pod | {ptr}>: \n        metadata:\n          name: {pod}\n          namespace: {ns}\n          uid: {uuid}\n        spec:\n          nodeName: {node}\n        status:\n          phase: Pending\n          conditions:\n          - type: PodScheduled\n            status: \"True\"\n            lastTransitionTime: \"{isotime}\"\n          containerStatuses:\n          - name: agnhost\n            state:\n              waiting:\n                reason: ContainerCreating\nIn [It] at: {file}:{line} @ {g2time}", tests: &[0, 2, 6, 8, 9, 11, 14, 17, 20, 23, 25, 30, 33, 38, 41, 44, 47, 50], weight: 40 },
    // 6: image pulls.
    Cause { template: "[FAILED] pod {pod} in namespace {ns} failed: ErrImagePull: failed to pull and unpack image \"registry.k8s.io/e2e-test-images/agnhost:2.47\": failed to resolve reference: failed to do request: Head \"https://registry.k8s.io/v2/e2e-test-images/agnhost/manifests/2.47\": dial tcp {ip}:443: i/o timeout\nIn [It] at: {file}:{line} @ {g2time}", tests: &[], weight: 20 },
    // 7: PVC never bound (PV names are pvc-<uuid>).
    Cause { template: "[FAILED] PersistentVolumeClaim pvc-{n}{n} in namespace {ns} not bound: volume pvc-{uuid} on node {node} timed out waiting for the condition after {secs}\nIn [It] at: test/e2e/storage/utils/utils.go:{line} @ {g2time}", tests: &[4, 12, 18, 27, 35, 42, 48], weight: 15 },
    // 8: endpoint slices with labels printed as a Go map.
    Cause { template: "[FAILED] EndpointSlice for service {ns}/{pod} did not match: expected labels {map} to select 3 endpoints, got 2 ({ip}, {ip})\nIn [It] at: test/e2e/network/endpointslice.go:{line} @ {g2time}", tests: &[1, 10, 21, 31], weight: 12 },
    // 9: DNS lookups.
    Cause { template: "[FAILED] Unable to read from pod {ns}/{pod}: the server is currently unable to handle the request (get pods {pod})\n{klog} dns_common.go:{line}] Lookups using {ns}/{pod} failed for: [wheezy_udp@dns-test-service.{ns}.svc.cluster.local jessie_tcp@dns-test-service.{ns}.svc.cluster.local]\nIn [It] at: test/e2e/network/dns_common.go:{line} @ {g2time}", tests: &[3, 13, 24, 36], weight: 10 },
    // 10: node NotReady, with provider-specific node names.
    Cause { template: "[FAILED] node {node} is not ready: condition Ready is False (reason KubeletNotReady: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized), last heartbeat {isotime}\nIn [BeforeEach] at: test/e2e/framework/framework.go:{line} @ {g2time}", tests: &[], weight: 14 },
    // 11: OOM kill.
    Cause { template: "[FAILED] container agnhost in pod {ns}/{pod} was OOMKilled (exit code 137) on node {node} at {isotime}; memory limit 64Mi\nIn [It] at: {file}:{line} @ {g2time}", tests: &[5, 15, 26, 37, 45], weight: 9 },
    // 12: webhook not ready.
    Cause { template: "[FAILED] waiting for webhook configuration to be ready: Internal error occurred: failed calling webhook \"e2e-test-webhook-{n}-{ns}.k8s.io\": failed to call webhook: Post \"https://e2e-test-webhook.{ns}.svc:8443/always-allow-delay-5s?timeout=10s\": context deadline exceeded\nIn [It] at: test/e2e/apimachinery/webhook.go:{line} @ {g2time}", tests: &[7, 16, 28], weight: 8 },
    // 13: exec in pod timing out, with a stack.
    Cause { template: "[FAILED] failed to execute command in pod {pod}, container agnhost: error dialing backend: dial tcp {ip}:10250: connect: no route to host\nIn [It] at: test/e2e/framework/pod/exec_util.go:{line} @ {g2time}\n\nFull Stack Trace\n{stack}", tests: &[19, 29, 39, 46], weight: 7 },
    // 14: watch closed early.
    Cause { template: "[FAILED] Watch closed before UntilWithoutRetry timeout: watch of *v1.ConfigMap ended with: very short watch: k8s.io/client-go/tools/watch/informerwatcher.go:{line}: Unexpected watch close - watch lasted less than a second and no items received\nIn [It] at: {file}:{line} @ {g2time}", tests: &[22, 32, 40], weight: 6 },
    // 15: conflict on update, resource version in the text.
    Cause { template: "[FAILED] Operation cannot be fulfilled on deployments.apps \"{pod}\": the object has been modified; please apply your changes to the latest version and try again (resourceVersion {n}{n}{n})\nIn [It] at: test/e2e/apps/deployment.go:{line} @ {g2time}", tests: &[34, 43, 49], weight: 6 },
    // 16: service reachability with IPv6.
    Cause { template: "[FAILED] service {ns}/{pod} is not reachable within {secs}: Get \"http://[{ip6}]:80/hostName\": dial tcp [{ip6}]:80: connect: connection refused\nlast output from agnhost on {node}: curl: (7) Failed to connect to {ip6} port 80 after 0 ms: Couldn't connect to server\nIn [It] at: test/e2e/network/service.go:{line} @ {g2time}", tests: &[1, 3, 10, 13, 21, 24, 31, 36], weight: 10 },
    // 17: Ginkgo v1-style timeout with a long klog excerpt.
    Cause { template: "{v1time}: INFO: Unexpected error occurred: timed out waiting for the condition\n{log}\ntest/e2e/framework/util.go:{line}\n", tests: &[], weight: 8 },
    // 18: gomega equality of maps.
    Cause { template: "[FAILED] Expected\n    <map[string]string | len:4>: {map}\nto equal\n    <map[string]string | len:4>: {map}\nIn [It] at: test/e2e/common/node/configmap.go:{line} @ {g2time}", tests: &[6, 9, 14], weight: 6 },
    // 19: scheduling failure.
    Cause { template: "[FAILED] pod {ns}/{pod} did not schedule: 0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.\nIn [It] at: test/e2e/scheduling/predicates.go:{line} @ {g2time}", tests: &[11, 20, 30], weight: 7 },
    // 20: secret volume content.
    Cause { template: "[FAILED] failed to get output for container \"secret-volume-test\" of pod {pod}: expected \"content of file \\\"/etc/secret-volume/data-1\\\": value-1\" in container output: Expected\n    <string>: mode of file \"/etc/secret-volume/data-1\": -rw-r--r--\nto contain substring\n    <string>: content of file \"/etc/secret-volume/data-1\": value-1\nIn [It] at: test/e2e/framework/pod/output/output.go:{line} @ {g2time}", tests: &[2, 8, 25], weight: 6 },
    // 21: API server 429s.
    Cause { template: "[FAILED] the server has received too many requests and has asked us to try again later (post {res}.apps) (Client.Timeout exceeded while awaiting headers); request {uuid} from {ip} rejected by priority level workload-low\nIn [It] at: {file}:{line} @ {g2time}", tests: &[], weight: 9 },
    // 22: namespace deletion stuck.
    Cause { template: "[FAILED] Couldn't delete ns: \"{ns}\": namespace {ns} was not deleted with limit: timed out waiting for the condition, namespaced content other than pods remain: remaining resources: {map}\nIn [AfterEach] at: test/e2e/framework/framework.go:{line} @ {g2time}", tests: &[], weight: 9 },
    // 23: kubectl output mismatch.
    Cause { template: "[FAILED] error running /usr/local/bin/kubectl --server=https://{ip}:6443 --kubeconfig=/root/.kube/config --namespace={ns} exec {pod} -- /bin/sh -c exit 42:\nCommand stdout:\n\nstderr:\nerror: unable to upgrade connection: container not found (\"agnhost\")\n\nerror:\nexit status 1\nIn [It] at: test/e2e/kubectl/kubectl.go:{line} @ {g2time}", tests: &[51], weight: 4 },
    // 24: probes.
    Cause { template: "[FAILED] pod {ns}/{pod} - expected number of restarts: 0, found restarts: {n}; liveness probe failed: Get \"http://{ip}:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)\nIn [It] at: test/e2e/common/node/container_probe.go:{line} @ {g2time}", tests: &[0, 17, 23, 33], weight: 8 },
    // 25: etcd leader changes (short).
    Cause { template: "etcdserver: leader changed", tests: &[], weight: 5 },
    // 26: etcd request timeouts (short, close to 25 in length, a different cause).
    Cause { template: "etcdserver: request timed out", tests: &[], weight: 5 },
    // 27: events not seen.
    Cause { template: "[FAILED] Timed out after {secs}.\nExpected at least one event for pod {pod} with reason \"Started\" in namespace {ns}, got none (field selector involvedObject.uid={uuid})\nIn [It] at: {file}:{line} @ {g2time}", tests: &[5, 15, 26, 37, 45, 19, 29], weight: 7 },
    // 28: job completion.
    Cause { template: "[FAILED] job {ns}/{pod} failed to complete: BackoffLimitExceeded: Job has reached the specified backoff limit; failed pods: {pod}, {pod}\nIn [It] at: test/e2e/apps/job.go:{line} @ {g2time}", tests: &[34, 43], weight: 5 },
    // 29: a panic with a long stack.
    Cause { template: "[PANICKED] Test Panicked\nIn [It] at: runtime/panic.go:{line} @ {g2time}\n\nruntime error: invalid memory address or nil pointer dereference\n\nFull Stack Trace\n{stack}", tests: &[7, 16, 22, 28, 32, 40], weight: 5 },
    // 30: quota.
    Cause { template: "[FAILED] resource quota {pod} in {ns} status mismatch: used {map}, expected used map[count/pods:1 requests.cpu:100m requests.memory:128Mi]\nIn [It] at: test/e2e/apimachinery/resource_quota.go:{line} @ {g2time}", tests: &[12, 18], weight: 4 },
    // 31: the audit/log collector failing after the test (infra).
    Cause { template: "[FAILED] failed to gather logs from node {node} ({ip}): ssh: handshake failed: read tcp {ip}:{n}{n}->{ip}:22: read: connection reset by peer", tests: &[], weight: 6 },
];

/// A small deterministic generator (a 64-bit LCG's high bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize] as char)
            .collect()
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    }
}

/// What varies between occurrences of one cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variation {
    /// Everything real CI failures vary in.
    Full,
    /// Only what Kubernetes triage itself normalises (klog and ISO times, pointers,
    /// IPv4 addresses, UUIDs, `minion-group-` nodes, map order), plus line numbers and
    /// durations: generated names, Ginkgo v2 dates, IPv6 and label hashes stay fixed per
    /// cause. On this corpus the two algorithms should agree.
    TriageNormalised,
}

/// Placeholders that vary only in [`Variation::Full`].
fn varies_only_in_full(name: &str) -> bool {
    matches!(name, "ns" | "pod" | "g2time" | "ip6" | "map" | "klog")
}

/// Fills one template for one failure.
struct Filler<'r> {
    rng: &'r mut Rng,
    job: usize,
    test: usize,
    cause: usize,
    variation: Variation,
}

impl Filler<'_> {
    /// The test that decides generated names' fixed parts: its own in the full
    /// variation, none in the restricted one.
    fn names_test(&self) -> usize {
        if self.variation == Variation::Full {
            self.test
        } else {
            0
        }
    }

    fn fill(&mut self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() * 2);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if is_placeholder(&after[..close]) => {
                    let value = self.value(&after[..close]);
                    out.push_str(&value);
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn value(&mut self, name: &str) -> String {
        let full = self.variation == Variation::Full;
        let names_test = self.names_test();
        let mut fixed = Rng((self.cause as u64).wrapping_mul(0x9E37_79B9) + 1);
        let r = if full || !varies_only_in_full(name) {
            &mut *self.rng
        } else {
            &mut fixed
        };
        match name {
            "bringup" => {
                let text = BRINGUP;
                self.fill(text)
            }
            "ptr" => format!("0xc00{}", r.hex(7)),
            "ip" => {
                if self.job == 1 && full {
                    format!("fd00:10:244:{}::{}", r.below(4), 1 + r.below(250))
                } else {
                    format!("10.{}.{}.{}", r.below(255), r.below(255), 1 + r.below(250))
                }
            }
            "ip6" => format!("fd00:10:96::{:x}", 1 + r.below(4000)),
            "n" => format!("{}", r.below(10)),
            "uuid" => format!(
                "{}-{}-4{}-a{}-{}",
                r.hex(8),
                r.hex(4),
                r.hex(3),
                r.hex(3),
                r.hex(12)
            ),
            // A test names its namespaces and pods the same way every run; the
            // numbers and hashes the API server generates differ.
            "ns" => {
                let bases = [
                    "pods",
                    "services",
                    "dns",
                    "statefulset",
                    "webhook",
                    "kubectl",
                    "emptydir",
                    "secrets",
                ];
                let base = bases[(names_test + self.cause) % bases.len()];
                format!("{base}-{}", 1000 + r.below(9000))
            }
            "pod" => {
                let bases = [
                    "agnhost",
                    "webserver",
                    "test-deployment",
                    "pod-secrets",
                    "dns-test",
                    "ss",
                ];
                let base = bases[(names_test * 7 + self.cause) % bases.len()];
                format!("{base}-{}-{}", r.alnum(10), r.alnum(5))
            }
            "node" => match self.job {
                2 | 5 | 8 => format!("bootstrap-e2e-minion-group-{}", r.alnum(4)),
                3 if full => format!("gke-conformance-default-pool-{}-{}", r.hex(8), r.alnum(4)),
                _ if full => format!("kind-worker{}", ["", "2", "3"][r.below(3) as usize]),
                _ => "kind-worker".to_string(),
            },
            "g2time" => format!(
                "12/{:02}/23 {:02}:{:02}:{:02}.{:03}",
                1 + r.below(28),
                r.below(24),
                r.below(60),
                r.below(60),
                r.below(1000)
            ),
            "v1time" => format!(
                "Dec {:2} {:02}:{:02}:{:02}.{:03}",
                1 + r.below(28),
                r.below(24),
                r.below(60),
                r.below(60),
                r.below(1000)
            ),
            "isotime" => format!(
                "2023-12-{:02}T{:02}:{:02}:{:02}Z",
                1 + r.below(28),
                r.below(24),
                r.below(60),
                r.below(60)
            ),
            "klog" => format!(
                "I12{:02} {:02}:{:02}:{:02}.{:06}    {}",
                1 + r.below(28),
                r.below(24),
                r.below(60),
                r.below(60),
                r.below(1_000_000),
                100 + r.below(900)
            ),
            "secs" => format!(
                "{}.{:03}s",
                [60, 120, 300, 600][r.below(4) as usize],
                r.below(1000)
            ),
            // Line numbers move between Kubernetes versions: three per cause.
            "line" => format!("{}", 100 + self.cause * 37 + [0, 4, 9][r.below(3) as usize]),
            "file" => {
                let sig = TESTS[self.test]
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("[sig-");
                format!(
                    "test/e2e/{}/{}.go",
                    sig.replace('-', ""),
                    ["framework", "util", "helpers"][self.test % 3]
                )
            }
            "res" => r
                .pick(&["deployments", "replicasets", "statefulsets", "daemonsets"])
                .to_string(),
            "map" => {
                let mut entries = [
                    "app:web".to_string(),
                    format!("pod-template-hash:{}", r.alnum(10)),
                    "tier:frontend".to_string(),
                    "e2e-run:true".to_string(),
                ];
                for i in (1..entries.len()).rev() {
                    let j = r.below(i as u64 + 1) as usize;
                    entries.swap(i, j);
                }
                format!("map[{}]", entries.join(" "))
            }
            "stack" => {
                // One cause, one call path: its depth varies by a frame at most.
                let frames = 8 + self.cause % 12 + r.below(2) as usize;
                let mut s = format!("goroutine {} [running]:\n", 100 + r.below(900));
                let funcs = [
                    "k8s.io/kubernetes/test/e2e/framework/pod.(*PodClient).CreateSync",
                    "k8s.io/kubernetes/test/e2e/common/node.glob..func12.3",
                    "k8s.io/kubernetes/test/e2e/framework.(*Framework).BeforeEach",
                    "github.com/onsi/ginkgo/v2/internal.(*Suite).runNode.func3",
                    "github.com/onsi/ginkgo/v2/internal.(*Suite).runNode",
                    "k8s.io/client-go/rest.(*Request).Do",
                    "k8s.io/apimachinery/pkg/util/wait.PollImmediate",
                ];
                for f in 0..frames {
                    let func = funcs[(f + self.cause) % funcs.len()];
                    s.push_str(&format!(
                        "{func}({})\n\t/go/src/k8s.io/kubernetes/{}.go:{} +0x{:x}\n",
                        ["0xc000123400", "0x0", "{0x7f1a2b3c4d5e, 0x1}"][f % 3],
                        func.rsplit('/')
                            .next()
                            .unwrap_or("x")
                            .split('.')
                            .next()
                            .unwrap_or("x"),
                        50 + f * 13 + self.cause,
                        0x20 + r.below(0x300)
                    ));
                }
                s
            }
            "log" => {
                let lines = 10 + r.below(3) as usize;
                let mut s = String::new();
                for l in 0..lines {
                    let t = self.fill("{klog}");
                    let what = [
                        "reflector.go:539] k8s.io/client-go/informers/factory.go:159: watch of *v1.Pod ended with: an error on the server (\"unable to decode an event from the watch stream\") has prevented the request from succeeding",
                        "round_trippers.go:553] GET https://{ip}:6443/api/v1/namespaces/{ns}/pods 200 OK in 3 milliseconds",
                        "util.go:{line}] Waiting up to 5m0s for pod \"{pod}\" in namespace \"{ns}\" to be \"running\"",
                    ][(l + self.cause) % 3];
                    let what = self.fill(what);
                    s.push_str(&format!("{t} {what}\n"));
                }
                s
            }
            other => format!("{{{other}}}"),
        }
    }
}

/// Whether `{name}` in a template is a placeholder (else it is literal text such as a
/// Go struct's braces).
fn is_placeholder(name: &str) -> bool {
    matches!(
        name,
        "bringup"
            | "ptr"
            | "ip"
            | "ip6"
            | "n"
            | "uuid"
            | "ns"
            | "pod"
            | "node"
            | "g2time"
            | "v1time"
            | "isotime"
            | "klog"
            | "secs"
            | "line"
            | "file"
            | "res"
            | "map"
            | "stack"
            | "log"
    )
}

/// `n` labelled failures over 14 days.
pub fn corpus(n: usize, variation: Variation) -> Vec<LabelledFailure> {
    let mut rng = Rng(0x0074_7265_6c6c_6973);
    let total: u32 = CAUSES.iter().map(|c| c.weight).sum();
    let end = 1_702_000_000i64;
    (0..n)
        .map(|i| {
            let mut roll = rng.below(u64::from(total)) as u32;
            let cause = CAUSES
                .iter()
                .position(|c| {
                    if roll < c.weight {
                        true
                    } else {
                        roll -= c.weight;
                        false
                    }
                })
                .unwrap_or(0);
            let c = &CAUSES[cause];
            let test = if c.tests.is_empty() {
                rng.below(TESTS.len() as u64) as usize
            } else {
                c.tests[rng.below(c.tests.len() as u64) as usize]
            };
            let job = rng.below(JOBS.len() as u64) as usize;
            let build = 1_700_000_000_000_000_000u64 + (i as u64 / 7) * 1_000 + job as u64;
            let started = end - 14 * 86_400 + (i as i64 * 14 * 86_400) / n.max(1) as i64;
            let pr = JOBS[job]
                .starts_with("pull-")
                .then(|| 120_000 + rng.below(900));
            let text = Filler {
                rng: &mut rng,
                job,
                test,
                cause,
                variation,
            }
            .fill(c.template);
            LabelledFailure {
                job: JOBS[job].to_string(),
                test: TESTS[test].to_string(),
                build: build.to_string(),
                text,
                started,
                pr,
                cause,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_has_every_cause_and_realistic_lengths() {
        let c = corpus(3000, Variation::Full);
        let causes: std::collections::BTreeSet<usize> = c.iter().map(|f| f.cause).collect();
        assert_eq!(causes.len(), 32);
        let min = c.iter().map(|f| f.text.len()).min().unwrap_or(0);
        let max = c.iter().map(|f| f.text.len()).max().unwrap_or(0);
        assert!(min < 100 && (2500..6000).contains(&max), "{min}..{max}");
        assert!(c
            .iter()
            .all(|f| !f.text.contains("{ip}") && !f.text.contains("{ns}")));
    }
}
