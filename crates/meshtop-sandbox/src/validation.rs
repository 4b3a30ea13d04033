//! Field validation as kube-apiserver does it on every write: object names by kind, label
//! keys and values, the annotations' total size, and the ranges of PDB and workload fields.
//! The messages are the API server's own, so a client shows what a real cluster would say.

use serde_json::Value;

use super::resources::ResourceType;
use super::store::meta_str;

/// The most bytes a real API server accepts in all of an object's annotations (keys and
/// values together).
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// One refused field, as a `StatusCause`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    /// `FieldValueInvalid`, `FieldValueTooLong`.
    pub reason: &'static str,
    /// The cause's message: `Invalid value: "x": why`.
    pub message: String,
}

impl FieldError {
    fn invalid(field: &str, value: &Value, why: &str) -> Self {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Self {
            field: field.to_string(),
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {shown}: {why}"),
        }
    }

    fn too_long(field: &str, max: usize) -> Self {
        Self {
            field: field.to_string(),
            reason: "FieldValueTooLong",
            message: format!("Too long: must have at most {max} bytes"),
        }
    }
}

fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_part(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Why `value` is not a DNS-1123 subdomain (empty when it is one).
pub fn subdomain_problems(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > SUBDOMAIN_MAX {
        out.push(max_len(SUBDOMAIN_MAX));
    }
    if !is_subdomain(value) {
        out.push(SUBDOMAIN_MSG.to_string());
    }
    out
}

fn dns_label_problems(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > LABEL_MAX {
        out.push(max_len(LABEL_MAX));
    }
    if !is_dns_label(value) {
        out.push(DNS_LABEL_MSG.to_string());
    }
    out
}

fn dns1035_problems(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > LABEL_MAX {
        out.push(max_len(LABEL_MAX));
    }
    if !is_dns_label(value) || !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.push(DNS1035_MSG.to_string());
    }
    out
}

/// Why `key` is not a qualified name (`[prefix/]name`), as label and annotation keys must be.
fn qualified_name_problems(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split('/').collect::<Vec<_>>().as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!(
                "{} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                QUALIFIED_MSG.trim_start_matches("name part ")
            )];
        }
    };
    let mut out = Vec::new();
    if let Some(p) = prefix {
        if p.is_empty() {
            out.push("prefix part must be non-empty".to_string());
        } else {
            out.extend(
                subdomain_problems(p)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        out.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_MAX {
        out.push(format!("name part {}", max_len(LABEL_MAX)));
    }
    if !is_qualified_part(name) {
        out.push(QUALIFIED_MSG.to_string());
    }
    out
}

fn label_value_problems(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > LABEL_MAX {
        out.push(max_len(LABEL_MAX));
    }
    if !value.is_empty() && !is_qualified_part(value) {
        out.push(LABEL_VALUE_MSG.to_string());
    }
    out
}

/// Everything a real API server would refuse in `obj`, a `t`, in its order.
pub fn validate(t: &ResourceType, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = meta_str(obj, "name");
    let name_problems = match t.kind.as_str() {
        "Namespace" => dns_label_problems(name),
        "Service" => dns1035_problems(name),
        _ => subdomain_problems(name),
    };
    for p in name_problems {
        errs.push(FieldError::invalid("metadata.name", &Value::from(name), &p));
    }
    validate_labels(
        obj.pointer("/metadata/labels"),
        "metadata.labels",
        &mut errs,
    );
    validate_annotations(obj.pointer("/metadata/annotations"), &mut errs);
    match t.kind.as_str() {
        "PodDisruptionBudget" => validate_pdb(obj, &mut errs),
        "Deployment" | "ReplicaSet" | "StatefulSet" => {
            if let Some(r) = obj.pointer("/spec/replicas") {
                nonnegative("spec.replicas", r, &mut errs);
            }
            validate_labels(
                obj.pointer("/spec/template/metadata/labels"),
                "spec.template.metadata.labels",
                &mut errs,
            );
        }
        "DaemonSet" => validate_labels(
            obj.pointer("/spec/template/metadata/labels"),
            "spec.template.metadata.labels",
            &mut errs,
        ),
        _ => {}
    }
    errs
}

fn validate_labels(labels: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(map) = labels.and_then(Value::as_object) else {
        return;
    };
    for (k, v) in map {
        for p in qualified_name_problems(k) {
            errs.push(FieldError::invalid(field, &Value::from(k.as_str()), &p));
        }
        let value = v.as_str().unwrap_or_default();
        for p in label_value_problems(value) {
            errs.push(FieldError::invalid(field, &Value::from(value), &p));
        }
    }
}

fn validate_annotations(annotations: Option<&Value>, errs: &mut Vec<FieldError>) {
    let Some(map) = annotations.and_then(Value::as_object) else {
        return;
    };
    let mut total = 0usize;
    for (k, v) in map {
        for p in qualified_name_problems(&k.to_lowercase()) {
            errs.push(FieldError::invalid(
                "metadata.annotations",
                &Value::from(k.as_str()),
                &p,
            ));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        errs.push(FieldError::too_long(
            "metadata.annotations",
            ANNOTATIONS_MAX_BYTES,
        ));
    }
}

fn nonnegative(field: &str, value: &Value, errs: &mut Vec<FieldError>) {
    if value.as_i64().is_some_and(|n| n < 0) {
        errs.push(FieldError::invalid(
            field,
            value,
            "must be greater than or equal to 0",
        ));
    }
}

/// An int-or-percent field: a non-negative integer, or `N%` with N at most 100.
fn int_or_percent(field: &str, value: &Value, errs: &mut Vec<FieldError>) {
    match value {
        Value::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or("");
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                errs.push(FieldError::invalid(field, value, PERCENT_MSG));
            } else if digits.parse::<u64>().map_or(true, |n| n > 100) {
                errs.push(FieldError::invalid(
                    field,
                    value,
                    "must not be greater than 100%",
                ));
            }
        }
        Value::Number(_) => nonnegative(field, value, errs),
        _ => errs.push(FieldError::invalid(
            field,
            value,
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

fn validate_pdb(obj: &Value, errs: &mut Vec<FieldError>) {
    let Some(spec) = obj.get("spec") else {
        return;
    };
    let min = spec.get("minAvailable").filter(|v| !v.is_null());
    let max = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if let Some(v) = min {
        int_or_percent("spec.minAvailable", v, errs);
    }
    if let Some(v) = max {
        int_or_percent("spec.maxUnavailable", v, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    fn kind(k: &str) -> ResourceType {
        Registry::new()
            .all()
            .iter()
            .find(|t| t.kind == k)
            .cloned()
            .expect("built-in kind")
    }

    fn fields(errs: &[FieldError]) -> Vec<(&str, &str)> {
        errs.iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect()
    }

    #[test]
    fn names_follow_the_rule_of_their_kind() {
        let ns = kind("Namespace");
        assert!(validate(&ns, &json!({"metadata": {"name": "shop"}})).is_empty());
        let dotted = validate(&ns, &json!({"metadata": {"name": "a.b"}}));
        assert_eq!(dotted.len(), 1);
        assert!(
            dotted[0]
                .message
                .starts_with("Invalid value: \"a.b\": a lowercase RFC 1123 label")
        );
        let cm = kind("ConfigMap");
        assert!(validate(&cm, &json!({"metadata": {"name": "a.b"}})).is_empty());
        let long = "x".repeat(254);
        let e = validate(&cm, &json!({"metadata": {"name": long}}));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message
                .ends_with("must be no more than 253 characters")
        );
        let svc = kind("Service");
        assert_eq!(
            validate(&svc, &json!({"metadata": {"name": "1web"}})).len(),
            1
        );
    }

    #[test]
    fn labels_keys_values_and_annotation_size() {
        let cm = kind("ConfigMap");
        let long = "v".repeat(64);
        let e = validate(
            &cm,
            &json!({"metadata": {"name": "c", "labels": {"app": long, "bad key": "x", "example.com/ok": "", "a/b/c": "x"}}}),
        );
        let f = fields(&e);
        assert_eq!(f.len(), 3, "{f:?}");
        assert_eq!(
            f[0],
            (
                "metadata.labels",
                format!("Invalid value: \"{long}\": must be no more than 63 characters").as_str()
            )
        );
        assert!(
            f[1].1
                .starts_with("Invalid value: \"bad key\": name part must consist")
        );
        assert!(f[2].1.contains("with an optional DNS subdomain prefix"));
        let big = "a".repeat(ANNOTATIONS_MAX_BYTES);
        let e = validate(
            &cm,
            &json!({"metadata": {"name": "c", "annotations": {"k": big}}}),
        );
        assert_eq!(
            fields(&e),
            vec![(
                "metadata.annotations",
                "Too long: must have at most 262144 bytes"
            )]
        );
        assert_eq!(e[0].reason, "FieldValueTooLong");
    }

    #[test]
    fn pdb_and_replica_ranges() {
        let pdb = kind("PodDisruptionBudget");
        let ok = json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%"}});
        assert!(validate(&pdb, &ok).is_empty());
        let e = validate(
            &pdb,
            &json!({"metadata": {"name": "p"}, "spec": {"minAvailable": -5}}),
        );
        assert_eq!(
            fields(&e),
            vec![(
                "spec.minAvailable",
                "Invalid value: -5: must be greater than or equal to 0"
            )]
        );
        let e = validate(
            &pdb,
            &json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "maxUnavailable": "150%"}}),
        );
        let f = fields(&e);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].0, "spec");
        assert!(
            f[0].1
                .ends_with("minAvailable and maxUnavailable cannot be both set")
        );
        assert_eq!(
            f[1],
            (
                "spec.maxUnavailable",
                "Invalid value: \"150%\": must not be greater than 100%"
            )
        );
        let e = validate(
            &pdb,
            &json!({"metadata": {"name": "p"}, "spec": {"maxUnavailable": "x%"}}),
        );
        assert!(e[0].message.contains("a valid percent string"));
        let d = kind("Deployment");
        let e = validate(
            &d,
            &json!({"metadata": {"name": "d"}, "spec": {"replicas": -1}}),
        );
        assert_eq!(
            fields(&e),
            vec![(
                "spec.replicas",
                "Invalid value: -1: must be greater than or equal to 0"
            )]
        );
    }
}
