//! Who may do what: the restricted user's deny rules, and the APIs that let a client ask
//! (`SelfSubjectAccessReview`, `SelfSubjectRulesReview`, as `kubectl auth can-i` does) and
//! the ServiceAccount token requests (`kubectl create token`).

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Cluster, DenyScope};

/// Whether the restricted user is refused `verb` on `resource` (`plural` or
/// `plural/subresource`) in `namespace` (`None`: at the cluster scope).
pub fn denied(cluster: &Cluster, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    cluster.settings.restricted_deny.iter().any(|r| {
        r.verb == verb
            && r.resource == resource
            && match &r.namespace {
                None => true,
                Some(DenyScope::Namespace(n)) => Some(n.as_str()) == namespace,
                Some(DenyScope::Cluster) => namespace.is_none(),
            }
    })
}

/// The answer to a SelfSubjectAccessReview: the review with its `status`.
pub fn access_review(cluster: &Cluster, restricted: bool, mut review: Value) -> Value {
    let attrs = review.pointer("/spec/resourceAttributes");
    let text = |key: &str| {
        attrs
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (verb, plural, sub, namespace) = (
        text("verb"),
        text("resource"),
        text("subresource"),
        text("namespace"),
    );
    let resource = if sub.is_empty() {
        plural
    } else {
        format!("{plural}/{sub}")
    };
    let ns = (!namespace.is_empty()).then_some(namespace.as_str());
    let allowed = !restricted || attrs.is_none() || !denied(cluster, &verb, &resource, ns);
    review["status"] = if allowed {
        json!({"allowed": true})
    } else {
        json!({"allowed": false})
    };
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["metadata"] = json!({"creationTimestamp": null});
    review
}

/// The answer to a SelfSubjectRulesReview: what the user may do in the namespace asked
/// about. The admin may do everything; the restricted user each verb of each kind the deny
/// rules leave it.
pub fn rules_review(cluster: &Cluster, restricted: bool, mut review: Value) -> Value {
    let namespace = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let everything = json!({
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": false
    });
    review["status"] = if !restricted {
        everything
    } else {
        let ns = (!namespace.is_empty()).then_some(namespace.as_str());
        let mut rules = Vec::new();
        for t in cluster.registry.all() {
            let scope = if t.namespaced { ns } else { None };
            let mut resources = vec![t.plural.clone()];
            resources.extend(t.subresources.iter().map(|s| format!("{}/{s}", t.plural)));
            for resource in resources {
                let verbs: Vec<&str> = t
                    .verbs()
                    .into_iter()
                    .filter(|v| !denied(cluster, v, &resource, scope))
                    .collect();
                if !verbs.is_empty() {
                    rules.push(
                        json!({"verbs": verbs, "apiGroups": [t.group], "resources": [resource]}),
                    );
                }
            }
        }
        json!({
            "resourceRules": rules,
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]}],
            "incomplete": false
        })
    };
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectRulesReview");
    review["metadata"] = json!({"creationTimestamp": null});
    review
}

/// The answer to a TokenRequest for a ServiceAccount: a token shaped as the API server's
/// (a JWT whose claims name the account), valid for what was asked (an hour by default).
pub fn token_request(sa: &Value, mut request: Value, now: Timestamp) -> Value {
    let ns = sa
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = sa
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let uid = sa
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let seconds = request
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600)
        .clamp(600, 48 * 3600);
    let audiences = request
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .cloned()
        .unwrap_or_else(|| vec![json!("https://kubernetes.default.svc.cluster.local")]);
    let iat = now.as_second();
    let exp = iat + seconds;
    let claims = json!({
        "aud": audiences,
        "exp": exp,
        "iat": iat,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "jti": super::store::new_uid(),
        "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": uid}},
        "nbf": iat,
        "sub": format!("system:serviceaccount:{ns}:{name}")
    });
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let header = b64(br#"{"alg":"RS256","kid":"meshtop-sandbox"}"#);
    let payload = b64(claims.to_string().as_bytes());
    let signature: Vec<u8> = (0..256).map(|_| rand::random::<u8>()).collect();
    let token = format!("{header}.{payload}.{}", b64(&signature));
    let expires = Timestamp::from_second(exp).unwrap_or(now);
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": null});
    request["spec"]["audiences"] = json!(audiences);
    request["spec"]["expirationSeconds"] = json!(seconds);
    request["status"] = json!({
        "token": token,
        "expirationTimestamp": super::store::timestamp(expires)
    });
    request
}
