//! The sidecar injector, as the webhooks of each istiod revision select pods: which revision injects a new pod, and what the
//! injection adds, in the shape of that revision's Istio version.

use serde_json::{Value, json};

use jiff::Timestamp;

use std::sync::Arc;

use super::super::store::{Stored, meta_str};
use super::{Cluster, controller_ref, label};

/// Parses an Istio version (`1.9.1`, `1.10-alpha.abc`, `1.23.0-distroless`) into
/// (major, minor, patch); patch is 0 where absent.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (core, rest) = t.split_at(end);
    if !(rest.is_empty() || rest.starts_with('-') || rest.starts_with('+')) {
        return None;
    }
    let parts: Vec<&str> = core.split('.').collect();
    let num = |s: &str| -> Option<u32> { if s.is_empty() { None } else { s.parse().ok() } };
    match parts.as_slice() {
        [major, minor] => Some((num(major)?, num(minor)?, 0)),
        [major, minor, patch] => Some((num(major)?, num(minor)?, num(patch)?)),
        _ => None,
    }
}

/// The hub and tag of an istiod Deployment's `discovery` image: where its proxies' images
/// come from.
pub(super) fn release_of(istiod: &Value) -> (&str, &str) {
    let pilot_image = istiod
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some("discovery"))
        })
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .unwrap_or("docker.io/istio/pilot:latest");
    let (hub, tag) = split_image(pilot_image);
    (
        if hub.is_empty() {
            "docker.io/istio"
        } else {
            hub
        },
        tag,
    )
}

/// `registry/path/name:tag` → (`registry/path`, `tag`); a registry port is not a tag.
fn split_image(image: &str) -> (&str, &str) {
    let (repo, tag) = match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    };
    let hub = repo.rsplit_once('/').map_or("", |(h, _)| h);
    (hub, tag)
}

/// The istiod Deployment of a revision (`app=istiod`; no `istio.io/rev` label means
/// `default`), whole. It is looked for in `istio-system` first, where istiod runs, so that
/// admitting a pod does not walk every Deployment of the cluster.
pub(super) fn istiod_of(cluster: &Cluster, revision: &str) -> Option<Value> {
    let is_istiod = |d: &&Arc<Stored>| {
        label(d.head(), "app") == Some("istiod")
            && label(d.head(), "istio.io/rev").unwrap_or("default") == revision
    };
    let store = &cluster.store;
    store
        .list("deployments.apps", Some("istio-system"))
        .find(is_istiod)
        .or_else(|| store.list("deployments.apps", None).find(is_istiod))
        .map(|d| d.full())
}

fn webhooks(cluster: &Cluster) -> impl Iterator<Item = &Value> {
    cluster
        .store
        .list(
            "mutatingwebhookconfigurations.admissionregistration.k8s.io",
            None,
        )
        .map(|w| w.head())
}

/// The revision whose istiod a webhook configuration calls: what the API server does with
/// its first webhook's `clientConfig.service`. The Service's `istio.io/rev` label names it
/// (a tag Service carries the revision it serves too); a Service that is not there is read
/// from its name, `istiod-<rev>` or `istiod`.
fn called_revision(cluster: &Cluster, mwc: &Value) -> Option<String> {
    let service = mwc
        .get("webhooks")?
        .as_array()?
        .iter()
        .find_map(|w| w.pointer("/clientConfig/service"))?;
    let name = service.get("name").and_then(Value::as_str)?;
    let ns = service
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(rev) = cluster
        .store
        .get("services", ns, name)
        .and_then(|s| label(s.head(), "istio.io/rev"))
    {
        return Some(rev.to_string());
    }
    match name.strip_prefix("istiod-") {
        Some(rev) if !rev.is_empty() => Some(rev.to_string()),
        _ => (name == "istiod").then(|| "default".to_string()),
    }
}

/// The tag webhook configuration of `tag` (`istio-revision-tag-<tag>`, labelled
/// `istio.io/tag=<tag>`).
fn tag_webhook<'a>(cluster: &'a Cluster, tag: &str) -> Option<&'a Value> {
    webhooks(cluster).find(|w| label(w, "istio.io/tag") == Some(tag))
}

/// The revision a revision tag injects with; a name that is not a tag is a revision. A tag
/// follows where its webhooks call, not its `istio.io/rev` label: relabelling the webhook
/// configuration alone moves nothing, as in a real cluster.
pub(super) fn resolve_tag(cluster: &Cluster, name: &str) -> String {
    tag_webhook(cluster, name)
        .and_then(|w| {
            called_revision(cluster, w).or_else(|| label(w, "istio.io/rev").map(str::to_string))
        })
        .unwrap_or_else(|| name.to_string())
}

/// The revision behind `istio-injection=enabled`: the `default` tag's, else the
/// revision-less install's, else none.
pub(super) fn default_revision(cluster: &Cluster) -> Option<String> {
    let tag = tag_webhook(cluster, "default").or_else(|| {
        webhooks(cluster).find(|w| meta_str(w, "name").starts_with("istio-revision-tag-default"))
    });
    if let Some(rev) = tag.and_then(|w| {
        called_revision(cluster, w).or_else(|| label(w, "istio.io/rev").map(str::to_string))
    }) {
        return Some(rev);
    }
    let untagged_default = webhooks(cluster)
        .any(|w| label(w, "istio.io/rev") == Some("default") && label(w, "istio.io/tag").is_none());
    (untagged_default || istiod_of(cluster, "default").is_some()).then(|| "default".to_string())
}

/// Whether the CNI node agent is installed: the injector then adds `istio-validation`
/// instead of the `istio-init` that sets up iptables itself.
fn cni_installed(cluster: &Cluster) -> bool {
    cluster
        .store
        .list("daemonsets.apps", None)
        .any(|d| label(d.head(), "k8s-app") == Some("istio-cni-node"))
}

/// Which revision's webhook would inject this pod, if any.
fn injecting_revision(cluster: &Cluster, pod: &Value) -> Option<String> {
    if pod.pointer("/spec/hostNetwork").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    // The pod label beats the deprecated annotation of the same name.
    let opt = label(pod, "sidecar.istio.io/inject").or_else(|| {
        pod.pointer("/metadata/annotations/sidecar.istio.io~1inject")
            .and_then(Value::as_str)
    });
    if opt == Some("false") {
        return None;
    }
    // The injector never touches these, whatever their labels say.
    if matches!(meta_str(pod, "namespace"), "kube-system" | "kube-public") {
        return None;
    }
    let ns = cluster
        .store
        .get("namespaces", "", meta_str(pod, "namespace"))?;
    match (
        label(ns.head(), "istio-injection"),
        label(ns.head(), "istio.io/rev"),
    ) {
        (Some("enabled"), _) => default_revision(cluster),
        (Some(_), _) => None,
        (None, Some(rev)) => Some(resolve_tag(cluster, rev)),
        (None, None) => match label(pod, "istio.io/rev") {
            Some(rev) => Some(resolve_tag(cluster, rev)),
            None if label(pod, "sidecar.istio.io/inject") == Some("true") => {
                default_revision(cluster)
            }
            None => None,
        },
    }
}

fn has_proxy(pod: &Value) -> bool {
    ["containers", "initContainers"].iter().any(|list| {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.get("name").and_then(Value::as_str) == Some("istio-proxy"))
            })
    })
}

/// The workload a pod belongs to and its kind's resource, as the injector names it.
fn workload(pod: &Value) -> (String, &'static str) {
    if let Some(r) = controller_ref(pod) {
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        match r.get("kind").and_then(Value::as_str).unwrap_or("") {
            "ReplicaSet" => {
                if let Some(d) = label(pod, "pod-template-hash")
                    .and_then(|h| name.strip_suffix(&format!("-{h}")))
                {
                    return (d.to_string(), "deployments");
                }
                return (name.to_string(), "replicasets");
            }
            "StatefulSet" => return (name.to_string(), "statefulsets"),
            "DaemonSet" => return (name.to_string(), "daemonsets"),
            _ => {}
        }
    }
    let generated = meta_str(pod, "generateName").trim_end_matches('-');
    let name = if generated.is_empty() {
        meta_str(pod, "name")
    } else {
        generated
    };
    (name.to_string(), "pods")
}

fn field_env(name: &str, path: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}})
}

fn proxy_image_is_auto(pod: &Value) -> bool {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("name").and_then(Value::as_str) == Some("istio-proxy")
                && c.get("image").and_then(Value::as_str) == Some("auto")
        })
}

/// The `gateway` injection template: the gateway's own `istio-proxy` gets the revision's
/// proxy image; nothing else is added.
fn fill_gateway(pod: &mut Value, proxy_image: &str, revision: &str, version: (u32, u32, u32)) {
    if let Some(cs) = pod
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in cs
            .iter_mut()
            .filter(|c| c.get("name").and_then(Value::as_str) == Some("istio-proxy"))
        {
            c["image"] = json!(proxy_image);
        }
    }
    let mut status = json!({"initContainers": null, "containers": ["istio-proxy"], "volumes": [
        "workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data", "istio-podinfo",
        "istio-token", "istiod-ca-cert"], "imagePullSecrets": null});
    if version >= (1, 11, 0) {
        status["revision"] = json!(revision);
    }
    let meta = &mut pod["metadata"];
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    meta["annotations"]["sidecar.istio.io/status"] = json!(status.to_string());
    if version >= (1, 18, 0) {
        meta["annotations"]["istio.io/rev"] = json!(revision);
    }
}

/// Admission for a new pod: sidecar injection.
pub fn admit_pod(cluster: &mut Cluster, pod: &mut Value, now: Timestamp) {
    let _ = now;
    let key = (
        meta_str(pod, "namespace").to_string(),
        meta_str(pod, "name").to_string(),
    );
    // Scenario pods are kept as written, with or without their sidecar.
    if cluster.controllers.loaded.contains_key(&key) {
        return;
    }
    // A gateway of the `istio/gateway` chart brings its own `istio-proxy` container with
    // `image: auto`; the injector's `gateway` template fills it in. Any other pod with a
    // proxy already is left alone.
    let auto_gateway = proxy_image_is_auto(pod);
    if has_proxy(pod) && !auto_gateway {
        return;
    }
    let Some(revision) = injecting_revision(cluster, pod) else {
        return;
    };
    let Some(istiod) = istiod_of(cluster, &revision) else {
        return;
    };
    let (hub, tag) = release_of(&istiod);
    // An unparsable tag (`latest`) behaves as a current release.
    let version = parse_version(tag).unwrap_or((1, u32::MAX, 0));
    let proxy_image = pod
        .pointer("/metadata/annotations/sidecar.istio.io~1proxyImage")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{hub}/proxyv2:{tag}"));
    let istiod_addr = format!(
        "{}.{}.svc:15012",
        meta_str(&istiod, "name"),
        meta_str(&istiod, "namespace")
    );
    if auto_gateway {
        fill_gateway(pod, &proxy_image, &revision, version);
        return;
    }
    let ns = key.0.clone();
    let (workload_name, workload_kind) = workload(pod);
    let owner = match workload_kind {
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" => {
            format!("kubernetes://apis/apps/v1/namespaces/{ns}/{workload_kind}/{workload_name}")
        }
        _ => format!("kubernetes://apis/v1/namespaces/{ns}/pods/{}", key.1),
    };
    let canonical_name = [
        "service.istio.io/canonical-name",
        "app.kubernetes.io/name",
        "app",
    ]
    .iter()
    .find_map(|k| label(pod, k))
    .unwrap_or(&workload_name)
    .to_string();
    let canonical_revision = [
        "service.istio.io/canonical-revision",
        "app.kubernetes.io/version",
        "version",
    ]
    .iter()
    .find_map(|k| label(pod, k))
    .unwrap_or("latest")
    .to_string();

    let proxy = json!({
        "name": "istio-proxy",
        "image": proxy_image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning",
                 "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info", "--concurrency", "2"],
        "env": [
            {"name": "JWT_POLICY", "value": "first-party-jwt"},
            {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
            {"name": "CA_ADDR", "value": istiod_addr},
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
            field_env("INSTANCE_IP", "status.podIP"),
            field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
            field_env("HOST_IP", "status.hostIP"),
            {"name": "ISTIO_META_WORKLOAD_NAME", "value": workload_name},
            {"name": "ISTIO_META_OWNER", "value": owner},
            {"name": "ISTIO_META_MESH_ID", "value": "cluster.local"},
            {"name": "TRUST_DOMAIN", "value": "cluster.local"},
            {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"},
        ],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {"failureThreshold": 30, "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                           "initialDelaySeconds": 1, "periodSeconds": 2, "successThreshold": 1, "timeoutSeconds": 3},
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "privileged": false,
                            "readOnlyRootFilesystem": true, "runAsGroup": 1337, "runAsNonRoot": true, "runAsUser": 1337},
        "volumeMounts": [
            {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
            {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
            {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
            {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"},
        ],
    });
    let cni = cni_installed(cluster);
    let mut init = json!({
        "name": if cni { "istio-validation" } else { "istio-init" },
        "image": proxy_image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "",
                 "-b", "*", "-d", "15090,15021,15020"],
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                            "privileged": false, "readOnlyRootFilesystem": false, "runAsGroup": 0, "runAsNonRoot": false,
                            "runAsUser": 0},
    });
    if cni {
        // The CNI plugin set up the redirection already; the init container only checks it.
        init["args"] = json!([
            "istio-iptables",
            "--validation-mode",
            "--run-validation",
            "--log_output_level=default:info"
        ]);
        init["securityContext"] = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
                                         "privileged": false, "readOnlyRootFilesystem": true, "runAsGroup": 1337,
                                         "runAsNonRoot": true, "runAsUser": 1337});
    }
    // From 1.28 the injector's default (`auto`) makes the proxy a Kubernetes native sidecar:
    // an init container that keeps running (restartPolicy Always), after the iptables one.
    let native = version >= (1, 28, 0)
        && pod
            .pointer("/metadata/annotations/sidecar.istio.io~1nativeSidecar")
            .and_then(Value::as_str)
            != Some("false");
    let mut proxy = proxy;
    if native {
        proxy["restartPolicy"] = json!("Always");
    }
    let volumes = [
        json!({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}),
        json!({"name": "istio-data", "emptyDir": {}}),
        json!({"name": "istio-podinfo", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
        ]}}),
        json!({"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}}),
    ];
    let init_name = init["name"].clone();
    let (status_inits, status_containers) = if native {
        (json!([init_name, "istio-proxy"]), json!([]))
    } else {
        (json!([init_name]), json!(["istio-proxy"]))
    };
    let mut status = json!({
        "initContainers": status_inits,
        "containers": status_containers,
        "volumes": ["istio-envoy", "istio-data", "istio-podinfo", "istiod-ca-cert"],
        "imagePullSecrets": null,
    });
    if version >= (1, 11, 0) {
        status["revision"] = json!(revision);
    }

    let push = |pod: &mut Value, list: &str, item: Value| {
        if !pod["spec"][list].is_array() {
            pod["spec"][list] = json!([]);
        }
        if let Some(a) = pod["spec"][list].as_array_mut() {
            a.push(item);
        }
    };
    push(pod, "initContainers", init);
    if native {
        push(pod, "initContainers", proxy);
    } else {
        push(pod, "containers", proxy);
    }
    for v in volumes {
        push(pod, "volumes", v);
    }
    let meta = &mut pod["metadata"];
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    let ann = &mut meta["annotations"];
    ann["sidecar.istio.io/status"] = json!(status.to_string());
    for (k, v) in [
        ("prometheus.io/path", "/stats/prometheus"),
        ("prometheus.io/port", "15020"),
        ("prometheus.io/scrape", "true"),
    ] {
        if ann.get(k).is_none() {
            ann[k] = json!(v);
        }
    }
    if version >= (1, 18, 0) {
        ann["istio.io/rev"] = json!(revision);
    }
    if !meta["labels"].is_object() {
        meta["labels"] = json!({});
    }
    let labels = &mut meta["labels"];
    labels["security.istio.io/tlsMode"] = json!("istio");
    labels["service.istio.io/canonical-name"] = json!(canonical_name);
    labels["service.istio.io/canonical-revision"] = json!(canonical_revision);
    if version < (1, 11, 0) {
        labels["istio.io/rev"] = json!(revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_like_istio_tags() {
        assert_eq!(parse_version("1.9.1"), Some((1, 9, 1)));
        assert_eq!(
            parse_version("1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1"),
            Some((1, 10, 0))
        );
        assert_eq!(parse_version("1.23.0-distroless"), Some((1, 23, 0)));
        assert_eq!(parse_version("1.4"), Some((1, 4, 0)));
        assert_eq!(parse_version("v1.15.6"), Some((1, 15, 6)));
        for bad in [
            "garbage", "", "1", "1.", "1..2", "1.9.1x", "latest", "1.2.3.4",
        ] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn images_split_into_hub_and_tag() {
        assert_eq!(
            split_image("docker.io/istio/pilot:1.9.1"),
            ("docker.io/istio", "1.9.1")
        );
        assert_eq!(
            split_image("registry:5000/istio/pilot:1.23.0-distroless"),
            ("registry:5000/istio", "1.23.0-distroless")
        );
        assert_eq!(
            split_image("registry:5000/istio/pilot"),
            ("registry:5000/istio", "latest")
        );
    }
}
