//! `as=Table` answers: the columns `kubectl get` shows against a real cluster, computed by
//! the server, and the printer columns of custom resources.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::resources::ResourceType;
use super::store::Stored;

/// (name, type, priority, description)
type Col = (&'static str, &'static str, i64, &'static str);

const NAME: Col = (
    "Name",
    "string",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Col = (
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);
/// The template's containers, in the wide columns of the workload kinds.
const CONTAINERS: Col = (
    "Containers",
    "string",
    1,
    "Names of each container in the template.",
);
const IMAGES: Col = (
    "Images",
    "string",
    1,
    "Images referenced by each container in the template.",
);

/// The columns a workload kind ends with: its age, then (wide) its template's containers
/// and images and its selector, described in the kind's own words.
fn workload_tail(selector: &'static str) -> [Col; 4] {
    [AGE, CONTAINERS, IMAGES, ("Selector", "string", 1, selector)]
}

fn columns(kind: &str) -> Vec<Col> {
    match kind {
        "Node" => vec![
            NAME,
            ("Status", "string", 0, "The status of the node"),
            ("Roles", "string", 0, "The roles of the node"),
            AGE,
            (
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
            (
                "Internal-IP",
                "string",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            (
                "External-IP",
                "string",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            (
                "OS-Image",
                "string",
                1,
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            (
                "Kernel-Version",
                "string",
                1,
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            (
                "Container-Runtime",
                "string",
                1,
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
        "Pod" => vec![
            NAME,
            (
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            (
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            (
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            (
                "IP",
                "string",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            (
                "Node",
                "string",
                1,
                "NodeName is a request to schedule this pod onto a specific node.",
            ),
            (
                "Nominated Node",
                "string",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            (
                "Readiness Gates",
                "string",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        "Namespace" => vec![
            NAME,
            ("Status", "string", 0, "The status of the namespace"),
            AGE,
        ],
        "Deployment" => [
            NAME,
            ("Ready", "string", 0, "Number of the pod with ready state"),
            (
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            (
                "Available",
                "string",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
        ]
        .into_iter()
        .chain(workload_tail("Label selector for pods."))
        .collect(),
        "ReplicaSet" => [
            NAME,
            (
                "Desired",
                "integer",
                0,
                "Replicas is the number of desired replicas.",
            ),
            (
                "Current",
                "integer",
                0,
                "Replicas is the most recently observed number of replicas.",
            ),
            (
                "Ready",
                "integer",
                0,
                "The number of ready replicas for this replica set.",
            ),
        ]
        .into_iter()
        .chain(workload_tail("Selector is a label query over pods that should match the replica count."))
        .collect(),
        "StatefulSet" => vec![
            NAME,
            ("Ready", "string", 0, "Number of the pod with ready state"),
            AGE,
            CONTAINERS,
            IMAGES,
        ],
        "DaemonSet" => [
            NAME,
            (
                "Desired",
                "integer",
                0,
                "The total number of nodes that should be running the daemon pod.",
            ),
            (
                "Current",
                "integer",
                0,
                "The number of nodes that are running at least 1 daemon pod.",
            ),
            (
                "Ready",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
            ),
            (
                "Up-to-date",
                "integer",
                0,
                "The total number of nodes that are running updated daemon pod",
            ),
            (
                "Available",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
            ),
            (
                "Node Selector",
                "string",
                0,
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
        ]
        .into_iter()
        .chain(workload_tail("A label query over pods that are managed by the daemon set."))
        .collect(),
        "PodDisruptionBudget" => vec![
            NAME,
            (
                "Min Available",
                "string",
                0,
                "The minimum number of pods that must be available.",
            ),
            (
                "Max Unavailable",
                "string",
                0,
                "The maximum number of pods that may be unavailable.",
            ),
            (
                "Allowed Disruptions",
                "integer",
                0,
                "Calculated number of pods that may be disrupted at this time.",
            ),
            AGE,
        ],
        "Service" => vec![
            NAME,
            ("Type", "string", 0, "The type of the service."),
            ("Cluster-IP", "string", 0, "The IP address of the service."),
            (
                "External-IP",
                "string",
                0,
                "The external IP address of the service.",
            ),
            (
                "Port(s)",
                "string",
                0,
                "The ports that are exposed by this service.",
            ),
            AGE,
            (
                "Selector",
                "string",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
        "ConfigMap" => vec![
            NAME,
            (
                "Data",
                "integer",
                0,
                "Data contains the configuration data.",
            ),
            AGE,
        ],
        "ServiceAccount" => vec![
            NAME,
            (
                "Secrets",
                "string",
                0,
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE,
        ],
        "HorizontalPodAutoscaler" => vec![
            NAME,
            (
                "Reference",
                "string",
                0,
                "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
            ),
            (
                "Targets",
                "string",
                0,
                "metrics contains the specifications for which to use to calculate the desired replica count.",
            ),
            (
                "MinPods",
                "string",
                0,
                "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
            ),
            (
                "MaxPods",
                "integer",
                0,
                "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
            ),
            (
                "Replicas",
                "integer",
                0,
                "currentReplicas is current number of replicas of pods managed by this autoscaler.",
            ),
            AGE,
        ],
        "Event" => vec![
            (
                "Last Seen",
                "string",
                0,
                "Time when this Event was last observed.",
            ),
            (
                "Type",
                "string",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            (
                "Reason",
                "string",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            (
                "Object",
                "string",
                0,
                "The object that this event is about.",
            ),
            (
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
        ],
        "MutatingWebhookConfiguration" => vec![
            NAME,
            (
                "Webhooks",
                "integer",
                0,
                "Webhooks is a list of webhooks and the affected resources and operations.",
            ),
            AGE,
        ],
        "CustomResourceDefinition" => vec![
            NAME,
            (
                "Created At",
                "date",
                0,
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
        _ => vec![NAME, AGE],
    }
}

/// Kubernetes' short human duration (`35s`, `5m2s`, `3h10m`, `71d`, `2y3d`).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        return if d == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{d}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age(ts: Option<&str>, now: Timestamp) -> String {
    match ts.and_then(|s| s.parse::<Timestamp>().ok()) {
        Some(t) => human_duration(now.as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(x)) => x.to_string(),
        Some(Value::String(x)) => x.clone(),
        _ => "N/A".into(),
    }
}

fn template_containers(o: &Value) -> (String, String) {
    let cs = o
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn selector_text(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    let labels = sel.get("matchLabels").unwrap_or(sel);
    if let Some(m) = labels.as_object() {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                parts.push(format!("{k}={v}"));
            }
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let vals: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match s(e, "/operator") {
            "In" => parts.push(format!("{} in ({})", s(e, "/key"), vals.join(","))),
            "NotIn" => parts.push(format!("{} notin ({})", s(e, "/key"), vals.join(","))),
            "Exists" => parts.push(s(e, "/key").to_string()),
            "DoesNotExist" => parts.push(format!("!{}", s(e, "/key"))),
            _ => {}
        }
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn node_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let conds = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = conds.iter().find(|c| s(c, "/type") == "Ready");
    let mut status = match ready.map(|c| s(c, "/status")) {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_string)
                        .or_else(|| {
                            (k == "kubernetes.io/role")
                                .then(|| v.as_str().unwrap_or("").to_string())
                        })
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    roles.dedup();
    let addr = |ty: &str| {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| s(x, "/type") == ty))
            .map(|x| s(x, "/address").to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(status),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        json!(age(
            o.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
            now
        )),
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(or_unknown(s(o, "/status/nodeInfo/osImage"))),
        json!(or_unknown(s(o, "/status/nodeInfo/kernelVersion"))),
        json!(or_unknown(s(o, "/status/nodeInfo/containerRuntimeVersion"))),
    ]
}

fn or_unknown(x: &str) -> &str {
    if x.is_empty() { "<unknown>" } else { x }
}

fn pod_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    let mut ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    // Native sidecars (init containers that keep running) count as kubectl counts them.
    let sidecars: Vec<&str> = o
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| s(c, "/restartPolicy") == "Always")
        .map(|c| s(c, "/name"))
        .collect();
    let total = total + sidecars.len();
    ready += o
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| {
            sidecars.contains(&s(c, "/name"))
                && c.get("ready").and_then(Value::as_bool) == Some(true)
        })
        .count();
    let restarts: i64 = statuses.iter().map(|c| n(c, "/restartCount")).sum();
    let mut reason = if s(o, "/status/reason").is_empty() {
        s(o, "/status/phase").to_string()
    } else {
        s(o, "/status/reason").to_string()
    };
    for c in &statuses {
        let waiting = s(c, "/state/waiting/reason");
        let terminated = s(c, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    let last_restart = statuses
        .iter()
        .filter_map(|c| {
            c.pointer("/lastState/terminated/finishedAt")
                .and_then(Value::as_str)
        })
        .max()
        .map(|t| format!(" ({} ago)", age(Some(t), now)));
    let restarts = match (restarts, last_restart) {
        (r, Some(ago)) if r > 0 => format!("{r}{ago}"),
        (r, _) => r.to_string(),
    };
    let ip = s(o, "/status/podIP");
    let node = s(o, "/spec/nodeName");
    let nominated = s(o, "/status/nominatedNodeName");
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        json!(age(
            o.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
            now
        )),
        json!(if ip.is_empty() { "<none>" } else { ip }),
        json!(if node.is_empty() { "<none>" } else { node }),
        json!(if nominated.is_empty() {
            "<none>"
        } else {
            nominated
        }),
        json!("<none>"),
    ]
}

fn service_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let ty = s(o, "/spec/type");
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = if s(p, "/protocol").is_empty() {
                "TCP"
            } else {
                s(p, "/protocol")
            };
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) => format!("{}:{np}/{proto}", n(p, "/port")),
                None => format!("{}/{proto}", n(p, "/port")),
            }
        })
        .collect();
    let cluster_ip = if s(o, "/spec/clusterIP").is_empty() {
        "<none>"
    } else {
        s(o, "/spec/clusterIP")
    };
    let ingress: Vec<&str> = o
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i.get("ip")
                .or_else(|| i.get("hostname"))
                .and_then(Value::as_str)
        })
        .collect();
    let external = match ty {
        "LoadBalancer" if !ingress.is_empty() => ingress.join(","),
        "LoadBalancer" => "<pending>".to_string(),
        _ => "<none>".to_string(),
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(ty),
        json!(cluster_ip),
        json!(external),
        json!(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports.join(",")
        }),
        json!(age(
            o.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
            now
        )),
        json!(selector_text(o.pointer("/spec/selector"))),
    ]
}

fn hpa_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        s(o, "/spec/scaleTargetRef/kind"),
        s(o, "/spec/scaleTargetRef/name")
    );
    let targets: Vec<String> = o
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let target = m
                .pointer("/resource/target/averageUtilization")
                .and_then(Value::as_i64)?;
            let current = o
                .pointer("/status/currentMetrics")
                .and_then(Value::as_array)
                .and_then(|cm| {
                    cm.iter()
                        .find(|c| s(c, "/resource/name") == s(m, "/resource/name"))
                })
                .and_then(|c| {
                    c.pointer("/resource/current/averageUtilization")
                        .and_then(Value::as_i64)
                })
                .map(|c| format!("{c}%"))
                .unwrap_or_else(|| "<unknown>".into());
            Some(format!("{}: {current}/{target}%", s(m, "/resource/name")))
        })
        .collect();
    let min = o
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    vec![
        json!(s(o, "/metadata/name")),
        json!(reference),
        json!(if targets.is_empty() {
            "<none>".to_string()
        } else {
            targets.join(", ")
        }),
        json!(min.to_string()),
        json!(n(o, "/spec/maxReplicas")),
        json!(n(o, "/status/currentReplicas")),
        json!(age(
            o.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
            now
        )),
    ]
}

/// `READY` of a Deployment or StatefulSet: ready replicas of those wanted.
fn ready_of_desired(o: &Value) -> Value {
    json!(format!(
        "{}/{}",
        n(o, "/status/readyReplicas"),
        n(o, "/spec/replicas")
    ))
}

fn cells(kind: &str, o: &Value, now: Timestamp) -> Vec<Value> {
    let created = o
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str);
    let name = json!(s(o, "/metadata/name"));
    let a = json!(age(created, now));
    match kind {
        "Node" => node_row(o, now),
        "Pod" => pod_row(o, now),
        "Service" => service_row(o, now),
        "HorizontalPodAutoscaler" => hpa_row(o, now),
        "Namespace" => vec![name, json!(s(o, "/status/phase")), a],
        "Deployment" => {
            let (c, i) = template_containers(o);
            vec![
                name,
                ready_of_desired(o),
                json!(n(o, "/status/updatedReplicas")),
                json!(n(o, "/status/availableReplicas")),
                a,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/selector"))),
            ]
        }
        "ReplicaSet" => {
            let (c, i) = template_containers(o);
            vec![
                name,
                json!(n(o, "/spec/replicas")),
                json!(n(o, "/status/replicas")),
                json!(n(o, "/status/readyReplicas")),
                a,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/selector"))),
            ]
        }
        "StatefulSet" => {
            let (c, i) = template_containers(o);
            vec![name, ready_of_desired(o), a, json!(c), json!(i)]
        }
        "DaemonSet" => {
            let (c, i) = template_containers(o);
            let ns = o
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                });
            vec![
                name,
                json!(n(o, "/status/desiredNumberScheduled")),
                json!(n(o, "/status/currentNumberScheduled")),
                json!(n(o, "/status/numberReady")),
                json!(n(o, "/status/updatedNumberScheduled")),
                json!(n(o, "/status/numberAvailable")),
                json!(
                    ns.filter(|x| !x.is_empty())
                        .unwrap_or_else(|| "<none>".into())
                ),
                a,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/selector"))),
            ]
        }
        "PodDisruptionBudget" => vec![
            name,
            json!(int_or_string(o.pointer("/spec/minAvailable"))),
            json!(int_or_string(o.pointer("/spec/maxUnavailable"))),
            json!(n(o, "/status/disruptionsAllowed")),
            a,
        ],
        "ConfigMap" => {
            let count = o
                .get("data")
                .and_then(Value::as_object)
                .map(|m| m.len())
                .unwrap_or(0)
                + o.get("binaryData")
                    .and_then(Value::as_object)
                    .map(|m| m.len())
                    .unwrap_or(0);
            vec![name, json!(count), a]
        }
        "ServiceAccount" => {
            let secrets = o
                .get("secrets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            vec![name, json!(secrets.to_string()), a]
        }
        "Event" => {
            let last = o
                .get("lastTimestamp")
                .and_then(Value::as_str)
                .or_else(|| o.get("eventTime").and_then(Value::as_str))
                .or(created);
            let obj = format!(
                "{}/{}",
                s(o, "/involvedObject/kind").to_lowercase(),
                s(o, "/involvedObject/name")
            );
            vec![
                json!(age(last, now)),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(obj),
                json!(s(o, "/message")),
            ]
        }
        "MutatingWebhookConfiguration" => {
            vec![
                name,
                json!(
                    o.get("webhooks")
                        .and_then(Value::as_array)
                        .map(Vec::len)
                        .unwrap_or(0)
                ),
                a,
            ]
        }
        "CustomResourceDefinition" => vec![name, json!(created.unwrap_or(""))],
        _ => vec![name, a],
    }
}

/// Splits a printer column's JSONPath into steps: fields, and the brackets after them
/// (`[0]`, `[*]`, `[?(@.type=="Ready")]`), leaving dots inside a filter alone.
fn path_steps(path: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let (mut start, mut depth) = (0, 0usize);
    for (i, c) in path.char_indices() {
        match c {
            '[' => {
                if depth == 0 && start < i {
                    steps.push(&path[start..i]);
                }
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    steps.push(&path[start..=i]);
                    start = i + 1;
                }
            }
            '.' if depth == 0 => {
                if start < i {
                    steps.push(&path[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < path.len() {
        steps.push(&path[start..]);
    }
    steps
}

/// Whether `item` passes a filter `?(@.field=="value")` (the one form CRDs use).
fn filter_passes(item: &Value, filter: &str) -> bool {
    let inner = filter
        .trim_start_matches("?(")
        .trim_end_matches(')')
        .trim_start_matches("@.");
    let Some((field, want)) = inner.split_once("==") else {
        return false;
    };
    let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
    item.get(field.trim()).and_then(Value::as_str) == Some(want)
}

/// Evaluates the JSONPath of a printer column (`.spec.revision`, `.a.b[0].c`, `.a[*].b`,
/// `.status.conditions[?(@.type=="Ready")].status`) to the values it selects, in order.
fn json_path<'a>(o: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur: Vec<&Value> = vec![o];
    for step in path_steps(path.trim_start_matches('.')) {
        cur = match step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some("*") => cur
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .collect(),
            Some(f) if f.starts_with('?') => cur
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .filter(|item| filter_passes(item, f))
                .collect(),
            Some(i) => match i.parse::<usize>() {
                Ok(i) => cur.into_iter().filter_map(|v| v.get(i)).collect(),
                Err(_) => Vec::new(),
            },
            None => cur.into_iter().filter_map(|v| v.get(step)).collect(),
        };
    }
    cur
}

/// The API server prints the first value a column's path selects.
fn custom_cell(o: &Value, type_: &str, path: &str, now: Timestamp) -> Value {
    match json_path(o, path).first().copied() {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(v)) if type_ == "date" => json!(age(Some(v), now)),
        Some(v @ Value::String(_)) => v.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.clone(),
        Some(v) => json!(v.to_string()),
    }
}

/// A `meta.k8s.io/v1` Table of `objects` (already at `version`).
#[allow(clippy::too_many_arguments)]
/// What is on an object's row: `includeObject`, `Metadata` unless asked otherwise.
fn included(query: &HashMap<String, String>) -> &str {
    query
        .get("includeObject")
        .map(String::as_str)
        .unwrap_or("Metadata")
}

/// The object a row is computed from. A pod's row reads its metadata, its containers'
/// names and restart policies, its node and its status: its head and its whole status
/// give all of that, without parsing its containers' specs, its volumes and its managed
/// fields, most of its text (`kubectl get pods -A` reads every pod this way). A row that
/// carries the whole object, and any other kind, reads the object whole.
pub fn source(t: &ResourceType, o: &Stored, query: &HashMap<String, String>) -> Value {
    if t.kind != "Pod" || t.custom || included(query) == "Object" {
        return o.full();
    }
    let mut v = o.head().clone();
    if let (Some(m), Some(status)) = (v.as_object_mut(), o.field("status")) {
        m.insert("status".into(), status);
    }
    v
}

/// A `Table` of `objects` (each read by [`source`]).
pub fn render(
    t: &ResourceType,
    version: &str,
    objects: &[Value],
    resource_version: &str,
    query: &HashMap<String, String>,
    now: Timestamp,
    with_columns: bool,
) -> Value {
    let custom_cols = if t.custom {
        t.printer_columns_for(version).filter(|c| !c.is_empty())
    } else {
        None
    };
    let column_defs: Vec<Value> = match custom_cols {
        Some(cols) => std::iter::once(json!({"name": NAME.0, "type": NAME.1, "format": "name", "description": NAME.3, "priority": 0}))
            .chain(cols.iter().map(|c| {
                json!({"name": c.name, "type": c.type_, "format": "", "description": c.description, "priority": c.priority})
            }))
            .collect(),
        None => columns(&t.kind)
            .iter()
            .map(|(name, ty, prio, desc)| {
                let format = if *name == "Name" { "name" } else { "" };
                json!({"name": name, "type": ty, "format": format, "description": desc, "priority": prio})
            })
            .collect(),
    };
    let include = included(query);
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = match custom_cols {
                Some(cols) => std::iter::once(json!(s(o, "/metadata/name")))
                    .chain(cols.iter().map(|c| custom_cell(o, &c.type_, &c.json_path, now)))
                    .collect(),
                None => cells(&t.kind, o, now),
            };
            let object = match include {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => {
                    let mut meta = o.get("metadata").cloned().unwrap_or(json!({}));
                    if let Some(m) = meta.as_object_mut() {
                        m.remove("managedFields");
                    }
                    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
                }
            };
            let mut row = json!({"cells": cells});
            if !object.is_null() {
                row["object"] = object;
            }
            row
        })
        .collect();
    let mut doc = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": column_defs,
        "rows": rows,
    });
    if !with_columns {
        doc["columnDefinitions"] = json!([]);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        let cases = [
            (35, "35s"),
            (119, "119s"),
            (302, "5m2s"),
            (600, "10m"),
            (3 * 3600 + 600, "3h10m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 3600, "3d1h"),
            (71 * 86400, "71d"),
            (323 * 86400, "323d"),
            (800 * 86400, "2y70d"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn pod_rows_from_the_head_and_status_are_the_rows_of_the_whole_pod() {
        let spec = crate::generate::GenerateSpec::parse("nodes=2,pods=30").expect("spec");
        let cluster = crate::generate::build(&spec, Timestamp::now()).expect("build");
        let t = cluster.registry.by_kind("v1", "Pod").expect("pods").clone();
        // A pod with a native sidecar, restarts, a waiting container and a deletion.
        let odd = Stored::new(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "odd", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z",
                "deletionTimestamp": "2026-01-02T00:00:00Z", "managedFields": [{"manager": "m"}]},
            "spec": {"nodeName": "n1",
                "initContainers": [{"name": "istio-proxy", "image": "proxy", "restartPolicy": "Always", "args": ["x"]}],
                "containers": [{"name": "app", "image": "app", "env": [{"name": "A", "value": "1"}]}, {"name": "b", "image": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "reason": "Evicted",
                "initContainerStatuses": [{"name": "istio-proxy", "ready": true}],
                "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 3,
                        "lastState": {"terminated": {"finishedAt": "2026-01-01T12:00:00Z"}}},
                    {"name": "b", "ready": false, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}));
        let mut pods: Vec<&Stored> = cluster.store.list("pods", None).map(|o| &**o).collect();
        pods.push(&odd);
        assert!(pods.len() > 30, "{} pods", pods.len());
        let now = Timestamp::now();
        for include in ["Metadata", "None", "Object"] {
            let q = HashMap::from([("includeObject".to_string(), include.to_string())]);
            let lean: Vec<Value> = pods.iter().map(|o| source(&t, o, &q)).collect();
            let whole: Vec<Value> = pods.iter().map(|o| o.full()).collect();
            assert_eq!(
                render(&t, "v1", &lean, "1", &q, now, true),
                render(&t, "v1", &whole, "1", &q, now, true),
                "{include}"
            );
        }
        let q = HashMap::new();
        let row = render(&t, "v1", &[source(&t, &odd, &q)], "1", &q, now, true);
        assert_eq!(row["rows"][0]["cells"][1], json!("2/3"));
        assert_eq!(row["rows"][0]["cells"][2], json!("Terminating"));
    }

    #[test]
    fn pdb_cells_show_na_and_allowed_disruptions() {
        let now = Timestamp::now();
        let pdb = json!({"metadata": {"name": "istio-pilot", "creationTimestamp": "2020-01-01T00:00:00Z"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 0}});
        let c = cells("PodDisruptionBudget", &pdb, now);
        assert_eq!(
            c[..4],
            [json!("istio-pilot"), json!("1"), json!("N/A"), json!(0)]
        );
    }

    #[test]
    fn node_status_shows_cordon_and_roles() {
        let node = json!({"metadata": {"name": "k1-node01", "labels": {"node-role.kubernetes.io/node": "", "node-role.kubernetes.io/ingress": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.14.3"}}});
        let c = node_row(&node, Timestamp::now());
        assert_eq!(c[1], json!("Ready,SchedulingDisabled"));
        assert_eq!(c[2], json!("ingress,node"));
        assert_eq!(c[4], json!("v1.14.3"));
    }
}
