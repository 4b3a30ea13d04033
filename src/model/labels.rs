//! Label sets and label selectors, as the model keeps them.

use std::sync::Arc;

use super::intern::Name;

/// Label and annotation keys the model reads.
pub mod keys {
    /// The control-plane revision (namespace, pod, control-plane objects, tag objects).
    pub const ISTIO_REV: &str = "istio.io/rev";
    /// The revision tag of a tag webhook or Service.
    pub const ISTIO_TAG: &str = "istio.io/tag";
    /// The legacy namespace injection label (`enabled` / `disabled`).
    pub const ISTIO_INJECTION: &str = "istio-injection";
    /// Pod opt-in/opt-out of injection.
    pub const SIDECAR_INJECT: &str = "sidecar.istio.io/inject";
    /// The injector's record on a pod (JSON, with `revision` from 1.11).
    pub const SIDECAR_STATUS: &str = "sidecar.istio.io/status";
    /// The gateway label Istio `Gateway` selectors use.
    pub const ISTIO: &str = "istio";
    pub const APP: &str = "app";
    /// Set by istioctl and the operator on what they install.
    pub const OPERATOR_COMPONENT: &str = "operator.istio.io/component";
    /// Where meshtop's PDB relief saves the original spec of a relaxed PDB.
    pub const RELAXED_FROM: &str = "meshtop.dev/relaxed-from";
    /// What meshtop's PDB relief wrote to the spec: the restore refuses to overwrite a
    /// budget changed since.
    pub const RELAXED_TO: &str = "meshtop.dev/relaxed-to";
    /// Marks the API server's mirror of a static pod.
    pub const MIRROR_POD: &str = "kubernetes.io/config.mirror";
    /// Ambient enrollment of a namespace or pod: `ambient`, or `none` to opt out.
    pub const DATAPLANE_MODE: &str = "istio.io/dataplane-mode";
    /// The waypoint a namespace, service or pod uses.
    pub const USE_WAYPOINT: &str = "istio.io/use-waypoint";
    /// The namespace of that waypoint, when it is not the user's own.
    pub const USE_WAYPOINT_NAMESPACE: &str = "istio.io/use-waypoint-namespace";
    /// What a waypoint serves: `service`, `workload`, `all` or `none`.
    pub const WAYPOINT_FOR: &str = "istio.io/waypoint-for";
    /// On the Deployment, Service and pods istiod makes for a Gateway API `Gateway`.
    pub const GATEWAY_NAME: &str = "gateway.networking.k8s.io/gateway-name";
    /// Helm's marks on what a release installed.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const HELM_RELEASE: &str = "meta.helm.sh/release-name";
    /// The Sail operator's mark (older releases wrote the short key).
    pub const SAIL_MANAGED_BY: &str = "managed-by";
    /// Set by istioctl and the operator: the IstioOperator an object came from.
    pub const OWNING_RESOURCE: &str = "install.operator.istio.io/owning-resource";
    /// Helm 2 (Tiller) charts: `heritage: Tiller`, `release: <name>`.
    pub const HERITAGE: &str = "heritage";
    pub const RELEASE: &str = "release";
    /// Old-style node role label.
    pub const NODE_ROLE_OLD: &str = "kubernetes.io/role";
    /// `node-role.kubernetes.io/<role>`.
    pub const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
}

/// A label set, sorted by key. Pods of one template share one `Labels`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels(pub Arc<[(Name, Name)]>);

impl Labels {
    pub fn new(mut pairs: Vec<(Name, Name)>) -> Self {
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        Self(pairs.into())
    }

    pub fn get(&self, key: &str) -> Option<&Name> {
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Name)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(Name, Name),
    NotEquals(Name, Name),
    In(Name, Vec<Name>),
    NotIn(Name, Vec<Name>),
    Exists(Name),
    DoesNotExist(Name),
}

impl Requirement {
    fn matches(&self, labels: &Labels) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|x| !vs.contains(x)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

/// A label selector. Kubernetes distinguishes a missing selector (selects nothing, for a
/// PDB) from an empty one (selects everything).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selector {
    #[default]
    Nothing,
    Requirements(Vec<Requirement>),
}

impl Selector {
    pub fn everything() -> Self {
        Selector::Requirements(Vec::new())
    }

    /// From a plain label map (`matchLabels`, a Service selector).
    pub fn from_labels(labels: &Labels) -> Self {
        Selector::Requirements(
            labels
                .iter()
                .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
                .collect(),
        )
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Requirements(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// `app=istiod,istio.io/rev in (1-9-1)` — for display.
    pub fn to_query(&self) -> String {
        match self {
            Selector::Nothing => "<none>".into(),
            Selector::Requirements(reqs) if reqs.is_empty() => "<all>".into(),
            Selector::Requirements(reqs) => reqs
                .iter()
                .map(|r| match r {
                    Requirement::Equals(k, v) => format!("{k}={v}"),
                    Requirement::NotEquals(k, v) => format!("{k}!={v}"),
                    Requirement::In(k, vs) => format!("{k} in ({})", join(vs)),
                    Requirement::NotIn(k, vs) => format!("{k} notin ({})", join(vs)),
                    Requirement::Exists(k) => k.to_string(),
                    Requirement::DoesNotExist(k) => format!("!{k}"),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

fn join(vs: &[Name]) -> String {
    vs.iter().map(|v| v.as_ref()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Arc::from(s)
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().map(|(k, v)| (n(k), n(v))).collect())
    }

    #[test]
    fn selectors_match_like_kubernetes() {
        let l = labels(&[("app", "istiod"), ("istio.io/rev", "1-9-1")]);
        assert_eq!(l.get("app").map(|v| v.as_ref()), Some("istiod"));
        let sel = Selector::Requirements(vec![
            Requirement::Equals(n("app"), n("istiod")),
            Requirement::In(n("istio.io/rev"), vec![n("1-9-1"), n("canary")]),
            Requirement::DoesNotExist(n("release")),
        ]);
        assert!(sel.matches(&l));
        assert!(!Selector::Nothing.matches(&l));
        assert!(Selector::everything().matches(&l));
        let other = Selector::Requirements(vec![Requirement::NotIn(
            n("istio.io/rev"),
            vec![n("1-9-1")],
        )]);
        assert!(!other.matches(&l));
        assert_eq!(
            sel.to_query(),
            "app=istiod,istio.io/rev in (1-9-1,canary),!release"
        );
    }
}
