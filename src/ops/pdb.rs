//! PodDisruptionBudget relief as data: which budget, the spec that allows every disruption,
//! and the patch that puts the saved spec back.

use serde_json::{Value, json};

use super::ActionError;

/// Where PDB relief keeps the original spec (the model reads it too).
pub const RELAXED_FROM: &str = crate::model::labels::keys::RELAXED_FROM;

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
    let field = |k: &str| saved.get(k).cloned().unwrap_or(Value::Null);
    json!({"minAvailable": field("minAvailable"), "maxUnavailable": field("maxUnavailable")})
}
