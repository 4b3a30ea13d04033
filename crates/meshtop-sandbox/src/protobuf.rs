//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl and client-go
//! send built-in kinds: the `k8s\0` magic, then a `runtime.Unknown` naming the type and
//! carrying the object. The kinds kubectl creates are read with the `k8s-pb` types and turned
//! into the JSON the rest of the server handles; answers stay JSON, which every client that
//! sends protobuf also accepts.

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Value, json};

use super::error::ApiError;

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// A protobuf body as the JSON object it encodes.
pub fn decode(bytes: &[u8]) -> Result<Value, ApiError> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("the body does not start with the protobuf magic"))?;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest)
        .map_err(|e| bad(&e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let raw = raw.as_slice();
    let mut obj = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => namespace(decode_as(raw)?),
        ("v1", "ConfigMap") => config_map(decode_as(raw)?),
        ("v1", "ServiceAccount") => service_account(decode_as(raw)?),
        ("apps/v1", "Deployment") => deployment(decode_as(raw)?),
        ("autoscaling/v1", "Scale") => scale(decode_as(raw)?),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => access_review(decode_as(raw)?),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => rules_review(decode_as(raw)?),
        ("authentication.k8s.io/v1", "TokenRequest") => token_request(decode_as(raw)?),
        ("policy/v1", "Eviction") => eviction(decode_as(raw)?),
        _ => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the sandbox reads {kind} ({api_version}) only as JSON or YAML; send it with Content-Type application/json"
                ),
            ));
        }
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

fn bad(why: &str) -> ApiError {
    ApiError::bad_request(format!("error decoding protobuf body: {why}"))
}

fn decode_as<M: Message + Default>(raw: &[u8]) -> Result<M, ApiError> {
    M::decode(raw).map_err(|e| bad(&e.to_string()))
}

/// Builds a JSON object from fields, leaving out the absent and the empty, as JSON
/// `omitempty` does.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn put(mut self, key: &str, value: impl Into<Option<Value>>) -> Self {
        match value.into() {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) if m.is_empty() && key != "resources" => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(v) => {
                self.0.insert(key.to_string(), v);
            }
        }
        self
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn s(v: Option<String>) -> Option<Value> {
    v.map(Value::from)
}

fn strings(v: Vec<String>) -> Value {
    Value::from(v)
}

fn map(m: BTreeMap<String, String>) -> Value {
    Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
}

fn object_meta(m: Option<meta::ObjectMeta>) -> Value {
    let m = m.unwrap_or_default();
    let owners: Vec<Value> = m
        .owner_references
        .into_iter()
        .map(|r| {
            Obj::default()
                .put("apiVersion", s(r.api_version))
                .put("kind", s(r.kind))
                .put("name", s(r.name))
                .put("uid", s(r.uid))
                .put("controller", r.controller.map(Value::from))
                .put(
                    "blockOwnerDeletion",
                    r.block_owner_deletion.map(Value::from),
                )
                .done()
        })
        .collect();
    Obj::default()
        .put("name", s(m.name))
        .put("generateName", s(m.generate_name))
        .put("namespace", s(m.namespace))
        .put("uid", s(m.uid))
        .put("resourceVersion", s(m.resource_version))
        .put("labels", map(m.labels))
        .put("annotations", map(m.annotations))
        .put("ownerReferences", Value::from(owners))
        .put("finalizers", strings(m.finalizers))
        .done()
}

fn int_or_string(v: Option<IntOrString>) -> Option<Value> {
    let v = v?;
    Some(match v.r#type {
        Some(1) => Value::from(v.str_val.unwrap_or_default()),
        _ => Value::from(v.int_val.unwrap_or_default()),
    })
}

fn label_selector(sel: Option<meta::LabelSelector>) -> Option<Value> {
    let sel = sel?;
    let exprs: Vec<Value> = sel
        .match_expressions
        .into_iter()
        .map(|r| {
            Obj::default()
                .put("key", s(r.key))
                .put("operator", s(r.operator))
                .put("values", strings(r.values))
                .done()
        })
        .collect();
    Some(
        Obj::default()
            .put("matchLabels", map(sel.match_labels))
            .put("matchExpressions", Value::from(exprs))
            .done(),
    )
}

fn quantities(m: BTreeMap<String, k8s_pb::apimachinery::pkg::api::resource::Quantity>) -> Value {
    Value::Object(
        m.into_iter()
            .map(|(k, q)| (k, Value::from(q.string.unwrap_or_default())))
            .collect(),
    )
}

fn container(c: core::Container) -> Value {
    let ports: Vec<Value> = c
        .ports
        .into_iter()
        .map(|p| {
            Obj::default()
                .put("name", s(p.name))
                .put("containerPort", p.container_port.map(Value::from))
                .put("protocol", s(p.protocol))
                .done()
        })
        .collect();
    let env: Vec<Value> = c
        .env
        .into_iter()
        .map(|e| {
            Obj::default()
                .put("name", s(e.name))
                .put("value", s(e.value))
                .done()
        })
        .collect();
    let resources = c.resources.map(|r| {
        Obj::default()
            .put("limits", quantities(r.limits))
            .put("requests", quantities(r.requests))
            .done()
    });
    Obj::default()
        .put("name", s(c.name))
        .put("image", s(c.image))
        .put("command", strings(c.command))
        .put("args", strings(c.args))
        .put("ports", Value::from(ports))
        .put("env", Value::from(env))
        .put("resources", resources)
        .put("terminationMessagePath", s(c.termination_message_path))
        .put("terminationMessagePolicy", s(c.termination_message_policy))
        .put("imagePullPolicy", s(c.image_pull_policy))
        .done()
}

fn pod_template(t: Option<core::PodTemplateSpec>) -> Option<Value> {
    let t = t?;
    let spec = t.spec.unwrap_or_default();
    let spec = Obj::default()
        .put(
            "initContainers",
            Value::from(
                spec.init_containers
                    .into_iter()
                    .map(container)
                    .collect::<Vec<_>>(),
            ),
        )
        .put(
            "containers",
            Value::from(
                spec.containers
                    .into_iter()
                    .map(container)
                    .collect::<Vec<_>>(),
            ),
        )
        .put("restartPolicy", s(spec.restart_policy))
        .put(
            "terminationGracePeriodSeconds",
            spec.termination_grace_period_seconds.map(Value::from),
        )
        .put("dnsPolicy", s(spec.dns_policy))
        .put("nodeSelector", map(spec.node_selector))
        .put("serviceAccountName", s(spec.service_account_name))
        .put("nodeName", s(spec.node_name))
        .put("schedulerName", s(spec.scheduler_name))
        .done();
    Some(json!({"metadata": object_meta(t.metadata), "spec": spec}))
}

fn namespace(n: core::Namespace) -> Value {
    let spec = n.spec.map(|s| {
        Obj::default()
            .put("finalizers", strings(s.finalizers))
            .done()
    });
    Obj::default()
        .put("metadata", object_meta(n.metadata))
        .put("spec", spec)
        .done()
}

fn config_map(c: core::ConfigMap) -> Value {
    use base64::Engine as _;
    let binary: Map<String, Value> = c
        .binary_data
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                Value::from(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    Obj::default()
        .put("metadata", object_meta(c.metadata))
        .put("immutable", c.immutable.map(Value::from))
        .put("data", map(c.data))
        .put("binaryData", Value::Object(binary))
        .done()
}

fn service_account(sa: core::ServiceAccount) -> Value {
    Obj::default()
        .put("metadata", object_meta(sa.metadata))
        .put(
            "automountServiceAccountToken",
            sa.automount_service_account_token.map(Value::from),
        )
        .done()
}

fn deployment(d: k8s_pb::api::apps::v1::Deployment) -> Value {
    let spec = d.spec.unwrap_or_default();
    let strategy = spec.strategy.map(|st| {
        let rolling = st.rolling_update.map(|r| {
            Obj::default()
                .put("maxUnavailable", int_or_string(r.max_unavailable))
                .put("maxSurge", int_or_string(r.max_surge))
                .done()
        });
        Obj::default()
            .put("type", s(st.r#type))
            .put("rollingUpdate", rolling)
            .done()
    });
    let spec = Obj::default()
        .put("replicas", spec.replicas.map(Value::from))
        .put("selector", label_selector(spec.selector))
        .put("template", pod_template(spec.template))
        .put("strategy", strategy)
        .put("minReadySeconds", spec.min_ready_seconds.map(Value::from))
        .put(
            "revisionHistoryLimit",
            spec.revision_history_limit.map(Value::from),
        )
        .put("paused", spec.paused.map(Value::from))
        .put(
            "progressDeadlineSeconds",
            spec.progress_deadline_seconds.map(Value::from),
        )
        .done();
    json!({"metadata": object_meta(d.metadata), "spec": spec})
}

fn scale(sc: k8s_pb::api::autoscaling::v1::Scale) -> Value {
    let spec = Obj::default()
        .put(
            "replicas",
            sc.spec.and_then(|s| s.replicas).map(Value::from),
        )
        .done();
    json!({"metadata": object_meta(sc.metadata), "spec": spec})
}

fn access_review(r: k8s_pb::api::authorization::v1::SelfSubjectAccessReview) -> Value {
    let spec = r.spec.unwrap_or_default();
    let resource = spec.resource_attributes.map(|a| {
        Obj::default()
            .put("namespace", s(a.namespace))
            .put("verb", s(a.verb))
            .put("group", s(a.group))
            .put("version", s(a.version))
            .put("resource", s(a.resource))
            .put("subresource", s(a.subresource))
            .put("name", s(a.name))
            .done()
    });
    let non_resource = spec.non_resource_attributes.map(|a| {
        Obj::default()
            .put("path", s(a.path))
            .put("verb", s(a.verb))
            .done()
    });
    let spec = Obj::default()
        .put("resourceAttributes", resource)
        .put("nonResourceAttributes", non_resource)
        .done();
    json!({"metadata": object_meta(r.metadata), "spec": spec})
}

fn rules_review(r: k8s_pb::api::authorization::v1::SelfSubjectRulesReview) -> Value {
    let spec = Obj::default()
        .put("namespace", s(r.spec.and_then(|s| s.namespace)))
        .done();
    json!({"metadata": object_meta(r.metadata), "spec": spec})
}

fn token_request(t: k8s_pb::api::authentication::v1::TokenRequest) -> Value {
    let spec = t.spec.unwrap_or_default();
    let spec = Obj::default()
        .put("audiences", strings(spec.audiences))
        .put(
            "expirationSeconds",
            spec.expiration_seconds.map(Value::from),
        )
        .done();
    json!({"metadata": object_meta(t.metadata), "spec": spec})
}

fn eviction(e: k8s_pb::api::policy::v1::Eviction) -> Value {
    let dry_run = e.delete_options.map(|o| o.dry_run).unwrap_or_default();
    let options = Obj::default().put("dryRun", strings(dry_run)).done();
    json!({"metadata": object_meta(e.metadata), "deleteOptions": options})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    #[test]
    fn a_deployment_as_kubectl_create_sends_it() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let d = k8s_pb::api::apps::v1::Deployment {
            metadata: Some(meta::ObjectMeta {
                name: Some("web".into()),
                labels: labels.clone(),
                ..Default::default()
            }),
            spec: Some(k8s_pb::api::apps::v1::DeploymentSpec {
                replicas: Some(2),
                selector: Some(meta::LabelSelector {
                    match_labels: labels.clone(),
                    ..Default::default()
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: Some(meta::ObjectMeta {
                        labels,
                        ..Default::default()
                    }),
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: Some("nginx".into()),
                            image: Some("nginx".into()),
                            resources: Some(Default::default()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                strategy: Some(Default::default()),
                ..Default::default()
            }),
            status: Some(Default::default()),
        };
        let obj = decode(&envelope("apps/v1", "Deployment", d.encode_to_vec())).expect("decodes");
        assert_eq!(
            obj,
            json!({
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
                    }
                },
                "apiVersion": "apps/v1",
                "kind": "Deployment"
            })
        );
    }

    #[test]
    fn bad_bodies_are_refused_not_panicked_on() {
        assert_eq!(decode(b"{}").expect_err("no magic").code, 400);
        assert_eq!(decode(b"k8s\0\xff\xff").expect_err("garbage").code, 400);
        let secret = envelope("v1", "Secret", Vec::new());
        assert_eq!(decode(&secret).expect_err("unsupported").code, 415);
    }
}
