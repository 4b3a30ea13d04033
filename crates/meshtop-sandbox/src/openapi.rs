//! The OpenAPI documents the sandbox publishes, built as a real API server builds them: v3
//! per group/version (what `kubectl explain` reads, and where kubectl learns that the server
//! validates fields itself), v2 for the whole API, and strict field validation
//! (`fieldValidation=Strict`) against the same schemas. Built-in kinds take their schemas
//! and descriptions from k8s-openapi; custom kinds from their CRD's `openAPIV3Schema`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use bytes::Bytes;
use k8s_openapi::api::{admissionregistration, apps, autoscaling, core, policy as policy_api};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::Cluster;
use super::error::ApiError;
use super::resources::ResourceType;

mod protobuf;

/// Where a v3 document's `$ref`s point.
const V3_REFS: &str = "#/components/schemas/";
/// Where the v2 document's `$ref`s point.
const V2_REFS: &str = "#/definitions/";
/// The media type kubectl asks for when it wants the v2 document as protobuf.
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The media type the protobuf v2 document is sent as (Go's MIME parser refuses the `@`).
const V2_PROTOBUF_SENT: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// A built-in kind whose schema k8s-openapi carries.
struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    /// Registers the type's schema (and those it refers to); returns its name.
    register: fn(&mut SchemaGenerator) -> String,
}

macro_rules! builtin {
    ($group:literal, $version:literal, $kind:literal, $ty:ty) => {
        Builtin {
            group: $group,
            version: $version,
            kind: $kind,
            register: |generator| {
                generator.subschema_for::<$ty>();
                <$ty as JsonSchema>::schema_name().into_owned()
            },
        }
    };
}

/// Every built-in kind the sandbox serves, and the kinds of its subresources.
const BUILTINS: &[Builtin] = &[
    builtin!("", "v1", "Namespace", core::v1::Namespace),
    builtin!("", "v1", "Node", core::v1::Node),
    builtin!("", "v1", "Pod", core::v1::Pod),
    builtin!("", "v1", "Service", core::v1::Service),
    builtin!("", "v1", "ConfigMap", core::v1::ConfigMap),
    builtin!("", "v1", "ServiceAccount", core::v1::ServiceAccount),
    builtin!("", "v1", "Event", core::v1::Event),
    builtin!("apps", "v1", "Deployment", apps::v1::Deployment),
    builtin!("apps", "v1", "ReplicaSet", apps::v1::ReplicaSet),
    builtin!("apps", "v1", "StatefulSet", apps::v1::StatefulSet),
    builtin!("apps", "v1", "DaemonSet", apps::v1::DaemonSet),
    builtin!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        policy_api::v1::PodDisruptionBudget
    ),
    builtin!("policy", "v1", "Eviction", policy_api::v1::Eviction),
    builtin!(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        autoscaling::v2::HorizontalPodAutoscaler
    ),
    builtin!("autoscaling", "v1", "Scale", autoscaling::v1::Scale),
    builtin!(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        admissionregistration::v1::MutatingWebhookConfiguration
    ),
    builtin!(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        apiextensions::v1::CustomResourceDefinition
    ),
    builtin!("", "v1", "Status", meta::v1::Status),
    builtin!("", "v1", "DeleteOptions", meta::v1::DeleteOptions),
];

/// The schemas of the built-in kinds, their lists, and everything they refer to, keyed by
/// their real names (`io.k8s.api.core.v1.Pod`); and each of `BUILTINS`' schema name, in
/// order. Generated once per process: they never change.
fn builtins() -> &'static (Map<String, Value>, Vec<String>) {
    static BUILT: OnceLock<(Map<String, Value>, Vec<String>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut generator = SchemaSettings::openapi3().into_generator();
        let names: Vec<String> = BUILTINS
            .iter()
            .map(|b| (b.register)(&mut generator))
            .collect();
        let list_meta = {
            generator.subschema_for::<meta::v1::ListMeta>();
            <meta::v1::ListMeta as JsonSchema>::schema_name().into_owned()
        };
        let mut schemas = generator.take_definitions(true);
        for (name, b) in names.iter().zip(BUILTINS) {
            if let Some(schema) = schemas.get_mut(name) {
                schema["x-kubernetes-group-version-kind"] =
                    json!([{"group": b.group, "kind": b.kind, "version": b.version}]);
            }
            if matches!(b.kind, "Status" | "DeleteOptions" | "Eviction" | "Scale") {
                continue;
            }
            let list = list_schema(name, b.group, b.version, b.kind, &list_meta);
            schemas.insert(format!("{name}List"), list);
        }
        (schemas, names)
    })
}

fn builtin_schemas() -> &'static Map<String, Value> {
    &builtins().0
}

/// `PodList` and its like, which k8s-openapi has no type for.
fn list_schema(item: &str, group: &str, version: &str, kind: &str, list_meta: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": format!("Items is the list of {kind} objects."),
                "type": "array",
                "items": {"allOf": [{"$ref": format!("{V3_REFS}{item}")}], "default": {}},
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string",
            },
            "metadata": {
                "allOf": [{"$ref": format!("{V3_REFS}{list_meta}")}],
                "default": {},
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [{"group": group, "kind": format!("{kind}List"), "version": version}],
    })
}

fn builtin_name(group: &str, version: &str, kind: &str) -> Option<String> {
    let i = BUILTINS
        .iter()
        .position(|b| b.group == group && b.version == version && b.kind == kind)?;
    builtins().1.get(i).cloned()
}

/// A custom kind's schema name as a real server forms it: the group reversed, then the
/// version and the kind (`io.istio.install.v1alpha1.IstioOperator`).
fn custom_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The schema a CRD declares for `version`, completed as the apiextensions server does:
/// `apiVersion`, `kind` and `metadata` described, and the group-version-kind attached.
fn custom_schema(cluster: &Cluster, t: &ResourceType, version: &str) -> Value {
    let crd = cluster.store.get(
        "customresourcedefinitions.apiextensions.k8s.io",
        "",
        &t.key(),
    );
    let declared = crd
        .and_then(|crd| crd.head().pointer("/spec/versions"))
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v["name"] == version))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        .or_else(|| crd.and_then(|crd| crd.head().pointer("/spec/validation/openAPIV3Schema")))
        .cloned();
    let mut schema = match declared {
        Some(s @ Value::Object(_)) => s,
        // A CRD without a schema keeps whatever it is given.
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    let object_meta = <meta::v1::ObjectMeta as JsonSchema>::schema_name();
    let properties = &mut schema["properties"];
    if !properties.is_object() {
        *properties = json!({});
    }
    properties["apiVersion"] = json!({
        "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        "type": "string",
    });
    properties["kind"] = json!({
        "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        "type": "string",
    });
    properties["metadata"] = json!({
        "allOf": [{"$ref": format!("{V3_REFS}{object_meta}")}],
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    });
    schema["type"] = json!("object");
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": t.group, "kind": t.kind, "version": version}]);
    schema
}

/// The name a kind's schema is published under, for a version it serves.
fn schema_name(t: &ResourceType, version: &str) -> Option<String> {
    if t.custom {
        Some(custom_name(&t.group, version, &t.kind))
    } else {
        builtin_name(&t.group, version, &t.kind)
    }
}

/// `admissionregistration.k8s.io` → `Admissionregistration`, `networking.istio.io` →
/// `NetworkingIstioIo`, `` → `Core`: the group's part of an operation id.
fn group_word(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .map(capitalized)
        .collect()
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{V3_REFS}{name}")})
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_parameters(patch: bool) -> Vec<Value> {
    let mut params = vec![
        query(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
        ),
    ];
    if patch {
        params.push(json!({"name": "force", "in": "query", "description": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people.", "schema": {"type": "boolean", "uniqueItems": true}}));
    }
    params
}

fn list_parameters() -> Vec<Value> {
    [
        ("allowWatchBookmarks", "requests watch events with type \"BOOKMARK\"."),
        ("continue", "The continue option should be set when retrieving more results from the server."),
        ("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
        ("labelSelector", "A selector to restrict the list of returned objects by their labels."),
        ("limit", "limit is a maximum number of responses to return for a list call."),
        ("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."),
        ("timeoutSeconds", "Timeout for the list/watch call."),
        ("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
    ]
    .iter()
    .map(|(n, d)| query(n, d))
    .collect()
}

/// One operation on a path, as the real document shapes it.
fn operation(
    action: &str,
    id: String,
    description: String,
    gvk: &Value,
    parameters: Vec<Value>,
    body: Option<Value>,
    answer: &str,
) -> Value {
    let content: Map<String, Value> = [
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
    ]
    .iter()
    .map(|ct| (ct.to_string(), json!({"schema": reference(answer)})))
    .collect();
    let code = if matches!(action, "post") {
        "201"
    } else {
        "200"
    };
    let mut op = json!({
        "tags": [],
        "description": description,
        "operationId": id,
        "parameters": parameters,
        "responses": {
            code: {"description": if code == "201" { "Created" } else { "OK" }, "content": content},
            "401": {"description": "Unauthorized"},
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true, "schema": {"type": "string", "uniqueItems": true}})
}

/// The paths of one kind at one version: collection, object, and its `status`/`scale`.
fn kind_paths(paths: &mut Map<String, Value>, t: &ResourceType, version: &str, name: &str) {
    let prefix = if t.group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{}/{version}", t.group)
    };
    let id = |verb: &str, suffix: &str| {
        let scope = if t.namespaced { "Namespaced" } else { "" };
        format!(
            "{verb}{}{}{scope}{}{suffix}",
            group_word(&t.group),
            capitalized(version),
            t.kind
        )
    };
    let gvk = json!({"group": t.group, "version": version, "kind": t.kind});
    let body = json!({"content": {"*/*": {"schema": reference(name)}}, "required": true});
    let mut patch_types = vec![
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if !t.custom {
        patch_types.push("application/strategic-merge-patch+json");
    }
    let patch_schema = <meta::v1::Patch as JsonSchema>::schema_name();
    let patch_body = json!({
        "content": patch_types.iter().map(|ct| (ct.to_string(), json!({"schema": reference(&patch_schema)}))).collect::<Map<String, Value>>(),
        "required": true,
    });
    let status = <meta::v1::Status as JsonSchema>::schema_name().into_owned();
    let collection = if t.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
    } else {
        format!("{prefix}/{}", t.plural)
    };
    let mut scope_params = vec![];
    if t.namespaced {
        scope_params.push(path_parameter(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    let kind = &t.kind;
    let plural = &t.plural;
    let mut col = json!({
        "get": operation("list", id("list", ""), format!("list or watch objects of kind {kind}"), &gvk, list_parameters(), None, &format!("{name}List")),
        "post": operation("post", id("create", ""), format!("create a {kind}"), &gvk, write_parameters(false), Some(body.clone()), name),
        "delete": operation("deletecollection", id("deletecollection", ""), format!("delete collection of {kind}"), &gvk, list_parameters(), None, &status),
        "parameters": scope_params.clone(),
    });
    if t.custom {
        // A real server names custom collections `…/{plural}`, all the same.
        col["get"]["operationId"] = json!(id("list", ""));
    }
    paths.insert(collection.clone(), col);
    let mut object_params = vec![path_parameter("name", &format!("name of the {kind}"))];
    object_params.extend(scope_params.iter().cloned());
    paths.insert(
        format!("{collection}/{{name}}"),
        json!({
            "get": operation("get", id("read", ""), format!("read the specified {kind}"), &gvk, vec![], None, name),
            "put": operation("put", id("replace", ""), format!("replace the specified {kind}"), &gvk, write_parameters(false), Some(body.clone()), name),
            "patch": operation("patch", id("patch", ""), format!("partially update the specified {kind}"), &gvk, write_parameters(true), Some(patch_body.clone()), name),
            "delete": operation("delete", id("delete", ""), format!("delete a {kind}"), &gvk, write_parameters(false), None, &status),
            "parameters": object_params,
        }),
    );
    if t.namespaced {
        paths.insert(
            format!("{prefix}/{plural}"),
            json!({
                "get": operation("list", id("list", "ForAllNamespaces").replace("Namespaced", ""), format!("list or watch objects of kind {kind}"), &gvk, list_parameters(), None, &format!("{name}List")),
            }),
        );
    }
    for sub in &t.subresources {
        let (sub_gvk, sub_name) = match sub.as_str() {
            "status" => (gvk.clone(), name.to_string()),
            "scale" => match builtin_name("autoscaling", "v1", "Scale") {
                Some(n) => (
                    json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
                    n,
                ),
                None => continue,
            },
            _ => continue,
        };
        let suffix = capitalized(sub);
        let mut sub_params = vec![path_parameter(
            "name",
            &format!("name of the {}", sub_gvk["kind"].as_str().unwrap_or(kind)),
        )];
        sub_params.extend(scope_params.iter().cloned());
        let sub_body =
            json!({"content": {"*/*": {"schema": reference(&sub_name)}}, "required": true});
        paths.insert(
            format!("{collection}/{{name}}/{sub}"),
            json!({
                "get": operation("get", id("read", &suffix), format!("read {sub} of the specified {kind}"), &sub_gvk, vec![], None, &sub_name),
                "put": operation("put", id("replace", &suffix), format!("replace {sub} of the specified {kind}"), &sub_gvk, write_parameters(false), Some(sub_body), &sub_name),
                "patch": operation("patch", id("patch", &suffix), format!("partially update {sub} of the specified {kind}"), &sub_gvk, write_parameters(true), Some(patch_body.clone()), &sub_name),
                "parameters": sub_params,
            }),
        );
    }
}

/// Adds to `out` every schema `value` refers to, from `pool`, transitively.
fn add_referenced(value: &Value, pool: &Map<String, Value>, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix(V3_REFS)
                && !out.contains_key(name)
                && let Some(schema) = pool.get(name)
            {
                out.insert(name.to_string(), schema.clone());
                add_referenced(schema, pool, out);
            }
            for v in map.values() {
                add_referenced(v, pool, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                add_referenced(v, pool, out);
            }
        }
        _ => {}
    }
}

/// The v3 document of one group/version, or `None` if it serves nothing.
fn group_version_document(cluster: &Cluster, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = served(cluster, group, version).collect();
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut own = Map::new();
    for t in types {
        let Some(name) = schema_name(t, version) else {
            continue;
        };
        if t.custom {
            own.insert(name.clone(), custom_schema(cluster, t, version));
            let meta = <meta::v1::ListMeta as JsonSchema>::schema_name();
            own.insert(
                format!("{name}List"),
                list_schema(&name, &t.group, version, &t.kind, &meta),
            );
        }
        kind_paths(&mut paths, t, version, &name);
    }
    let paths = Value::Object(paths);
    let mut schemas = own.clone();
    let pool = builtin_schemas();
    add_referenced(&paths, pool, &mut schemas);
    add_referenced(&Value::Object(own), pool, &mut schemas);
    schemas.sort_keys();
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": cluster.settings.server_version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    }))
}

fn served<'a>(
    cluster: &'a Cluster,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a ResourceType> + 'a {
    cluster
        .registry
        .all()
        .iter()
        .filter(move |t| t.group == group && t.versions.iter().any(|v| v == version))
}

/// What a document depends on: the types served at a group/version and their CRDs'
/// resource versions. Equal fingerprints give equal documents.
fn fingerprint(cluster: &Cluster, group: &str, version: &str) -> u64 {
    let mut h = DefaultHasher::new();
    for t in served(cluster, group, version) {
        format!("{t:?}").hash(&mut h);
        if t.custom
            && let Some(crd) = cluster.store.get(
                "customresourcedefinitions.apiextensions.k8s.io",
                "",
                &t.key(),
            )
        {
            crd.head()
                .pointer("/metadata/resourceVersion")
                .map(Value::to_string)
                .hash(&mut h);
        }
    }
    cluster.settings.server_version.hash(&mut h);
    h.finish()
}

/// One built document: its bytes and the hash clients cache it by.
#[derive(Clone)]
struct Built {
    fingerprint: u64,
    body: Bytes,
    hash: String,
}

/// The documents built so far, rebuilt only when what they describe changes.
#[derive(Default)]
pub struct Documents {
    v3: HashMap<(String, String), Built>,
    /// The v2 document as JSON and as protobuf.
    v2: Option<(Built, Built)>,
}

fn content_hash(body: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    let first = h.finish();
    first.hash(&mut h);
    format!("{first:016X}{:016X}", h.finish())
}

/// Every group/version served: `("", "v1")` first, then each group's versions.
fn group_versions(cluster: &Cluster) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "v1".to_string())];
    for (g, vs) in cluster.registry.groups() {
        for v in vs {
            out.push((g.clone(), v));
        }
    }
    out
}

impl Documents {
    fn v3(&mut self, cluster: &Cluster, group: &str, version: &str) -> Option<Built> {
        let fp = fingerprint(cluster, group, version);
        let key = (group.to_string(), version.to_string());
        if let Some(b) = self.v3.get(&key)
            && b.fingerprint == fp
        {
            return Some(b.clone());
        }
        let doc = group_version_document(cluster, group, version)?;
        let body = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
        let built = Built {
            fingerprint: fp,
            hash: content_hash(&body),
            body,
        };
        self.v3.insert(key, built.clone());
        Some(built)
    }

    fn v2(&mut self, cluster: &Cluster) -> (Built, Built) {
        let gvs = group_versions(cluster);
        let mut h = DefaultHasher::new();
        for (g, v) in &gvs {
            fingerprint(cluster, g, v).hash(&mut h);
        }
        let fp = h.finish();
        if let Some(b) = &self.v2
            && b.0.fingerprint == fp
        {
            return b.clone();
        }
        let mut paths = Map::new();
        let mut definitions = Map::new();
        for (g, v) in &gvs {
            let Some(doc) = group_version_document(cluster, g, v) else {
                continue;
            };
            if let Some(p) = doc["paths"].as_object() {
                for (path, item) in p {
                    paths.insert(path.clone(), v2_path_item(item));
                }
            }
            if let Some(s) = doc
                .pointer("/components/schemas")
                .and_then(Value::as_object)
            {
                for (name, schema) in s {
                    definitions.insert(name.clone(), schema.clone());
                }
            }
        }
        definitions.sort_keys();
        let mut doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": cluster.settings.server_version},
            "paths": paths,
            "definitions": definitions,
            "securityDefinitions": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}],
        });
        to_v2_refs(&mut doc);
        let built = |body: Bytes| Built {
            fingerprint: fp,
            hash: content_hash(&body),
            body,
        };
        let both = (
            built(Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())),
            built(Bytes::from(protobuf::encode(&doc))),
        );
        self.v2 = Some(both.clone());
        both
    }
}

/// A v3 path item in v2's shape: parameters typed in place, one body parameter, the
/// response schema directly under the code, media types listed apart.
fn v2_path_item(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(item) = item.as_object() else {
        return Value::Object(out);
    };
    for (method, op) in item {
        if method == "parameters" {
            out.insert(method.clone(), v2_parameters(op));
            continue;
        }
        let mut op2 = op.clone();
        op2["parameters"] = v2_parameters(&op["parameters"]);
        if let Some(body) = op.get("requestBody") {
            let consumes: Vec<&String> = body["content"]
                .as_object()
                .map(|c| c.keys().collect())
                .unwrap_or_default();
            let schema = body["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|c| c["schema"].clone())
                .unwrap_or(json!({"type": "object"}));
            if let Some(params) = op2["parameters"].as_array_mut() {
                params.insert(
                    0,
                    json!({"name": "body", "in": "body", "required": true, "schema": schema}),
                );
            }
            op2["consumes"] = json!(consumes);
            if let Some(o) = op2.as_object_mut() {
                o.remove("requestBody");
            }
        }
        op2["produces"] = json!([
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf"
        ]);
        op2["schemes"] = json!(["https"]);
        if let Some(responses) = op2["responses"].as_object_mut() {
            for r in responses.values_mut() {
                if let Some(schema) = r.pointer("/content/application~1json/schema").cloned() {
                    r["schema"] = schema;
                }
                if let Some(o) = r.as_object_mut() {
                    o.remove("content");
                }
            }
        }
        out.insert(method.clone(), op2);
    }
    Value::Object(out)
}

fn v2_parameters(params: &Value) -> Value {
    let list: Vec<Value> = params
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let mut p = p.clone();
                    if let Some(ty) = p.pointer("/schema/type").cloned() {
                        p["type"] = ty;
                        p["uniqueItems"] = json!(true);
                        if let Some(o) = p.as_object_mut() {
                            o.remove("schema");
                        }
                    }
                    p
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(list)
}

/// v3 references → v2's, and a described reference (`allOf` of one `$ref` in v3) back to
/// a `$ref` with siblings, as Swagger 2.0 documents write it.
fn to_v2_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(all)) = map.get("allOf")
                && let [only] = all.as_slice()
                && let Some(r) = only.get("$ref").cloned()
            {
                map.shift_remove("allOf");
                map.insert("$ref".into(), r);
            }
            for (k, child) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = child
                    && let Some(name) = r.strip_prefix(V3_REFS)
                {
                    *r = format!("{V2_REFS}{name}");
                } else {
                    to_v2_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_v2_refs),
        _ => {}
    }
}

/// A document to send: its bytes, their media type, and the hash it is cached by.
pub struct Answer {
    pub body: Bytes,
    pub content_type: &'static str,
    pub etag: String,
}

impl Answer {
    fn json(b: Built) -> Self {
        Self {
            body: b.body,
            content_type: "application/json",
            etag: b.hash,
        }
    }
}

/// The OpenAPI paths: `/openapi/v2`, `/openapi/v3` and `/openapi/v3/{api/v1|apis/G/V}`.
/// `None` for any other path.
pub fn document(
    cluster: &mut Cluster,
    path: &str,
    accept: &str,
) -> Option<Result<Answer, ApiError>> {
    let path = path.trim_end_matches('/');
    let rest = path.strip_prefix("/openapi/")?;
    let mut docs = std::mem::take(&mut cluster.openapi);
    let answer = match rest {
        "v2" => Some(if accepts_json(accept) {
            Ok(Answer::json(docs.v2(cluster).0))
        } else if accept.contains(V2_PROTOBUF) || accept.contains(V2_PROTOBUF_SENT) {
            let b = docs.v2(cluster).1;
            Ok(Answer {
                body: b.body,
                content_type: V2_PROTOBUF_SENT,
                etag: b.hash,
            })
        } else {
            Err(ApiError::new(
                406,
                "NotAcceptable",
                format!(
                    "only the following media types are accepted: application/json, {V2_PROTOBUF}"
                ),
            ))
        }),
        "v3" => Some(Ok(index(&mut docs, cluster))),
        _ => {
            let gv = rest.strip_prefix("v3/")?;
            let (group, version) = match gv.split('/').collect::<Vec<_>>().as_slice() {
                ["api", v] => (String::new(), v.to_string()),
                ["apis", g, v] => (g.to_string(), v.to_string()),
                _ => return restore(cluster, docs, Some(Err(ApiError::not_found_path()))),
            };
            Some(
                docs.v3(cluster, &group, &version)
                    .map(Answer::json)
                    .ok_or_else(ApiError::not_found_path),
            )
        }
    };
    restore(cluster, docs, answer)
}

fn restore(
    cluster: &mut Cluster,
    docs: Documents,
    answer: Option<Result<Answer, ApiError>>,
) -> Option<Result<Answer, ApiError>> {
    cluster.openapi = docs;
    answer
}

fn accepts_json(accept: &str) -> bool {
    accept.is_empty()
        || accept
            .split(',')
            .map(|a| a.split(';').next().unwrap_or("").trim())
            .any(|a| matches!(a, "application/json" | "*/*" | "application/*"))
}

/// `/openapi/v3`: each group/version and where its document is, by content hash.
fn index(docs: &mut Documents, cluster: &Cluster) -> Answer {
    let mut paths = Map::new();
    for (g, v) in group_versions(cluster) {
        let Some(b) = docs.v3(cluster, &g, &v) else {
            continue;
        };
        let key = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", b.hash)}),
        );
    }
    let body = Bytes::from(serde_json::to_vec(&json!({"paths": paths})).unwrap_or_default());
    Answer {
        etag: content_hash(&body),
        content_type: "application/json",
        body,
    }
}

/// The schema a reference or a single-item `allOf` stands for.
fn resolve<'a>(schema: &'a Value, pool: &'a Map<String, Value>) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        if let Some(name) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(V3_REFS))
            && let Some(target) = pool.get(name)
        {
            s = target;
        } else if let Some(Value::Array(all)) = s.get("allOf")
            && let [only] = all.as_slice()
        {
            s = only;
        } else {
            break;
        }
    }
    s
}

/// The fields of `obj` its schema does not declare, as paths (`spec.foo`,
/// `spec.containers[0].bar`), in document order; with `drop`, also removes them.
fn unknown_fields(
    schema: &Value,
    pool: &Map<String, Value>,
    obj: &mut Value,
    at: &str,
    drop: bool,
    out: &mut Vec<String>,
) {
    let schema = resolve(schema, pool);
    match obj {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let open = schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true)
                || schema.get("additionalProperties") == Some(&Value::Bool(true));
            let mut unknown = Vec::new();
            for (key, value) in fields.iter_mut() {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(s), _) | (None, Some(s)) => {
                        unknown_fields(s, pool, value, &path, drop, out);
                    }
                    (None, None) if properties.is_some() && !open => {
                        out.push(path);
                        unknown.push(key.clone());
                    }
                    (None, None) => {}
                }
            }
            if drop {
                for key in unknown {
                    fields.shift_remove(&key);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    let path = format!("{at}[{i}]");
                    unknown_fields(item_schema, pool, item, &path, drop, out);
                }
            }
        }
        _ => {}
    }
}

/// What `fieldValidation` asks of a write.
pub fn strict(query: &HashMap<String, String>) -> bool {
    query.get("fieldValidation").map(String::as_str) == Some("Strict")
}

/// Decodes a create, an update or a patched object as a real server does: fields its kind
/// does not declare are refused under `fieldValidation=Strict`, dropped with a warning each
/// under `Warn` (the default) and dropped silently under `Ignore`. Returns the warnings.
pub fn decode_fields(
    cluster: &Cluster,
    t: &ResourceType,
    version: &str,
    obj: &mut Value,
    query: &HashMap<String, String>,
) -> Result<Vec<String>, ApiError> {
    let mode = query
        .get("fieldValidation")
        .map(String::as_str)
        .unwrap_or("Warn");
    let strict = mode == "Strict";
    let found = fields_not_declared(cluster, t, version, obj, !strict);
    let unknown: Vec<String> = found
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match mode {
        _ if unknown.is_empty() => Ok(Vec::new()),
        "Strict" => Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            unknown.join(", "),
            kind = t.kind,
        ))),
        "Ignore" => Ok(Vec::new()),
        _ => Ok(unknown),
    }
}

/// Refuses a server-side apply configuration with fields its kind does not declare, in the
/// words of a real server's typed patch.
pub fn check_applied_fields(
    cluster: &Cluster,
    t: &ResourceType,
    version: &str,
    namespace: &str,
    name: &str,
    applied: &Value,
) -> Result<(), ApiError> {
    let mut applied = applied.clone();
    let found = fields_not_declared(cluster, t, version, &mut applied, false);
    let Some(first) = found.first() else {
        return Ok(());
    };
    Err(ApiError::bad_request(format!(
        "failed to create typed patch object ({namespace}/{name}; {}, Kind={}): .{first}: field not declared in schema",
        t.api_version(version),
        t.kind,
    )))
}

fn fields_not_declared(
    cluster: &Cluster,
    t: &ResourceType,
    version: &str,
    obj: &mut Value,
    drop: bool,
) -> Vec<String> {
    let mut found = Vec::new();
    if t.custom {
        let schema = custom_schema(cluster, t, version);
        unknown_fields(&schema, builtin_schemas(), obj, "", drop, &mut found);
    } else if let Some(name) = builtin_name(&t.group, version, &t.kind)
        && let Some(schema) = builtin_schemas().get(&name)
    {
        unknown_fields(schema, builtin_schemas(), obj, "", drop, &mut found);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_kinds_carry_real_names_descriptions_and_their_kind() {
        let schemas = builtin_schemas();
        let pod = &schemas["io.k8s.api.core.v1.Pod"];
        assert!(
            pod["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Pod is a collection of containers"))
        );
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        // A described reference is wrapped in allOf, as a real server publishes it.
        assert_eq!(
            pod.pointer("/properties/spec/allOf/0/$ref"),
            Some(&json!("#/components/schemas/io.k8s.api.core.v1.PodSpec"))
        );
        assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentList"));
        for b in BUILTINS {
            assert!(
                builtin_name(b.group, b.version, b.kind).is_some(),
                "{} has no schema",
                b.kind
            );
        }
    }

    #[test]
    fn custom_names_reverse_the_group() {
        assert_eq!(
            custom_name("install.istio.io", "v1alpha1", "IstioOperator"),
            "io.istio.install.v1alpha1.IstioOperator"
        );
        assert_eq!(group_word("networking.istio.io"), "NetworkingIstioIo");
        assert_eq!(
            group_word("admissionregistration.k8s.io"),
            "Admissionregistration"
        );
        assert_eq!(group_word(""), "Core");
    }

    #[test]
    fn unknown_fields_are_found_at_their_paths() {
        let pool = builtin_schemas();
        let deployment = &pool["io.k8s.api.apps.v1.Deployment"];
        let mut obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "labels": {"x": "y"}, "colour": "red"},
            "spec": {"replicas": 1, "foo": 2, "template": {"spec": {"containers": [
                {"name": "c", "image": "i"}, {"name": "d", "image": "i", "bar": true}
            ]}}},
        });
        let mut found = vec![];
        unknown_fields(deployment, pool, &mut obj, "", false, &mut found);
        let paths = [
            "metadata.colour",
            "spec.foo",
            "spec.template.spec.containers[1].bar",
        ];
        assert_eq!(found, paths);
        // Dropped, they are gone and everything else stays.
        let mut dropped = vec![];
        unknown_fields(deployment, pool, &mut obj, "", true, &mut dropped);
        assert_eq!(dropped, paths);
        let mut again = vec![];
        unknown_fields(deployment, pool, &mut obj, "", false, &mut again);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["metadata"]["labels"], json!({"x": "y"}));
        let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"spec": {"type": "object"}}});
        let mut none = vec![];
        let mut kept = json!({"spec": {"a": 1}, "b": 2});
        unknown_fields(&open, pool, &mut kept, "", true, &mut none);
        assert!(none.is_empty(), "{none:?}");
        assert_eq!(kept, json!({"spec": {"a": 1}, "b": 2}));
    }
}
