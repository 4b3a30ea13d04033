//! PodDisruptionBudget relief as data: which budget, the spec that allows every disruption,
//! the patch that puts the saved spec back, and whether the budget changed since it was
//! relaxed (a restore must not silently overwrite someone's edit).

use serde_json::{Value, json};

use super::ActionError;
use crate::model::summary::IntOrPercent;

/// Where PDB relief keeps the original spec (the model reads it too).
pub const RELAXED_FROM: &str = crate::model::labels::keys::RELAXED_FROM;

/// Where PDB relief records the budget fields it wrote (the model reads it too).
pub const RELAXED_TO: &str = crate::model::labels::keys::RELAXED_TO;

/// The healthy pods a budget needs out of `expected`, as the disruption controller counts
/// them: a percentage is of the expected pods, rounded up; maxUnavailable leaves the rest.
/// `None` when the budget sets neither.
pub fn desired_healthy(
    min_available: Option<&IntOrPercent>,
    max_unavailable: Option<&IntOrPercent>,
    expected: i32,
) -> Option<i32> {
    let expected = expected.max(0);
    let count = |v: &IntOrPercent| match v {
        IntOrPercent::Int(n) => *n,
        IntOrPercent::Percent(p) => {
            i32::try_from((i64::from(*p) * i64::from(expected) + 99) / 100).unwrap_or(i32::MAX)
        }
    };
    match (min_available, max_unavailable) {
        (Some(m), _) => Some(count(m)),
        (None, Some(u)) => Some((expected - count(u)).max(0)),
        (None, None) => None,
    }
}

/// A budget field of a spec in JSON (`1`, `"25%"`).
pub fn budget_field(v: &Value) -> Option<IntOrPercent> {
    let v: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString =
        serde_json::from_value(v.clone()).ok()?;
    crate::model::project::int_or_percent(&v)
}

/// `NAMESPACE/NAME` of a PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbTarget {
    pub namespace: String,
    pub name: String,
}

impl PdbTarget {
    /// Parses `NAMESPACE/NAME` and checks both names as the API server would.
    pub fn parse(text: &str) -> Result<Self, ActionError> {
        let Some((namespace, name)) = text.split_once('/') else {
            return Err(ActionError::Invalid(format!(
                "invalid PodDisruptionBudget {text:?}: expected NAMESPACE/NAME"
            )));
        };
        super::names::namespace(namespace)?;
        super::names::pdb(name)?;
        Ok(Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    pub fn audit_target(&self) -> String {
        format!("poddisruptionbudget/{}/{}", self.namespace, self.name)
    }
}

/// The relaxed spec fields for a PDB's spec: a budget with `minAvailable` gets
/// `minAvailable: 0`, one with `maxUnavailable` gets `maxUnavailable: "100%"`; both then
/// allow every disruption, and the kind of budget stays the same for the restore.
pub fn relaxed_spec(spec: &Value) -> Value {
    if spec.get("maxUnavailable").is_some_and(|v| !v.is_null()) {
        json!({"maxUnavailable": "100%"})
    } else {
        json!({"minAvailable": 0})
    }
}

/// The merge patch of the spec fields that restores a saved spec: both budget fields, the
/// absent one as `null`.
pub fn restored_spec(saved: &Value) -> Value {
    budget_fields(saved)
}

/// A spec's `minAvailable` and `maxUnavailable`, an unset one as `null`, an `IntOrString`
/// that holds a plain number (`"1"`) as that number: the fields relief and restore write, in
/// a form two specs compare in.
pub fn budget_fields(spec: &Value) -> Value {
    let field = |k: &str| match spec.get(k) {
        Some(Value::String(s)) if !s.trim().ends_with('%') => s
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::String(s.clone()), Value::from),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    json!({"minAvailable": field("minAvailable"), "maxUnavailable": field("maxUnavailable")})
}

/// The budget fields relief wrote to a budget, from its annotations: the recorded ones
/// (`relaxed_to`), else those relief writes for the saved spec.
pub fn relaxed_fields(saved: &Value, relaxed_to: Option<&str>) -> Result<Value, String> {
    match relaxed_to {
        Some(text) => serde_json::from_str::<Value>(text)
            .map(|v| budget_fields(&v))
            .map_err(|e| format!("the {RELAXED_TO} annotation is not a JSON spec: {e}")),
        None => Ok(budget_fields(&relaxed_spec(saved))),
    }
}

/// What changed in a relaxed budget's fields since relief wrote `relaxed` (both as
/// [`budget_fields`]): `minAvailable is 2 (relaxed to 0)`, or `None` when nothing did.
pub fn changed_since_relaxed(current: &Value, relaxed: &Value) -> Option<String> {
    let changes: Vec<String> = ["minAvailable", "maxUnavailable"]
        .into_iter()
        .filter(|k| current.get(*k) != relaxed.get(*k))
        .map(|k| {
            format!(
                "{k} is {} (relaxed to {})",
                say(current.get(k)),
                say(relaxed.get(k))
            )
        })
        .collect();
    (!changes.is_empty()).then(|| changes.join(", "))
}

/// The set fields of a [`budget_fields`] value: `minAvailable 1`, `maxUnavailable 25%`.
pub fn describe_fields(fields: &Value) -> String {
    let set: Vec<String> = ["minAvailable", "maxUnavailable"]
        .into_iter()
        .filter(|k| fields.get(*k).is_some_and(|v| !v.is_null()))
        .map(|k| format!("{k} {}", say(fields.get(k))))
        .collect();
    if set.is_empty() {
        "neither minAvailable nor maxUnavailable".into()
    } else {
        set.join(", ")
    }
}

/// A budget field's value as a person writes it: `1`, `25%`, `unset`.
fn say(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "unset".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_changed_since_relief_says_what_changed() {
        let saved = json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "pilot"}}});
        let relaxed = relaxed_fields(&saved, Some(r#"{"minAvailable":0}"#)).expect("recorded");
        assert_eq!(relaxed, json!({"minAvailable": 0, "maxUnavailable": null}));
        // Without a record: what relief writes for the saved spec.
        assert_eq!(relaxed_fields(&saved, None), Ok(relaxed.clone()));
        assert!(relaxed_fields(&saved, Some("{")).is_err());
        let unchanged = budget_fields(&json!({"minAvailable": 0, "selector": {}}));
        assert_eq!(changed_since_relaxed(&unchanged, &relaxed), None);
        // "0" is the same number as 0.
        let quoted = budget_fields(&json!({"minAvailable": "0"}));
        assert_eq!(changed_since_relaxed(&quoted, &relaxed), None);
        let raised = budget_fields(&json!({"minAvailable": 2}));
        assert_eq!(
            changed_since_relaxed(&raised, &relaxed).as_deref(),
            Some("minAvailable is 2 (relaxed to 0)")
        );
        let switched = budget_fields(&json!({"maxUnavailable": "25%"}));
        assert_eq!(
            changed_since_relaxed(&switched, &relaxed).as_deref(),
            Some("minAvailable is unset (relaxed to 0), maxUnavailable is 25% (relaxed to unset)")
        );
        assert_eq!(describe_fields(&budget_fields(&saved)), "minAvailable 1");
        assert_eq!(describe_fields(&switched), "maxUnavailable 25%");
    }
}
