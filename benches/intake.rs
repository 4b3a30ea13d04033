//! What reading real-sized pods costs, by encoding and by reader: the same injected pods
//! (about 10 KB of JSON each: app container, istio-proxy, init container, full status,
//! managedFields) as JSON read in full (`k8s-openapi`'s `Pod`), as JSON read leanly
//! (meshtop's `Lean<PodParts>`, what its watchers read: through serde for watch events, through
//! meshtop's own reader for the pages of a list), and as protobuf read in full with the
//! kube-rs project's `k8s-pb` types (what kubectl asks real API servers for), and as protobuf
//! read leanly (messages of only the fields meshtop keeps: the rest skipped by its length, as
//! a protobuf intake of meshtop's would read it). Bytes per pod and decode time per pod,
//! then meshtop's projection into its summary.
//!
//! `cargo bench --bench intake` (release); `cargo bench --bench intake -- 5000` picks the
//! number of pods (default 20,000).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_pb::api::core::v1 as pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pbmeta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use meshtop::cluster::watch::Lean;
use meshtop::model::intern::Interner;
use meshtop::model::project::{PodParts, Project};
use prost::Message;
use serde_json::{Value, json};

/// One pod's parts, rendered both ways.
struct Parts {
    name: String,
    namespace: String,
    node: String,
    app: String,
    ip: String,
    revision: &'static str,
    restarts: i32,
}

const CREATED: &str = "2026-11-25T10:00:00Z";
const CREATED_SECONDS: i64 = 1_795_600_800;

fn parts(i: usize) -> Parts {
    let namespace = format!("team-{:02}-prod", i % 48);
    let app = format!("service-{:03}", (i / 20) % 500);
    Parts {
        name: format!("{app}-7d9c8f{:04x}-{:05x}", i / 20, i),
        namespace,
        node: format!("worker-{:04}", i % 5000),
        app,
        ip: format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        revision: if i.is_multiple_of(3) {
            "1-22-1"
        } else {
            "1-21-2"
        },
        restarts: (i % 7) as i32,
    }
}

/// istio-proxy's environment, as the injector writes it: (name, value or field path).
fn proxy_env(p: &Parts) -> Vec<(String, Result<String, &'static str>)> {
    let mut env: Vec<(String, Result<String, &'static str>)> = vec![
        ("POD_NAME".into(), Err("metadata.name")),
        ("POD_NAMESPACE".into(), Err("metadata.namespace")),
        ("INSTANCE_IP".into(), Err("status.podIP")),
        ("SERVICE_ACCOUNT".into(), Err("spec.serviceAccountName")),
        ("HOST_IP".into(), Err("status.hostIP")),
        ("ISTIO_CPU_LIMIT".into(), Err("metadata.labels")),
    ];
    let plain = [
        ("PILOT_CERT_PROVIDER", "istiod".to_string()),
        (
            "CA_ADDR",
            format!("istiod-{}.istio-system.svc:15012", p.revision),
        ),
        ("PROXY_CONFIG", "{}".to_string()),
        (
            "ISTIO_META_POD_PORTS",
            "[{\"containerPort\":8080,\"protocol\":\"TCP\"}]".into(),
        ),
        ("ISTIO_META_APP_CONTAINERS", p.app.clone()),
        ("GOMEMLIMIT", "1073741824".into()),
        ("GOMAXPROCS", "2".into()),
        ("ISTIO_META_CLUSTER_ID", "Kubernetes".into()),
        ("ISTIO_META_NODE_NAME", p.node.clone()),
        ("ISTIO_META_INTERCEPTION_MODE", "REDIRECT".into()),
        ("ISTIO_META_WORKLOAD_NAME", p.app.clone()),
        (
            "ISTIO_META_OWNER",
            format!(
                "kubernetes://apis/apps/v1/namespaces/{}/deployments/{}",
                p.namespace, p.app
            ),
        ),
        ("ISTIO_META_MESH_ID", "cluster.local".into()),
        ("TRUST_DOMAIN", "cluster.local".into()),
    ];
    env.extend(plain.into_iter().map(|(k, v)| (k.to_string(), Ok(v))));
    env
}

const PROXY_ARGS: [&str; 8] = [
    "proxy",
    "sidecar",
    "--domain",
    "$(POD_NAMESPACE).svc.cluster.local",
    "--proxyLogLevel=warning",
    "--proxyComponentLogLevel=misc:error",
    "--log_output_level=default:info",
    "--concurrency=2",
];
const INIT_ARGS: [&str; 12] = [
    "istio-iptables",
    "-p",
    "15001",
    "-z",
    "15006",
    "-u",
    "1337",
    "-m",
    "REDIRECT",
    "-i",
    "*",
    "--log_output_level=default:info",
];
const CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];
const MOUNTS: [(&str, &str); 8] = [
    ("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
    ("credential-socket", "/var/run/secrets/credential-uds"),
    (
        "workload-certs",
        "/var/run/secrets/workload-spiffe-credentials",
    ),
    ("istiod-ca-cert", "/var/run/secrets/istio"),
    ("istio-data", "/var/lib/istio/data"),
    ("istio-envoy", "/etc/istio/proxy"),
    ("istio-token", "/var/run/secrets/tokens"),
    ("istio-podinfo", "/etc/istio/pod"),
];

/// A managedFields entry's field set, as big as the kubelet's status entry on such a pod.
fn fields_v1(manager: &str) -> Value {
    let mut conditions = serde_json::Map::new();
    for c in [
        "ContainersReady",
        "Initialized",
        "PodReadyToStartContainers",
        "Ready",
        "PodScheduled",
    ] {
        conditions.insert(
            format!("k:{{\"type\":\"{c}\"}}"),
            json!({".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}),
        );
    }
    json!({"f:status": {"f:conditions": conditions, "f:containerStatuses": {}, "f:hostIP": {},
        "f:hostIPs": {}, "f:initContainerStatuses": {}, "f:phase": {}, "f:podIP": {},
        "f:podIPs": {".": {}, "k:{\"ip\":\"10.0.0.1\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}},
        "f:metadata": {"f:annotations": {"f:manager": manager}}})
}

fn sidecar_status(p: &Parts) -> String {
    format!(
        "{{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"workload-socket\",\
         \"credential-socket\",\"workload-certs\",\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\
         \"istiod-ca-cert\"],\"imagePullSecrets\":null,\"revision\":\"{}\"}}",
        p.revision
    )
}

fn labels(p: &Parts) -> BTreeMap<String, String> {
    [
        ("app", p.app.as_str()),
        ("version", "v1"),
        ("pod-template-hash", "7d9c8f"),
        ("security.istio.io/tlsMode", "istio"),
        ("service.istio.io/canonical-name", p.app.as_str()),
        ("service.istio.io/canonical-revision", "v1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn annotations(p: &Parts) -> BTreeMap<String, String> {
    [
        ("istio.io/rev", p.revision.to_string()),
        ("kubectl.kubernetes.io/default-container", p.app.clone()),
        (
            "kubectl.kubernetes.io/default-logs-container",
            p.app.clone(),
        ),
        ("prometheus.io/path", "/stats/prometheus".into()),
        ("prometheus.io/port", "15020".into()),
        ("prometheus.io/scrape", "true".into()),
        ("sidecar.istio.io/status", sidecar_status(p)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn json_pod(p: &Parts) -> Value {
    let env: Vec<Value> = proxy_env(p)
        .into_iter()
        .map(|(name, v)| match v {
            Ok(value) => json!({"name": name, "value": value}),
            Err(path) => json!({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}),
        })
        .collect();
    let mounts: Vec<Value> = MOUNTS
        .iter()
        .map(|(n, m)| json!({"name": n, "mountPath": m}))
        .collect();
    let conditions: Vec<Value> = CONDITIONS
        .iter()
        .map(|c| json!({"type": c, "status": "True", "lastProbeTime": null, "lastTransitionTime": CREATED}))
        .collect();
    let statuses: Vec<Value> = [p.app.as_str(), "istio-proxy"]
        .iter()
        .map(|n| {
            json!({"name": n, "ready": true, "restartCount": p.restarts,
                "image": "docker.io/istio/proxyv2:1.22.1",
                "imageID": "docker.io/istio/proxyv2@sha256:0123456789abcdef",
                "containerID": "containerd://def", "started": true,
                "state": {"running": {"startedAt": CREATED}}})
        })
        .collect();
    let volumes: Vec<Value> = MOUNTS
        .iter()
        .map(|(n, _)| json!({"name": n, "emptyDir": {}}))
        .collect();
    let resources = json!({"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}});
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": p.name, "generateName": format!("{}-7d9c8f-", p.app), "namespace": p.namespace,
            "uid": format!("{:08x}-0000-4000-8000-000000000000", p.restarts), "resourceVersion": "4711",
            "creationTimestamp": CREATED, "labels": labels(p), "annotations": annotations(p),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{}-7d9c8f", p.app),
                "uid": "5c0d", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                 "time": CREATED, "fieldsType": "FieldsV1", "fieldsV1": fields_v1("kube-controller-manager")},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": CREATED,
                 "fieldsType": "FieldsV1", "fieldsV1": fields_v1("kubelet"), "subresource": "status"}
            ]
        },
        "spec": {
            "volumes": volumes,
            "initContainers": [
                {"name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.1", "args": INIT_ARGS,
                 "resources": resources, "terminationMessagePath": "/dev/termination-log",
                 "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
            ],
            "containers": [
                {"name": p.app, "image": format!("registry.example.com/{}:1.4.2", p.app),
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                 "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
                 "resources": resources,
                 "readinessProbe": {"httpGet": {"path": "/app-health/ready", "port": 15020, "scheme": "HTTP"},
                    "timeoutSeconds": 1, "periodSeconds": 10},
                 "volumeMounts": [{"name": "istio-data", "mountPath": "/data"}],
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "imagePullPolicy": "IfNotPresent"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.1", "args": PROXY_ARGS,
                 "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
                 "env": env, "resources": resources,
                 "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                    "initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 15, "failureThreshold": 4},
                 "volumeMounts": mounts,
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "imagePullPolicy": "IfNotPresent"}
            ],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": p.app, "serviceAccount": p.app, "nodeName": p.node,
            "schedulerName": "default-scheduler", "priority": 0, "enableServiceLinks": true
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "192.168.0.10", "podIP": p.ip, "podIPs": [{"ip": p.ip}], "startTime": CREATED,
            "initContainerStatuses": [
                {"name": "istio-init", "ready": true, "restartCount": 0, "image": "docker.io/istio/proxyv2:1.22.1",
                 "imageID": "docker.io/istio/proxyv2@sha256:0123456789abcdef", "containerID": "containerd://abc",
                 "started": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": CREATED, "finishedAt": CREATED, "containerID": "containerd://abc"}}}
            ],
            "containerStatuses": statuses,
            "qosClass": "Burstable"
        }
    })
}

fn s(v: impl Into<String>) -> Option<String> {
    Some(v.into())
}

fn pb_time() -> Option<pbmeta::Time> {
    Some(pbmeta::Time {
        seconds: Some(CREATED_SECONDS),
        nanos: Some(0),
    })
}

fn pb_resources() -> Option<pb::ResourceRequirements> {
    let q = |v: &str| k8s_pb::apimachinery::pkg::api::resource::Quantity { string: s(v) };
    Some(pb::ResourceRequirements {
        limits: [
            ("cpu".to_string(), q("2")),
            ("memory".to_string(), q("1Gi")),
        ]
        .into(),
        requests: [
            ("cpu".to_string(), q("100m")),
            ("memory".to_string(), q("128Mi")),
        ]
        .into(),
        ..Default::default()
    })
}

fn pb_probe(path: &str, port: i32) -> Option<pb::Probe> {
    Some(pb::Probe {
        handler: Some(pb::ProbeHandler {
            http_get: Some(pb::HttpGetAction {
                path: s(path),
                port: Some(IntOrString {
                    r#type: Some(0),
                    int_val: Some(port),
                    str_val: None,
                }),
                scheme: s("HTTP"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        timeout_seconds: Some(3),
        period_seconds: Some(15),
        ..Default::default()
    })
}

fn pb_container(name: &str, image: &str) -> pb::Container {
    pb::Container {
        name: s(name),
        image: s(image),
        resources: pb_resources(),
        termination_message_path: s("/dev/termination-log"),
        termination_message_policy: s("File"),
        image_pull_policy: s("IfNotPresent"),
        ..Default::default()
    }
}

fn pb_status(name: &str, restarts: i32, state: pb::ContainerState) -> pb::ContainerStatus {
    pb::ContainerStatus {
        name: s(name),
        ready: Some(true),
        restart_count: Some(restarts),
        image: s("docker.io/istio/proxyv2:1.22.1"),
        image_id: s("docker.io/istio/proxyv2@sha256:0123456789abcdef"),
        container_id: s("containerd://def"),
        started: Some(true),
        state: Some(state),
        ..Default::default()
    }
}

fn pb_pod(p: &Parts) -> pb::Pod {
    let managed = |manager: &str, sub: Option<&str>| pbmeta::ManagedFieldsEntry {
        manager: s(manager),
        operation: s("Update"),
        api_version: s("v1"),
        time: pb_time(),
        fields_type: s("FieldsV1"),
        fields_v1: Some(pbmeta::FieldsV1 {
            raw: Some(fields_v1(manager).to_string().into_bytes()),
        }),
        subresource: sub.map(str::to_string),
    };
    let env = proxy_env(p)
        .into_iter()
        .map(|(name, v)| match v {
            Ok(value) => pb::EnvVar {
                name: s(name),
                value: s(value),
                value_from: None,
            },
            Err(path) => pb::EnvVar {
                name: s(name),
                value: None,
                value_from: Some(pb::EnvVarSource {
                    field_ref: Some(pb::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: s(path),
                    }),
                    ..Default::default()
                }),
            },
        })
        .collect();
    let mut app = pb_container(&p.app, &format!("registry.example.com/{}:1.4.2", p.app));
    app.ports = vec![pb::ContainerPort {
        container_port: Some(8080),
        protocol: s("TCP"),
        ..Default::default()
    }];
    app.env = ["LOG_LEVEL", "PORT"]
        .iter()
        .zip(["info", "8080"])
        .map(|(n, v)| pb::EnvVar {
            name: s(*n),
            value: s(v),
            value_from: None,
        })
        .collect();
    app.readiness_probe = pb_probe("/app-health/ready", 15020);
    app.volume_mounts = vec![pb::VolumeMount {
        name: s("istio-data"),
        mount_path: s("/data"),
        ..Default::default()
    }];
    let mut proxy = pb_container("istio-proxy", "docker.io/istio/proxyv2:1.22.1");
    proxy.args = PROXY_ARGS.iter().map(|a| a.to_string()).collect();
    proxy.ports = vec![pb::ContainerPort {
        name: s("http-envoy-prom"),
        container_port: Some(15090),
        protocol: s("TCP"),
        ..Default::default()
    }];
    proxy.env = env;
    proxy.readiness_probe = pb_probe("/healthz/ready", 15021);
    proxy.volume_mounts = MOUNTS
        .iter()
        .map(|(n, m)| pb::VolumeMount {
            name: s(*n),
            mount_path: s(*m),
            ..Default::default()
        })
        .collect();
    let mut init = pb_container("istio-init", "docker.io/istio/proxyv2:1.22.1");
    init.args = INIT_ARGS.iter().map(|a| a.to_string()).collect();
    let running = pb::ContainerState {
        running: Some(pb::ContainerStateRunning {
            started_at: pb_time(),
        }),
        ..Default::default()
    };
    pb::Pod {
        metadata: Some(pbmeta::ObjectMeta {
            name: s(&p.name),
            generate_name: s(format!("{}-7d9c8f-", p.app)),
            namespace: s(&p.namespace),
            uid: s(format!("{:08x}-0000-4000-8000-000000000000", p.restarts)),
            resource_version: s("4711"),
            creation_timestamp: pb_time(),
            labels: labels(p),
            annotations: annotations(p),
            owner_references: vec![pbmeta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("ReplicaSet"),
                name: s(format!("{}-7d9c8f", p.app)),
                uid: s("5c0d"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            managed_fields: vec![
                managed("kube-controller-manager", None),
                managed("kubelet", Some("status")),
            ],
            ..Default::default()
        }),
        spec: Some(pb::PodSpec {
            volumes: MOUNTS
                .iter()
                .map(|(n, _)| pb::Volume {
                    name: s(*n),
                    volume_source: Some(pb::VolumeSource {
                        empty_dir: Some(pb::EmptyDirVolumeSource::default()),
                        ..Default::default()
                    }),
                })
                .collect(),
            init_containers: vec![init],
            containers: vec![app, proxy],
            restart_policy: s("Always"),
            termination_grace_period_seconds: Some(30),
            dns_policy: s("ClusterFirst"),
            service_account_name: s(&p.app),
            service_account: s(&p.app),
            node_name: s(&p.node),
            scheduler_name: s("default-scheduler"),
            priority: Some(0),
            enable_service_links: Some(true),
            ..Default::default()
        }),
        status: Some(pb::PodStatus {
            phase: s("Running"),
            conditions: CONDITIONS
                .iter()
                .map(|c| pb::PodCondition {
                    r#type: s(*c),
                    status: s("True"),
                    last_transition_time: pb_time(),
                    ..Default::default()
                })
                .collect(),
            host_ip: s("192.168.0.10"),
            pod_ip: s(&p.ip),
            pod_ips: vec![pb::PodIp { ip: s(&p.ip) }],
            start_time: pb_time(),
            init_container_statuses: vec![pb::ContainerStatus {
                // Done: started no more, as the JSON says.
                started: Some(false),
                ..pb_status(
                    "istio-init",
                    0,
                    pb::ContainerState {
                        terminated: Some(pb::ContainerStateTerminated {
                            exit_code: Some(0),
                            reason: s("Completed"),
                            started_at: pb_time(),
                            finished_at: pb_time(),
                            container_id: s("containerd://abc"),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )
            }],
            container_statuses: vec![
                pb_status(&p.app, p.restarts, running.clone()),
                pb_status("istio-proxy", p.restarts, running),
            ],
            qos_class: s("Burstable"),
            ..Default::default()
        }),
    }
}

/// Pods read from protobuf as meshtop would read them: messages declaring only the fields its
/// projection reads (the field numbers of Kubernetes' `generated.proto`), so prost skips every
/// other field by its length without looking inside (managedFields, env, probes…); map
/// entries' values are slices of the input until they are known to be kept.
mod lean_pb {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
    use meshtop::cluster::watch::KEPT_ANNOTATIONS;
    use meshtop::model::project::{
        ConditionParts, ContainerParts, ContainerStatusParts, PodParts, TerminatedParts,
    };
    use prost::bytes::Bytes;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Pod {
        #[prost(message, optional, tag = "1")]
        metadata: Option<Meta>,
        #[prost(message, optional, tag = "2")]
        spec: Option<Spec>,
        #[prost(message, optional, tag = "3")]
        status: Option<Status>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Meta {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(string, optional, tag = "3")]
        namespace: Option<String>,
        #[prost(string, optional, tag = "5")]
        uid: Option<String>,
        #[prost(string, optional, tag = "6")]
        resource_version: Option<String>,
        #[prost(message, optional, tag = "8")]
        creation_timestamp: Option<Stamp>,
        #[prost(message, optional, tag = "9")]
        deletion_timestamp: Option<Stamp>,
        #[prost(message, repeated, tag = "11")]
        labels: Vec<Entry>,
        #[prost(message, repeated, tag = "12")]
        annotations: Vec<Entry>,
        #[prost(message, repeated, tag = "13")]
        owner_references: Vec<Owner>,
    }

    /// A map entry: its key and value as slices of the input.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Entry {
        #[prost(bytes = "bytes", optional, tag = "1")]
        key: Option<Bytes>,
        #[prost(bytes = "bytes", optional, tag = "2")]
        value: Option<Bytes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Stamp {
        #[prost(int64, optional, tag = "1")]
        seconds: Option<i64>,
        #[prost(int32, optional, tag = "2")]
        nanos: Option<i32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Owner {
        #[prost(string, optional, tag = "1")]
        kind: Option<String>,
        #[prost(string, optional, tag = "3")]
        name: Option<String>,
        #[prost(string, optional, tag = "4")]
        uid: Option<String>,
        #[prost(string, optional, tag = "5")]
        api_version: Option<String>,
        #[prost(bool, optional, tag = "6")]
        controller: Option<bool>,
        #[prost(bool, optional, tag = "7")]
        block_owner_deletion: Option<bool>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Spec {
        #[prost(message, repeated, tag = "1")]
        volumes: Vec<Volume>,
        #[prost(message, repeated, tag = "2")]
        containers: Vec<Container>,
        #[prost(string, optional, tag = "10")]
        node_name: Option<String>,
        #[prost(message, repeated, tag = "20")]
        init_containers: Vec<Container>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Volume {
        #[prost(message, optional, tag = "2")]
        source: Option<VolumeSource>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct VolumeSource {
        /// Only whether it is there.
        #[prost(bytes = "bytes", optional, tag = "2")]
        empty_dir: Option<Bytes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Container {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(string, optional, tag = "2")]
        image: Option<String>,
        #[prost(string, optional, tag = "24")]
        restart_policy: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(string, optional, tag = "1")]
        phase: Option<String>,
        #[prost(message, repeated, tag = "2")]
        conditions: Vec<Condition>,
        #[prost(string, optional, tag = "4")]
        reason: Option<String>,
        #[prost(message, repeated, tag = "8")]
        container_statuses: Vec<ContainerStatus>,
        #[prost(message, repeated, tag = "10")]
        init_container_statuses: Vec<ContainerStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Condition {
        #[prost(string, optional, tag = "1")]
        type_: Option<String>,
        #[prost(string, optional, tag = "2")]
        status: Option<String>,
        #[prost(string, optional, tag = "5")]
        reason: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ContainerStatus {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(message, optional, tag = "2")]
        state: Option<State>,
        #[prost(bool, optional, tag = "4")]
        ready: Option<bool>,
        #[prost(int32, optional, tag = "5")]
        restart_count: Option<i32>,
        #[prost(bool, optional, tag = "9")]
        started: Option<bool>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct State {
        #[prost(message, optional, tag = "1")]
        waiting: Option<Reason>,
        /// Only whether it is there.
        #[prost(bytes = "bytes", optional, tag = "2")]
        running: Option<Bytes>,
        #[prost(message, optional, tag = "3")]
        terminated: Option<Terminated>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Reason {
        #[prost(string, optional, tag = "1")]
        reason: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Terminated {
        #[prost(int32, optional, tag = "1")]
        exit_code: Option<i32>,
        #[prost(int32, optional, tag = "2")]
        signal: Option<i32>,
        #[prost(string, optional, tag = "3")]
        reason: Option<String>,
    }

    fn text(b: Option<Bytes>) -> String {
        String::from_utf8(b.unwrap_or_default().to_vec()).expect("UTF-8")
    }

    fn map(entries: Vec<Entry>, keep: impl Fn(&[u8]) -> bool) -> Option<BTreeMap<String, String>> {
        (!entries.is_empty()).then(|| {
            entries
                .into_iter()
                .filter(|e| keep(e.key.as_deref().unwrap_or_default()))
                .map(|e| (text(e.key), text(e.value)))
                .collect()
        })
    }

    fn time(t: Option<Stamp>) -> Option<Time> {
        t.map(|t| {
            Time(
                jiff::Timestamp::new(t.seconds.unwrap_or(0), t.nanos.unwrap_or(0)).expect("a time"),
            )
        })
    }

    fn containers(c: Vec<Container>) -> Vec<ContainerParts> {
        c.into_iter()
            .map(|c| ContainerParts {
                name: c.name.unwrap_or_default(),
                image: c.image,
                restart_policy: c.restart_policy,
            })
            .collect()
    }

    fn statuses(s: Vec<ContainerStatus>) -> Vec<ContainerStatusParts> {
        s.into_iter()
            .map(|s| {
                let state = s.state.unwrap_or_default();
                ContainerStatusParts {
                    name: s.name.unwrap_or_default(),
                    ready: s.ready.unwrap_or_default(),
                    started: s.started,
                    restart_count: s.restart_count.unwrap_or_default(),
                    waiting: state.waiting.map(|w| w.reason),
                    running: state.running.is_some(),
                    terminated: state.terminated.map(|t| TerminatedParts {
                        exit_code: t.exit_code.unwrap_or_default(),
                        reason: t.reason,
                        signal: t.signal,
                    }),
                }
            })
            .collect()
    }

    /// The pod's parts, as meshtop's JSON readers give them.
    pub fn parts(p: Pod) -> PodParts {
        let m = p.metadata.unwrap_or_default();
        let meta = ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            resource_version: m.resource_version,
            labels: map(m.labels, |_| true),
            annotations: map(m.annotations, |k| {
                KEPT_ANNOTATIONS.iter().any(|kept| kept.as_bytes() == k)
            }),
            owner_references: (!m.owner_references.is_empty()).then(|| {
                m.owner_references
                    .into_iter()
                    .map(|o| OwnerReference {
                        api_version: o.api_version.unwrap_or_default(),
                        kind: o.kind.unwrap_or_default(),
                        name: o.name.unwrap_or_default(),
                        uid: o.uid.unwrap_or_default(),
                        controller: o.controller,
                        block_owner_deletion: o.block_owner_deletion,
                    })
                    .collect()
            }),
            creation_timestamp: time(m.creation_timestamp),
            deletion_timestamp: time(m.deletion_timestamp),
            ..ObjectMeta::default()
        };
        let spec = p.spec.unwrap_or_default();
        let status = p.status.unwrap_or_default();
        PodParts {
            meta,
            node_name: spec.node_name,
            has_empty_dir: spec
                .volumes
                .iter()
                .any(|v| v.source.as_ref().is_some_and(|s| s.empty_dir.is_some())),
            containers: containers(spec.containers),
            init_containers: containers(spec.init_containers),
            phase: status.phase,
            reason: status.reason,
            conditions: status
                .conditions
                .into_iter()
                .map(|c| ConditionParts {
                    type_: c.type_.unwrap_or_default(),
                    status: c.status.unwrap_or_default(),
                    reason: c.reason,
                })
                .collect(),
            container_statuses: statuses(status.container_statuses),
            init_container_statuses: statuses(status.init_container_statuses),
        }
    }
}

/// The median of `runs` timed runs of `f` over every item, after one warm-up.
fn per_item<T>(items: &[T], runs: usize, mut f: impl FnMut(&T)) -> Duration {
    let mut times: Vec<Duration> = (0..=runs)
        .map(|_| {
            let t = Instant::now();
            for item in items {
                f(item);
            }
            t.elapsed()
        })
        .collect();
    times.remove(0);
    times.sort();
    times[times.len() / 2] / items.len().max(1) as u32
}

fn main() {
    let count = std::env::args()
        .skip(1)
        .find_map(|a| a.replace(['_', ','], "").parse().ok())
        .unwrap_or(20_000usize);
    eprintln!("encoding {count} pods…");
    let parts: Vec<Parts> = (0..count).map(parts).collect();
    let json: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| serde_json::to_vec(&json_pod(p)).expect("JSON"))
        .collect();
    let proto: Vec<Vec<u8>> = parts.iter().map(|p| pb_pod(p).encode_to_vec()).collect();
    let json_bytes: usize = json.iter().map(Vec::len).sum();
    let proto_bytes: usize = proto.iter().map(Vec::len).sum();

    // The three readers agree on what meshtop keeps.
    let full: Pod = serde_json::from_slice(&json[1]).expect("a full pod");
    let lean: Lean<PodParts> = serde_json::from_slice(&json[1]).expect("a lean pod");
    let scanned = Lean::<PodParts>::from_json(&json[1]).expect("a pod read as a list's pages are");
    assert_eq!(scanned.0, lean.0);
    let decoded = pb::Pod::decode(proto[1].as_slice()).expect("a protobuf pod");
    assert_eq!(
        full.project(&mut Interner::default()),
        lean.project(&mut Interner::default())
    );
    assert_eq!(decoded.metadata.and_then(|m| m.name), full.metadata.name);
    let lean_proto = |b: &[u8]| {
        lean_pb::parts(
            lean_pb::Pod::decode(prost::bytes::Bytes::copy_from_slice(b))
                .expect("a lean protobuf pod"),
        )
    };
    assert_eq!(lean_proto(&proto[1]), scanned.0);
    // The pages of a list arrive as one buffer: the pods are slices of it, not copies.
    let proto_shared: Vec<prost::bytes::Bytes> = proto
        .iter()
        .map(|b| prost::bytes::Bytes::copy_from_slice(b))
        .collect();

    let runs = 5;
    let full_json = per_item(&json, runs, |b| {
        black_box(serde_json::from_slice::<Pod>(b).expect("pod"));
    });
    let lean_json = per_item(&json, runs, |b| {
        black_box(serde_json::from_slice::<Lean<PodParts>>(b).expect("pod"));
    });
    let scanned_json = per_item(&json, runs, |b| {
        black_box(Lean::<PodParts>::from_json(b).expect("pod"));
    });
    let full_proto = per_item(&proto, runs, |b| {
        black_box(pb::Pod::decode(b.as_slice()).expect("pod"));
    });
    let lean_proto = per_item(&proto_shared, runs, |b| {
        black_box(lean_pb::parts(
            lean_pb::Pod::decode(b.clone()).expect("pod"),
        ));
    });
    let mut names = Interner::default();
    let leans: Vec<Lean<PodParts>> = json
        .iter()
        .map(|b| serde_json::from_slice(b).expect("pod"))
        .collect();
    let project = per_item(&leans, runs, |p| {
        black_box(p.project(&mut names));
    });

    let us = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e6);
    println!();
    println!(
        "{count} injected pods; per pod: bytes, and decode time in µs (median of {runs} runs)"
    );
    println!();
    println!("| | bytes per pod | µs per pod | pods/s |");
    println!("|---|---|---|---|");
    let rate = |d: Duration| format!("{:.0}k", 1e-3 / d.as_secs_f64().max(1e-12));
    println!(
        "| JSON, read in full (`k8s-openapi` `Pod`) | {} | {} | {} |",
        json_bytes / count,
        us(full_json),
        rate(full_json)
    );
    println!(
        "| JSON, read leanly by serde (`Lean<PodParts>`: watch events) | {} | {} | {} |",
        json_bytes / count,
        us(lean_json),
        rate(lean_json)
    );
    println!(
        "| JSON, read leanly by meshtop's own reader (a list's pages) | {} | {} | {} |",
        json_bytes / count,
        us(scanned_json),
        rate(scanned_json)
    );
    println!(
        "| protobuf, read in full (`k8s-pb` `Pod`) | {} | {} | {} |",
        proto_bytes / count,
        us(full_proto),
        rate(full_proto)
    );
    println!(
        "| protobuf, read leanly (only the fields meshtop keeps, the rest skipped by length) | {} | {} | {} |",
        proto_bytes / count,
        us(lean_proto),
        rate(lean_proto)
    );
    println!(
        "| then projected into meshtop's summary (`PodParts` → `PodSummary`) | | {} | {} |",
        us(project),
        rate(project)
    );
}
