//! Projection of realistic objects, shaped like the seed's cluster.

use serde_json::json;

use super::*;

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid object")
}

fn s(n: &Option<Name>) -> Option<&str> {
    n.as_deref()
}

fn app_pod() -> Value {
    // A pod of `default`, injected by the 1.9.1 injector: the status annotation has no
    // `revision` yet, the injector set the `istio.io/rev` label.
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "reviews-v1-545db77b95-qvbm7", "namespace": "default",
            "creationTimestamp": "2020-01-09T06:30:00Z",
            "labels": {"app": "reviews", "version": "v1", "istio.io/rev": "1-9-1",
                       "pod-template-hash": "545db77b95", "security.istio.io/tlsMode": "istio"},
            "annotations": {"sidecar.istio.io/status": "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istiod-ca-cert\"],\"imagePullSecrets\":null}"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "reviews-v1-545db77b95",
                                 "uid": "u1", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "nodeName": "k1-node02",
            "initContainers": [{"name": "istio-init", "image": "docker.io/istio/proxyv2:1.9.1"}],
            "containers": [
                {"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.16.2"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.10-alpha.f2ba4b8-distroless"}
            ],
            "volumes": [{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
                        {"name": "istio-token", "projected": {"sources": []}}]
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
                           {"type": "ContainersReady", "status": "True"}],
            "initContainerStatuses": [{"name": "istio-init", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                                       "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
            "containerStatuses": [
                {"name": "reviews", "image": "", "imageID": "", "ready": true, "restartCount": 1,
                 "state": {"running": {"startedAt": "2020-01-09T06:31:00Z"}}},
                {"name": "istio-proxy", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                 "state": {"running": {"startedAt": "2020-01-09T06:31:00Z"}}}
            ]
        }
    })
}

#[test]
fn injected_pod_of_the_seed() {
    let mut i = Interner::default();
    let p = pod(&from(app_pod()), &mut i).expect("named");
    assert_eq!(p.namespace.as_ref(), "default");
    assert_eq!(p.name.as_ref(), "reviews-v1-545db77b95-qvbm7");
    assert_eq!(s(&p.node), Some("k1-node02"));
    assert_eq!(p.phase, PodPhase::Running);
    assert_eq!(p.status.as_ref(), "Running");
    assert!(p.ready);
    assert_eq!((p.containers_ready, p.containers, p.restarts), (2, 2, 1));
    assert!(p.has_proxy);
    assert_eq!(s(&p.injected_revision), Some("1-9-1"));
    assert_eq!(s(&p.proxy_version), Some("1.10-alpha.f2ba4b8"));
    assert_eq!(p.istiod_version, None);
    assert!(p.has_empty_dir);
    assert!(!p.mirror && !p.deleting);
    let owner = p.owner.as_ref().expect("owned");
    assert_eq!(
        (owner.kind.as_ref(), owner.name.as_ref()),
        ("ReplicaSet", "reviews-v1-545db77b95")
    );
    assert_eq!(p.labels.get("app").map(|v| v.as_ref()), Some("reviews"));
    assert!(p.created.is_some());
}

#[test]
fn pods_of_one_template_share_their_labels() {
    let mut i = Interner::default();
    let a = pod(&from(app_pod()), &mut i).expect("named");
    let mut other = app_pod();
    other["metadata"]["name"] = json!("reviews-v1-545db77b95-x2x2x");
    let b = pod(&from(other), &mut i).expect("named");
    assert!(std::sync::Arc::ptr_eq(&a.labels.0, &b.labels.0));
    assert!(std::sync::Arc::ptr_eq(&a.namespace, &b.namespace));
}

#[test]
fn revision_from_the_status_annotation_wins() {
    let mut i = Interner::default();
    let mut v = app_pod();
    v["metadata"]["annotations"]["sidecar.istio.io/status"] =
        json!("{\"containers\":[\"istio-proxy\"],\"revision\":\"1-30-3\"}");
    v["metadata"]["labels"]["istio.io/rev"] = json!("prod");
    let p = pod(&from(v.clone()), &mut i).expect("named");
    assert_eq!(s(&p.injected_revision), Some("1-30-3"));

    // No revision anywhere: the revision-less install injected it.
    v["metadata"]["annotations"]["sidecar.istio.io/status"] =
        json!("{\"containers\":[\"istio-proxy\"]}");
    v["metadata"]["labels"]
        .as_object_mut()
        .expect("map")
        .remove("istio.io/rev");
    let p = pod(&from(v.clone()), &mut i).expect("named");
    assert_eq!(s(&p.injected_revision), Some("default"));

    // 1.18+: the annotation.
    v["metadata"]["annotations"]["istio.io/rev"] = json!("canary");
    let p = pod(&from(v), &mut i).expect("named");
    assert_eq!(s(&p.injected_revision), Some("canary"));
}

#[test]
fn gateway_pod_has_a_proxy_and_the_label_revision() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "istio-ingressgateway-684d9c7755-brtsv", "namespace": "istio-system",
                     "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway", "istio.io/rev": "1-9-1",
                                "operator.istio.io/component": "IngressGateways", "sidecar.istio.io/inject": "false"}},
        "spec": {"nodeName": "k1-node03", "containers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.9.1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "istio-proxy", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                                          "state": {"running": {}}}]}
    });
    let p = pod(&from(v), &mut i).expect("named");
    assert!(p.has_proxy);
    assert_eq!(s(&p.injected_revision), Some("1-9-1"));
    assert_eq!(s(&p.proxy_version), Some("1.9.1"));
    assert!(!p.has_empty_dir);
    assert_eq!(p.owner, None);

    // A pod with neither proxy nor injector status is not injected, whatever its labels.
    let v = json!({"metadata": {"name": "x", "namespace": "default", "labels": {"istio.io/rev": "1-9-1"}},
                   "spec": {"containers": [{"name": "app", "image": "nginx"}]}});
    let p = pod(&from(v), &mut i).expect("named");
    assert!(!p.has_proxy);
    assert_eq!(p.injected_revision, None);
}

#[test]
fn istiod_pod_reports_the_discovery_version() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "istiod-1-9-1-58ff56d6f8-dftbh", "namespace": "istio-system",
                     "labels": {"app": "istiod", "istio": "pilot", "istio.io/rev": "1-9-1"}},
        "spec": {"nodeName": "k1-node04", "containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.9.1"}]},
        "status": {"phase": "Running"}
    });
    let p = pod(&from(v), &mut i).expect("named");
    assert_eq!(s(&p.istiod_version), Some("1.9.1"));
    assert!(!p.has_proxy);
    assert_eq!(p.injected_revision, None);
    // No Ready condition: not ready.
    assert!(!p.ready);
}

#[test]
fn status_is_what_kubectl_prints() {
    let mut i = Interner::default();
    let base = |statuses: Value, extra: Value| {
        let mut v = json!({
            "metadata": {"name": "elasticsearch-k1-master-2", "namespace": "logging"},
            "spec": {"containers": [{"name": "elasticsearch", "image": "elasticsearch:6.8.2"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                       "containerStatuses": statuses}
        });
        if let Value::Object(m) = extra {
            for (k, x) in m {
                v[k.as_str()] = x;
            }
        }
        v
    };
    let crash = base(
        json!([{"name": "elasticsearch", "image": "", "imageID": "", "ready": false, "restartCount": 112,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
        json!({}),
    );
    let p = pod(&from(crash), &mut i).expect("named");
    assert_eq!(
        (p.status.as_ref(), p.restarts, p.containers_ready),
        ("CrashLoopBackOff", 112, 0)
    );

    let oom = base(
        json!([{"name": "elasticsearch", "image": "", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]),
        json!({}),
    );
    assert_eq!(
        pod(&from(oom), &mut i).expect("named").status.as_ref(),
        "OOMKilled"
    );

    let exit = base(
        json!([{"name": "elasticsearch", "image": "", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 3}}}]),
        json!({}),
    );
    assert_eq!(
        pod(&from(exit), &mut i).expect("named").status.as_ref(),
        "ExitCode:3"
    );

    let mut terminating = app_pod();
    terminating["metadata"]["deletionTimestamp"] = json!("2020-01-09T07:00:00Z");
    let p = pod(&from(terminating), &mut i).expect("named");
    assert_eq!(p.status.as_ref(), "Terminating");
    assert!(p.deleting);

    let mut init = app_pod();
    init["status"]["conditions"] = json!([{"type": "Initialized", "status": "False"}]);
    init["status"]["initContainerStatuses"] = json!([{"name": "istio-init", "image": "", "imageID": "",
        "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]);
    assert_eq!(
        pod(&from(init.clone()), &mut i)
            .expect("named")
            .status
            .as_ref(),
        "Init:0/1"
    );
    init["status"]["initContainerStatuses"][0]["state"] =
        json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    assert_eq!(
        pod(&from(init), &mut i).expect("named").status.as_ref(),
        "Init:Error"
    );

    let pending = json!({"metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "a", "image": "a"}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "a", "image": "", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
    let p = pod(&from(pending), &mut i).expect("named");
    assert_eq!(
        (p.phase, p.status.as_ref()),
        (PodPhase::Pending, "ContainerCreating")
    );

    let evicted = json!({"metadata": {"name": "e", "namespace": "default"},
        "spec": {"containers": [{"name": "a", "image": "a"}]},
        "status": {"phase": "Failed", "reason": "Evicted"}});
    let p = pod(&from(evicted), &mut i).expect("named");
    assert_eq!((p.phase, p.status.as_ref()), (PodPhase::Failed, "Evicted"));

    let completed = json!({"metadata": {"name": "c", "namespace": "default"},
        "spec": {"containers": [{"name": "a", "image": "a"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [{"name": "a", "image": "", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
    assert_eq!(
        pod(&from(completed), &mut i)
            .expect("named")
            .status
            .as_ref(),
        "Completed"
    );
}

#[test]
fn native_sidecar_proxy_counts_as_a_container() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "n", "namespace": "default",
                     "annotations": {"sidecar.istio.io/status": "{\"revision\":\"1-30-3\"}"}},
        "spec": {"initContainers": [{"name": "istio-proxy", "image": "gcr.io/istio-release/proxyv2:1.30.3-distroless",
                                     "restartPolicy": "Always"}],
                 "containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                   "initContainerStatuses": [{"name": "istio-proxy", "image": "", "imageID": "", "ready": true, "started": true,
                                              "restartCount": 2, "state": {"running": {}}}],
                   "containerStatuses": [{"name": "app", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                                          "state": {"running": {}}}]}
    });
    let p = pod(&from(v), &mut i).expect("named");
    assert!(p.has_proxy);
    assert_eq!(p.mesh_role, MeshRole::NativeSidecar);
    assert_eq!(s(&p.injected_revision), Some("1-30-3"));
    assert_eq!(s(&p.proxy_version), Some("1.30.3"));
    assert_eq!(
        (
            p.status.as_ref(),
            p.containers_ready,
            p.containers,
            p.restarts
        ),
        ("Running", 2, 2, 2)
    );
}

#[test]
fn mirror_pod_and_unnamed_objects() {
    let mut i = Interner::default();
    let v = json!({"metadata": {"name": "kube-apiserver-k1-master01", "namespace": "kube-system",
                                "annotations": {"kubernetes.io/config.mirror": "abc"}},
                   "spec": {"containers": [{"name": "kube-apiserver", "image": "k8s.gcr.io/kube-apiserver:v1.15.6"}]}});
    assert!(pod(&from(v), &mut i).expect("named").mirror);
    let unnamed = json!({"metadata": {"namespace": "default"}, "spec": {"containers": []}});
    assert_eq!(pod(&from(unnamed), &mut i), None);
}

#[test]
fn image_tags() {
    assert_eq!(image_tag("docker.io/istio/proxyv2:1.9.1"), Some("1.9.1"));
    assert_eq!(
        image_tag("docker.io/istio/proxyv2:1.9.1-distroless"),
        Some("1.9.1")
    );
    assert_eq!(
        image_tag("registry:5000/istio/proxyv2:1.9.1@sha256:abc"),
        Some("1.9.1")
    );
    assert_eq!(image_tag("registry:5000/istio/proxyv2"), None);
    assert_eq!(image_tag("proxyv2"), None);
    assert_eq!(image_tag("auto"), None);
}

#[test]
fn master_node_mid_upgrade() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "k1-master01", "creationTimestamp": "2019-02-20T06:42:17Z",
                     "labels": {"kubernetes.io/hostname": "k1-master01", "node-role.kubernetes.io/master": "",
                                "beta.kubernetes.io/os": "linux", "taco-istio": "enabled"}},
        "spec": {"unschedulable": true,
                 "taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                            {"key": "dedicated", "value": "infra", "effect": "PreferNoSchedule"}]},
        "status": {"nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "docker://18.9.7",
                                "kernelVersion": "", "kubeProxyVersion": "v1.15.6", "kubeletVersion": "v1.15.6",
                                "machineID": "", "operatingSystem": "linux", "osImage": "", "systemUUID": ""},
                   "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "192.168.30.13"}, {"type": "Hostname", "address": "k1-master01"}]}
    });
    let n = node(&from(v), &mut i).expect("named");
    assert_eq!(
        n.roles.iter().map(|r| r.as_ref()).collect::<Vec<_>>(),
        ["master"]
    );
    assert_eq!(n.kubelet_version.as_ref(), "v1.15.6");
    assert!(n.ready && n.unschedulable);
    assert_eq!(s(&n.internal_ip), Some("192.168.30.13"));
    assert_eq!(
        n.taints.iter().map(|t| t.as_ref()).collect::<Vec<_>>(),
        [
            "node-role.kubernetes.io/master:NoSchedule",
            "node.kubernetes.io/unschedulable:NoSchedule"
        ]
    );
    let worker = json!({"metadata": {"name": "k1-node01", "labels": {"kubernetes.io/role": "node"}},
                        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    let n = node(&from(worker), &mut i).expect("named");
    assert_eq!(
        n.roles.iter().map(|r| r.as_ref()).collect::<Vec<_>>(),
        ["node"]
    );
    assert!(!n.ready && !n.unschedulable);
    assert_eq!(n.kubelet_version.as_ref(), "");
}

#[test]
fn namespaces_keep_their_injection_labels() {
    let mut i = Interner::default();
    let v = json!({"metadata": {"name": "legacy-shop", "labels": {"istio-injection": "enabled"}},
                   "status": {"phase": "Active"}});
    let ns = namespace(&from(v), &mut i).expect("named");
    assert_eq!(
        ns.labels.get("istio-injection").map(|v| v.as_ref()),
        Some("enabled")
    );
    assert_eq!(ns.phase.as_ref(), "Active");
    let v = json!({"metadata": {"name": "gone", "deletionTimestamp": "2020-01-09T07:00:00Z"},
                   "status": {"phase": "Terminating"}});
    assert_eq!(
        namespace(&from(v), &mut i).expect("named").phase.as_ref(),
        "Terminating"
    );
}

#[test]
fn workloads() {
    let mut i = Interner::default();
    let d = json!({
        "metadata": {"name": "istiod-1-9-1", "namespace": "istio-system",
                     "labels": {"app": "istiod", "istio.io/rev": "1-9-1", "operator.istio.io/component": "Pilot"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "istiod", "istio.io/rev": "1-9-1"}},
                 "template": {"metadata": {"labels": {"app": "istiod", "istio": "pilot", "istio.io/rev": "1-9-1"}},
                              "spec": {"nodeSelector": {"taco-istio": "enabled"},
                                       "containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.9.1"}]}}},
        "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    });
    let w = deployment(&from(d), &mut i).expect("named");
    assert_eq!(
        (w.kind, w.desired, w.ready, w.available),
        (WorkloadKind::Deployment, 2, 2, 2)
    );
    assert_eq!(
        w.template_labels.get("istio").map(|v| v.as_ref()),
        Some("pilot")
    );
    assert_eq!(
        w.images.iter().map(|v| v.as_ref()).collect::<Vec<_>>(),
        ["docker.io/istio/pilot:1.9.1"]
    );
    assert_eq!(
        w.node_selector.get("taco-istio").map(|v| v.as_ref()),
        Some("enabled")
    );
    assert!(w.selector.matches(&w.template_labels));

    let ds = json!({
        "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                              "spec": {"containers": [{"name": "kube-proxy", "image": "k8s.gcr.io/kube-proxy:v1.15.6"}]}}},
        "status": {"currentNumberScheduled": 8, "desiredNumberScheduled": 8, "numberMisscheduled": 0,
                   "numberReady": 7, "numberAvailable": 7}
    });
    let w = daemon_set(&from(ds), &mut i).expect("named");
    assert_eq!(
        (w.kind, w.desired, w.ready, w.available),
        (WorkloadKind::DaemonSet, 8, 7, 7)
    );

    let sts = json!({
        "metadata": {"name": "elasticsearch-k1-master", "namespace": "logging"},
        "spec": {"replicas": 3, "serviceName": "elasticsearch-k1-master-headless",
                 "selector": {"matchLabels": {"app": "elasticsearch-k1-master"}},
                 "template": {"metadata": {"labels": {"app": "elasticsearch-k1-master"}},
                              "spec": {"containers": [{"name": "elasticsearch", "image": "elasticsearch:6.8.2"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2}
    });
    let w = stateful_set(&from(sts), &mut i).expect("named");
    assert_eq!(
        (w.kind, w.desired, w.ready, w.available),
        (WorkloadKind::StatefulSet, 3, 2, 0)
    );

    let rs = json!({
        "metadata": {"name": "reviews-v1-545db77b95", "namespace": "default",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "reviews-v1",
                                          "uid": "u", "controller": true}]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "reviews", "pod-template-hash": "545db77b95"}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    });
    let w = replica_set(&from(rs), &mut i).expect("named");
    assert_eq!(w.kind, WorkloadKind::ReplicaSet);
    assert_eq!(
        w.owner.as_ref().map(|o| o.name.as_ref()),
        Some("reviews-v1")
    );
}

#[test]
fn node_port_service() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "labels": {"app": "istio-ingressgateway"}},
        "spec": {"type": "NodePort", "selector": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                 "ports": [{"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP", "nodePort": 32021},
                           {"name": "http2", "port": 80, "targetPort": 8080, "nodePort": 31080},
                           {"name": "https", "port": 443, "targetPort": "https", "nodePort": 30443}]}
    });
    let svc = service(&from(v), &mut i).expect("named");
    assert_eq!(svc.type_.as_ref(), "NodePort");
    assert_eq!(svc.ports.len(), 3);
    assert_eq!(svc.ports[1].node_port, Some(31080));
    assert_eq!(svc.ports[1].target_port.as_ref(), "8080");
    assert_eq!(svc.ports[1].protocol.as_ref(), "TCP");
    assert_eq!(svc.ports[2].target_port.as_ref(), "https");
    assert_eq!(svc.selector.len(), 2);
    let headless =
        json!({"metadata": {"name": "h", "namespace": "logging"}, "spec": {"clusterIP": "None"}});
    let svc = service(&from(headless), &mut i).expect("named");
    assert_eq!(svc.type_.as_ref(), "ClusterIP");
    assert!(svc.selector.is_empty() && svc.ports.is_empty());
}

#[test]
fn autoscaler() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "istio-ingressgateway"},
                 "minReplicas": 2, "maxReplicas": 10},
        "status": {"currentReplicas": 2, "desiredReplicas": 2}
    });
    let h = hpa(&from(v), &mut i).expect("named");
    assert_eq!(
        (h.target_kind.as_ref(), h.target_name.as_ref()),
        ("Deployment", "istio-ingressgateway")
    );
    assert_eq!(
        (h.min_replicas, h.max_replicas, h.current_replicas),
        (2, 10, 2)
    );
}

#[test]
fn budgets() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "istio-pilot", "namespace": "istio-system"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "pilot", "istio": "pilot", "release": "istio"}}},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}
    });
    let p = pdb(&from(v), &mut i).expect("named");
    assert_eq!(p.min_available, Some(IntOrPercent::Int(1)));
    assert_eq!(p.max_unavailable, None);
    assert_eq!(
        (
            p.disruptions_allowed,
            p.current_healthy,
            p.desired_healthy,
            p.expected_pods
        ),
        (0, 1, 1, 1)
    );
    assert_eq!(p.relaxed_from, None);

    let v = json!({
        "metadata": {"name": "elasticsearch-k1-master-pdb", "namespace": "logging",
                     "annotations": {"meshtop.dev/relaxed-from": "{\"maxUnavailable\":1}",
                                     "meshtop.dev/relaxed-to": "{\"maxUnavailable\":\"100%\"}"}},
        "spec": {"maxUnavailable": "50%", "selector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["elasticsearch-k1-master"]}]}}
    });
    let p = pdb(&from(v), &mut i).expect("named");
    assert_eq!(p.max_unavailable, Some(IntOrPercent::Percent(50)));
    assert_eq!(
        p.max_unavailable.as_ref().map(|m| m.to_string()),
        Some("50%".into())
    );
    assert_eq!(p.relaxed_from.as_deref(), Some("{\"maxUnavailable\":1}"));
    assert_eq!(
        p.relaxed_to.as_deref(),
        Some("{\"maxUnavailable\":\"100%\"}")
    );
    assert_eq!(p.selector.to_query(), "app in (elasticsearch-k1-master)");
    assert_eq!(p.disruptions_allowed, 0);

    // No selector selects nothing; an empty one selects every pod of the namespace.
    let none = json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"minAvailable": 1}});
    assert_eq!(
        pdb(&from(none), &mut i).expect("named").selector,
        Selector::Nothing
    );
    let all = json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"minAvailable": 1, "selector": {}}});
    assert_eq!(
        pdb(&from(all), &mut i).expect("named").selector,
        Selector::everything()
    );
}

#[test]
fn injector_and_tag_webhooks() {
    let mut i = Interner::default();
    let v = json!({
        "metadata": {"name": "istio-sidecar-injector-1-9-1",
                     "labels": {"app": "sidecar-injector", "istio.io/rev": "1-9-1"}},
        "webhooks": [{
            "name": "rev.namespace.sidecar-injector.istio.io",
            "clientConfig": {"service": {"name": "istiod-1-9-1", "namespace": "istio-system", "path": "/inject"}},
            "namespaceSelector": {"matchExpressions": [
                {"key": "istio.io/rev", "operator": "In", "values": ["1-9-1"]},
                {"key": "istio-injection", "operator": "DoesNotExist"}]},
            "objectSelector": {"matchExpressions": [
                {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]},
            "sideEffects": "None", "admissionReviewVersions": ["v1"]
        }]
    });
    let w = webhook_config(&from(v), &mut i).expect("named");
    assert_eq!(
        w.labels.get("istio.io/rev").map(|v| v.as_ref()),
        Some("1-9-1")
    );
    assert_eq!(w.webhooks.len(), 1);
    let hook = &w.webhooks[0];
    assert_eq!(
        hook.namespace_selector.to_query(),
        "istio.io/rev in (1-9-1),!istio-injection"
    );
    let svc = hook.service.as_ref().expect("service");
    assert_eq!(
        (svc.namespace.as_ref(), svc.name.as_ref()),
        ("istio-system", "istiod-1-9-1")
    );

    let tag = json!({
        "metadata": {"name": "istio-revision-tag-default",
                     "labels": {"istio.io/rev": "1-9-1", "istio.io/tag": "default"}},
        "webhooks": [{"name": "namespace.sidecar-injector.istio.io", "clientConfig": {"url": "https://x"},
                      "sideEffects": "None", "admissionReviewVersions": ["v1"]}]
    });
    let w = webhook_config(&from(tag), &mut i).expect("named");
    assert_eq!(
        w.labels.get("istio.io/tag").map(|v| v.as_ref()),
        Some("default")
    );
    assert_eq!(w.webhooks[0].namespace_selector, Selector::everything());
    assert_eq!(w.webhooks[0].service, None);
}

#[test]
fn config_map_is_just_its_name() {
    let mut i = Interner::default();
    let v = json!({"metadata": {"name": "istio-1-9-1", "namespace": "istio-gateway-sample"},
                   "data": {"mesh": "accessLogFile: /dev/stdout"}});
    let c = config_map(&from(v), &mut i).expect("named");
    assert_eq!(
        (c.namespace.as_ref(), c.name.as_ref()),
        ("istio-gateway-sample", "istio-1-9-1")
    );
}

fn dynamic(v: Value) -> DynamicObject {
    from(v)
}

#[test]
fn control_plane_istio_operator() {
    let mut i = Interner::default();
    let o = dynamic(json!({
        "apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator",
        "metadata": {"name": "istio-controlplane", "namespace": "istio-system"},
        "spec": {"revision": "1-9-1", "profile": "default",
                 "components": {
                     "pilot": {"k8s": {"hpaSpec": {"minReplicas": 2, "maxReplicas": 10}}},
                     "egressGateways": [{"name": "istio-egressgateway", "namespace": "istio-system", "enabled": true}],
                     "ingressGateways": [{"name": "istio-ingressgateway", "namespace": "istio-system", "enabled": true,
                                          "k8s": {"service": {"type": "NodePort"}}}]}},
        "status": {"status": "HEALTHY", "componentStatus": {"Pilot": {"status": "HEALTHY"}}}
    }));
    let iop = istio_operator(&o, &mut i).expect("named");
    assert_eq!(
        (
            iop.revision.as_ref(),
            iop.profile.as_ref(),
            iop.status.as_ref()
        ),
        ("1-9-1", "default", "HEALTHY")
    );
    assert!(iop.pilot_enabled);
    assert_eq!(iop.pilot_min_replicas, 2);
    assert_eq!(iop.install_namespace.as_ref(), "istio-system");
    assert!(!iop.deleting);
    assert_eq!(iop.gateways.len(), 2);
    // Both listed, the ingress by the profile's own name: neither is the profile's extra.
    assert!(
        iop.gateways
            .iter()
            .all(|g| !g.from_profile && g.min_replicas == 1)
    );
    let ingress = iop
        .gateways
        .iter()
        .find(|g| g.kind == GatewayKind::Ingress)
        .expect("ingress");
    assert_eq!(
        (
            ingress.name.as_ref(),
            ingress.namespace.as_ref(),
            ingress.enabled
        ),
        ("istio-ingressgateway", "istio-system", true)
    );
    assert_eq!(
        ingress.labels.get("istio").map(|v| v.as_ref()),
        Some("ingressgateway")
    );
    let egress = iop
        .gateways
        .iter()
        .find(|g| g.kind == GatewayKind::Egress)
        .expect("egress");
    assert_eq!(
        egress.labels.get("app").map(|v| v.as_ref()),
        Some("istio-egressgateway")
    );

    let same = object_from_dynamic(Kind::IstioOperator, &o, &mut i);
    assert_eq!(same, Some(Object::IstioOperator(iop)));
}

#[test]
fn gateway_istio_operator_of_the_seed() {
    let mut i = Interner::default();
    let o = dynamic(json!({
        "apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator",
        "metadata": {"name": "istio-gateway-sample", "namespace": "istio-system"},
        "spec": {"revision": "1-9-1", "profile": "empty",
                 "components": {"ingressGateways": [{
                     "name": "istio-ingressgateway-istio-gateway-sample", "namespace": "istio-gateway-sample",
                     "label": {"app": "istio-ingressgateway-istio-gateway-sample",
                               "istio": "ingressgateway-istio-gateway-sample"},
                     "enabled": true}]}},
        "status": {"status": "HEALTHY"}
    }));
    let iop = istio_operator(&o, &mut i).expect("named");
    assert_eq!(iop.profile.as_ref(), "empty");
    assert!(!iop.pilot_enabled);
    assert_eq!(iop.gateways.len(), 1);
    let g = &iop.gateways[0];
    assert_eq!(g.namespace.as_ref(), "istio-gateway-sample");
    assert_eq!(
        g.labels.get("istio").map(|v| v.as_ref()),
        Some("ingressgateway-istio-gateway-sample")
    );
    assert_eq!(
        g.labels.get("app").map(|v| v.as_ref()),
        Some("istio-ingressgateway-istio-gateway-sample")
    );

    // `empty` with pilot turned on installs istiod; a listed gateway without `enabled` is off;
    // no status yet.
    let o = dynamic(json!({
        "metadata": {"name": "canary", "namespace": "istio-system"},
        "spec": {"profile": "empty", "components": {"pilot": {"enabled": true},
                 "ingressGateways": [{"name": "extra", "namespace": "edge"}]}}
    }));
    let iop = istio_operator(&o, &mut i).expect("named");
    assert!(iop.pilot_enabled);
    assert_eq!((iop.revision.as_ref(), iop.status.as_ref()), ("", ""));
    assert_eq!(iop.gateways.len(), 1);
    assert!(!iop.gateways[0].enabled);
    assert_eq!(
        iop.gateways[0].labels.get("istio").map(|v| v.as_ref()),
        Some("ingressgateway")
    );

    // No profile means `default`: istiod and the implicit ingress gateway, in spec.namespace.
    let o = dynamic(
        json!({"metadata": {"name": "plain", "namespace": "istio-system"},
                           "spec": {"namespace": "istio-control", "components": {"pilot": {"enabled": false}}}}),
    );
    let iop = istio_operator(&o, &mut i).expect("named");
    assert_eq!(iop.profile.as_ref(), "default");
    assert!(!iop.pilot_enabled);
    assert_eq!(iop.gateways.len(), 1);
    assert_eq!(iop.gateways[0].namespace.as_ref(), "istio-control");
    assert!(iop.gateways[0].enabled);
}

#[test]
fn declared_gateways_carry_node_ports_replicas_and_where_they_come_from() {
    let mut i = Interner::default();
    let o = dynamic(json!({
        "metadata": {"name": "edge", "namespace": "istio-system",
                     "deletionTimestamp": "2020-01-09T07:00:00Z"},
        "spec": {"revision": "1-9-1",
                 "values": {"global": {"istioNamespace": "istio-control"}},
                 "components": {
                     "pilot": {"k8s": {"replicaCount": 3}},
                     "ingressGateways": [
                         {"name": "istio-ingressgateway-shop", "namespace": "shop", "enabled": true,
                          "label": {"istio": "ingressgateway-shop"},
                          "k8s": {"hpaSpec": {"minReplicas": 2},
                                  "service": {"type": "NodePort", "ports": [
                                      {"name": "status-port", "port": 15021},
                                      {"name": "http2", "port": 80, "nodePort": 31081},
                                      {"name": "https", "port": 443, "nodePort": 31443}]}}},
                         {"name": "istio-ingressgateway-off", "enabled": "false"}]}}
    }));
    let iop = istio_operator(&o, &mut i).expect("named");
    assert!(iop.deleting);
    assert_eq!(iop.install_namespace.as_ref(), "istio-control");
    assert_eq!(iop.pilot_min_replicas, 3);
    let by_name = |name: &str| {
        iop.gateways
            .iter()
            .find(|g| g.name.as_ref() == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", iop.gateways))
    };
    let shop = by_name("istio-ingressgateway-shop");
    assert!(shop.enabled && !shop.from_profile);
    assert_eq!(shop.node_ports, [31081, 31443]);
    assert_eq!(shop.min_replicas, 2);
    // The operator merges the component's labels into the chart's.
    assert_eq!(
        shop.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["app=istio-ingressgateway", "istio=ingressgateway-shop"]
    );
    let off = by_name("istio-ingressgateway-off");
    assert!(!off.enabled);
    assert_eq!(off.namespace.as_ref(), "istio-control");
    // Profile default's own gateway, not listed: on, in the install namespace, one replica.
    let profile = by_name("istio-ingressgateway");
    assert!(profile.enabled && profile.from_profile);
    assert_eq!(
        (profile.namespace.as_ref(), profile.min_replicas),
        ("istio-control", 1)
    );
    assert!(profile.node_ports.is_empty());
    assert_eq!(iop.gateways.len(), 3);
}

#[test]
fn operator_deployments_name_what_they_reconcile() {
    let mut i = Interner::default();
    let mut deployment = |containers: Value| -> WorkloadSummary {
        let d: Deployment = from(json!({
            "metadata": {"name": "istio-operator-1-9-1", "namespace": "istio-operator"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"name": "istio-operator"}},
                     "template": {"metadata": {"labels": {"name": "istio-operator"}},
                                  "spec": {"containers": containers}}}
        }));
        super::deployment(&d, &mut i).expect("named")
    };
    // The seed's: the operator image, one namespace, one revision.
    let seed = deployment(json!([{
        "name": "istio-operator", "image": "docker.io/istio/operator:1.9.1",
        "command": ["operator", "server"],
        "env": [{"name": "WATCH_NAMESPACE", "value": "istio-system"},
                {"name": "REVISION", "value": "1-9-1"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    }]));
    let target = seed.operator.expect("an operator");
    assert_eq!(
        target
            .watched
            .as_deref()
            .map(|w| w.iter().map(|n| n.as_ref()).collect::<Vec<_>>()),
        Some(vec!["istio-system"])
    );
    assert_eq!(s(&target.revision), Some("1-9-1"));
    // By its command alone, from any image: a list of namespaces, every revision.
    let by_command = deployment(json!([{
        "name": "manager", "image": "registry.local/istio-operator-custom:1.20",
        "command": ["operator", "server", "--monitoring-port=15014"],
        "env": [{"name": "WATCH_NAMESPACE", "value": " istio-system, istio-canary ,"},
                {"name": "REVISION", "value": ""}]
    }]));
    let target = by_command.operator.expect("an operator");
    assert_eq!(
        target
            .watched
            .as_deref()
            .map(|w| w.iter().map(|n| n.as_ref()).collect::<Vec<_>>()),
        Some(vec!["istio-system", "istio-canary"])
    );
    assert_eq!(target.revision, None);
    let istiod = deployment(json!([{"name": "discovery", "image": "docker.io/istio/pilot:1.9.1"}]));
    assert_eq!(istiod.operator, None);
}

#[test]
fn istio_gateway_resource() {
    let mut i = Interner::default();
    let o = dynamic(json!({
        "apiVersion": "networking.istio.io/v1beta1", "kind": "Gateway",
        "metadata": {"name": "bookinfo-gateway", "namespace": "default"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*", "bookinfo.example.com"]},
                             {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["bookinfo.example.com"]}]}
    }));
    let g = istio_gateway(&o, &mut i).expect("named");
    assert_eq!(
        g.selector.get("istio").map(|v| v.as_ref()),
        Some("ingressgateway")
    );
    assert_eq!(
        g.hosts.iter().map(|h| h.as_ref()).collect::<Vec<_>>(),
        ["*", "bookinfo.example.com"]
    );
}

#[test]
fn dynamic_objects_of_builtin_kinds() {
    let mut i = Interner::default();
    let mut v = app_pod();
    v["apiVersion"] = json!("v1");
    v["kind"] = json!("Pod");
    let o = dynamic(v.clone());
    let projected = object_from_dynamic(Kind::Pod, &o, &mut i).expect("pod");
    let direct = pod(&from(v), &mut i).map(Object::Pod).expect("pod");
    assert_eq!(projected, direct);
    assert_eq!(
        key_of(&projected).name.as_ref(),
        "reviews-v1-545db77b95-qvbm7"
    );
    let p: Pod = from(app_pod());
    assert_eq!(p.project(&mut i), Some(direct));
}

#[test]
fn ztunnel_waypoint_and_gateway_pods_have_their_mesh_roles() {
    let mut i = Interner::default();
    let role = |labels: Value, i: &mut Interner| {
        let v = json!({
            "metadata": {"name": "p", "namespace": "istio-system", "labels": labels},
            "spec": {"containers": [{"name": "istio-proxy", "image": "istio/ztunnel:1.29.2"}]}
        });
        pod(&from(v), i).expect("named").mesh_role
    };
    assert_eq!(role(json!({"app": "ztunnel"}), &mut i), MeshRole::Ztunnel);
    assert_eq!(
        role(
            json!({"gateway.istio.io/managed": "istio.io-mesh-controller",
                   "gateway.networking.k8s.io/gateway-name": "waypoint"}),
            &mut i
        ),
        MeshRole::Waypoint
    );
    assert_eq!(
        role(
            json!({"gateway.istio.io/managed": "istio.io-gateway-controller",
                   "gateway.networking.k8s.io/gateway-name": "public"}),
            &mut i
        ),
        MeshRole::Gateway
    );
    assert_eq!(
        role(json!({"istio": "ingressgateway"}), &mut i),
        MeshRole::Gateway
    );
    assert_eq!(role(json!({"app": "reviews"}), &mut i), MeshRole::Sidecar);
}

#[test]
fn installers_from_their_marks() {
    let mut i = Interner::default();
    let meta = |v: Value| -> ObjectMeta { from(v) };
    let helm = meta(json!({"name": "istiod-1-29-2",
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": "istiod-1-29-2"}}));
    assert_eq!(
        installer(&helm, &mut i),
        Some(Installer::Helm {
            release: Name::from("istiod-1-29-2")
        })
    );
    let sail = meta(
        json!({"name": "istiod", "labels": {"managed-by": "sail-operator"},
        "ownerReferences": [{"apiVersion": "sailoperator.io/v1", "kind": "IstioRevision",
                             "name": "default-v1-29-2", "uid": "u"}]}),
    );
    assert_eq!(
        installer(&sail, &mut i),
        Some(Installer::Sail {
            resource: Name::from("IstioRevision/default-v1-29-2")
        })
    );
    let istioctl = meta(json!({"name": "istiod",
        "labels": {"install.operator.istio.io/owning-resource": "installed-state"}}));
    assert_eq!(
        installer(&istioctl, &mut i),
        Some(Installer::IstioOperator {
            resource: Name::from("installed-state")
        })
    );
    let tiller =
        meta(json!({"name": "istio-pilot", "labels": {"heritage": "Tiller", "release": "istio"}}));
    assert_eq!(
        installer(&tiller, &mut i),
        Some(Installer::Tiller {
            release: Name::from("istio")
        })
    );
    assert_eq!(installer(&meta(json!({"name": "x"})), &mut i), None);
}
