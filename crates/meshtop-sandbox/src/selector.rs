//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`) and field selectors,
//! parsed from query strings and from `LabelSelector` objects.

use serde_json::Value;

use super::store::strings;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
    /// A `LabelSelector` object that is null selects nothing (used by PDBs).
    nothing: bool,
}

impl LabelSelector {
    /// Parses the `labelSelector` query syntax.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(Self {
            reqs,
            nothing: false,
        })
    }

    /// From a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    pub fn from_object(sel: Option<&Value>) -> Result<Self, String> {
        let Some(sel) = sel.filter(|s| !s.is_null()) else {
            return Ok(Self {
                reqs: Vec::new(),
                nothing: true,
            });
        };
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement::Eq(
                    k.clone(),
                    v.as_str().unwrap_or("").to_string(),
                ));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or("matchExpressions[].key is required")?;
                let op = e
                    .get("operator")
                    .and_then(Value::as_str)
                    .ok_or("matchExpressions[].operator is required")?;
                let values = strings(e.get("values"));
                reqs.push(match op {
                    "In" => Requirement::In(key.into(), values),
                    "NotIn" => Requirement::NotIn(key.into(), values),
                    "Exists" => Requirement::Exists(key.into()),
                    "DoesNotExist" => Requirement::NotExists(key.into()),
                    other => return Err(format!("unknown operator {other:?}")),
                });
            }
        }
        Ok(Self {
            reqs,
            nothing: false,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty() && !self.nothing
    }

    /// Does the selector match these labels (an object's `metadata.labels`)?
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        if self.nothing {
            return false;
        }
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEq(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }

    pub fn matches_object(&self, obj: &Value) -> bool {
        // A list or watch without a selector matches every object: no lookup of its labels
        // (those lookups were a tenth of the CPU of serving a pod list).
        if self.reqs.is_empty() {
            return !self.nothing;
        }
        self.matches(obj.pointer("/metadata/labels"))
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let bad = || format!("unable to parse requirement: {part:?}");
    if let Some(rest) = part.strip_prefix('!') {
        let key = rest.trim();
        return if valid_key(key) {
            Ok(Requirement::NotExists(key.into()))
        } else {
            Err(bad())
        };
    }
    for (op, ctor) in [
        (
            " notin ",
            Requirement::NotIn as fn(String, Vec<String>) -> Requirement,
        ),
        (" in ", Requirement::In),
    ] {
        if let Some((key, set)) = part.split_once(op) {
            let key = key.trim();
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(bad)?;
            let values = inner.split(',').map(|v| v.trim().to_string()).collect();
            if !valid_key(key) {
                return Err(bad());
            }
            return Ok(ctor(key.into(), values));
        }
    }
    if let Some((k, v)) = part.split_once("!=") {
        let k = k.trim();
        return if valid_key(k) {
            Ok(Requirement::NotEq(k.into(), v.trim().into()))
        } else {
            Err(bad())
        };
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        let k = k.trim();
        return if valid_key(k) {
            Ok(Requirement::Eq(k.into(), v.trim().into()))
        } else {
            Err(bad())
        };
    }
    let key = part.trim();
    if valid_key(key) {
        Ok(Requirement::Exists(key.into()))
    } else {
        Err(bad())
    }
}

/// A field selector: `field=value`, `field==value`, `field!=value`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

/// Fields every kind supports, and the extra ones a real server supports per kind.
fn supported_field(kind: &str, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace")
        || match kind {
            "Pod" => matches!(
                field,
                "spec.nodeName"
                    | "status.phase"
                    | "spec.restartPolicy"
                    | "spec.schedulerName"
                    | "spec.serviceAccountName"
                    | "status.podIP"
                    | "status.nominatedNodeName"
            ),
            "Node" => field == "spec.unschedulable",
            "Event" => {
                field.starts_with("involvedObject.")
                    || matches!(field, "reason" | "type" | "source")
            }
            "Namespace" => field == "status.phase",
            _ => false,
        }
}

impl FieldSelector {
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn parse(text: &str, kind: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if !supported_field(kind, field) {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self { reqs })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(field, eq, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (actual == *value) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels() -> Value {
        json!({"app": "istiod", "istio.io/rev": "1-9-1", "tier": "cp"})
    }

    #[test]
    fn query_syntax_covers_every_operator() {
        let l = labels();
        let cases = [
            ("app=istiod", true),
            ("app==istiod", true),
            ("app!=istiod", false),
            ("app!=gateway", true),
            ("istio.io/rev in (1-9-1, canary)", true),
            ("istio.io/rev notin (1-9-1)", false),
            ("missing notin (x)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=istiod,istio.io/rev in (canary)", false),
            ("", true),
        ];
        for (sel, want) in cases {
            let s = LabelSelector::parse(sel).expect(sel);
            assert_eq!(s.matches(Some(&l)), want, "{sel}");
        }
        assert!(LabelSelector::parse("app in istiod").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn object_selector_and_null_selector() {
        let l = labels();
        let s = LabelSelector::from_object(Some(&json!({
            "matchLabels": {"app": "istiod"},
            "matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["1-9-1"]}]
        })))
        .expect("selector");
        assert!(s.matches(Some(&l)));
        let none = LabelSelector::from_object(None).expect("null");
        assert!(!none.matches(Some(&l)));
        let all = LabelSelector::from_object(Some(&json!({}))).expect("empty");
        assert!(all.matches(Some(&l)));
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let s =
            FieldSelector::parse("spec.nodeName=n1,status.phase!=Succeeded", "Pod").expect("sel");
        assert!(s.matches(&pod));
        let s = FieldSelector::parse("spec.nodeName=n2", "Pod").expect("sel");
        assert!(!s.matches(&pod));
        assert!(FieldSelector::parse("spec.nodeName=n1", "Service").is_err());
        assert!(FieldSelector::parse("metadata.name=a", "Service").is_ok());
    }
}
