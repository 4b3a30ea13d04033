//! Generated clusters: `meshtop sandbox --generate nodes=N,pods=M,…` builds a realistic
//! mesh of any size without a scenario file. Pods are injected by the sandbox's own injector
//! and started by its own kubelet code, so they are as big and varied as the pods of a real
//! mesh (sidecar or native sidecar, init container, full status, managedFields). Objects are
//! written straight into the store already reconciled: loading runs no controller.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::store::{meta_str, timestamp, uuid_v4_shape};
use super::{Cluster, Settings, controllers};

/// What `--generate` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSpec {
    pub nodes: usize,
    /// Every pod of the cluster, istiod, gateways and DaemonSet pods included.
    pub pods: usize,
    pub namespaces: usize,
    /// istiod revisions; the newest injects native sidecars.
    pub revisions: usize,
    /// Ingress gateway Deployments in `istio-system`, two replicas each.
    pub gateways: usize,
    /// DaemonSets in `kube-system`, one pod on every node each.
    pub daemonsets: usize,
    /// Application pods per Deployment.
    pub replicas: usize,
    /// Pod changes a second once serving (`churn.rs`); 0: none.
    pub churn: usize,
}

/// The Istio releases revisions are made of, oldest first; from 1.28 the injector writes
/// native sidecars.
const RELEASES: &[&str] = &["1.27.3", "1.28.1", "1.29.2", "1.26.5"];

/// Team and environment words the namespaces are named from; `-prod` and `-prod-eu` make
/// names that prefix one another, as real clusters have.
const TEAMS: &[&str] = &[
    "checkout",
    "payments",
    "catalog",
    "search",
    "shipping",
    "accounts",
    "ledger",
    "pricing",
    "reviews",
    "inventory",
    "billing",
    "identity",
    "media",
    "notify",
    "fraud",
    "orders",
];
const ENVS: &[&str] = &["prod", "prod-eu", "prod-eu-2", "staging"];
const APPS: &[&str] = &[
    "api",
    "web",
    "worker",
    "gateway",
    "cache",
    "indexer",
    "sync",
    "scheduler",
    "export",
    "frontend",
];
const ZONES: &[&str] = &["europe-west4-a", "europe-west4-b", "europe-west4-c"];

impl GenerateSpec {
    /// Parses `nodes=N,pods=M[,namespaces=K,revisions=R,gateways=G,daemonsets=D,replicas=P,churn=C]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nodes = None;
        let mut pods = None;
        let mut namespaces = None;
        let mut revisions = 2;
        let mut gateways = 1;
        let mut daemonsets = 1;
        let mut replicas = 5;
        let mut churn = 0;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KEY=NUMBER"))?;
            let n: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("{key}: {value:?} is not a whole number"))?;
            match key.trim() {
                "nodes" => nodes = Some(n),
                "pods" => pods = Some(n),
                "namespaces" => namespaces = Some(n),
                "revisions" => revisions = n,
                "gateways" => gateways = n,
                "daemonsets" => daemonsets = n,
                "replicas" => replicas = n,
                "churn" => churn = n,
                other => {
                    return Err(format!(
                        "unknown key {other:?} (known: nodes, pods, namespaces, revisions, gateways, daemonsets, replicas, churn)"
                    ));
                }
            }
        }
        let pods = pods.ok_or("pods=N is required")?;
        let nodes = nodes.unwrap_or((pods / 20).max(1));
        let spec = Self {
            nodes,
            pods,
            namespaces: namespaces.unwrap_or((pods / 250).clamp(1, 2000)),
            revisions,
            gateways,
            daemonsets,
            replicas,
            churn,
        };
        if spec.nodes == 0 {
            return Err("nodes must be at least 1".into());
        }
        if spec.namespaces == 0 {
            return Err("namespaces must be at least 1".into());
        }
        if spec.replicas == 0 {
            return Err("replicas must be at least 1".into());
        }
        if spec.revisions == 0 || spec.revisions > RELEASES.len() {
            return Err(format!("revisions must be 1 to {}", RELEASES.len()));
        }
        if spec.mesh_pods() > spec.pods {
            return Err(format!(
                "pods={} leaves no room: istiod, gateways and DaemonSets already take {} pods",
                spec.pods,
                spec.mesh_pods()
            ));
        }
        Ok(spec)
    }

    /// The pods that are not applications: two istiod and two gateway replicas each, and
    /// the DaemonSets' pods.
    fn mesh_pods(&self) -> usize {
        2 * self.revisions + 2 * self.gateways + self.daemonsets * self.nodes
    }

    /// How the scenario is named in messages.
    pub fn describe(&self) -> String {
        let churn = if self.churn > 0 {
            format!(", churn={}", self.churn)
        } else {
            String::new()
        };
        format!(
            "generated cluster (nodes={}, pods={}, namespaces={}, revisions={}, gateways={}, daemonsets={}, replicas={}{churn})",
            self.nodes,
            self.pods,
            self.namespaces,
            self.revisions,
            self.gateways,
            self.daemonsets,
            self.replicas
        )
    }
}

/// A stable 64-bit mix of a number (splitmix64): the same spec makes the same cluster.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn uid(kind: u64, i: u64) -> String {
    let hex = format!("{:016x}{:016x}", mix(kind << 40 ^ i), mix(i << 8 ^ kind));
    uuid_v4_shape(&hex)
}

/// A pod name's five-character suffix, different for every `n` below 27^5 (a multiplication
/// by a number prime to 27^5 is a permutation), so the pods of one owner never collide.
fn name_suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    const SPACE: u64 = 27 * 27 * 27 * 27 * 27;
    let mut x = (n % SPACE) * 7_340_033 % SPACE;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % 27) as usize] as char;
            x /= 27;
            c
        })
        .collect()
}

/// Ten characters in the alphabet of `pod-template-hash` and pod name suffixes.
fn suffix(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = mix(seed);
    (0..len)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h = (h / ALPHABET.len() as u64) ^ mix(h);
            c
        })
        .collect()
}

fn namespace_name(i: usize) -> String {
    let team = TEAMS[i % TEAMS.len()];
    let env = ENVS[(i / TEAMS.len()) % ENVS.len()];
    let round = i / (TEAMS.len() * ENVS.len());
    if round == 0 {
        format!("{team}-{env}")
    } else {
        // `r` keeps a round apart from an environment that ends in a number (`prod-eu-2`).
        format!("{team}-{env}-r{round}")
    }
}

fn revision_name(release: &str) -> String {
    release.replace('.', "-")
}

/// `metadata.managedFields` entries' `fieldsV1` for an object: the set of fields it holds,
/// in the API server's notation (`f:name`, list items by `k:{"name":…}`).
fn fields_v1(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        Value::Array(items) => {
            let keyed: Map<String, Value> = items
                .iter()
                .filter_map(|item| {
                    // The list's merge key, as the API server's schema names it.
                    let key = ["containerPort", "mountPath", "ip", "name", "type", "key"]
                        .iter()
                        .find_map(|k| item.get(*k).map(|v| (*k, v)))?;
                    Some((format!("k:{{\"{}\":{}}}", key.0, key.1), fields_v1(item)))
                })
                .collect();
            if keyed.is_empty() {
                json!({})
            } else {
                let mut m = keyed;
                m.insert(".".into(), json!({}));
                Value::Object(m)
            }
        }
        _ => json!({}),
    }
}

/// The managedFields a controller-made object carries: its creator's fields and the
/// status writer's.
fn managed_fields(
    obj: &Value,
    (creator, at): (&str, &str),
    (status_writer, status_at): (&str, &str),
) -> Value {
    // The creator's fields: all but status, and of the metadata what a controller sets
    // (read in place: the object is not copied).
    let spec_fields: Map<String, Value> = obj
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "status" | "apiVersion" | "kind"))
        .map(|(k, v)| {
            let fields = match (k.as_str(), v.as_object()) {
                ("metadata", Some(meta)) => Value::Object(
                    meta.iter()
                        .filter(|(k, _)| {
                            matches!(
                                k.as_str(),
                                "labels" | "annotations" | "ownerReferences" | "generateName"
                            )
                        })
                        .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                        .collect(),
                ),
                _ => fields_v1(v),
            };
            (format!("f:{k}"), fields)
        })
        .collect();
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let mut entries = vec![json!({
        "manager": creator, "operation": "Update", "apiVersion": api_version, "time": at,
        "fieldsType": "FieldsV1", "fieldsV1": Value::Object(spec_fields),
    })];
    if let Some(status) = obj.get("status") {
        entries.push(json!({
            "manager": status_writer, "operation": "Update", "apiVersion": api_version, "time": status_at,
            "fieldsType": "FieldsV1", "fieldsV1": {"f:status": fields_v1(status)},
            "subresource": "status",
        }));
    }
    Value::Array(entries)
}

fn with_managed_fields(obj: Value, creator: &str, status_writer: &str, at: &str) -> Value {
    with_managed_fields_at(obj, (creator, at), (status_writer, at))
}

/// The managedFields of an object whose status was last written at another time than
/// its spec.
fn with_managed_fields_at(mut obj: Value, creator: (&str, &str), status: (&str, &str)) -> Value {
    let fields = managed_fields(&obj, creator, status);
    obj["metadata"]["managedFields"] = fields;
    obj
}

/// What the API server's ServiceAccount admission adds to a pod that mounts its token:
/// a projected `kube-api-access-<5 letters>` volume, its name different in every pod, and
/// its mount in every container.
fn with_service_account_token(pod: &mut Value, seed: u64) {
    if pod["spec"]["automountServiceAccountToken"] == json!(false) {
        return;
    }
    const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
    let name = format!("kube-api-access-{}", suffix(seed ^ 0x70c3, 5));
    let mount = json!({"name": name, "readOnly": true, "mountPath": MOUNT_PATH});
    for list in ["initContainers", "containers"] {
        let Some(containers) = pod["spec"][list].as_array_mut() else {
            continue;
        };
        for c in containers {
            if !c["volumeMounts"].is_array() {
                c["volumeMounts"] = json!([]);
            }
            if let Some(mounts) = c["volumeMounts"].as_array_mut()
                && !mounts.iter().any(|m| m["mountPath"] == MOUNT_PATH)
            {
                mounts.push(mount.clone());
            }
        }
    }
    if !pod["spec"]["volumes"].is_array() {
        pod["spec"]["volumes"] = json!([]);
    }
    if let Some(volumes) = pod["spec"]["volumes"].as_array_mut() {
        volumes.push(json!({"name": name, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ], "defaultMode": 420}}));
    }
}

struct Loader<'a> {
    cluster: &'a mut Cluster,
    now: Timestamp,
    /// The creation time of everything: a day before now.
    born: String,
    born_at: Timestamp,
}

impl Loader<'_> {
    /// Writes an object as it is, already reconciled.
    fn put(&mut self, obj: Value) -> Result<(), String> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let t = self
            .cluster
            .registry
            .by_kind(api_version, kind)
            .cloned()
            .ok_or_else(|| format!("{api_version} {kind} is not served"))?;
        self.cluster
            .store
            .create(&t, obj, self.now)
            .map(|_| ())
            .map_err(|e| e.message)
    }

    /// A pod as its controller makes it, injected by the revision of its namespace and
    /// started on `node`.
    fn put_pod(&mut self, mut pod: Value, node: &str) -> Result<(), String> {
        pod["spec"]["nodeName"] = json!(node);
        // Each pod its own: created in the hour after its owner, its status last written
        // by its kubelet a little later, its token volume named at random.
        let seed = mix(meta_str(&pod, "namespace")
            .bytes()
            .chain(meta_str(&pod, "name").bytes())
            .fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            }));
        let at = |secs: u64| {
            timestamp(
                self.born_at
                    .checked_add(SignedDuration::from_secs(secs as i64))
                    .unwrap_or(self.born_at),
            )
        };
        let created_secs = seed % 3600;
        let created = at(created_secs);
        let status_at = at(created_secs + 5 + (seed >> 20) % 600);
        pod["metadata"]["creationTimestamp"] = json!(created);
        with_service_account_token(&mut pod, seed);
        let t = self
            .cluster
            .registry
            .by_kind("v1", "Pod")
            .cloned()
            .ok_or("no Pod kind")?;
        controllers::prepare_loaded(self.cluster, &t, &mut pod, self.now);
        let pod = with_managed_fields_at(
            pod,
            ("kube-controller-manager", &created),
            ("kubelet", &status_at),
        );
        self.put(pod)
    }
}

fn node(i: usize, born: &str) -> Value {
    let name = format!("node-{i:05}");
    let zone = ZONES[i % ZONES.len()];
    let ip = format!("10.{}.{}.{}", 128 + (i >> 16) % 64, (i >> 8) & 255, i & 255);
    let images: Vec<Value> = (0..8)
        .map(|k| {
            json!({"names": [format!("registry.example.com/team/app-{k}@sha256:{:016x}{:016x}", mix(k), mix(k + 99)),
                             format!("registry.example.com/team/app-{k}:v{}.{}.0", k % 4, k)],
                   "sizeBytes": 40_000_000 + k * 7_000_000})
        })
        .collect();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "lastHeartbeatTime": born, "lastTransitionTime": born,
               "reason": reason, "message": message})
    };
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name, "uid": uid(1, i as u64), "creationTimestamp": born,
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "n2-standard-8",
                "topology.kubernetes.io/region": "europe-west4", "topology.kubernetes.io/zone": zone,
                "cloud.google.com/gke-nodepool": format!("pool-{}", i % 4),
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": format!("10.{}.{}.0/24", (i >> 8) % 256, i & 255),
                 "providerID": format!("gce://sandbox/{zone}/{name}")},
        "status": {
            "capacity": {"cpu": "8", "memory": "32880192Ki", "pods": "110", "ephemeral-storage": "98831908Ki"},
            "allocatable": {"cpu": "7910m", "memory": "29094464Ki", "pods": "110", "ephemeral-storage": "47060071478"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": format!("{:016x}{:016x}", mix(i as u64), mix(i as u64 + 7)),
                "systemUUID": uid(2, i as u64), "bootID": uid(3, i as u64),
                "kernelVersion": "6.1.100+", "osImage": "Container-Optimized OS from Google",
                "containerRuntimeVersion": "containerd://1.7.22", "kubeletVersion": "v1.30.5",
                "kubeProxyVersion": "v1.30.5", "operatingSystem": "linux", "architecture": "amd64",
            },
            "images": images,
        },
    });
    with_managed_fields(node, "kubelet", "kubelet", born)
}

/// The selector labels and pod template of an application Deployment.
fn app_template(ns: &str, app: &str, version: &str, seed: u64) -> Value {
    let port = 8080 + (seed % 3) as i64;
    json!({
        "metadata": {
            "labels": {"app": app, "version": version, "app.kubernetes.io/name": app,
                        "app.kubernetes.io/part-of": ns},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": port.to_string(),
                             "kubectl.kubernetes.io/restartedAt": "2026-11-19T08:12:44Z"},
        },
        "spec": {
            "serviceAccountName": app,
            "terminationGracePeriodSeconds": 30,
            "containers": [{
                "name": app,
                "image": format!("registry.example.com/{ns}/{app}:{version}"),
                "imagePullPolicy": "IfNotPresent",
                "args": ["--port", port.to_string(), "--log-format=json"],
                "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [
                    {"name": "SERVICE_NAME", "value": app},
                    {"name": "DEPLOY_ENV", "value": ns},
                    {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability:4317"},
                    {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}}},
                ],
                "resources": {"requests": {"cpu": format!("{}m", 100 + seed % 400), "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "512Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": port, "scheme": "HTTP"},
                                   "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "livenessProbe": {"httpGet": {"path": "/healthz/live", "port": port, "scheme": "HTTP"},
                                  "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 1,
                                  "successThreshold": 1, "failureThreshold": 3},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": true}],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": "config", "configMap": {"name": format!("{app}-config"), "defaultMode": 420}}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {"fsGroup": 1000},
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        },
    })
}

/// A Deployment, its ReplicaSet and the pods' prototype (not yet injected).
struct Workload {
    deployment: Value,
    replica_set: Value,
    pod: Value,
    rs_name: String,
}

#[allow(clippy::too_many_arguments)]
fn workload(
    ns: &str,
    name: &str,
    template: Value,
    selector: Value,
    replicas: usize,
    kind_seed: u64,
    born: &str,
) -> Workload {
    let hash = suffix(kind_seed ^ 0x5eed, 10);
    let rs_name = format!("{name}-{hash}");
    let d_uid = uid(10, kind_seed);
    let rs_uid = uid(11, kind_seed);
    let replicas_n = replicas as i64;
    let condition = |type_: &str, reason: &str, message: String| {
        json!({"type": type_, "status": "True", "lastUpdateTime": born, "lastTransitionTime": born,
               "reason": reason, "message": message})
    };
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "uid": d_uid, "creationTimestamp": born,
                     "generation": 1, "labels": template["metadata"]["labels"].clone(),
                     "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": replicas_n, "selector": {"matchLabels": selector.clone()},
                 "template": template.clone(), "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
        "status": {"observedGeneration": 1, "replicas": replicas_n, "updatedReplicas": replicas_n,
                   "readyReplicas": replicas_n, "availableReplicas": replicas_n,
                   "conditions": [
                       condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.".into()),
                       condition("Progressing", "NewReplicaSetAvailable", format!("ReplicaSet \"{rs_name}\" has successfully progressed.")),
                   ]},
    });
    let mut rs_template = template;
    rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut rs_selector = selector;
    rs_selector["pod-template-hash"] = json!(hash);
    let replica_set = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": ns, "uid": rs_uid, "creationTimestamp": born,
                     "generation": 1, "labels": rs_template["metadata"]["labels"].clone(),
                     "annotations": {"deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                                     "deployment.kubernetes.io/max-replicas": (replicas + replicas.div_ceil(4)).to_string(),
                                     "deployment.kubernetes.io/revision": "1"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                          "uid": d_uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": replicas_n, "selector": {"matchLabels": rs_selector},
                 "template": rs_template.clone()},
        "status": {"replicas": replicas_n, "fullyLabeledReplicas": replicas_n, "readyReplicas": replicas_n,
                   "availableReplicas": replicas_n, "observedGeneration": 1},
    });
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod"});
    pod["metadata"] = rs_template["metadata"].clone();
    pod["metadata"]["namespace"] = json!(ns);
    pod["metadata"]["generateName"] = json!(format!("{rs_name}-"));
    pod["metadata"]["creationTimestamp"] = json!(born);
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": rs_name, "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}]);
    pod["spec"] = rs_template["spec"].clone();
    Workload {
        deployment: with_managed_fields(
            deployment,
            "kubectl-client-side-apply",
            "kube-controller-manager",
            born,
        ),
        replica_set: with_managed_fields(
            replica_set,
            "kube-controller-manager",
            "kube-controller-manager",
            born,
        ),
        pod,
        rs_name,
    }
}

fn pdb(ns: &str, name: &str, selector: Value, healthy: usize, born: &str) -> Value {
    let healthy = healthy as i64;
    with_managed_fields(
        json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": born, "generation": 1},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            "status": {"observedGeneration": 1, "expectedPods": healthy, "currentHealthy": healthy,
                       "desiredHealthy": (healthy - 1).max(0), "disruptionsAllowed": i64::from(healthy > 0),
                       "conditions": [{"type": "DisruptionAllowed", "status": if healthy > 0 { "True" } else { "False" },
                                       "reason": "SufficientPods", "message": "", "observedGeneration": 1,
                                       "lastTransitionTime": born}]},
        }),
        "kubectl-client-side-apply",
        "kube-controller-manager",
        born,
    )
}

/// An istiod revision: Deployment, ReplicaSet and two pods, its Service, its `istio-<rev>`
/// mesh ConfigMap, its injector webhook and PDB.
fn revision(
    l: &mut Loader<'_>,
    release: &str,
    index: u64,
    spec: &GenerateSpec,
) -> Result<(), String> {
    let rev = revision_name(release);
    let name = format!("istiod-{rev}");
    let born = l.born.clone();
    let labels = json!({"app": "istiod", "istio.io/rev": rev, "istio": "pilot",
                        "app.kubernetes.io/name": "istiod", "app.kubernetes.io/version": release,
                        "app.kubernetes.io/part-of": "istio", "app.kubernetes.io/managed-by": "Helm"});
    let template = json!({
        "metadata": {"labels": labels.clone(), "annotations": {"sidecar.istio.io/inject": "false",
                                                               "prometheus.io/port": "15014", "prometheus.io/scrape": "true"}},
        "spec": {"serviceAccountName": name, "containers": [{
            "name": "discovery", "image": format!("docker.io/istio/pilot:{release}"),
            "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 15010, "protocol": "TCP"},
                      {"containerPort": 15017, "protocol": "TCP"}],
            "env": [{"name": "REVISION", "value": rev}, {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 1, "periodSeconds": 3},
        }]},
    });
    let selector = json!({"app": "istiod", "istio.io/rev": rev});
    let w = workload(
        "istio-system",
        &name,
        template,
        selector.clone(),
        2,
        1000 + index,
        &born,
    );
    l.put(w.deployment)?;
    l.put(w.replica_set)?;
    for r in 0..2u64 {
        let mut pod = w.pod.clone();
        pod["metadata"]["name"] = json!(format!("{}-{}", w.rs_name, name_suffix(index * 7 + r)));
        pod["metadata"]["uid"] = json!(uid(20, index * 16 + r));
        let node = format!("node-{:05}", (index * 2 + r) as usize % spec.nodes);
        l.put_pod(pod, &node)?;
    }
    l.put(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "istio-system", "labels": labels.clone(), "creationTimestamp": born},
        "spec": {"type": "ClusterIP", "selector": selector.clone(), "clusterIP": format!("10.96.{}.10", 10 + index),
                 "ports": [{"name": "grpc-xds", "port": 15010, "protocol": "TCP", "targetPort": 15010},
                           {"name": "https-dns", "port": 15012, "protocol": "TCP", "targetPort": 15012},
                           {"name": "https-webhook", "port": 443, "protocol": "TCP", "targetPort": 15017},
                           {"name": "http-monitoring", "port": 15014, "protocol": "TCP", "targetPort": 15014}]}}))?;
    l.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("istio-{rev}"), "namespace": "istio-system", "creationTimestamp": born,
                     "labels": {"istio.io/rev": rev, "app.kubernetes.io/name": "istiod", "app.kubernetes.io/version": release}},
        "data": {"mesh": format!("defaultConfig:\n  discoveryAddress: {name}.istio-system.svc:15012\nrootNamespace: istio-system\ntrustDomain: cluster.local\n"),
                 "meshNetworks": "networks: {}"}}))?;
    l.put(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": format!("istio-sidecar-injector-{rev}"), "creationTimestamp": born,
                     "labels": {"app": "sidecar-injector", "istio.io/rev": rev, "app.kubernetes.io/version": release}},
        "webhooks": [{"name": "rev.namespace.sidecar-injector.istio.io",
            "clientConfig": {"service": {"name": name, "namespace": "istio-system", "path": "/inject", "port": 443}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "namespaceSelector": {"matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": [rev]},
                                                       {"key": "istio-injection", "operator": "DoesNotExist"}]}}]}))?;
    l.put(pdb("istio-system", &name, selector, 2, &born))
}

/// Builds the cluster a spec describes.
pub fn build(spec: &GenerateSpec, now: Timestamp) -> Result<Cluster, String> {
    let settings = Settings {
        // Watches resume within the last minutes of a busy cluster, as a real server's
        // watch cache allows.
        watch_history: 10_000,
        ..Settings::default()
    };
    let mut cluster = Cluster::new(settings);
    let born = timestamp(
        now.checked_sub(SignedDuration::from_hours(24))
            .unwrap_or(now),
    );
    let mut l = Loader {
        cluster: &mut cluster,
        now,
        born: born.clone(),
        born_at: now
            .checked_sub(SignedDuration::from_hours(24))
            .unwrap_or(now),
    };
    let releases: Vec<&str> = RELEASES[..spec.revisions].to_vec();
    for (i, ns) in ["kube-system", "istio-system", "default"]
        .iter()
        .enumerate()
    {
        l.put(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": uid(4, i as u64), "creationTimestamp": born,
                         "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))?;
    }
    let app_namespaces: Vec<String> = (0..spec.namespaces).map(namespace_name).collect();
    for (i, ns) in app_namespaces.iter().enumerate() {
        let rev = revision_name(releases[i % releases.len()]);
        l.put(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": uid(5, i as u64), "creationTimestamp": born,
                         "labels": {"kubernetes.io/metadata.name": ns, "istio.io/rev": rev}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))?;
    }
    for i in 0..spec.nodes {
        l.put(node(i, &born))?;
    }
    for (i, release) in releases.iter().enumerate() {
        revision(&mut l, release, i as u64, spec)?;
    }
    let mut pod_index: u64 = 0;
    let next_node = |pod_index: &mut u64| {
        *pod_index += 1;
        format!("node-{:05}", (mix(*pod_index) % spec.nodes as u64) as usize)
    };
    // Gateways: the chart's own istio-proxy, filled in by the injector's gateway template.
    for g in 0..spec.gateways {
        let name = if g == 0 {
            "istio-ingressgateway".to_string()
        } else {
            format!("istio-ingressgateway-{g}")
        };
        let rev = revision_name(releases[0]);
        let labels = json!({"app": name, "istio": "ingressgateway", "istio.io/rev": rev});
        let template = json!({
            "metadata": {"labels": labels.clone(), "annotations": {"inject.istio.io/templates": "gateway", "istio.io/rev": rev}},
            "spec": {"serviceAccountName": name, "containers": [{"name": "istio-proxy", "image": "auto",
                "ports": [{"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                          {"containerPort": 8080, "name": "http2", "protocol": "TCP"},
                          {"containerPort": 8443, "name": "https", "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
        });
        let mut w = workload(
            "istio-system",
            &name,
            template,
            labels.clone(),
            2,
            2000 + g as u64,
            &born,
        );
        w.pod["metadata"]["labels"]["istio.io/rev"] = json!(rev);
        controllers::admit_pod(l.cluster, &mut w.pod, now);
        l.put(w.deployment)?;
        l.put(w.replica_set)?;
        for r in 0..2u64 {
            let mut pod = w.pod.clone();
            pod["metadata"]["name"] = json!(format!(
                "{}-{}",
                w.rs_name,
                name_suffix(5000 + g as u64 * 4 + r)
            ));
            pod["metadata"]["uid"] = json!(uid(21, g as u64 * 4 + r));
            l.put_pod(pod, &next_node(&mut pod_index))?;
        }
        l.put(pdb("istio-system", &name, labels, 2, &born))?;
    }
    // DaemonSets in kube-system, one pod on every node.
    for d in 0..spec.daemonsets {
        let name = if d == 0 {
            "log-agent".to_string()
        } else {
            format!("log-agent-{d}")
        };
        let labels = json!({"app": name, "k8s-app": name});
        let ds_uid = uid(12, d as u64);
        let template = json!({"metadata": {"labels": labels.clone()}, "spec": {"containers": [{
            "name": "agent", "image": "registry.example.com/platform/log-agent:2.3.1",
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]}],
            "volumes": [{"name": "varlog", "hostPath": {"path": "/var/log", "type": ""}}],
            "tolerations": [{"operator": "Exists"}]}});
        let n = spec.nodes as i64;
        l.put(with_managed_fields(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system", "uid": ds_uid, "creationTimestamp": born, "generation": 1,
                         "labels": labels.clone(), "annotations": {"deprecated.daemonset.template.generation": "1"}},
            "spec": {"selector": {"matchLabels": labels.clone()}, "template": template.clone(),
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
            "status": {"currentNumberScheduled": n, "numberMisscheduled": 0, "desiredNumberScheduled": n,
                       "numberReady": n, "observedGeneration": 1, "updatedNumberScheduled": n, "numberAvailable": n}}),
            "kubectl-client-side-apply", "kube-controller-manager", &born))?;
        for i in 0..spec.nodes {
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"].clone(),
                                 "spec": template["spec"].clone()});
            pod["metadata"]["name"] = json!(format!(
                "{name}-{}",
                name_suffix((d as u64) << 20 ^ i as u64)
            ));
            pod["metadata"]["namespace"] = json!("kube-system");
            pod["metadata"]["uid"] = json!(uid(22 + d as u64 * 64, i as u64));
            pod["metadata"]["creationTimestamp"] = json!(born);
            pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "DaemonSet",
                "name": name, "uid": ds_uid, "controller": true, "blockOwnerDeletion": true}]);
            l.put_pod(pod, &format!("node-{i:05}"))?;
        }
    }
    // Applications: Deployments of `replicas` pods, spread over the namespaces; every
    // 97th proxy has a route not yet accepted, every 211th a stale endpoint push.
    let mut left = spec.pods - spec.mesh_pods();
    let mut w_index: u64 = 0;
    while left > 0 {
        let ns = &app_namespaces[w_index as usize % app_namespaces.len()];
        let app = APPS[(w_index as usize / app_namespaces.len()) % APPS.len()];
        let round = w_index as usize / (app_namespaces.len() * APPS.len());
        let name = if round == 0 {
            app.to_string()
        } else {
            format!("{app}-{round}")
        };
        let replicas = left.min(spec.replicas);
        let version = format!("v{}.{}.{}", 1 + w_index % 3, w_index % 17, w_index % 5);
        let selector = json!({"app": name});
        let mut template = app_template(ns, &name, &version, w_index);
        template["metadata"]["labels"]["app"] = json!(name);
        let mut w = workload(
            ns,
            &name,
            template,
            selector.clone(),
            replicas,
            10_000 + w_index,
            &born,
        );
        w.pod["metadata"]["name"] = json!(format!("{}-proto", w.rs_name));
        controllers::admit_pod(l.cluster, &mut w.pod, now);
        if let Some(m) = w.pod.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("name");
        }
        l.put(w.deployment)?;
        l.put(w.replica_set)?;
        for r in 0..replicas as u64 {
            let mut pod = w.pod.clone();
            pod_index += 1;
            let n = pod_index;
            pod["metadata"]["name"] = json!(format!("{}-{}", w.rs_name, name_suffix(n * 31 + r)));
            pod["metadata"]["uid"] = json!(uid(30, n));
            let xds = if n.is_multiple_of(97) {
                Some("RDS=NOT SENT")
            } else if n.is_multiple_of(211) {
                Some("EDS=STALE")
            } else {
                None
            };
            if let Some(xds) = xds {
                pod["metadata"]["annotations"]["sandbox.meshtop.dev/xds"] = json!(xds);
            }
            let node = format!("node-{:05}", (mix(n) % spec.nodes as u64) as usize);
            l.put_pod(pod, &node)?;
        }
        if w_index.is_multiple_of(2) {
            l.put(pdb(ns, &name, selector, replicas, &born))?;
        }
        left -= replicas;
        w_index += 1;
    }
    Ok(cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_defaults_and_malformed_ones_say_why() {
        let s = GenerateSpec::parse("nodes=10,pods=1000").expect("spec");
        assert_eq!(
            (s.nodes, s.pods, s.namespaces, s.revisions),
            (10, 1000, 4, 2)
        );
        let s = GenerateSpec::parse("pods=40").expect("spec");
        assert_eq!(s.nodes, 2);
        for (text, why) in [
            ("nodes=10", "pods=N is required"),
            ("pods=ten", "pods: \"ten\" is not a whole number"),
            ("pods=10,colour=3", "unknown key \"colour\""),
            ("pods", "\"pods\" is not KEY=NUMBER"),
            ("nodes=0,pods=10", "nodes must be at least 1"),
            ("nodes=100,pods=50", "leaves no room"),
        ] {
            let e = GenerateSpec::parse(text).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn pod_name_suffixes_never_repeat_within_an_owner() {
        let names: std::collections::HashSet<String> = (0..200_000).map(name_suffix).collect();
        assert_eq!(names.len(), 200_000);
        assert!(names.iter().all(|n| n.len() == 5));
    }

    #[test]
    fn generated_pods_differ_as_real_replicas_do() {
        let spec = GenerateSpec::parse("nodes=4,pods=120,namespaces=3").expect("spec");
        let cluster = build(&spec, Timestamp::now()).expect("build");
        let pods: Vec<Value> = cluster.store.list("pods", None).map(|p| p.full()).collect();
        assert_eq!(pods.len(), 120);
        let mut token_volumes = std::collections::BTreeSet::new();
        let mut created = std::collections::BTreeSet::new();
        for pod in &pods {
            let volumes = pod["spec"]["volumes"].as_array().expect("volumes");
            let token: Vec<&str> = volumes
                .iter()
                .filter_map(|v| v["name"].as_str())
                .filter(|n| n.starts_with("kube-api-access-"))
                .collect();
            assert_eq!(token.len(), 1, "{}", pod["metadata"]["name"]);
            token_volumes.insert(token[0].to_string());
            for c in pod["spec"]["containers"].as_array().expect("containers") {
                assert!(
                    c["volumeMounts"]
                        .as_array()
                        .is_some_and(|m| m.iter().any(|m| {
                            m["name"] == token[0]
                                && m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
                        })),
                    "{c}"
                );
            }
            let fields = pod["metadata"]["managedFields"].as_array().expect("fields");
            let creation = pod["metadata"]["creationTimestamp"]
                .as_str()
                .expect("created");
            assert_eq!(fields[0]["time"], creation);
            let status_time = fields[1]["time"].as_str().expect("status time");
            assert!(status_time > creation, "{status_time} after {creation}");
            let ip = pod["status"]["podIP"].as_str().expect("pod IP");
            let ip_key = format!("k:{{\"ip\":\"{ip}\"}}");
            assert!(
                fields[1]["fieldsV1"]["f:status"]["f:podIPs"]
                    .get(&ip_key)
                    .is_some(),
                "{}",
                fields[1]["fieldsV1"]
            );
            created.insert(creation.to_string());
        }
        assert_eq!(token_volumes.len(), pods.len());
        assert!(
            created.len() > pods.len() / 2,
            "{} creation times",
            created.len()
        );
    }

    #[test]
    fn namespaces_include_names_that_prefix_one_another() {
        let names: Vec<String> = (0..1000).map(namespace_name).collect();
        assert!(names.contains(&"checkout-prod".to_string()));
        assert!(names.contains(&"checkout-prod-eu".to_string()));
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn a_generated_cluster_has_the_size_and_shape_asked_for() {
        let spec = GenerateSpec::parse("nodes=6,pods=200,namespaces=5,revisions=2").expect("spec");
        let cluster = build(&spec, Timestamp::now()).expect("build");
        let count = |key: &str| cluster.store.list(key, None).count();
        assert_eq!(count("pods"), 200);
        assert_eq!(count("nodes"), 6);
        assert_eq!(count("namespaces"), 5 + 3);
        // 2 istiod, 1 gateway, 1 DaemonSet; 200 - 4 - 2 - 6 = 188 application pods in 38
        // Deployments of 5 (the last one of 3).
        assert_eq!(count("daemonsets.apps"), 1);
        assert_eq!(count("deployments.apps"), 2 + 1 + 38);
        assert_eq!(count("replicasets.apps"), 2 + 1 + 38);
        assert_eq!(
            count("mutatingwebhookconfigurations.admissionregistration.k8s.io"),
            2
        );
        assert!(count("poddisruptionbudgets.policy") >= 2 + 1 + 19);
        let app_pods: Vec<&std::sync::Arc<crate::store::Stored>> = cluster
            .store
            .list("pods", None)
            .filter(|p| {
                p.head()["metadata"]["labels"]
                    .get("pod-template-hash")
                    .is_some()
            })
            .filter(|p| p.head()["metadata"]["namespace"] != "istio-system")
            .collect();
        assert_eq!(app_pods.len(), 188);
        let mut native = 0;
        for p in &app_pods {
            let size = serde_json::to_vec(p).expect("json").len();
            assert!((9_000..20_000).contains(&size), "a pod of {size} bytes");
            let ann = &p.head()["metadata"]["annotations"];
            assert!(ann["sidecar.istio.io/status"].is_string(), "injected: {p}");
            assert!(
                p.full()["metadata"]["managedFields"]
                    .as_array()
                    .is_some_and(|m| m.len() == 2)
            );
            assert_eq!(p.head()["status"]["phase"], "Running");
            let status = p.field("status").unwrap_or_default();
            assert_eq!(
                status["conditions"].as_array().map(Vec::len),
                Some(4),
                "{status}"
            );
            let init = p.head()["spec"]["initContainers"]
                .as_array()
                .expect("init containers");
            if init
                .iter()
                .any(|c| c["name"] == "istio-proxy" && c["restartPolicy"] == "Always")
            {
                native += 1;
            } else {
                assert!(
                    p.head()["spec"]["containers"]
                        .as_array()
                        .expect("containers")
                        .iter()
                        .any(|c| c["name"] == "istio-proxy")
                );
                assert!(init.iter().any(|c| c["name"] == "istio-init"));
            }
            assert!(p.head()["status"]["podIP"].is_string());
        }
        // 1.27 sidecars in half the namespaces, 1.28 native sidecars in the other half.
        assert!(
            native > 0 && native < app_pods.len(),
            "{native} native sidecars"
        );
        let pinned = app_pods
            .iter()
            .filter(|p| {
                p.head()["metadata"]["annotations"]
                    .get("sandbox.meshtop.dev/xds")
                    .is_some()
            })
            .count();
        assert!(pinned >= 1, "some proxies are not synced");
    }
}
