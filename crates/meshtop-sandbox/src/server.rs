//! The HTTP side of the sandbox API server: authentication, routing of Kubernetes paths,
//! verbs, list paging, watches, and `kind: Status` errors.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::api::{self, WriteOptions};
use super::error::ApiError;
use super::resources::ResourceType;
use super::selector::{FieldSelector, LabelSelector};
use super::store::{EventType, Stored, WatchEvent, meta_str, resource_name};
use super::{
    Cluster, Shared, auth, controllers, discovery, istiod, logs, openapi, patch, protobuf, scale,
    table,
};

pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted (a real server allows 3 MiB objects).
const MAX_BODY: usize = 3 * 1024 * 1024;

pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        // As Go's API servers do: a response's last small write leaves at once rather than
        // waiting, by Nagle's algorithm, for the client's delayed ACK (some 40 ms a response).
        // A socket that refuses the option still serves, only slower.
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop.clone();
        let stop_conn = stop.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A client that fails the handshake (e.g. plain HTTP) is simply dropped.
            let Ok(stream) = tls.accept(stream).await else {
                return;
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let stop = stop.clone();
                async move { Ok::<_, Infallible>(handle(shared, req, stop).await) }
            });
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let mut conn_stop = stop_conn;
            // A stopped sandbox drops its open connections too, as a server that went away
            // would: keep-alive clients and watches see the connection end.
            tokio::select! {
                _ = builder.serve_connection_with_upgrades(io, service) => {}
                _ = conn_stop.wait_for(|stopped| *stopped) => {}
            }
        });
    }
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|e| match e {}).boxed()
}

/// A body streaming what arrives on `rx` until its sender is dropped.
pub fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    BodyExt::boxed(StreamBody::new(stream))
}

pub fn json_response<T: serde::Serialize + ?Sized>(code: u16, value: &T) -> hyper::Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    hyper::Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(full(body))
        .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new())))
}

fn openapi_response(doc: openapi::Answer) -> hyper::Response<Body> {
    hyper::Response::builder()
        .header(header::CONTENT_TYPE, doc.content_type)
        .header(header::ETAG, format!("\"{}\"", doc.etag))
        .header(header::VARY, "Accept")
        .body(full(doc.body))
        .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new())))
}

/// Adds a `Warning: 299 - "…"` header per warning, as a real server reports what it dropped.
fn with_warnings(
    mut response: hyper::Response<Body>,
    warnings: &[String],
) -> hyper::Response<Body> {
    for w in warnings {
        let quoted = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = http::HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

pub fn error_response(e: &ApiError) -> hyper::Response<Body> {
    json_response(e.code, &e.to_status())
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq)]
enum User {
    Admin,
    Restricted,
}

fn authenticate(shared: &Shared, req: &hyper::Request<Incoming>) -> Option<User> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    // The scheme is matched without regard to case, as kube-apiserver does.
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    if token == shared.admin_token {
        Some(User::Admin)
    } else if token == shared.restricted_token {
        Some(User::Restricted)
    } else {
        None
    }
}

/// A resource path, split: `/api/v1/namespaces/{ns}/{plural}/{name}/{sub}/{rest}`.
#[derive(Debug, Clone, Default)]
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    sub: Option<String>,
    rest: String,
}

fn parse_target(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let mut t = Target {
        group: group.into(),
        version: version.into(),
        ..Default::default()
    };
    let rest: Vec<&str> = rest.to_vec();
    let tail: &[&str] = match rest.as_slice() {
        [] => return Some(t),
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            t.namespace = Some((*ns).into());
            t.plural = (*plural).into();
            tail
        }
        [plural, tail @ ..] => {
            t.plural = (*plural).into();
            tail
        }
    };
    if let [name, more @ ..] = tail {
        t.name = Some((*name).into());
        if let [sub, extra @ ..] = more {
            t.sub = Some((*sub).into());
            t.rest = extra.join("/");
        }
    }
    Some(t)
}

fn query_map(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn wants_table(req: &hyper::Request<Incoming>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|part| part.contains("as=Table")))
}

async fn read_body(
    req: hyper::Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::new(413, "RequestEntityTooLarge", format!("request body: {e}")))?
        .to_bytes();
    Ok((parts, bytes))
}

fn parse_object(bytes: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type.starts_with(protobuf::CONTENT_TYPE) {
        protobuf::decode(bytes)
    } else if content_type.contains("yaml") {
        let text = std::str::from_utf8(bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let y: serde_yaml::Value = serde_yaml::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        serde_json::to_value(y).map_err(|e| ApiError::bad_request(e.to_string()))
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    stop: watch::Receiver<bool>,
) -> hyper::Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    tracing::debug!(method = %req.method(), %path, %query, "request");
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return hyper::Response::new(full("ok"));
    }
    let Some(user) = authenticate(&shared, &req) else {
        return error_response(&ApiError::unauthorized());
    };
    match route(shared, req, user, &path, &query, stop).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn route(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    user: User,
    path: &str,
    query: &str,
    stop: watch::Receiver<bool>,
) -> Result<hyper::Response<Body>, ApiError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(answer) = openapi::document(&mut shared.lock(), path, accept) {
        return answer.map(openapi_response);
    }
    if let Some(doc) = discovery::document(&shared.lock(), path) {
        return Ok(json_response(200, &doc));
    }
    let target = parse_target(path).ok_or_else(ApiError::not_found_path)?;
    if target.group == "authorization.k8s.io"
        && target.version == "v1"
        && target.namespace.is_none()
        && target.name.is_none()
        && matches!(
            target.plural.as_str(),
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
        )
    {
        if req.method() != Method::POST {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let (parts, bytes) = read_body(req).await?;
        let review = parse_object(&bytes, &content_type(&parts))?;
        let cluster = shared.lock();
        let restricted = user == User::Restricted;
        let answer = if target.plural == "selfsubjectaccessreviews" {
            auth::access_review(&cluster, restricted, review)
        } else {
            auth::rules_review(&cluster, restricted, review)
        };
        return Ok(json_response(201, &answer));
    }
    let t = {
        let cluster = shared.lock();
        if target.plural.is_empty() {
            return discovery::resource_list(&cluster.registry, &target.group, &target.version)
                .map(|doc| json_response(200, &doc))
                .ok_or_else(ApiError::not_found_path);
        }
        // `/api/v1/namespaces/{name}` names a namespace, not a namespaced collection.
        cluster
            .registry
            .by_plural(&target.group, &target.version, &target.plural)
            .cloned()
    }
    .ok_or_else(ApiError::not_found_path)?;
    if target.namespace.is_some() && !t.namespaced {
        return Err(ApiError::not_found_path());
    }
    if let Some(sub) = &target.sub
        && !t.has_subresource(sub)
    {
        return Err(ApiError::not_found_path());
    }
    let q = query_map(query);
    let method = req.method().clone();
    let verb = match (&method, &target.name, q.get("watch").map(String::as_str)) {
        (&Method::GET, None, Some("true" | "1")) => "watch",
        (&Method::GET, None, _) => "list",
        (&Method::GET, Some(_), _) => "get",
        (&Method::POST, _, _) => "create",
        (&Method::PUT, _, _) => "update",
        (&Method::PATCH, _, _) => "patch",
        (&Method::DELETE, None, _) => "deletecollection",
        (&Method::DELETE, Some(_), _) => "delete",
        _ => {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
    };
    // Streaming subresources are opened with a GET (WebSocket) but authorized as `create`,
    // as Kubernetes 1.30+ does.
    let verb = if matches!(
        target.sub.as_deref(),
        Some("portforward" | "exec" | "attach")
    ) {
        "create"
    } else {
        verb
    };
    if user == User::Restricted {
        authorize(&shared.lock(), &t, &target, verb)?;
    }
    let ns = target.namespace.clone().unwrap_or_default();
    match (target.sub.as_deref(), target.name.clone()) {
        (Some("proxy"), Some(name)) if t.kind == "Pod" => {
            let (pod, port) = match name.split_once(':') {
                Some((p, port)) => (
                    p.to_string(),
                    port.parse::<u16>()
                        .map_err(|_| ApiError::bad_request(format!("invalid port {port:?}")))?,
                ),
                None => (name.clone(), 80),
            };
            let r = istiod::pod_proxy(&mut shared.lock(), &ns, &pod, port, &target.rest, query)?;
            Ok(hyper::Response::builder()
                .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK))
                .header(header::CONTENT_TYPE, r.content_type)
                .body(full(r.body))
                .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new()))))
        }
        (Some("portforward"), Some(name)) if t.kind == "Pod" => {
            if shared.lock().store.get("pods", &ns, &name).is_none() {
                return Err(ApiError::not_found("pods", &name));
            }
            Ok(istiod::portforward::handle(shared.clone(), ns, name, query.to_string(), req).await)
        }
        (Some("eviction"), Some(name)) if t.kind == "Pod" => {
            if method != Method::POST {
                return Err(ApiError::method_not_allowed("eviction only accepts POST"));
            }
            let (parts, bytes) = read_body(req).await?;
            let ct = content_type(&parts);
            let body = if bytes.is_empty() {
                json!({})
            } else {
                parse_object(&bytes, &ct)?
            };
            let dry_run = is_dry_run(&q)
                || body
                    .pointer("/deleteOptions/dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "All"));
            let mut cluster = shared.lock();
            controllers::evict(&mut cluster, &ns, &name, dry_run, Timestamp::now())?;
            if !dry_run {
                shared.reconcile(&mut cluster);
            }
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Some("log"), Some(name)) if t.kind == "Pod" && method == Method::GET => {
            logs::handle(shared, &ns, &name, &q, stop)
        }
        (Some("token"), Some(name)) if t.kind == "ServiceAccount" => {
            if method != Method::POST {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let (parts, bytes) = read_body(req).await?;
            let body = if bytes.is_empty() {
                json!({})
            } else {
                parse_object(&bytes, &content_type(&parts))?
            };
            let cluster = shared.lock();
            let sa = cluster
                .store
                .get(&t.key(), &ns, &name)
                .ok_or_else(|| ApiError::not_found(&resource_name(&t), &name))?;
            Ok(json_response(
                201,
                &auth::token_request(sa.head(), body, Timestamp::now()),
            ))
        }
        (Some("scale"), Some(name)) => {
            let now = Timestamp::now();
            if method == Method::GET {
                let cluster = shared.lock();
                let obj = cluster
                    .store
                    .get(&t.key(), &ns, &name)
                    .ok_or_else(|| ApiError::not_found(&resource_name(&t), &name))?;
                return Ok(json_response(200, &scale::view(obj.head())));
            }
            let (parts, bytes) = read_body(req).await?;
            let ct = content_type(&parts);
            let change = match method {
                Method::PUT => scale::Change::Replace(parse_object(&bytes, &ct)?),
                Method::PATCH => scale::Change::Patch(
                    &ct,
                    serde_json::from_slice(&bytes)
                        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
                ),
                _ => {
                    return Err(ApiError::method_not_allowed(
                        "the server does not allow this method on the requested resource",
                    ));
                }
            };
            let mut cluster = shared.lock();
            let answer = scale::write(&mut cluster, &t, &ns, &name, change, &q, now)?;
            if !is_dry_run(&q) {
                shared.reconcile(&mut cluster);
            }
            Ok(json_response(200, &answer))
        }
        (Some("status") | None, _) => crud(shared, req, &t, &target, verb, &q, stop).await,
        _ => Err(ApiError::not_found_path()),
    }
}

fn content_type(parts: &http::request::Parts) -> String {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

fn is_dry_run(q: &HashMap<String, String>) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

fn authorize(
    cluster: &Cluster,
    t: &ResourceType,
    target: &Target,
    verb: &str,
) -> Result<(), ApiError> {
    let resource = match &target.sub {
        Some(sub) => format!("{}/{sub}", t.plural),
        None => t.plural.clone(),
    };
    let denied = auth::denied(cluster, verb, &resource, target.namespace.as_deref());
    if !denied {
        return Ok(());
    }
    let who = match &target.name {
        Some(n) => format!("{} \"{n}\"", t.key()),
        None => t.key(),
    };
    let scope = match &target.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut details = json!({"kind": t.plural});
    if let Some(n) = &target.name {
        details["name"] = json!(n);
    }
    if !t.group.is_empty() {
        details["group"] = json!(t.group);
    }
    Err(ApiError::new(
        403,
        "Forbidden",
        format!(
            "{who} is forbidden: User \"meshtop-sandbox-restricted\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
            t.group
        ),
    )
    .with_details(details))
}

/// An object as served at `version`: custom resources are stored once and shown at the
/// version asked for.
fn at_version(t: &ResourceType, obj: &Arc<Stored>, version: &str) -> Arc<Stored> {
    if !t.custom {
        return obj.clone();
    }
    Arc::new(obj.at_api_version(&t.api_version(version)))
}

async fn crud(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    t: &ResourceType,
    target: &Target,
    verb: &str,
    q: &HashMap<String, String>,
    stop: watch::Receiver<bool>,
) -> Result<hyper::Response<Body>, ApiError> {
    let ns = target.namespace.clone().unwrap_or_default();
    let table = wants_table(&req);
    let now = Timestamp::now();
    match verb {
        "list" => {
            let page = list(&mut shared.lock(), t, target, q)?;
            if !table {
                return Ok(streamed_list(t, target, page));
            }
            // Rows are computed from the page's objects alone, without the store's lock.
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| table::source(t, &at_version(t, o, &target.version), q))
                .collect();
            let rv = page.meta["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let mut doc = table::render(t, &target.version, &items, &rv, q, now, true);
            if let Some(m) = doc.get_mut("metadata") {
                *m = page.meta;
            }
            Ok(json_response(200, &doc))
        }
        "watch" => watch_response(
            shared.clone(),
            t.clone(),
            target.clone(),
            q.clone(),
            table,
            stop,
        ),
        "get" => {
            let name = target.name.clone().unwrap_or_default();
            let cluster = shared.lock();
            let obj = cluster
                .store
                .get(&t.key(), &ns, &name)
                .ok_or_else(|| ApiError::not_found(&resource_name(t), &name))?;
            let obj = at_version(t, obj, &target.version);
            if table {
                let rv = meta_str(obj.head(), "resourceVersion").to_string();
                return Ok(json_response(
                    200,
                    &table::render(
                        t,
                        &target.version,
                        &[table::source(t, &obj, q)],
                        &rv,
                        q,
                        now,
                        true,
                    ),
                ));
            }
            Ok(json_response(200, &obj))
        }
        "create" => {
            let (parts, bytes) = read_body(req).await?;
            let mut obj = parse_object(&bytes, &content_type(&parts))?;
            if t.namespaced {
                match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
                    None | Some("") => obj["metadata"]["namespace"] = json!(ns),
                    Some(body_ns) if body_ns != ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    Some(_) => {}
                }
            }
            let manager = field_manager(q, &parts, "Update");
            let mut cluster = shared.lock();
            let warnings = openapi::decode_fields(&cluster, t, &target.version, &mut obj, q)?;
            patch::record_update(None, &mut obj, &manager, "Update", now);
            let created = api::create(
                &mut cluster,
                t,
                obj,
                now,
                &WriteOptions::client(is_dry_run(q)),
            )?;
            if !is_dry_run(q) {
                shared.reconcile(&mut cluster);
            }
            Ok(with_warnings(
                json_response(201, &at_version(t, &created, &target.version)),
                &warnings,
            ))
        }
        "update" => {
            let name = target.name.clone().unwrap_or_default();
            let (parts, bytes) = read_body(req).await?;
            let mut obj = parse_object(&bytes, &content_type(&parts))?;
            if meta_str(&obj, "name") != name {
                return Err(ApiError::bad_request(
                    "the name of the object does not match the name on the URL",
                ));
            }
            if t.namespaced {
                obj["metadata"]["namespace"] = json!(ns);
            }
            let mut cluster = shared.lock();
            let warnings = openapi::decode_fields(&cluster, t, &target.version, &mut obj, q)?;
            let old = cluster.store.get(&t.key(), &ns, &name).cloned();
            let manager = field_manager(q, &parts, "Update");
            let old = old.map(|o| o.full());
            patch::record_update(old.as_ref(), &mut obj, &manager, "Update", now);
            let updated = api::update(
                &mut cluster,
                t,
                obj,
                target.sub.as_deref(),
                &WriteOptions::client(is_dry_run(q)),
            )?;
            if !is_dry_run(q) {
                shared.reconcile(&mut cluster);
            }
            Ok(with_warnings(
                json_response(200, &at_version(t, &updated, &target.version)),
                &warnings,
            ))
        }
        "patch" => {
            let name = target.name.clone().unwrap_or_default();
            let (parts, bytes) = read_body(req).await?;
            let ct = content_type(&parts);
            let dry_run = is_dry_run(q);
            let mut cluster = shared.lock();
            // Whole, managed fields included: patches and field ownership read them.
            let old = cluster.store.get(&t.key(), &ns, &name).map(|o| o.full());
            let mut warnings = Vec::new();
            let (created, obj) = if ct.starts_with("application/apply-patch") {
                let manager = q.get("fieldManager").cloned().ok_or_else(|| {
                    ApiError::bad_request(
                        "PATCH requests for apply must include fieldManager (a query parameter)",
                    )
                })?;
                let force = q.get("force").is_some_and(|v| v == "true");
                let applied = parse_object(&bytes, "yaml")?;
                if openapi::strict(q) {
                    openapi::check_applied_fields(
                        &cluster,
                        t,
                        &target.version,
                        &ns,
                        &name,
                        &applied,
                    )?;
                }
                let applied_name = meta_str(&applied, "name");
                if !applied_name.is_empty() && applied_name != name {
                    return Err(ApiError::bad_request(
                        "the name of the object does not match the name on the URL",
                    ));
                }
                match old {
                    None => {
                        let mut obj = applied.clone();
                        obj["metadata"]["name"] = json!(name);
                        if t.namespaced {
                            obj["metadata"]["namespace"] = json!(ns);
                        }
                        patch::record_apply(None, &applied, &mut obj, &manager, now);
                        (true, obj)
                    }
                    Some(old) => {
                        let mut obj = patch::apply(&old, &applied, &manager, force, t)?;
                        patch::record_apply(Some(&old), &applied, &mut obj, &manager, now);
                        (false, obj)
                    }
                }
            } else {
                let old = old.ok_or_else(|| ApiError::not_found(&resource_name(t), &name))?;
                let body: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                let mut obj = if ct.starts_with("application/json-patch+json") {
                    patch::json_patch(&old, &body)?
                } else if ct.starts_with("application/merge-patch+json") {
                    patch::merge_patch(&old, &body)
                } else if ct.starts_with("application/strategic-merge-patch+json") {
                    if t.custom {
                        return Err(ApiError::unsupported_media_type(&ct));
                    }
                    patch::strategic_merge_patch(&old, &body)?
                } else {
                    return Err(ApiError::unsupported_media_type(&ct));
                };
                warnings = openapi::decode_fields(&cluster, t, &target.version, &mut obj, q)?;
                let manager = field_manager(q, &parts, "Update");
                patch::record_update(Some(&old), &mut obj, &manager, "Update", now);
                // A patch that carries a resourceVersion is a precondition on it.
                if meta_str(&obj, "resourceVersion") != meta_str(&old, "resourceVersion")
                    && !meta_str(&obj, "resourceVersion").is_empty()
                {
                    return Err(ApiError::conflict(&resource_name(t), &name));
                }
                (false, obj)
            };
            // Server-side apply creates what is not there yet; every other patch updates.
            let opts = WriteOptions::client(dry_run);
            let (code, result) = if created {
                (201, api::create(&mut cluster, t, obj, now, &opts)?)
            } else {
                let sub = target.sub.as_deref();
                (200, api::update(&mut cluster, t, obj, sub, &opts)?)
            };
            if !dry_run {
                shared.reconcile(&mut cluster);
            }
            Ok(with_warnings(
                json_response(code, &at_version(t, &result, &target.version)),
                &warnings,
            ))
        }
        "delete" => {
            let name = target.name.clone().unwrap_or_default();
            let (_, bytes) = read_body(req).await?;
            let opts: Value = if bytes.is_empty() {
                json!({})
            } else {
                serde_json::from_slice(&bytes).unwrap_or(json!({}))
            };
            let dry_run = is_dry_run(q)
                || opts
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "All"));
            let mut cluster = shared.lock();
            if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
                let cur = cluster
                    .store
                    .get(&t.key(), &ns, &name)
                    .ok_or_else(|| ApiError::not_found(&resource_name(t), &name))?;
                if meta_str(cur.head(), "uid") != uid {
                    return Err(ApiError::conflict(&resource_name(t), &name));
                }
            }
            let gone = api::delete(
                &mut cluster,
                t,
                &ns,
                &name,
                now,
                &WriteOptions::client(dry_run),
            )?;
            if !dry_run {
                shared.reconcile(&mut cluster);
            }
            if deletes_answer_with_status(t) {
                return Ok(json_response(200, &deleted_status(t, gone.head())));
            }
            Ok(json_response(200, &at_version(t, &gone, &target.version)))
        }
        "deletecollection" => {
            let dry_run = is_dry_run(q);
            let mut cluster = shared.lock();
            let label =
                LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
                    .map_err(ApiError::bad_request)?;
            let field = FieldSelector::parse(
                q.get("fieldSelector").map(String::as_str).unwrap_or(""),
                &t.kind,
            )
            .map_err(ApiError::bad_request)?;
            let scope = target.namespace.as_deref();
            let names: Vec<(String, String)> = cluster
                .store
                .list(&t.key(), scope)
                .filter(|o| label.matches_object(o.head()) && field.matches(o.head()))
                .map(|o| {
                    (
                        meta_str(o.head(), "namespace").to_string(),
                        meta_str(o.head(), "name").to_string(),
                    )
                })
                .collect();
            let mut items = Vec::new();
            for (ons, name) in names {
                if let Ok(gone) = api::delete(
                    &mut cluster,
                    t,
                    &ons,
                    &name,
                    now,
                    &WriteOptions::client(dry_run),
                ) {
                    items.push(at_version(t, &gone, &target.version));
                }
            }
            if !dry_run {
                shared.reconcile(&mut cluster);
            }
            let rv = cluster.store.resource_version().to_string();
            Ok(json_response(
                200,
                &json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(&target.version), "metadata": {"resourceVersion": rv}, "items": items}),
            ))
        }
        _ => Err(ApiError::method_not_allowed("unsupported verb")),
    }
}

/// Whether a real server answers an immediate delete of this kind with a `Status` naming
/// what went: their registries do not return the deleted object. Pods and Services (whose
/// registries do), Namespaces (which terminate first) and kinds not checked against a real
/// server keep answering with the object.
fn deletes_answer_with_status(t: &ResourceType) -> bool {
    !t.custom
        && matches!(
            t.kind.as_str(),
            "ConfigMap"
                | "Event"
                | "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "PodDisruptionBudget"
                | "HorizontalPodAutoscaler"
                | "MutatingWebhookConfiguration"
        )
}

fn deleted_status(t: &ResourceType, gone: &Value) -> Value {
    let mut details =
        json!({"name": meta_str(gone, "name"), "kind": t.plural, "uid": meta_str(gone, "uid")});
    if !t.group.is_empty() {
        details["group"] = json!(t.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// The field manager of a write: the query parameter, else the client's name, as a real
/// server derives it from the User-Agent.
fn field_manager(q: &HashMap<String, String>, parts: &http::request::Parts, _op: &str) -> String {
    if let Some(m) = q.get("fieldManager") {
        return m.clone();
    }
    parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// Where a paged list goes on: after the object `(ns, name)`, in the store's order.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    ns: String,
    name: String,
}

/// One page of a list: its `metadata` and the objects on it, shared with the store.
struct ListPage {
    meta: Value,
    items: Vec<Arc<Stored>>,
}

fn expired_continue(token: String) -> ApiError {
    let mut e = ApiError::expired(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
    );
    e.continue_token = Some(token);
    e
}

fn encode_continue(token: &ContinueToken) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(token).unwrap_or_default())
}

/// The page a list asks for. A paged list (`limit`) is served from a snapshot of the type
/// taken at its first page; the continue token carries that resourceVersion and the last
/// (namespace, name) key sent, so later pages go on from the same state. A token whose
/// snapshot is gone is answered 410 Expired, with a token that goes on from now.
fn list(
    cluster: &mut Cluster,
    t: &ResourceType,
    target: &Target,
    q: &HashMap<String, String>,
) -> Result<ListPage, ApiError> {
    let label = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let field = FieldSelector::parse(
        q.get("fieldSelector").map(String::as_str).unwrap_or(""),
        &t.kind,
    )
    .map_err(ApiError::bad_request)?;
    let selective = !label.is_empty() || !field.is_empty();
    let limit: Option<usize> = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0);
    let key = t.key();
    let ns = target.namespace.as_deref();
    let token = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice::<ContinueToken>(&b).ok())
                .ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?,
        ),
        None => None,
    };
    if limit.is_none() && token.is_none() {
        let items: Vec<Arc<Stored>> = cluster
            .store
            .list(&key, ns)
            .filter(|o| label.matches_object(o.head()) && field.matches(o.head()))
            .cloned()
            .collect();
        let rv = cluster.store.resource_version();
        return Ok(ListPage {
            meta: json!({"resourceVersion": rv.to_string()}),
            items,
        });
    }
    let (list_rv, objects) = match &token {
        Some(tok) => match cluster.store.snapshot_at(&key, ns, tok.rv) {
            Some(s) => (tok.rv, s),
            None => {
                cluster.store.snapshot(&key, ns);
                return Err(expired_continue(encode_continue(&ContinueToken {
                    rv: cluster.store.resource_version(),
                    ns: tok.ns.clone(),
                    name: tok.name.clone(),
                })));
            }
        },
        None => (
            cluster.store.resource_version(),
            cluster.store.snapshot(&key, ns),
        ),
    };
    // Compared as the store orders objects, (namespace, name): as one `ns/name` string,
    // `checkout-prod/z` would sort after `checkout-prod-eu/a` and a page would repeat or
    // skip objects.
    fn key_of(o: &Value) -> (&str, &str) {
        (meta_str(o, "namespace"), meta_str(o, "name"))
    }
    let start = token.as_ref().map_or(0, |tok| {
        objects.partition_point(|o| key_of(o.head()) <= (tok.ns.as_str(), tok.name.as_str()))
    });
    let limit = limit.unwrap_or(usize::MAX);
    let mut items = Vec::new();
    let mut last = start;
    for (i, o) in objects.iter().enumerate().skip(start) {
        if items.len() == limit {
            break;
        }
        if label.matches_object(o.head()) && field.matches(o.head()) {
            items.push(o.clone());
            last = i;
        }
    }
    let more = items.len() == limit
        && objects
            .iter()
            .skip(last + 1)
            .any(|o| label.matches_object(o.head()) && field.matches(o.head()));
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if more && let Some(o) = items.last() {
        let (ns, name) = key_of(o.head());
        meta["continue"] = json!(encode_continue(&ContinueToken {
            rv: list_rv,
            ns: ns.to_string(),
            name: name.to_string(),
        }));
        // A real server counts what is left only when no selector filters it.
        if !selective {
            meta["remainingItemCount"] = json!(objects.len() - last - 1);
        }
    }
    Ok(ListPage { meta, items })
}

/// Bytes a streamed answer sends at a time.
const STREAM_CHUNK: usize = 64 * 1024;
/// The room a streamed answer's chunk starts with: the chunk and the item that ends it (a
/// pod is some 15 KB), so that it is not grown by doubling, which copies what it holds
/// again each time.
const STREAM_BUFFER: usize = STREAM_CHUNK + 32 * 1024;

/// A list answer's text, written a chunk at a time.
struct ListChunks {
    /// `{"kind":…,"metadata":{…},"items":[`, until the first chunk takes it.
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<Arc<Stored>>,
    /// The `apiVersion` custom resources' items show; `None` for built-in kinds.
    custom: Option<String>,
    first: bool,
    done: bool,
}

impl ListChunks {
    /// The next chunk: items until it holds `STREAM_CHUNK` bytes, the end after the last.
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut buf = self
            .head
            .take()
            .unwrap_or_else(|| Vec::with_capacity(STREAM_BUFFER));
        while buf.len() < STREAM_CHUNK {
            let Some(o) = self.items.next() else {
                buf.extend_from_slice(b"]}");
                self.done = true;
                break;
            };
            if !std::mem::take(&mut self.first) {
                buf.push(b',');
            }
            // Built-in kinds' items go without `kind` and `apiVersion`, as a real server
            // sends them; custom resources show the version asked for.
            o.write_item(&mut buf, self.custom.as_deref());
        }
        Some(Bytes::from(buf))
    }
}

/// A JSON list answer written item by item as the client reads it: the whole response is
/// never held in memory, and the store's lock is not held while it is written. Each chunk
/// is written when the connection asks for it, in its own task: no task or channel between
/// them to wake at every chunk.
fn streamed_list(t: &ResourceType, target: &Target, page: ListPage) -> hyper::Response<Body> {
    let api_version = t.api_version(&target.version);
    let head = json!({"kind": format!("{}List", t.kind), "apiVersion": api_version, "metadata": page.meta});
    let mut buf = Vec::with_capacity(STREAM_BUFFER);
    // Writing a `Value` into a Vec does not fail.
    let _ = serde_json::to_writer(&mut buf, &head);
    // `{"kind":…,"metadata":{…}}` becomes `{"kind":…,"metadata":{…},"items":[`.
    buf.pop();
    buf.extend_from_slice(b",\"items\":[");
    let mut chunks = ListChunks {
        head: Some(buf),
        items: page.items.into_iter(),
        custom: t.custom.then_some(api_version),
        first: true,
        done: false,
    };
    let frames = futures::stream::iter(std::iter::from_fn(move || {
        chunks
            .next_chunk()
            .map(|b| Ok::<_, Infallible>(Frame::data(b)))
    }));
    hyper::Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new())))
}

/// A watch event's object: a table row, or the object itself.
enum Rendered {
    Table(Value),
    Object(Arc<Stored>),
}

impl Rendered {
    /// The event line: an object's stored bytes go out as they are.
    fn line(&self, type_: &str) -> Bytes {
        match self {
            Rendered::Table(doc) => event_line(type_, doc),
            Rendered::Object(o) => {
                let mut line = Vec::with_capacity(o.json_len() + 32);
                line.extend_from_slice(b"{\"type\":");
                let _ = serde_json::to_writer(&mut line, type_);
                line.extend_from_slice(b",\"object\":");
                o.write_json(&mut line);
                line.extend_from_slice(b"}\n");
                Bytes::from(line)
            }
        }
    }
}

/// Encodes one watch event line.
fn event_line<T: serde::Serialize + ?Sized>(type_: &str, object: &T) -> Bytes {
    #[derive(serde::Serialize)]
    struct Line<'a, T: ?Sized> {
        #[serde(rename = "type")]
        type_: &'a str,
        object: &'a T,
    }
    let mut line = serde_json::to_vec(&Line { type_, object }).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

struct WatchFilter {
    label: LabelSelector,
    field: FieldSelector,
    name: Option<String>,
}

impl WatchFilter {
    fn matches(&self, o: &Value) -> bool {
        self.label.matches_object(o)
            && self.field.matches(o)
            && self.name.as_ref().is_none_or(|n| meta_str(o, "name") == n)
    }

    /// The object sent for an event seen as `ty`: an object that left the selection is sent
    /// as it was when it last matched, at the event's resourceVersion, as a real server's
    /// watch cache does.
    fn object_for(ev: &WatchEvent, ty: EventType) -> Arc<Stored> {
        match (&ev.old, ev.type_, ty) {
            (Some(old), EventType::Modified, EventType::Deleted) => {
                Arc::new(old.at_resource_version(ev.rv))
            }
            _ => ev.object.clone(),
        }
    }

    /// What a watcher with this filter sees of an event, if anything.
    fn view(&self, ev: &WatchEvent) -> Option<EventType> {
        let now = self.matches(ev.object.head());
        let before = ev.old.as_ref().is_some_and(|o| self.matches(o.head()));
        match ev.type_ {
            EventType::Added => now.then_some(EventType::Added),
            EventType::Deleted => (before || now).then_some(EventType::Deleted),
            EventType::Modified => match (before, now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }
}

fn watch_response(
    shared: Arc<Shared>,
    t: ResourceType,
    target: Target,
    q: HashMap<String, String>,
    table: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<hyper::Response<Body>, ApiError> {
    let filter = WatchFilter {
        label: LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
            .map_err(ApiError::bad_request)?,
        field: FieldSelector::parse(
            q.get("fieldSelector").map(String::as_str).unwrap_or(""),
            &t.kind,
        )
        .map_err(ApiError::bad_request)?,
        // `fieldSelector=metadata.name=x` is how clients watch one object; kept in `field`.
        name: None,
    };
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let ns = target.namespace.clone();
    let version = target.version.clone();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (initial, mut events, expired, bookmark_every) = {
        let mut cluster = shared.lock();
        let bookmark_every = cluster.settings.bookmark_interval;
        let from_scratch = rv_param.is_empty() || rv_param == "0" || send_initial;
        if from_scratch {
            let current: Vec<Arc<Stored>> = cluster
                .store
                .list(&t.key(), ns.as_deref())
                .filter(|o| filter.matches(o.head()))
                .cloned()
                .collect();
            let rx = cluster.store.subscribe(&t.key(), ns.as_deref());
            let rv = cluster.store.resource_version();
            (Some((current, rv)), rx, None, bookmark_every)
        } else {
            let from: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
            })?;
            match cluster.store.watch_from(&t.key(), ns.as_deref(), from) {
                Ok((backlog, rx)) => {
                    // Replay through the same channel path as live events.
                    let (btx, brx) = mpsc::unbounded_channel();
                    for e in backlog {
                        let _ = btx.send(e);
                    }
                    drop(btx);
                    (None, merge_receivers(brx, rx), None, bookmark_every)
                }
                Err(e) => (
                    None,
                    cluster.store.subscribe(&t.key(), ns.as_deref()),
                    Some(e),
                    bookmark_every,
                ),
            }
        }
    };
    let render = {
        let t = t.clone();
        let q = q.clone();
        move |obj: &Arc<Stored>, first: &mut bool| -> Rendered {
            let obj = at_version(&t, obj, &version);
            if table {
                let rv = meta_str(obj.head(), "resourceVersion").to_string();
                let doc = table::render(
                    &t,
                    &version,
                    &[table::source(&t, &obj, &q)],
                    &rv,
                    &q,
                    Timestamp::now(),
                    *first,
                );
                *first = false;
                Rendered::Table(doc)
            } else {
                Rendered::Object(obj)
            }
        }
    };
    let kind = t.kind.clone();
    let api_version = t.api_version(&target.version);
    tokio::spawn(async move {
        let mut first = true;
        if let Some(e) = expired {
            let _ = tx.send(event_line("ERROR", &e.to_status())).await;
            return;
        }
        if let Some((current, rv)) = initial {
            for o in current {
                if tx.send(render(&o, &mut first).line("ADDED")).await.is_err() {
                    return;
                }
            }
            if send_initial && bookmarks {
                let bm = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                if tx.send(event_line("BOOKMARK", &bm)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(bookmark_every);
        tick.tick().await;
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { return };
                    if let Some(ty) = filter.view(&ev)
                        && tx.send(render(&WatchFilter::object_for(&ev, ty), &mut first).line(ty.as_str())).await.is_err()
                    {
                        return;
                    }
                }
                _ = tick.tick(), if bookmarks => {
                    // Everything up to the store's version is either queued here or sent:
                    // flush the queue first so the bookmark never runs ahead of an event.
                    let rv = shared.lock().store.resource_version();
                    while let Ok(ev) = events.try_recv() {
                        if let Some(ty) = filter.view(&ev)
                            && tx.send(render(&WatchFilter::object_for(&ev, ty), &mut first).line(ty.as_str())).await.is_err()
                        {
                            return;
                        }
                    }
                    let bm = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}});
                    if tx.send(event_line("BOOKMARK", &bm)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = stop.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(hyper::Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Transfer-Encoding", "chunked")
        .body(channel_body(rx))
        .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new()))))
}

/// A receiver yielding everything of `first`, then everything of `second`.
fn merge_receivers(
    mut first: mpsc::UnboundedReceiver<Arc<WatchEvent>>,
    mut second: mpsc::UnboundedReceiver<Arc<WatchEvent>>,
) -> mpsc::UnboundedReceiver<Arc<WatchEvent>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last = 0;
        while let Some(e) = first.recv().await {
            last = e.rv;
            if tx.send(e).is_err() {
                return;
            }
        }
        while let Some(e) = second.recv().await {
            if e.rv <= last {
                continue;
            }
            if tx.send(e).is_err() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_targets() {
        let t =
            parse_target("/api/v1/namespaces/istio-system/pods/istiod-x:15014/proxy/debug/syncz")
                .expect("t");
        assert_eq!(t.namespace.as_deref(), Some("istio-system"));
        assert_eq!(t.plural, "pods");
        assert_eq!(t.name.as_deref(), Some("istiod-x:15014"));
        assert_eq!(t.sub.as_deref(), Some("proxy"));
        assert_eq!(t.rest, "debug/syncz");
        let t = parse_target("/api/v1/namespaces/default").expect("t");
        assert_eq!(
            (t.plural.as_str(), t.name.as_deref(), t.namespace.as_deref()),
            ("namespaces", Some("default"), None)
        );
        let t = parse_target("/api/v1/namespaces/default/status").expect("t");
        assert_eq!(
            (t.plural.as_str(), t.sub.as_deref()),
            ("namespaces", Some("status"))
        );
        let t = parse_target("/apis/install.istio.io/v1alpha1/istiooperators").expect("t");
        assert_eq!(
            (t.group.as_str(), t.version.as_str(), t.plural.as_str()),
            ("install.istio.io", "v1alpha1", "istiooperators")
        );
        assert!(parse_target("/nope").is_none());
    }
}
