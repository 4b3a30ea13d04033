//! A watch's events read line by line off the connection: a kind with a reader of its own
//! (pods, `ListItem::READER`) reads each changed object with it, as its list's pages are
//! read, rather than through kube's serde decoding, which tokenized every skipped field of
//! every pod. Under churn the watch of pods is most of what meshtop reads. Anything else
//! (bookmarks, errors, other kinds, an event the reader does not take) is decoded as kube
//! decodes it, with the same errors.

use futures::stream::BoxStream;
use futures::{AsyncBufRead, AsyncBufReadExt as _, StreamExt};
use kube::api::{Api, WatchEvent, WatchParams};
use kube::core::{Request, Status};
use kube::{Client, Resource};

use super::pager::{ListItem, ReadItem};
use super::scan::Reader;

/// A watch's events.
pub(super) type Events<K> = BoxStream<'static, Result<WatchEvent<K>, kube::Error>>;

/// Watches `api` from `version`: what `Api::watch` does, each line read by `decode`.
pub(super) async fn watch<K>(
    api: &Api<K>,
    params: &WatchParams,
    version: &str,
) -> Result<Events<K>, kube::Error>
where
    K: Resource + Clone + ListItem + Send + 'static,
{
    let request = Request::new(api.resource_url());
    let mut request = if K::metadata_api() {
        request.watch_metadata(params, version)
    } else {
        request.watch(params, version)
    }
    .map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert("watch");
    // A watch's events are many small lines: compressed, only the first would be read by
    // kube's decompression (kube asks for them plain too).
    request
        .headers_mut()
        .entry(http::header::ACCEPT_ENCODING)
        .or_insert(http::HeaderValue::from_static("identity"));
    let client: Client = api.clone().into_client();
    let body = Box::pin(client.request_stream(request).await?);
    Ok(lines(body).boxed())
}

/// The events of a watch's body, one a line, until it ends or fails.
fn lines<K>(
    body: std::pin::Pin<Box<dyn AsyncBufRead + Send>>,
) -> impl futures::Stream<Item = Result<WatchEvent<K>, kube::Error>> + Send
where
    K: ListItem + Clone + Send + 'static,
{
    futures::stream::unfold(Some((body, Vec::new())), |state| async move {
        let (mut body, mut line) = state?;
        loop {
            line.clear();
            match body.read_until(b'\n', &mut line).await {
                Ok(0) => return None,
                Ok(_) => {
                    if let Some(event) = decode::<K>(&line) {
                        return Some((event, Some((body, line))));
                    }
                }
                Err(e) if ended(&e) => {
                    // The server or the connection ended the watch (after minutes, as a
                    // watch does): the caller watches again from the last version.
                    tracing::debug!(error = %e, "watch ended");
                    return None;
                }
                Err(e) => return Some((Err(kube::Error::ReadEvents(e)), None)),
            }
        }
    })
}

/// A read error that ends a watch as the server ends one: the client's timeout, or the
/// body cut short (which TLS and the chunked decoder report as an unexpected end).
fn ended(e: &std::io::Error) -> bool {
    const MAX_DEPTH: usize = 16;
    if matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::UnexpectedEof
    ) || e.to_string().contains("unexpected EOF during chunk")
    {
        return true;
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = e
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    for _ in 0..MAX_DEPTH {
        let Some(err) = current else {
            return false;
        };
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        current = err.source();
    }
    false
}

/// One line's event; `None` for a line that holds none (blank, or cut short at the end).
fn decode<K>(line: &[u8]) -> Option<Result<WatchEvent<K>, kube::Error>>
where
    K: ListItem + Clone,
{
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if let Some(read) = K::READER
        && let Some(event) = read_object_event(line, read)
    {
        return Some(Ok(event));
    }
    match serde_json::from_slice::<WatchEvent<K>>(line) {
        Ok(event) => Some(Ok(event)),
        Err(e) if e.is_eof() => None,
        Err(e) => match serde_json::from_slice::<Status>(line) {
            Ok(status) => Some(Err(kube::Error::Api(status.boxed()))),
            Err(_) => Some(Err(kube::Error::SerdeError(e))),
        },
    }
}

/// An ADDED, MODIFIED or DELETED event read with the kind's own reader, its type first (as
/// the API server writes it); `None` for anything else.
fn read_object_event<K>(line: &[u8], read: ReadItem<K>) -> Option<WatchEvent<K>> {
    let mut r = Reader::new(line);
    let mut event: Option<fn(K) -> WatchEvent<K>> = None;
    let mut object = None;
    r.record(|r, key| {
        match key {
            b"type" if event.is_none() => {
                event = match r.string()?.as_ref() {
                    "ADDED" => Some(WatchEvent::Added),
                    "MODIFIED" => Some(WatchEvent::Modified),
                    "DELETED" => Some(WatchEvent::Deleted),
                    _ => return Err(r.error("not an object's event")),
                };
            }
            b"object" => match event {
                Some(event) if object.is_none() => object = Some(event(read(r)?)),
                _ => return Err(r.error("an object before its event's type")),
            },
            b"type" => return Err(r.error("a second type")),
            _ => r.skip()?,
        }
        Ok(())
    })
    .ok()?;
    r.end().ok()?;
    object
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Namespace;

    use super::*;
    use crate::cluster::watch::Lean;
    use crate::model::project::PodParts;

    const POD: &str = r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","namespace":"n","resourceVersion":"42","labels":{"app":"x"},"managedFields":[{"fieldsV1":{"f:x":{}}}]},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i:1","env":[{"name":"E"}]}]},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;

    fn event(kind: &str, object: &str) -> Vec<u8> {
        format!("{{\"type\":\"{kind}\",\"object\":{object}}}\n").into_bytes()
    }

    /// What kube's decoding makes of a line.
    fn by_serde(line: &[u8]) -> WatchEvent<Lean<PodParts>> {
        serde_json::from_slice(line).expect("kube reads the line")
    }

    fn parts(event: &WatchEvent<Lean<PodParts>>) -> Option<&PodParts> {
        match event {
            WatchEvent::Added(p) | WatchEvent::Modified(p) | WatchEvent::Deleted(p) => Some(&p.0),
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => None,
        }
    }

    #[test]
    fn a_pods_event_is_read_by_its_own_reader_as_kube_reads_it() {
        for kind in ["ADDED", "MODIFIED", "DELETED"] {
            let line = event(kind, POD);
            let own = read_object_event(&line, |r| {
                <Lean<PodParts> as ListItem>::READER.expect("pods have a reader")(r)
            })
            .expect("the reader takes it");
            let serde = by_serde(&line);
            assert_eq!(
                std::mem::discriminant(&own),
                std::mem::discriminant(&serde),
                "{kind}"
            );
            let own = parts(&own).expect("an object");
            assert_eq!(Some(own), parts(&serde), "{kind}");
            assert_eq!(own.meta.name.as_deref(), Some("a"));
            assert_eq!(own.meta.resource_version.as_deref(), Some("42"));
            let decoded = decode::<Lean<PodParts>>(&line)
                .expect("an event")
                .expect("read");
            assert_eq!(parts(&decoded), Some(own));
        }
    }

    #[test]
    fn a_workloads_event_is_read_by_its_own_reader_as_kube_reads_it() {
        use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
        let object = r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d","namespace":"n","resourceVersion":"9","managedFields":[{"fieldsV1":{"f:spec":{}}}]},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","command":["run"],"env":[{"name":"E","value":"v"}]}]}}},"status":{"readyReplicas":2}}"#;
        let line = event("MODIFIED", object);
        match decode::<Lean<Deployment>>(&line) {
            Some(Ok(WatchEvent::Modified(own))) => {
                let serde: WatchEvent<Lean<Deployment>> =
                    serde_json::from_slice(&line).expect("kube reads the line");
                let WatchEvent::Modified(serde) = serde else {
                    panic!("kube reads a modification");
                };
                assert_eq!(own.0, serde.0);
                assert_eq!(own.0.spec.replicas, Some(3));
            }
            other => panic!("a modified Deployment, not {other:?}"),
        }
        match decode::<Lean<ReplicaSet>>(&event("DELETED", object)) {
            Some(Ok(WatchEvent::Deleted(rs))) => {
                assert_eq!(rs.0.metadata.resource_version.as_deref(), Some("9"));
            }
            other => panic!("a deleted ReplicaSet, not {other:?}"),
        }
    }

    #[test]
    fn bookmarks_errors_and_odd_orders_are_decoded_as_kube_decodes_them() {
        let bookmark = br#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"77"}}}"#;
        match decode::<Lean<PodParts>>(bookmark) {
            Some(Ok(WatchEvent::Bookmark(b))) => assert_eq!(b.metadata.resource_version, "77"),
            other => panic!("a bookmark, not {other:?}"),
        }
        let gone = br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}"#;
        match decode::<Lean<PodParts>>(gone) {
            Some(Ok(WatchEvent::Error(status))) => assert_eq!(status.code, 410),
            other => panic!("an error event, not {other:?}"),
        }
        // The object before its type: not the reader's, still an event.
        let backwards = format!("{{\"object\":{POD},\"type\":\"MODIFIED\"}}");
        match decode::<Lean<PodParts>>(backwards.as_bytes()) {
            Some(Ok(WatchEvent::Modified(p))) => assert_eq!(p.0.meta.name.as_deref(), Some("a")),
            other => panic!("a modified pod, not {other:?}"),
        }
        // A kind without a reader of its own.
        let ns = event(
            "ADDED",
            r#"{"metadata":{"name":"istio-system","resourceVersion":"3"}}"#,
        );
        match decode::<Namespace>(&ns) {
            Some(Ok(WatchEvent::Added(n))) => {
                assert_eq!(n.metadata.name.as_deref(), Some("istio-system"));
            }
            other => panic!("an added namespace, not {other:?}"),
        }
    }

    #[test]
    fn blank_and_cut_lines_are_no_events_and_bad_ones_are_errors() {
        assert!(decode::<Lean<PodParts>>(b"\r\n").is_none());
        let line = event("MODIFIED", POD);
        let cut = line.get(..line.len() / 2).expect("half");
        assert!(decode::<Lean<PodParts>>(cut).is_none());
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"forbidden","reason":"Forbidden","code":403}"#;
        match decode::<Lean<PodParts>>(status) {
            Some(Err(kube::Error::Api(s))) => assert_eq!(s.code, 403),
            other => panic!("the API's refusal, not {other:?}"),
        }
        match decode::<Lean<PodParts>>(b"<html>") {
            Some(Err(kube::Error::SerdeError(_))) => {}
            other => panic!("a decoding error, not {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_body_is_read_line_by_line_to_its_end() {
        let mut body = event("ADDED", POD);
        body.extend_from_slice(b"\n");
        body.extend(event("DELETED", POD));
        // The last line cut short, as when a watch is closed mid-event.
        body.extend_from_slice(br#"{"type":"MODIFIED","obj"#);
        let reader: std::pin::Pin<Box<dyn AsyncBufRead + Send>> =
            Box::pin(futures::io::Cursor::new(body));
        let events: Vec<_> = lines::<Lean<PodParts>>(reader).collect().await;
        assert_eq!(events.len(), 2);
        assert!(matches!(events.first(), Some(Ok(WatchEvent::Added(_)))));
        assert!(matches!(events.get(1), Some(Ok(WatchEvent::Deleted(_)))));
    }
}
