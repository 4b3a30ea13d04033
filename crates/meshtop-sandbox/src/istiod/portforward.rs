//! The `pods/{pod}/portforward` subresource over WebSocket, as the kubelet speaks it to
//! kube-rs (`v4.channel.k8s.io`): the i-th port has a data channel 2i and an error channel
//! 2i+1; every channel opens with its port number (2 bytes, little-endian), and every binary
//! message starts with its channel byte. Behind a forwarded istiod port runs a real HTTP/1.1
//! server that sees its requests arrive on loopback, as istiod does behind a real forward.
//! kubectl 1.31+ speaks SPDY/3.1 instead, tunnelled in the WebSocket's binary messages or
//! over a plain SPDY upgrade: see `spdy`.

mod spdy;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use http::{StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf,
};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::super::Shared;
use super::super::error::ApiError;
use super::super::server::{Body, error_response, full};
use super::{PodHttpResponse, istiod_http, serves_http, syncz_delay};

/// The only channel protocol the kubelet's WebSocket port-forward speaks in binary.
const PROTOCOL: &str = "v4.channel.k8s.io";
/// Bytes in flight between a channel and the HTTP server behind it.
const BUFFER: usize = 64 * 1024;
/// How long to wait for the client's answer to our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// A channel number is one byte and each port takes two.
const MAX_PORTS: usize = 128;

/// What an accepted port-forward will connect.
struct Plan {
    namespace: String,
    pod: String,
    /// Each requested port, and whether something listens on it (the channel protocol
    /// names its ports up front; SPDY names them per stream).
    ports: Vec<(u16, bool)>,
}

/// How the client speaks once the connection is upgraded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire {
    /// WebSocket, `v4.channel.k8s.io` (kube-rs) or no subprotocol.
    Channels(Option<&'static str>),
    /// WebSocket carrying SPDY/3.1 (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+).
    SpdyOverWebSocket,
    /// A plain `Upgrade: SPDY/3.1` (kubectl before 1.31, and its fallback).
    Spdy,
}

fn header_has_token(req: &hyper::Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `?ports=15014,8080` or `?ports=15014&ports=8080`.
fn parse_ports(query: &str) -> Result<Vec<u16>, ApiError> {
    let mut ports = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "ports" {
            continue;
        }
        for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let port: u16 = p
                .parse()
                .map_err(|_| ApiError::bad_request(format!("unable to parse {p:?} as a port")))?;
            if port == 0 {
                return Err(ApiError::bad_request(format!("port {p:?} must be > 0")));
            }
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request(
            "query parameter \"port\" is required",
        ));
    }
    if ports.len() > MAX_PORTS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_PORTS} ports can be forwarded at once"
        )));
    }
    Ok(ports)
}

/// The subprotocol to answer with: none if the client offered none, like the kubelet.
fn negotiate(req: &hyper::Request<Incoming>) -> Result<Wire, ApiError> {
    let offered: Vec<String> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(Wire::Channels(None));
    }
    if offered.iter().any(|p| p == PROTOCOL) {
        return Ok(Wire::Channels(Some(PROTOCOL)));
    }
    if offered.iter().any(|p| p == spdy::TUNNEL_PROTOCOL) {
        return Ok(Wire::SpdyOverWebSocket);
    }
    Err(ApiError::bad_request(format!(
        "requested protocol(s) are not supported: {offered:?}; supported protocols are [\"{PROTOCOL}\", \"{}\"]",
        spdy::TUNNEL_PROTOCOL
    )))
}

/// Checks the request and the pod before switching protocols.
fn accept(
    shared: &Shared,
    namespace: &str,
    pod: &str,
    query: &str,
    req: &hyper::Request<Incoming>,
) -> Result<(Option<String>, Wire, Plan), ApiError> {
    let (accept_key, wire) = if header_has_token(req, header::UPGRADE, "websocket") {
        if !header_has_token(req, header::CONNECTION, "upgrade") {
            return Err(ApiError::bad_request("Upgrade request required"));
        }
        let key = req
            .headers()
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))?;
        (Some(derive_accept_key(key.as_bytes())), negotiate(req)?)
    } else if header_has_token(req, header::UPGRADE, spdy::UPGRADE) {
        if !header_has_token(req, spdy::STREAM_PROTOCOL_HEADER, spdy::STREAM_PROTOCOL) {
            return Err(ApiError::bad_request(format!(
                "unable to upgrade connection: no stream protocol version in common; the server supports [\"{}\"]",
                spdy::STREAM_PROTOCOL
            )));
        }
        (None, Wire::Spdy)
    } else {
        return Err(ApiError::bad_request("Upgrade request required"));
    };
    // SPDY names its ports per stream; the channel protocol up front.
    let ports = match wire {
        Wire::Channels(_) => parse_ports(query)?,
        Wire::SpdyOverWebSocket | Wire::Spdy => Vec::new(),
    };
    let cluster = shared.lock();
    let obj = cluster
        .store
        .get("pods", namespace, pod)
        .ok_or_else(|| ApiError::not_found("pods", pod))?;
    if !super::syncz::is_running(obj.head()) {
        let phase = obj
            .head()
            .pointer("/status/phase")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("Unknown");
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: pod {pod} is not running. Current status={phase}"
        )));
    }
    let ports = ports
        .into_iter()
        .map(|p| (p, serves_http(obj.head(), p)))
        .collect();
    Ok((
        accept_key,
        wire,
        Plan {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            ports,
        },
    ))
}

/// `pods/{pod}/portforward` upgraded to WebSocket.
pub async fn handle(
    shared: Arc<Shared>,
    namespace: String,
    pod: String,
    query: String,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Body> {
    let (accept_key, wire, plan) = match accept(&shared, &namespace, &pod, &query, &req) {
        Ok(a) => a,
        Err(e) => return error_response(&e),
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                match wire {
                    Wire::Channels(_) => {
                        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                        session(ws, shared, plan).await;
                    }
                    Wire::SpdyOverWebSocket => {
                        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                        spdy::session(spdy::Carrier::WebSocket(Box::new(ws)), shared, plan).await;
                    }
                    Wire::Spdy => spdy::session(spdy::Carrier::Raw(io), shared, plan).await,
                }
            }
            Err(e) => tracing::debug!(%e, "port-forward: upgrade failed"),
        }
    });
    let mut response = hyper::Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade");
    if let Some(key) = accept_key {
        response = response
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, key);
    }
    response = match wire {
        Wire::Channels(Some(p)) => response.header(header::SEC_WEBSOCKET_PROTOCOL, p),
        Wire::Channels(None) => response,
        Wire::SpdyOverWebSocket => {
            response.header(header::SEC_WEBSOCKET_PROTOCOL, spdy::TUNNEL_PROTOCOL)
        }
        Wire::Spdy => response
            .header(header::UPGRADE, spdy::UPGRADE)
            .header(spdy::STREAM_PROTOCOL_HEADER, spdy::STREAM_PROTOCOL),
    };
    response.body(full(Bytes::new())).unwrap_or_else(|_| {
        error_response(&ApiError::internal("cannot build the upgrade response"))
    })
}

/// A binary message on one channel.
fn frame(channel: u8, data: &[u8]) -> Message {
    let mut b = BytesMut::with_capacity(data.len() + 1);
    b.put_u8(channel);
    b.put_slice(data);
    Message::Binary(b.freeze())
}

/// What the pumps behind the ports tell the session.
enum FromPod {
    /// Bytes the server behind port index `.0` wrote.
    Data(usize, Bytes),
    /// The server behind port index `.0` closed its end.
    Closed(usize),
}

enum Event {
    Client(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Pod(Option<FromPod>),
}

/// The kubelet's message when nothing listens on the port inside the pod.
fn refused(port: u16, pod: &str) -> String {
    format!(
        "error forwarding port {port} to pod {pod}, uid : failed to connect to localhost:{port} inside namespace \"{pod}\", \
         IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused "
    )
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    shared: Arc<Shared>,
    plan: Plan,
) {
    let (tx, mut rx) = mpsc::channel::<FromPod>(16);
    let mut to_pod: Vec<Option<mpsc::UnboundedSender<Bytes>>> =
        Vec::with_capacity(plan.ports.len());
    let mut open = 0usize;
    for (i, &(port, listening)) in plan.ports.iter().enumerate() {
        // `parse_ports` keeps the count within MAX_PORTS, so channels fit a byte.
        let data = u8::try_from(2 * i).unwrap_or(u8::MAX - 1);
        for ch in [data, data + 1] {
            if ws.send(frame(ch, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
        if listening {
            to_pod.push(Some(connect(shared.clone(), &plan, port, i, tx.clone())));
            open += 1;
        } else {
            to_pod.push(None);
            if ws
                .send(frame(data + 1, refused(port, &plan.pod).as_bytes()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    drop(tx);
    let mut closed_by_client = false;
    while open > 0 {
        let event = tokio::select! {
            m = ws.next() => Event::Client(m),
            f = rx.recv() => Event::Pod(f),
        };
        match event {
            Event::Client(Some(Ok(Message::Binary(b)))) => {
                let Some(&ch) = b.first() else { continue };
                // The client writes only data channels; the kubelet ignores anything else.
                if ch % 2 == 0
                    && b.len() > 1
                    && let Some(Some(pod_tx)) = to_pod.get(usize::from(ch / 2))
                {
                    let _ = pod_tx.send(b.slice(1..));
                }
            }
            Event::Client(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => {
                closed_by_client = true;
                break;
            }
            // Pings are answered by tungstenite; text is not part of the binary protocol.
            Event::Client(Some(Ok(_))) => {}
            Event::Pod(Some(FromPod::Data(i, bytes))) => {
                let ch = u8::try_from(2 * i).unwrap_or(u8::MAX - 1);
                if ws.send(frame(ch, &bytes)).await.is_err() {
                    closed_by_client = true;
                    break;
                }
            }
            Event::Pod(Some(FromPod::Closed(i))) => {
                if to_pod.get_mut(i).and_then(Option::take).is_some() {
                    open -= 1;
                }
            }
            Event::Pod(None) => break,
        }
    }
    // Dropping these ends the pumps, and with them the HTTP servers.
    drop(to_pod);
    drop(rx);
    if closed_by_client {
        // tungstenite queued the reply to the client's close; flushing sends it.
        let _ = ws.flush().await;
    } else {
        // Every port is done: the kubelet closes the stream then.
        let _ = ws.close(None).await;
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(m)) = ws.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
    // A clean end of the connection under the WebSocket (TLS close_notify, then FIN).
    let _ = ws.get_mut().shutdown().await;
    tracing::debug!(namespace = %plan.namespace, pod = %plan.pod, "port-forward closed");
}

/// Starts the HTTP server behind one port; returns where to send the client's bytes.
fn connect(
    shared: Arc<Shared>,
    plan: &Plan,
    port: u16,
    index: usize,
    tx: mpsc::Sender<FromPod>,
) -> mpsc::UnboundedSender<Bytes> {
    let (near, far) = tokio::io::duplex(BUFFER);
    tokio::spawn(serve_http(
        shared,
        plan.namespace.clone(),
        plan.pod.clone(),
        port,
        far,
    ));
    let (reader, writer) = tokio::io::split(near);
    tokio::spawn(pump_from_pod(index, reader, tx));
    // Unbounded, so a client that pipelines requests never blocks the session loop, which
    // must keep draining responses for the server to read on.
    let (to_tx, to_rx) = mpsc::unbounded_channel();
    tokio::spawn(pump_to_pod(writer, to_rx));
    to_tx
}

async fn pump_from_pod(
    index: usize,
    mut reader: ReadHalf<DuplexStream>,
    tx: mpsc::Sender<FromPod>,
) {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = tokio::select! {
            r = reader.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = tx.closed() => return,
        };
        if tx
            .send(FromPod::Data(index, Bytes::copy_from_slice(&buf[..n])))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = tx.send(FromPod::Closed(index)).await;
}

async fn pump_to_pod(mut writer: WriteHalf<DuplexStream>, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(bytes) = rx.recv().await {
        if writer.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// istiod's HTTP server on `port`, on one end of the forwarded connection.
async fn serve_http(
    shared: Arc<Shared>,
    namespace: String,
    pod: String,
    port: u16,
    io: DuplexStream,
) {
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let (answer, delay) = answer(&shared, &namespace, &pod, port, &req);
        async move {
            // A busy istiod: the answer is ready but leaves only after `delay`.
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(answer)
        }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        tracing::debug!(%e, "port-forward: HTTP connection ended");
    }
}

/// istiod's answer to `req`, and how long it takes to leave (the pod's `syncz-delay`).
fn answer(
    shared: &Shared,
    namespace: &str,
    pod: &str,
    port: u16,
    req: &hyper::Request<Incoming>,
) -> (hyper::Response<Full<Bytes>>, Duration) {
    let (r, delay) = {
        let mut cluster = shared.lock();
        match cluster.store.get("pods", namespace, pod).cloned() {
            Some(obj) if serves_http(obj.head(), port) => (
                istiod_http(
                    &mut cluster,
                    obj.head(),
                    port,
                    req.uri().path(),
                    req.uri().query().unwrap_or(""),
                    true,
                    Timestamp::now(),
                ),
                syncz_delay(obj.head(), req.uri().path()),
            ),
            _ => (
                PodHttpResponse::text(503, "the pod has stopped serving this port\n"),
                Duration::ZERO,
            ),
        }
    };
    let response = hyper::Response::builder()
        .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, r.content_type)
        .body(Full::new(r.body))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())));
    (response, delay)
}
