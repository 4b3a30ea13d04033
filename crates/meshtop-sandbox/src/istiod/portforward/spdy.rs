//! Port-forward as kubectl speaks it: SPDY/3.1 (`portforward.k8s.io`), carried in a
//! WebSocket's binary messages (kubectl 1.31+) or straight over an upgraded connection.
//! Every forwarded connection is a pair of client streams sharing a `requestID`: an error
//! stream (the server writes why a port failed, then closes it) and a data stream (the
//! bytes both ways). Header blocks are zlib-compressed with the SPDY/3 dictionary, one
//! compression context per direction for the whole session.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::super::super::Shared;
use super::super::serves_http;
use super::{FromPod, Plan, connect, refused};

/// The WebSocket subprotocol of SPDY tunnelled in WebSocket.
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The `Upgrade` token of a plain SPDY upgrade.
pub const UPGRADE: &str = "SPDY/3.1";
/// The header naming the stream protocols a plain SPDY client speaks.
pub const STREAM_PROTOCOL_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-stream-protocol-version");
pub const STREAM_PROTOCOL: &str = "portforward.k8s.io";

/// The SPDY/3 header compression dictionary (from the SPDY/3 specification).
const DICTIONARY: &[u8] = include_bytes!("spdy3-dictionary.bin");

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;
/// RST_STREAM status for a stream the server cannot make sense of.
const PROTOCOL_ERROR: u32 = 1;
/// No header block may decompress to more than this.
const MAX_HEADERS: usize = 64 * 1024;
/// No frame may be longer than this (SPDY allows 16 MiB; kubectl sends 32 KiB chunks).
const MAX_FRAME: usize = 1 << 20;

/// A frame as it arrives from the client.
#[derive(Debug, PartialEq)]
enum Frame {
    Control {
        kind: u16,
        flags: u8,
        payload: Bytes,
    },
    Data {
        stream: u32,
        flags: u8,
        payload: Bytes,
    },
}

/// Takes one whole frame off the front of `buf`, if it holds one.
fn take_frame(buf: &mut BytesMut) -> Result<Option<Frame>, String> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let length = usize::from(buf[5]) << 16 | usize::from(buf[6]) << 8 | usize::from(buf[7]);
    if length > MAX_FRAME {
        return Err(format!("frame of {length} bytes is too large"));
    }
    if buf.len() < 8 + length {
        return Ok(None);
    }
    let mut frame = buf.split_to(8 + length).freeze();
    let first = frame.get_u32();
    let flags = frame.get_u8();
    frame.advance(3);
    if first & 0x8000_0000 != 0 {
        let version = (first >> 16) & 0x7fff;
        if version != 3 {
            return Err(format!("unsupported SPDY version {version}"));
        }
        // The low 16 bits are the frame type.
        let kind = u16::try_from(first & 0xffff).unwrap_or(0);
        Ok(Some(Frame::Control {
            kind,
            flags,
            payload: frame,
        }))
    } else {
        Ok(Some(Frame::Data {
            stream: first & 0x7fff_ffff,
            flags,
            payload: frame,
        }))
    }
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + payload.len());
    b.put_u16(0x8000 | 3);
    b.put_u16(kind);
    b.put_u32((u32::from(flags) << 24) | (payload.len() as u32 & 0x00ff_ffff));
    b.put_slice(payload);
    b.freeze()
}

fn data_frame(stream: u32, flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + payload.len());
    b.put_u32(stream & 0x7fff_ffff);
    b.put_u32((u32::from(flags) << 24) | (payload.len() as u32 & 0x00ff_ffff));
    b.put_slice(payload);
    b.freeze()
}

/// The two compression contexts of a session.
struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
}

impl HeaderCodec {
    fn new() -> Result<Self, String> {
        let mut deflate = Compress::new(Compression::best(), true);
        deflate
            .set_dictionary(DICTIONARY)
            .map_err(|e| format!("cannot set the SPDY dictionary: {e}"))?;
        Ok(Self {
            inflate: Decompress::new(true),
            deflate,
        })
    }

    /// Decompresses a header block and splits it into (lowercase name, value) pairs.
    fn decode(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::with_capacity(block.len() * 4 + 256);
        let mut input = block;
        loop {
            let before = self.inflate.total_in();
            let result = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = usize::try_from(self.inflate.total_in() - before).unwrap_or(input.len());
            input = input.get(used..).unwrap_or_default();
            match result {
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| format!("header block needs another dictionary: {e}"))?;
                    continue;
                }
                Err(e) => return Err(format!("cannot decompress a header block: {e}")),
                Ok(_) => {}
            }
            if out.len() > MAX_HEADERS {
                return Err("header block is too large".into());
            }
            if out.len() == out.capacity() {
                out.reserve(4096);
            } else if input.is_empty() || used == 0 {
                break;
            }
        }
        parse_headers(&out)
    }

    /// Compresses a header block of `headers`.
    fn encode(&mut self, headers: &[(&str, &str)]) -> Result<Vec<u8>, String> {
        let mut raw = BytesMut::new();
        raw.put_u32(headers.len() as u32);
        for (name, value) in headers {
            raw.put_u32(name.len() as u32);
            raw.put_slice(name.as_bytes());
            raw.put_u32(value.len() as u32);
            raw.put_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 256);
        let mut input = &raw[..];
        loop {
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| format!("cannot compress a header block: {e}"))?;
            let used = usize::try_from(self.deflate.total_in() - before).unwrap_or(input.len());
            input = input.get(used..).unwrap_or_default();
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            out.reserve(256);
        }
    }
}

fn parse_headers(mut raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let take = |raw: &mut &[u8]| -> Result<String, String> {
        if raw.len() < 4 {
            return Err("truncated header block".into());
        }
        let n = usize::try_from(raw.get_u32()).unwrap_or(usize::MAX);
        if raw.len() < n {
            return Err("truncated header block".into());
        }
        let s = String::from_utf8_lossy(&raw[..n]).into_owned();
        raw.advance(n);
        Ok(s)
    };
    if raw.len() < 4 {
        return Err("truncated header block".into());
    }
    let count = raw.get_u32();
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = take(&mut raw)?;
        let value = take(&mut raw)?;
        headers.push((name.to_ascii_lowercase(), value));
    }
    Ok(headers)
}

/// What the connection under SPDY is.
pub enum Carrier<S> {
    /// Each binary message holds the next bytes of the SPDY connection.
    WebSocket(Box<WebSocketStream<S>>),
    Raw(S),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Carrier<S> {
    /// Appends what arrives to `buf`; `false` once the client is gone.
    async fn receive(&mut self, buf: &mut BytesMut) -> bool {
        match self {
            Carrier::WebSocket(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(b))) => {
                        buf.put_slice(&b);
                        return true;
                    }
                    // Pings are answered by tungstenite; nothing else carries SPDY.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => {}
                    Some(Ok(_) | Err(_)) | None => return false,
                }
            },
            Carrier::Raw(io) => matches!(io.read_buf(buf).await, Ok(n) if n > 0),
        }
    }

    async fn send(&mut self, bytes: Bytes) -> bool {
        match self {
            Carrier::WebSocket(ws) => ws.send(Message::Binary(bytes)).await.is_ok(),
            Carrier::Raw(io) => io.write_all(&bytes).await.is_ok(),
        }
    }

    async fn finish(mut self) {
        match &mut self {
            Carrier::WebSocket(ws) => {
                let _ = ws.as_mut().close(None).await;
                let _ = ws.get_mut().shutdown().await;
            }
            Carrier::Raw(io) => {
                let _ = io.shutdown().await;
            }
        }
    }
}

/// A forwarded connection: its two streams and, while it runs, where the client's bytes go.
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    port: String,
    to_pod: Option<mpsc::UnboundedSender<Bytes>>,
    /// Set once the pair has started (its slot index for the pumps).
    slot: Option<usize>,
}

struct Session<S> {
    carrier: Carrier<S>,
    codec: HeaderCodec,
    shared: Arc<Shared>,
    plan: Plan,
    streams: HashMap<u32, String>,
    pairs: HashMap<String, Pair>,
    /// Slot index → request id, for what the pumps report.
    slots: Vec<Option<String>>,
    tx: mpsc::Sender<FromPod>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Handles one frame; `false` ends the session.
    async fn on_frame(&mut self, frame: Frame) -> bool {
        match frame {
            Frame::Control {
                kind: SYN_STREAM,
                payload,
                ..
            } => self.on_syn_stream(payload).await,
            Frame::Control {
                kind: PING,
                flags,
                payload,
            } => self.carrier.send(control(PING, flags, &payload)).await,
            Frame::Control { kind: GOAWAY, .. } => false,
            Frame::Control {
                kind: RST_STREAM,
                payload,
                ..
            } => {
                if payload.len() >= 4 {
                    let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        & 0x7fff_ffff;
                    if let Some(request) = self.streams.get(&id)
                        && let Some(pair) = self.pairs.get_mut(request)
                    {
                        pair.to_pod = None;
                    }
                }
                true
            }
            // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do for a port-forward.
            Frame::Control { .. } => true,
            Frame::Data {
                stream,
                flags,
                payload,
            } => {
                if let Some(request) = self.streams.get(&stream)
                    && let Some(pair) = self.pairs.get_mut(request)
                    && pair.data == Some(stream)
                {
                    if !payload.is_empty()
                        && let Some(to_pod) = &pair.to_pod
                    {
                        let _ = to_pod.send(payload);
                    }
                    if flags & FLAG_FIN != 0 {
                        // The client is done writing: the server behind sees EOF.
                        pair.to_pod = None;
                    }
                }
                true
            }
        }
    }

    async fn on_syn_stream(&mut self, payload: Bytes) -> bool {
        if payload.len() < 10 {
            return false;
        }
        let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
        let headers = match self.codec.decode(&payload[10..]) {
            Ok(h) => h,
            Err(e) => {
                // The compression context is lost with this block: the session cannot go on.
                tracing::debug!(%e, "port-forward: bad SYN_STREAM");
                return false;
            }
        };
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let error = match get("streamtype").as_str() {
            "error" => true,
            "data" => false,
            other => {
                tracing::debug!(stream_type = other, "port-forward: unknown stream type");
                let mut reset = BytesMut::new();
                reset.put_u32(id);
                reset.put_u32(PROTOCOL_ERROR);
                return self.carrier.send(control(RST_STREAM, 0, &reset)).await;
            }
        };
        // Clients before `requestID` pair a data stream with the error stream just before it.
        let request = match get("requestid") {
            r if !r.is_empty() => r,
            _ if error => id.to_string(),
            _ => id.saturating_sub(2).to_string(),
        };
        let port = get("port");
        let Ok(reply) = self.codec.encode(&[]) else {
            return false;
        };
        let mut body = BytesMut::new();
        body.put_u32(id);
        body.put_slice(&reply);
        if !self.carrier.send(control(SYN_REPLY, 0, &body)).await {
            return false;
        }
        self.streams.insert(id, request.clone());
        let pair = self.pairs.entry(request.clone()).or_default();
        if error {
            pair.error = Some(id);
        } else {
            pair.data = Some(id);
        }
        pair.port = port;
        if pair.error.is_some() && pair.data.is_some() && pair.slot.is_none() {
            return self.start(&request).await;
        }
        true
    }

    /// Both streams of a pair are open: connect to the port, or say why not.
    async fn start(&mut self, request: &str) -> bool {
        let slot = self.slots.len();
        self.slots.push(Some(request.to_string()));
        let Some(pair) = self.pairs.get_mut(request) else {
            return true;
        };
        pair.slot = Some(slot);
        let port: Option<u16> = pair.port.parse().ok().filter(|p| *p > 0);
        let listening = port.is_some_and(|p| {
            self.shared
                .lock()
                .store
                .get("pods", &self.plan.namespace, &self.plan.pod)
                .is_some_and(|pod| serves_http(pod.head(), p))
        });
        match port {
            Some(p) if listening => {
                pair.to_pod = Some(connect(
                    self.shared.clone(),
                    &self.plan,
                    p,
                    slot,
                    self.tx.clone(),
                ));
                true
            }
            _ => {
                let message = match port {
                    Some(p) => refused(p, &self.plan.pod),
                    None => format!("invalid port {:?}", pair.port),
                };
                let (error, data) = (pair.error, pair.data);
                self.slots[slot] = None;
                let mut ok = true;
                if let Some(e) = error {
                    ok &= self
                        .carrier
                        .send(data_frame(e, 0, message.as_bytes()))
                        .await;
                    ok &= self.carrier.send(data_frame(e, FLAG_FIN, &[])).await;
                }
                if let Some(d) = data {
                    ok &= self.carrier.send(data_frame(d, FLAG_FIN, &[])).await;
                }
                self.pairs.remove(request);
                ok
            }
        }
    }

    /// What the server behind a port did.
    async fn on_pod(&mut self, event: FromPod) -> bool {
        match event {
            FromPod::Data(slot, bytes) => {
                let Some(Some(request)) = self.slots.get(slot) else {
                    return true;
                };
                match self.pairs.get(request).and_then(|p| p.data) {
                    Some(id) => self.carrier.send(data_frame(id, 0, &bytes)).await,
                    None => true,
                }
            }
            FromPod::Closed(slot) => {
                let Some(request) = self.slots.get_mut(slot).and_then(Option::take) else {
                    return true;
                };
                let Some(pair) = self.pairs.remove(&request) else {
                    return true;
                };
                // The connection ended cleanly: close both streams, the error stream empty.
                let mut ok = true;
                for id in [pair.data, pair.error].into_iter().flatten() {
                    ok &= self.carrier.send(data_frame(id, FLAG_FIN, &[])).await;
                    self.streams.remove(&id);
                }
                ok
            }
        }
    }
}

/// Serves one SPDY port-forward connection until the client goes away.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    carrier: Carrier<S>,
    shared: Arc<Shared>,
    plan: Plan,
) {
    let codec = match HeaderCodec::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%e, "port-forward: no SPDY header compression");
            carrier.finish().await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<FromPod>(16);
    let mut s = Session {
        carrier,
        codec,
        shared,
        plan,
        streams: HashMap::new(),
        pairs: HashMap::new(),
        slots: Vec::new(),
        tx,
    };
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let go_on = tokio::select! {
            alive = s.carrier.receive(&mut buf) => {
                let mut go_on = alive;
                while go_on {
                    match take_frame(&mut buf) {
                        Ok(Some(frame)) => go_on = s.on_frame(frame).await,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(%e, "port-forward: bad SPDY frame");
                            go_on = false;
                        }
                    }
                }
                go_on
            }
            Some(event) = rx.recv() => s.on_pod(event).await,
        };
        if !go_on {
            break;
        }
    }
    tracing::debug!(namespace = %s.plan.namespace, pod = %s.plan.pod, "port-forward (SPDY) closed");
    // Dropping the pairs ends the pumps, and with them the servers behind the ports.
    s.pairs.clear();
    s.carrier.finish().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_spdy3s() {
        assert_eq!(DICTIONARY.len(), 1423);
        assert!(DICTIONARY.starts_with(b"\0\0\0\x07options"));
        assert!(DICTIONARY.ends_with(b"enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_one_context_per_direction() {
        let mut client = HeaderCodec::new().expect("codec");
        let mut server = HeaderCodec::new().expect("codec");
        for request in ["0", "1"] {
            let block = client
                .encode(&[
                    ("streamtype", "error"),
                    ("port", "15014"),
                    ("requestid", request),
                ])
                .expect("encode");
            let headers = server.decode(&block).expect("decode");
            assert_eq!(
                headers,
                [
                    ("streamtype".to_string(), "error".to_string()),
                    ("port".to_string(), "15014".to_string()),
                    ("requestid".to_string(), request.to_string()),
                ]
            );
        }
        assert!(server.decode(b"not zlib at all").is_err());
    }

    #[test]
    fn frames_are_taken_whole_and_only_whole() {
        let mut buf = BytesMut::new();
        buf.put_slice(&control(PING, 0, &7u32.to_be_bytes()));
        buf.put_slice(&data_frame(3, FLAG_FIN, b"hello"));
        let whole = buf.len();
        buf.put_slice(&data_frame(5, 0, b"partial")[..10]);
        assert_eq!(
            take_frame(&mut buf),
            Ok(Some(Frame::Control {
                kind: PING,
                flags: 0,
                payload: Bytes::from_static(&[0, 0, 0, 7])
            }))
        );
        assert_eq!(
            take_frame(&mut buf),
            Ok(Some(Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                payload: Bytes::from_static(b"hello")
            }))
        );
        assert_eq!(take_frame(&mut buf), Ok(None));
        assert_eq!(buf.len(), 10, "the partial frame waits: {whole}");
        let mut v2 = BytesMut::from(&[0x80, 2, 0, 1, 0, 0, 0, 0][..]);
        assert!(take_frame(&mut v2).is_err());
    }
}
