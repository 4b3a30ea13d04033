//! Reads a user asks for on one object (its YAML, a description with its Events, a pod's
//! logs) as data, and the pure text made of what comes back. `cluster::inspect` does the
//! reading; the TUI shows the text in a pane. Nothing here writes to the cluster.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::Value;

/// The kinds of object the views show a row of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Pod,
    Node,
    Namespace,
    Pdb,
    Deployment,
    IstioOperator,
}

impl ObjectKind {
    /// `(group, version, kind, plural)`.
    pub fn resource(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            ObjectKind::Pod => ("", "v1", "Pod", "pods"),
            ObjectKind::Node => ("", "v1", "Node", "nodes"),
            ObjectKind::Namespace => ("", "v1", "Namespace", "namespaces"),
            ObjectKind::Pdb => (
                "policy",
                "v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
            ObjectKind::Deployment => ("apps", "v1", "Deployment", "deployments"),
            ObjectKind::IstioOperator => (
                "install.istio.io",
                "v1alpha1",
                "IstioOperator",
                "istiooperators",
            ),
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, ObjectKind::Node | ObjectKind::Namespace)
    }

    /// As kubectl names the kind on its command line.
    pub fn kubectl_name(self) -> &'static str {
        match self {
            ObjectKind::Pod => "pod",
            ObjectKind::Node => "node",
            ObjectKind::Namespace => "namespace",
            ObjectKind::Pdb => "pdb",
            ObjectKind::Deployment => "deployment",
            ObjectKind::IstioOperator => "istiooperator",
        }
    }
}

/// One object of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: namespace.filter(|_| kind.namespaced()).map(str::to_string),
            name: name.to_string(),
        }
    }

    /// `pod istio-system/istiod-7f9`, `node k1-node03`.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.kubectl_name(), self.name),
            None => format!("{} {}", self.kind.kubectl_name(), self.name),
        }
    }

    /// The kubectl command that edits it: meshtop changes objects only through its
    /// previewed actions.
    pub fn kubectl_edit(&self) -> String {
        match &self.namespace {
            Some(ns) => format!(
                "kubectl edit {} {} -n {ns}",
                self.kind.kubectl_name(),
                self.name
            ),
            None => format!("kubectl edit {} {}", self.kind.kubectl_name(), self.name),
        }
    }
}

/// What a pane shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspect {
    Yaml(ObjectRef),
    Describe(ObjectRef),
    /// A pod's logs, followed; its container is picked by [`log_container`].
    Logs(ObjectRef),
}

impl Inspect {
    pub fn object(&self) -> &ObjectRef {
        match self {
            Inspect::Yaml(o) | Inspect::Describe(o) | Inspect::Logs(o) => o,
        }
    }
}

/// How many lines of a log the pane asks for before following.
pub const LOG_TAIL: i64 = 200;

/// The container whose logs a pod's pane shows: istiod's `discovery`, the `istio-proxy` of a
/// proxy or gateway, else the first.
pub fn log_container(pod: &Value) -> Option<String> {
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    ["discovery", "istio-proxy"]
        .into_iter()
        .find(|c| names.contains(c))
        .or_else(|| names.first().copied())
        .map(str::to_string)
}

/// The object as YAML, `metadata.managedFields` folded to one line.
pub fn yaml_text(object: &Value) -> String {
    const MARK: &str = "meshtop-folded-managed-fields";
    let mut object = object.clone();
    let folded = object.pointer_mut("/metadata/managedFields").map(|m| {
        let n = m.as_array().map_or(0, Vec::len);
        *m = Value::String(MARK.into());
        n
    });
    let text = serde_yaml::to_string(&object).unwrap_or_else(|e| format!("# not shown: {e}\n"));
    match folded {
        Some(n) => text.replace(
            MARK,
            &format!(
                "({} {}, folded)",
                n,
                if n == 1 { "entry" } else { "entries" }
            ),
        ),
        None => text,
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `Labels:   a=b` then one `key=value` a line under it, as kubectl describe aligns them.
fn map_field(out: &mut String, label: &str, map: Option<&Value>) {
    let entries: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(&v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if entries.is_empty() {
        let _ = writeln!(out, "{:<14}<none>", format!("{label}:"));
        return;
    }
    for (i, e) in entries.iter().enumerate() {
        let head = if i == 0 {
            format!("{label}:")
        } else {
            String::new()
        };
        let _ = writeln!(out, "{head:<14}{e}");
    }
}

/// A part of the object (spec, status, data) as indented YAML under its heading.
fn section(out: &mut String, heading: &str, value: Option<&Value>) {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return;
    };
    let _ = writeln!(out, "{heading}:");
    let text = serde_yaml::to_string(v).unwrap_or_default();
    for line in text.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// `5m`, `2d3h`: an age as kubectl describe writes it.
fn age(now: Timestamp, then: &str) -> String {
    let Ok(then) = then.parse::<Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = now.duration_since(then).as_secs().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{}m", s / 3600, s / 60 % 60),
        s if s < 8 * 86_400 => format!("{}d{}h", s / 86_400, s / 3600 % 24),
        s if s < 2 * 365 * 86_400 => format!("{}d", s / 86_400),
        s => format!("{}y{}d", s / (365 * 86_400), s / 86_400 % 365),
    }
}

/// The first of these fields that is set, else "".
fn first_set<'a>(v: &'a Value, pointers: &[&str]) -> &'a str {
    pointers
        .iter()
        .map(|p| str_at(v, p))
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// When an event was last seen.
fn last_seen(event: &Value) -> &str {
    first_set(
        event,
        &[
            "/lastTimestamp",
            "/eventTime",
            "/metadata/creationTimestamp",
        ],
    )
}

/// A description in kubectl describe's manner: name, namespace, labels, annotations, the
/// object's spec and status, then its Events, newest last.
pub fn describe_text(object: &Value, events: Result<&[Value], &str>, now: Timestamp) -> String {
    let mut out = String::new();
    let field = |out: &mut String, label: &str, value: &str| {
        let _ = writeln!(out, "{:<14}{value}", format!("{label}:"));
    };
    field(&mut out, "Name", str_at(object, "/metadata/name"));
    let ns = str_at(object, "/metadata/namespace");
    if !ns.is_empty() {
        field(&mut out, "Namespace", ns);
    }
    field(
        &mut out,
        "Kind",
        &format!(
            "{} ({})",
            str_at(object, "/kind"),
            str_at(object, "/apiVersion")
        ),
    );
    let created = str_at(object, "/metadata/creationTimestamp");
    if !created.is_empty() {
        field(
            &mut out,
            "Created",
            &format!("{created} ({} ago)", age(now, created)),
        );
    }
    map_field(&mut out, "Labels", object.pointer("/metadata/labels"));
    map_field(
        &mut out,
        "Annotations",
        object.pointer("/metadata/annotations"),
    );
    if let Some(owners) = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
    {
        let names: Vec<String> = owners
            .iter()
            .map(|o| format!("{}/{}", str_at(o, "/kind"), str_at(o, "/name")))
            .collect();
        field(&mut out, "Controlled By", &names.join(", "));
    }
    section(&mut out, "Spec", object.get("spec"));
    section(&mut out, "Data", object.get("data"));
    section(&mut out, "Status", object.get("status"));
    let _ = writeln!(out, "Events:");
    match events {
        Err(why) => {
            let _ = writeln!(out, "  <unknown: {why}>");
        }
        Ok([]) => {
            let _ = writeln!(out, "  <none>");
        }
        Ok(events) => {
            let mut sorted: Vec<&Value> = events.iter().collect();
            // Newest last, as kubectl lists them.
            sorted.sort_by_key(|e| last_seen(e).parse::<Timestamp>().ok());
            let rows: Vec<[String; 5]> = sorted
                .into_iter()
                .map(|e| {
                    let last = last_seen(e);
                    let count = e.get("count").and_then(Value::as_u64).unwrap_or(1);
                    let first = str_at(e, "/firstTimestamp");
                    let when = if count > 1 && !first.is_empty() {
                        format!("{} (x{count} over {})", age(now, last), age(now, first))
                    } else {
                        age(now, last)
                    };
                    let from = first_set(
                        e,
                        &[
                            "/source/component",
                            "/reportingComponent",
                            "/reportingController",
                        ],
                    );
                    [
                        str_at(e, "/type").to_string(),
                        str_at(e, "/reason").to_string(),
                        when,
                        from.to_string(),
                        str_at(e, "/message").to_string(),
                    ]
                })
                .collect();
            let head = ["Type", "Reason", "Age", "From", "Message"];
            let widths: Vec<usize> = (0..4)
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].chars().count())
                        .chain([head[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |out: &mut String, cells: [&str; 5]| {
                let mut text = String::from(" ");
                for (i, c) in cells.iter().enumerate() {
                    match widths.get(i) {
                        Some(w) => {
                            let _ = write!(text, " {c:<w$}  ");
                        }
                        None => text.push_str(&format!(" {c}")),
                    }
                }
                let _ = writeln!(out, "{}", text.trim_end());
            };
            line(&mut out, head);
            line(&mut out, ["----", "------", "----", "----", "-------"]);
            for r in &rows {
                line(&mut out, [&r[0], &r[1], &r[2], &r[3], &r[4]]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn managed_fields_fold_to_one_line() {
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "managedFields": [{"manager": "a"}, {"manager": "b"}]},
            "spec": {"unschedulable": true}
        });
        let text = yaml_text(&node);
        assert!(
            text.contains("  managedFields: (2 entries, folded)\n"),
            "{text}"
        );
        assert!(!text.contains("manager: a"), "{text}");
        assert!(text.contains("unschedulable: true"), "{text}");
    }

    #[test]
    fn logs_read_discovery_then_the_proxy_then_the_first() {
        let pod = |names: &[&str]| json!({"spec": {"containers": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()}});
        assert_eq!(
            log_container(&pod(&["discovery"])).as_deref(),
            Some("discovery")
        );
        assert_eq!(
            log_container(&pod(&["app", "istio-proxy"])).as_deref(),
            Some("istio-proxy")
        );
        assert_eq!(
            log_container(&pod(&["app", "other"])).as_deref(),
            Some("app")
        );
        assert_eq!(log_container(&json!({})), None);
    }

    #[test]
    fn a_description_ends_with_the_events() {
        let now: Timestamp = "2020-01-09T07:20:00Z".parse().expect("time");
        let pdb = json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system",
                          "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"}},
            "spec": {"minAvailable": 1}
        });
        let events = [json!({
            "type": "Normal", "reason": "NoPods", "message": "No matching pods found",
            "source": {"component": "controllermanager"}, "count": 1733,
            "firstTimestamp": "2020-01-07T10:17:31Z", "lastTimestamp": "2020-01-09T07:14:48Z"
        })];
        let text = describe_text(&pdb, Ok(&events), now);
        assert!(
            text.starts_with("Name:         istio-ingressgateway\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "Labels:       app=istio-ingressgateway\n              istio=ingressgateway\n"
            ),
            "{text}"
        );
        assert!(text.contains("  minAvailable: 1\n"), "{text}");
        let last = text.lines().last().unwrap_or("");
        assert!(
            last.contains("NoPods")
                && last.contains("5m (x1733 over 1d21h)")
                && last.ends_with("No matching pods found"),
            "{text}"
        );
        let none = describe_text(&pdb, Ok(&[]), now);
        assert!(none.ends_with("Events:\n  <none>\n"), "{none}");
        let unknown = describe_text(&pdb, Err("403 Forbidden"), now);
        assert!(
            unknown.ends_with("  <unknown: 403 Forbidden>\n"),
            "{unknown}"
        );
    }
}
