//! The v2 document as protobuf (`openapi.v2.Document` of the gnostic schema), the only form
//! of v2 kubectl asks for. It carries the definitions with their extensions, which is what
//! kubectl reads from v2 (`explain --output plaintext-openapiv2`); the paths are in the JSON
//! form only.

use prost::Message;
use serde_json::Value;

#[derive(Clone, PartialEq, Message)]
struct Document {
    #[prost(string, tag = "1")]
    swagger: String,
    #[prost(message, optional, tag = "2")]
    info: Option<Info>,
    #[prost(message, optional, tag = "9")]
    definitions: Option<Definitions>,
}

#[derive(Clone, PartialEq, Message)]
struct Info {
    #[prost(string, tag = "1")]
    title: String,
    #[prost(string, tag = "2")]
    version: String,
}

#[derive(Clone, PartialEq, Message)]
struct Definitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedSchema {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Schema>,
}

/// A value as gnostic keeps it: its YAML text.
#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "2")]
    yaml: String,
}

#[derive(Clone, PartialEq, Message)]
struct NamedAny {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Any>,
}

/// A oneof on the wire: at most one of the two is set.
#[derive(Clone, PartialEq, Message)]
struct AdditionalPropertiesItem {
    #[prost(message, optional, boxed, tag = "1")]
    schema: Option<Box<Schema>>,
    #[prost(bool, optional, tag = "2")]
    boolean: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    schema: Vec<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Properties {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct Schema {
    #[prost(string, tag = "1")]
    reference: String,
    #[prost(string, tag = "2")]
    format: String,
    #[prost(string, tag = "3")]
    title: String,
    #[prost(string, tag = "4")]
    description: String,
    #[prost(message, optional, tag = "5")]
    default: Option<Any>,
    #[prost(string, repeated, tag = "19")]
    required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    enumeration: Vec<Any>,
    #[prost(message, optional, boxed, tag = "21")]
    additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    type_: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    properties: Option<Properties>,
    #[prost(message, repeated, tag = "31")]
    vendor_extension: Vec<NamedAny>,
}

fn yaml(v: &Value) -> Any {
    Any {
        yaml: serde_yaml::to_string(v).unwrap_or_default(),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn schema(v: &Value) -> Schema {
    let named = |key: &str| -> Vec<NamedSchema> {
        v.get(key)
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, s)| NamedSchema {
                        name: name.clone(),
                        value: Some(schema(s)),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let properties = named("properties");
    Schema {
        reference: text(v, "$ref"),
        format: text(v, "format"),
        title: text(v, "title"),
        description: text(v, "description"),
        default: v.get("default").map(yaml),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        enumeration: v
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().map(yaml).collect())
            .unwrap_or_default(),
        additional_properties: match v.get("additionalProperties") {
            Some(Value::Bool(b)) => Some(Box::new(AdditionalPropertiesItem {
                schema: None,
                boolean: Some(*b),
            })),
            Some(s @ Value::Object(_)) => Some(Box::new(AdditionalPropertiesItem {
                schema: Some(Box::new(schema(s))),
                boolean: None,
            })),
            _ => None,
        },
        type_: v.get("type").and_then(Value::as_str).map(|t| TypeItem {
            value: vec![t.to_string()],
        }),
        items: v.get("items").map(|i| ItemsItem {
            schema: vec![schema(i)],
        }),
        all_of: v
            .get("allOf")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(schema).collect())
            .unwrap_or_default(),
        properties: (!properties.is_empty()).then_some(Properties {
            additional_properties: properties,
        }),
        vendor_extension: v
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| k.starts_with("x-"))
                    .map(|(k, x)| NamedAny {
                        name: k.clone(),
                        value: Some(yaml(x)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The JSON v2 document's definitions, encoded.
pub fn encode(v2: &Value) -> Vec<u8> {
    let definitions = v2
        .get("definitions")
        .and_then(Value::as_object)
        .map(|defs| {
            defs.iter()
                .map(|(name, s)| NamedSchema {
                    name: name.clone(),
                    value: Some(schema(s)),
                })
                .collect()
        })
        .unwrap_or_default();
    Document {
        swagger: text(v2, "swagger"),
        info: Some(Info {
            title: v2
                .pointer("/info/title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            version: v2
                .pointer("/info/version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }),
        definitions: Some(Definitions {
            additional_properties: definitions,
        }),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definitions_keep_references_types_and_extensions() {
        let v2 = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "definitions": {
                "io.k8s.api.apps.v1.Deployment": {
                    "description": "Deployment enables declarative updates.",
                    "type": "object",
                    "properties": {
                        "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec", "description": "desired"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["spec"],
                    "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
                },
            },
        });
        let doc = Document::decode(encode(&v2).as_slice()).expect("decodes");
        assert_eq!(doc.swagger, "2.0");
        let defs = doc.definitions.expect("definitions").additional_properties;
        let deployment = defs[0].value.as_ref().expect("schema");
        assert_eq!(defs[0].name, "io.k8s.api.apps.v1.Deployment");
        assert_eq!(deployment.required, ["spec"]);
        let props = &deployment
            .properties
            .as_ref()
            .expect("properties")
            .additional_properties;
        let spec = props[0].value.as_ref().expect("spec");
        assert_eq!(
            (spec.reference.as_str(), spec.description.as_str()),
            ("#/definitions/io.k8s.api.apps.v1.DeploymentSpec", "desired")
        );
        let labels = props[1].value.as_ref().expect("labels");
        let values = labels
            .additional_properties
            .as_ref()
            .and_then(|a| a.schema.as_ref());
        assert_eq!(
            values
                .and_then(|s| s.type_.as_ref())
                .map(|t| t.value.clone()),
            Some(vec!["string".to_string()])
        );
        let gvk = &deployment.vendor_extension[0];
        assert_eq!(gvk.name, "x-kubernetes-group-version-kind");
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&gvk.value.as_ref().expect("value").yaml).expect("yaml");
        assert_eq!(yaml[0]["kind"], serde_yaml::Value::from("Deployment"));
    }
}
