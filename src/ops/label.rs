//! Input checks made before any request: Kubernetes' label syntax and revision names.

use super::ActionError;
use super::names::{is_dns1123_label, is_dns1123_subdomain};

/// A node label to set or remove, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelChange {
    Set { key: String, value: String },
    Remove { key: String },
}

impl LabelChange {
    pub fn key(&self) -> &str {
        match self {
            LabelChange::Set { key, .. } | LabelChange::Remove { key } => key,
        }
    }

    /// As the user writes it: `k=v` or `k-`.
    pub fn text(&self) -> String {
        match self {
            LabelChange::Set { key, value } => format!("{key}={value}"),
            LabelChange::Remove { key } => format!("{key}-"),
        }
    }
}

/// Parses `KEY=VALUE` or `KEY-` and checks both parts as the API server would.
pub fn parse_label_change(text: &str) -> Result<LabelChange, ActionError> {
    let bad = |why: String| ActionError::Invalid(format!("invalid label {text:?}: {why}"));
    if let Some((key, value)) = text.split_once('=') {
        check_key(key).map_err(bad)?;
        check_value(value).map_err(bad)?;
        return Ok(LabelChange::Set {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    if let Some(key) = text.strip_suffix('-') {
        check_key(key).map_err(bad)?;
        return Ok(LabelChange::Remove {
            key: key.to_string(),
        });
    }
    Err(bad("expected KEY=VALUE to set or KEY- to remove".into()))
}

/// A revision name becomes part of object names (`istiod-REV`) and a label value: a
/// DNS-1123 label.
pub fn validate_revision(rev: &str) -> Result<(), ActionError> {
    if is_dns1123_label(rev) {
        Ok(())
    } else {
        Err(ActionError::Invalid(format!(
            "invalid revision {rev:?}: a revision must be a DNS-1123 label (at most 63 lowercase \
             letters, digits and '-', starting and ending with a letter or digit)"
        )))
    }
}

/// The name part of a qualified name, and a label value when not empty: at most 63
/// characters, alphanumerics, '-', '_' and '.', alphanumeric at both ends.
fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// A qualified name: `[prefix/]name`, the prefix a DNS-1123 subdomain.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        return Err(format!(
            "key prefix {p:?} must be a DNS-1123 subdomain (lowercase letters, digits, '-' \
             and '.', at most 253 characters)"
        ));
    }
    if !is_label_name(name) {
        return Err(format!(
            "key name {name:?} must be 1 to 63 characters of letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} must be empty or at most 63 characters of letters, digits, '-', \
             '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

/// What a label change did, in kubectl's words (`labeled`, `unlabeled`, `not labeled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOutcome {
    Labeled,
    Unlabeled,
    /// The node already had exactly that (nothing sent).
    Unchanged,
}

impl LabelOutcome {
    pub fn verb(self) -> &'static str {
        match self {
            LabelOutcome::Labeled => "labeled",
            LabelOutcome::Unlabeled => "unlabeled",
            LabelOutcome::Unchanged => "not labeled",
        }
    }
}

/// What labelling a namespace did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceLabelOutcome {
    /// The namespace's labels changed (false: it already had `istio.io/rev=REV` only).
    pub labeled: bool,
    /// The `istio-injection` value removed, if there was one.
    pub removed_injection: Option<String>,
    /// `istio.io/dataplane-mode=ambient` was removed: the namespace left ambient mode.
    pub removed_ambient: bool,
    /// The workloads rolled out, as `deployment.apps/NAME`.
    pub restarted: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_changes() {
        let long = "a".repeat(64);
        let cases: &[(&str, Option<LabelChange>)] = &[
            (
                "taco-istio=enabled",
                Some(LabelChange::Set {
                    key: "taco-istio".into(),
                    value: "enabled".into(),
                }),
            ),
            (
                "topology.kubernetes.io/zone=",
                Some(LabelChange::Set {
                    key: "topology.kubernetes.io/zone".into(),
                    value: String::new(),
                }),
            ),
            (
                "taco-istio-",
                Some(LabelChange::Remove {
                    key: "taco-istio".into(),
                }),
            ),
            ("taco istio=enabled", None),
            ("=enabled", None),
            ("k=-v", None),
            ("k=v=w", None),
            ("Bad_Prefix/k=v", None),
            ("a/b/c=v", None),
            ("k", None),
            ("-", None),
            (&format!("{long}=v"), None),
            (&format!("k={long}"), None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_label_change(text).ok(), *want, "{text}");
        }
    }

    #[test]
    fn revisions() {
        for ok in ["1-9-1", "canary", "1-23-0"] {
            assert!(validate_revision(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1.9.1", "Canary", "-x", "x-", &"a".repeat(64)] {
            assert!(validate_revision(bad).is_err(), "{bad}");
        }
    }
}
