//! Kubernetes' name rules, checked before a name goes anywhere near a request: a name becomes
//! a segment of the request's path, so one with `/`, `?`, `#` or `%` would address another
//! object (`worker-1/status` is the status of `worker-1`). The wording is the API server's.

use super::ActionError;

/// The longest DNS-1123 label.
const LABEL_MAX: usize = 63;
/// The longest DNS-1123 subdomain.
const SUBDOMAIN_MAX: usize = 253;

const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
     characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', \
     or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
     alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
     character (e.g. 'example.com', regex used for validation is \
     '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= LABEL_MAX
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// DNS-1123 labels joined by `.`, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= SUBDOMAIN_MAX && s.split('.').all(is_dns1123_label)
}

/// Why `value` is not a DNS-1123 label, as the API server says it.
fn label_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("must not be empty".into());
    }
    if value.len() > LABEL_MAX {
        return Some(format!("must be no more than {LABEL_MAX} characters"));
    }
    (!is_dns1123_label(value)).then(|| LABEL_RULE.to_string())
}

/// Why `value` is not a DNS-1123 subdomain, as the API server says it.
fn subdomain_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("must not be empty".into());
    }
    if value.len() > SUBDOMAIN_MAX {
        return Some(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    (!is_dns1123_subdomain(value)).then(|| SUBDOMAIN_RULE.to_string())
}

fn refuse(field: &str, value: &str, problem: Option<String>) -> Result<(), ActionError> {
    match problem {
        None => Ok(()),
        Some(why) => Err(ActionError::Invalid(format!(
            "invalid {field} {value:?}: {why}"
        ))),
    }
}

/// A Node's name: a DNS-1123 subdomain.
pub fn node(name: &str) -> Result<(), ActionError> {
    refuse("node name", name, subdomain_problem(name))
}

/// A Namespace's name: a DNS-1123 label.
pub fn namespace(name: &str) -> Result<(), ActionError> {
    refuse("namespace", name, label_problem(name))
}

/// A PodDisruptionBudget's name: a DNS-1123 subdomain.
pub fn pdb(name: &str) -> Result<(), ActionError> {
    refuse("PodDisruptionBudget name", name, subdomain_problem(name))
}

/// A Deployment's, StatefulSet's or DaemonSet's name: a DNS-1123 subdomain.
pub fn workload(name: &str) -> Result<(), ActionError> {
    refuse("workload name", name, subdomain_problem(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names that would change a request's path, or that the API server refuses anyway.
    pub(crate) fn hostile() -> Vec<String> {
        [
            "a/b", "a?b", "a#b", "a%2Fb", "..", ".", "", "A", "Worker-1", "-a", "a-", "a b",
            "a\nb", "a_b", "ä",
        ]
        .into_iter()
        .map(String::from)
        .chain(["a".repeat(254), format!("{}.{}", "a".repeat(64), "b")])
        .collect()
    }

    #[test]
    fn hostile_names_are_refused_naming_the_field_and_the_rule() {
        for name in hostile() {
            for (check, field) in [
                (node as fn(&str) -> Result<(), ActionError>, "node name"),
                (namespace, "namespace"),
                (pdb, "PodDisruptionBudget name"),
            ] {
                let Err(ActionError::Invalid(e)) = check(&name) else {
                    panic!("{field} {name:?} accepted");
                };
                assert!(e.starts_with(&format!("invalid {field} {name:?}: ")), "{e}");
            }
        }
        let Err(ActionError::Invalid(e)) = node("worker-1/status") else {
            panic!("accepted");
        };
        assert_eq!(
            e,
            format!("invalid node name \"worker-1/status\": {SUBDOMAIN_RULE}")
        );
        assert!(
            e.contains("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric")
        );
        let Err(ActionError::Invalid(e)) = namespace(&"a".repeat(64)) else {
            panic!("accepted");
        };
        assert!(e.ends_with(": must be no more than 63 characters"), "{e}");
    }

    #[test]
    fn real_names_pass() {
        for name in [
            "k1-node03",
            "ip-10-0-1-7.eu-west-1.compute.internal",
            "0",
            "a",
        ] {
            assert!(node(name).is_ok() && pdb(name).is_ok(), "{name}");
        }
        for name in ["istio-system", "legacy-shop", "a", "1"] {
            assert!(namespace(name).is_ok(), "{name}");
        }
        assert!(node(&"a".repeat(63)).is_ok());
        let longest = [&"a".repeat(63)[..]; 3].join(".") + "." + &"a".repeat(61);
        assert_eq!(longest.len(), 253);
        assert!(node(&longest).is_ok());
        assert!(node(&format!("{longest}a")).is_err());
        // A subdomain with dots is a node's name, never a namespace's.
        assert!(namespace("a.b").is_err());
    }
}
