//! A watcher whose first list is paged the way a big cluster needs: each page is parsed
//! from the bytes as they came off the connection (no copy into a string, no UTF-8 pass of
//! its own; a page of pods object by object as its bytes arrive), and the next page is
//! asked for as soon as this page's `continue` token has been read, before its items are,
//! so the API server prepares page N+1 while meshtop reads page N. kube's watcher asks for a page only once the last one is read, so the server and the
//! reader take turns. Then the watch from the list's resourceVersion, as kube's watcher does:
//! the same events (`Init`, `InitApply`, `InitDone`, `Apply`, `Delete`) and the same errors,
//! so a `Source` reads either alike.

use std::collections::VecDeque;
use std::fmt::{self, Debug};
use std::marker::PhantomData;
use std::time::Duration;

use futures::{AsyncBufReadExt as _, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::core::Request;
use kube::runtime::watcher::{self, DefaultBackoff, Event};
use kube::{Client, Resource};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::WatchStream;
use super::scan::{self, Reader};

/// Reads one object of a list's page with meshtop's own reader.
pub(crate) type ReadItem<K> = for<'a> fn(&mut Reader<'a>) -> scan::Result<K>;

/// How the objects of a list's pages are read: with serde, unless the kind has a reader of
/// its own (`scan`: pods, whose lists are most of the bytes a sync reads).
pub(crate) trait ListItem: DeserializeOwned {
    const READER: Option<ReadItem<Self>> = None;
}

/// Batches of events buffered between the reading task and the source (a page's objects
/// are one batch), so the reader keeps going while the source projects.
const BUFFERED: usize = 4;

/// A watcher over `api` with paged first lists of `config.page_size` objects (pipelined as
/// above), then a watch. Stops when the stream is dropped.
pub(super) fn watch_paged<K>(api: Api<K>, config: watcher::Config) -> WatchStream<K>
where
    K: Resource + Clone + ListItem + Debug + Send + 'static,
{
    let (tx, rx) = mpsc::channel(BUFFERED);
    let task = AbortOnDrop(tokio::spawn(run(api, config, tx)));
    let batch: std::vec::IntoIter<Item<K>> = Vec::new().into_iter();
    futures::stream::unfold((rx, batch, task), |(mut rx, mut batch, task)| async move {
        loop {
            if let Some(item) = batch.next() {
                return Some((item, (rx, batch, task)));
            }
            batch = rx.recv().await?.into_iter();
        }
    })
    .boxed()
}

/// A watched object's event, `version` moved to its resourceVersion; `None` when it has
/// none (the watch cannot resume from it: relist).
fn moved<K: Resource>(version: &mut String, obj: K, event: fn(K) -> Event<K>) -> Option<Event<K>> {
    let v = obj
        .meta()
        .resource_version
        .clone()
        .filter(|v| !v.is_empty())?;
    *version = v;
    Some(event(obj))
}

/// Stops a task with what holds it (the stream, a page's request).
struct AbortOnDrop<T = ()>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Item<K> = Result<Event<K>, watcher::Error>;

type Sender<K> = mpsc::Sender<Vec<Item<K>>>;

/// The stream's reader is gone.
struct Gone;

async fn emit<K>(tx: &Sender<K>, item: Item<K>) -> Result<(), Gone> {
    emit_all(tx, vec![item]).await
}

async fn emit_all<K>(tx: &Sender<K>, items: Vec<Item<K>>) -> Result<(), Gone> {
    tx.send(items).await.map_err(|_| Gone)
}

async fn run<K>(api: Api<K>, config: watcher::Config, tx: Sender<K>)
where
    K: Resource + Clone + ListItem + Debug + Send + 'static,
{
    let _ = relist_and_watch(&api, &config, &tx).await;
}

/// Lists, then watches from the list's resourceVersion, watching again where a watch ends
/// and listing afresh when the server says the version is gone (410), with kube's backoff
/// after each failure. Returns only when the stream's reader is gone.
async fn relist_and_watch<K>(
    api: &Api<K>,
    config: &watcher::Config,
    tx: &Sender<K>,
) -> Result<(), Gone>
where
    K: Resource + Clone + ListItem + Debug + Send + 'static,
{
    let mut backoff = DefaultBackoff::default();
    let pause = |backoff: &mut DefaultBackoff| {
        let wait = backoff.next().unwrap_or(Duration::from_secs(30));
        tokio::time::sleep(wait)
    };
    let watch_params = WatchParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        timeout: config.timeout,
        bookmarks: config.bookmarks,
        send_initial_events: false,
    };
    'relist: loop {
        emit(tx, Ok(Event::Init)).await?;
        let mut version = match list(api, config, tx).await? {
            Ok(version) => version,
            Err(err) => {
                emit(tx, Err(err)).await?;
                pause(&mut backoff).await;
                continue 'relist;
            }
        };
        emit(tx, Ok(Event::InitDone)).await?;
        backoff = DefaultBackoff::default();
        loop {
            let mut stream = match super::events::watch(api, &watch_params, &version).await {
                Ok(stream) => stream,
                Err(err) => {
                    emit(tx, Err(watcher::Error::WatchStartFailed(err))).await?;
                    pause(&mut backoff).await;
                    continue;
                }
            };
            while let Some(event) = stream.next().await {
                let moved = match event {
                    Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj)) => {
                        moved(&mut version, obj, Event::Apply)
                    }
                    Ok(WatchEvent::Deleted(obj)) => moved(&mut version, obj, Event::Delete),
                    Ok(WatchEvent::Bookmark(mark)) => {
                        version = mark.metadata.resource_version;
                        continue;
                    }
                    Ok(WatchEvent::Error(status)) => {
                        let gone = status.code == 410;
                        emit(tx, Err(watcher::Error::WatchError(status.boxed()))).await?;
                        if gone {
                            continue 'relist;
                        }
                        pause(&mut backoff).await;
                        continue;
                    }
                    Err(err) => {
                        emit(tx, Err(watcher::Error::WatchFailed(err))).await?;
                        pause(&mut backoff).await;
                        continue;
                    }
                };
                let Some(item) = moved else {
                    emit(tx, Err(watcher::Error::NoResourceVersion)).await?;
                    continue 'relist;
                };
                emit(tx, Ok(item)).await?;
                backoff = DefaultBackoff::default();
            }
        }
    }
}

/// A page's request under way on a task of its own: its metadata as soon as the first bytes
/// hold it, then its whole body, or its objects already read when the kind has a reader of
/// its own.
struct Fetch<K> {
    /// The page's metadata read from the head of its body; dropped unsent when the head
    /// does not hold it (objects before metadata) or the request failed.
    head: oneshot::Receiver<ListMeta>,
    body: AbortOnDrop<Result<Body<K>, kube::Error>>,
}

/// What a page's request brought.
enum Body<K> {
    /// The page's bytes, for serde to read once they are all there.
    Bytes(Vec<u8>),
    /// The page read as its bytes arrived (`Streamed`).
    Read(Page<Item<K>>),
}

/// How far into a page the metadata is looked for before its end is waited for.
const HEAD_BYTES: usize = 64 * 1024;

/// Starts the request for one page. A kind with a reader of its own (pods) has its objects
/// read on the request's task as their bytes arrive; the others' bodies are read into
/// `bytes` (an earlier page's buffer, emptied: pages of megabytes are not allocated afresh
/// each time). `metadata` asks for the objects' metadata only (`PartialObjectMeta` kinds);
/// `room`: how many objects a page may hold.
fn fetch<K: ListItem + Send + 'static>(
    client: &Client,
    url: &str,
    params: &ListParams,
    metadata: bool,
    mut bytes: Vec<u8>,
    room: usize,
) -> Result<Fetch<K>, kube::Error> {
    let request = Request::new(url);
    let request = if metadata {
        request.list_metadata(params)
    } else {
        request.list(params)
    }
    .map_err(kube::Error::BuildRequest)?;
    let client = client.clone();
    let (head_tx, head) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut body = Box::pin(client.request_stream(request).await?);
        let mut head_tx = Some(head_tx);
        if let Some(item) = K::READER {
            let mut page = Streamed::new(item, room);
            let mut on_meta = |meta: &ListMeta| {
                if let Some(tx) = head_tx.take() {
                    let _ = tx.send(meta.clone());
                }
            };
            each_chunk(&mut body, |chunk| {
                page.feed(chunk, &mut on_meta)
                    .map_err(kube::Error::SerdeError)
            })
            .await?;
            return page
                .finish(&mut on_meta)
                .map(Body::Read)
                .map_err(kube::Error::SerdeError);
        }
        bytes.clear();
        each_chunk(&mut body, |chunk| {
            bytes.extend_from_slice(chunk);
            if let Some(tx) = head_tx.take() {
                match page_head(&bytes) {
                    Head::Meta(meta) => {
                        let _ = tx.send(meta);
                    }
                    Head::Pending if bytes.len() < HEAD_BYTES => head_tx = Some(tx),
                    Head::Pending | Head::Unknown => {}
                }
            }
            Ok(())
        })
        .await?;
        Ok(Body::Bytes(bytes))
    });
    Ok(Fetch {
        head,
        body: AbortOnDrop(task),
    })
}

/// Hands each chunk of a response's body to `take`, up to its end.
async fn each_chunk<B: futures::AsyncBufRead + Unpin>(
    body: &mut B,
    mut take: impl FnMut(&[u8]) -> Result<(), kube::Error>,
) -> Result<(), kube::Error> {
    loop {
        let chunk = body.fill_buf().await.map_err(kube::Error::ReadEvents)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let n = chunk.len();
        take(chunk)?;
        body.consume_unpin(n);
    }
}

impl<K> Fetch<K> {
    async fn body(mut self) -> Result<Body<K>, kube::Error> {
        match (&mut self.body.0).await {
            Ok(result) => result,
            Err(join) => Err(kube::Error::Service(Box::new(join))),
        }
    }
}

/// Reads every page of the list, sending each page's objects as `InitApply`: the list's
/// resourceVersion, or the failure to send in its place. `Err(Gone)` only when the
/// stream's reader is gone.
async fn list<K>(
    api: &Api<K>,
    config: &watcher::Config,
    tx: &Sender<K>,
) -> Result<Result<String, watcher::Error>, Gone>
where
    K: Resource + Clone + ListItem + Debug + Send + 'static,
{
    let client: Client = api.clone().into_client();
    let url = api.resource_url().to_string();
    let mut params = ListParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        limit: config.page_size,
        ..ListParams::default()
    };
    // Room for a full page at once: a page's objects are hundreds of kilobytes, and
    // growing them step by step copied them and churned the allocator's big chunks.
    let room = config.page_size.unwrap_or_default() as usize;
    let failed = |e| Ok(Err(watcher::Error::InitialListFailed(e)));
    let first = match fetch(&client, &url, &params, K::metadata_api(), Vec::new(), room) {
        Ok(f) => f,
        Err(e) => return failed(e),
    };
    let mut ask = |token: &str, bytes: Vec<u8>| {
        params.continue_token = Some(token.to_owned());
        fetch::<K>(&client, &url, &params, K::metadata_api(), bytes, room)
    };
    // The pages asked for and not yet read, oldest first.
    let mut pages = VecDeque::from([(first, Ahead::Waiting)]);
    // Buffers of pages read, for the pages after them.
    let mut spares: Vec<Vec<u8>> = Vec::new();
    let mut version = None;
    loop {
        // The pages after the newest are asked for as soon as its head names them.
        while pages.len() < AHEAD {
            let Some((newest, ahead)) = pages.back_mut() else {
                break;
            };
            if *ahead != Ahead::Waiting {
                break;
            }
            let Ok(meta) = (&mut newest.head).await else {
                // Not in its head: the page's end names the next one.
                *ahead = Ahead::Unknown;
                break;
            };
            *ahead = Ahead::Asked;
            if let Some(token) = next_token(&meta) {
                match ask(token, spares.pop().unwrap_or_default()) {
                    Ok(f) => pages.push_back((f, Ahead::Waiting)),
                    Err(e) => return failed(e),
                }
            }
        }
        let Some((oldest, ahead)) = pages.pop_front() else {
            break;
        };
        let body = match oldest.body().await {
            Ok(body) => body,
            Err(e) => return failed(e),
        };
        let page = match body {
            Body::Read(page) => Ok(page),
            Body::Bytes(body) => {
                let page = read_page::<K>(&body, |_| {}).map(|page| Page {
                    meta: page.meta,
                    items: page.items.into_iter().map(init_apply).collect(),
                });
                spares.push(body);
                page
            }
        };
        let page = match page {
            Ok(page) => page,
            Err(e) => return failed(kube::Error::SerdeError(e)),
        };
        if ahead != Ahead::Asked
            && let Some(token) = next_token(&page.meta)
        {
            match ask(token, spares.pop().unwrap_or_default()) {
                Ok(f) => pages.push_back((f, Ahead::Waiting)),
                Err(e) => return failed(e),
            }
        }
        version = page.meta.resource_version;
        emit_all(tx, page.items).await?;
    }
    Ok(version
        .filter(|v| !v.is_empty())
        .ok_or(watcher::Error::NoResourceVersion))
}

/// How many pages of one list are asked for at once: each as soon as the one before it
/// names it, so the server prepares and sends pages while meshtop reads the ones before
/// (two read at once on two cores, one more on its way).
const AHEAD: usize = 3;

/// Whether the page after a page asked for has been asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ahead {
    /// Not yet: its head is awaited.
    Waiting,
    /// Asked for, or there is none.
    Asked,
    /// The head did not name it: the page's end will.
    Unknown,
}

/// The continue token a page's metadata names, if there are more pages.
fn next_token(meta: &ListMeta) -> Option<&str> {
    meta.continue_.as_deref().filter(|t| !t.is_empty())
}

/// What the first bytes of a page say of its metadata.
enum Head {
    Meta(ListMeta),
    /// Not all there yet.
    Pending,
    /// The objects come first, or the bytes are not a list.
    Unknown,
}

/// The page's metadata, if the bytes so far hold it ahead of the objects.
fn page_head(bytes: &[u8]) -> Head {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = HeadSeed(&mut found).deserialize(&mut de);
    match (found, read) {
        (Some(meta), _) => Head::Meta(meta),
        (None, Err(e)) if e.is_eof() => Head::Pending,
        (None, _) => Head::Unknown,
    }
}

/// Reads a page's keys up to its metadata, puts it in the slot, and stops there (with an
/// error, the rest being unread).
struct HeadSeed<'a>(&'a mut Option<ListMeta>);

impl<'de> DeserializeSeed<'de> for HeadSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> de::Visitor<'de> for HeadSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "metadata" => {
                    *self.0 = Some(map.next_value::<Option<ListMeta>>()?.unwrap_or_default());
                    return Err(de::Error::custom("the head is read"));
                }
                "items" => return Err(de::Error::custom("objects before the metadata")),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A page of a list: its metadata and its objects.
struct Page<K> {
    meta: ListMeta,
    items: Vec<K>,
}

/// Reads a list's page from its JSON, calling `on_meta` with its metadata as soon as it is
/// read (servers send it before the items).
fn read_page<K: DeserializeOwned>(
    body: &[u8],
    on_meta: impl FnMut(&ListMeta),
) -> Result<Page<K>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let page = PageSeed {
        on_meta,
        kind: PhantomData,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(page)
}

/// A list's object as its watcher event.
fn init_apply<K>(object: K) -> Item<K> {
    Ok(Event::InitApply(object))
}

/// Reads a list's whole page as `Streamed` reads it as it arrives.
#[cfg(test)]
fn read_page_with<K>(
    body: &[u8],
    mut on_meta: impl FnMut(&ListMeta),
    item: ReadItem<K>,
    room: usize,
) -> Result<Page<Item<K>>, serde_json::Error> {
    let mut page = Streamed::new(item, room);
    page.feed(body, &mut on_meta)?;
    page.finish(&mut on_meta)
}

/// How many bytes at a time are added to an object cut off by the end of a chunk, before
/// reading it again (at least as many as it already has: an object of any size is read
/// again only a few times).
const STEP: usize = 16 * 1024;

/// A list's page read as its bytes arrive, each object read as soon as it is whole, with
/// the kind's own reader, as `read_page` reads it with serde: the bytes are read while they
/// are still in the cache, and where an object lies whole in the chunk that brought it (most
/// do) it is read there, never copied. An object cut off by a chunk's end is kept in
/// `carry` and read again with the bytes that follow.
struct Streamed<K> {
    item: ReadItem<K>,
    stage: Stage,
    carry: Vec<u8>,
    meta: Option<ListMeta>,
    items: Vec<Item<K>>,
}

/// Where a `Streamed` page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the items: read again from the page's start until the items begin.
    Head,
    /// Inside the items' array, before its first item or after the last one read.
    Items { first: bool },
    /// After the items' array: the rest of the page's members.
    Tail,
    /// After the page's closing brace: only whitespace may follow.
    End,
}

impl<K> Streamed<K> {
    fn new(item: ReadItem<K>, room: usize) -> Self {
        Streamed {
            item,
            stage: Stage::Head,
            carry: Vec::new(),
            meta: None,
            items: Vec::with_capacity(room),
        }
    }

    /// Reads what the bytes that came so far hold whole.
    fn feed(&mut self, mut chunk: &[u8], on_meta: &mut impl FnMut(&ListMeta)) -> scan::Result<()> {
        while !self.carry.is_empty() && !chunk.is_empty() {
            let whole = chunk;
            let (step, rest) = chunk.split_at(chunk.len().min(STEP.max(self.carry.len())));
            let mut carry = std::mem::take(&mut self.carry);
            carry.extend_from_slice(step);
            let used = self.read(&carry, on_meta);
            self.carry = carry;
            self.carry.drain(..used?);
            chunk = rest;
            if self.carry.len() <= step.len() {
                // The cut-off part was read, and what is left came with this step: it is
                // read where it lies in the chunk.
                chunk = whole
                    .get(step.len() - self.carry.len()..)
                    .unwrap_or_default();
                self.carry.clear();
            }
        }
        if !chunk.is_empty() {
            let used = self.read(chunk, on_meta)?;
            self.carry
                .extend_from_slice(chunk.get(used..).unwrap_or_default());
        }
        Ok(())
    }

    /// Reads `bytes` from the stage reached: how many of them it has used up (the rest
    /// hold a part cut off by their end).
    fn read(&mut self, bytes: &[u8], on_meta: &mut impl FnMut(&ListMeta)) -> scan::Result<usize> {
        let mut r = Reader::new(bytes);
        loop {
            let used = r.position();
            if self.stage == Stage::End {
                return Ok(used);
            }
            match self.step(&mut r, on_meta) {
                Ok(stage) => self.stage = stage,
                // Read again from where this stage began once more bytes have come (the
                // head and the tail whole: they are small).
                Err(_) if r.ended() => return Ok(used),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads on from the stage reached, to the next.
    fn step(
        &mut self,
        r: &mut Reader<'_>,
        on_meta: &mut impl FnMut(&ListMeta),
    ) -> scan::Result<Stage> {
        match self.stage {
            Stage::Head => {
                r.eat(b'{')?;
                self.members(r, false, on_meta)
            }
            Stage::Tail => self.members(r, true, on_meta),
            Stage::Items { first } => self.item(r, first),
            Stage::End => Ok(Stage::End),
        }
    }

    /// Reads the page's members up to the items' array (`Items`) or the page's end (`End`);
    /// `after_member`: a member was read before, so a comma or the end comes first.
    fn members(
        &mut self,
        r: &mut Reader<'_>,
        mut after_member: bool,
        on_meta: &mut impl FnMut(&ListMeta),
    ) -> scan::Result<Stage> {
        loop {
            if after_member {
                if r.closed(b'}')? {
                    return Ok(Stage::End);
                }
            } else if r.peek() == Some(b'}') {
                r.eat(b'}')?;
                return Ok(Stage::End);
            }
            after_member = true;
            let key = r.key()?;
            r.eat(b':')?;
            match key.as_ref() {
                b"metadata" => {
                    let meta: ListMeta = r.value::<Option<ListMeta>>()?.unwrap_or_default();
                    if self.meta.is_none() {
                        on_meta(&meta);
                    }
                    self.meta = Some(meta);
                }
                b"items" => {
                    self.items.clear();
                    if !r.null()? {
                        r.eat(b'[')?;
                        return Ok(Stage::Items { first: true });
                    }
                }
                _ => r.skip()?,
            }
        }
    }

    /// Reads the array's next item, or its end (`Tail`).
    fn item(&mut self, r: &mut Reader<'_>, first: bool) -> scan::Result<Stage> {
        let ended = if first {
            let empty = r.peek() == Some(b']');
            if empty {
                r.eat(b']')?;
            }
            empty
        } else {
            r.closed(b']')?
        };
        if ended {
            return Ok(Stage::Tail);
        }
        self.items.push(init_apply((self.item)(r)?));
        Ok(Stage::Items { first: false })
    }

    /// The page, once all its bytes have been read.
    fn finish(mut self, on_meta: &mut impl FnMut(&ListMeta)) -> scan::Result<Page<Item<K>>> {
        let carry = std::mem::take(&mut self.carry);
        let mut r = Reader::new(&carry);
        // What is left is read as if no more were to come: the error is the one the whole
        // page would have had.
        while self.stage != Stage::End {
            self.stage = self.step(&mut r, on_meta)?;
        }
        r.end()?;
        let Some(meta) = self.meta else {
            return Err(de::Error::missing_field("metadata"));
        };
        Ok(Page {
            meta,
            items: self.items,
        })
    }
}

struct PageSeed<F, K> {
    on_meta: F,
    kind: PhantomData<K>,
}

impl<'de, F: FnMut(&ListMeta), K: DeserializeOwned> DeserializeSeed<'de> for PageSeed<F, K> {
    type Value = Page<K>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(&ListMeta), K: DeserializeOwned> de::Visitor<'de> for PageSeed<F, K> {
    type Value = Page<K>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut meta = None;
        let mut items = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "metadata" => {
                    let m: ListMeta = map.next_value::<Option<ListMeta>>()?.unwrap_or_default();
                    (self.on_meta)(&m);
                    meta = Some(m);
                }
                "items" => items = map.next_value::<Option<Vec<K>>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(meta) = meta else {
            return Err(de::Error::missing_field("metadata"));
        };
        Ok(Page {
            meta,
            items: items.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    #[test]
    fn a_page_reads_its_metadata_before_its_items() {
        let body = br#"{"kind":"ConfigMapList","apiVersion":"v1",
            "metadata":{"resourceVersion":"12","continue":"abc"},
            "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let mut seen = None;
        let page = read_page::<ConfigMap>(body, |m| seen = m.continue_.clone()).expect("page");
        assert_eq!(seen.as_deref(), Some("abc"));
        assert_eq!(page.meta.resource_version.as_deref(), Some("12"));
        let names: Vec<_> = page
            .items
            .iter()
            .map(|c| c.metadata.name.as_deref())
            .collect();
        assert_eq!(names, [Some("a"), Some("b")]);
    }

    #[test]
    fn the_head_of_a_page_names_its_continue_token_before_the_rest_arrives() {
        let body = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"next"},"items":[{"metadata":{"name":"a"}}]}"#;
        let at = |n: usize| page_head(body.get(..n).expect("a prefix"));
        assert!(matches!(at(10), Head::Pending));
        assert!(matches!(at(60), Head::Pending));
        let Head::Meta(meta) = at(90) else {
            panic!("the metadata is all there at 90 bytes");
        };
        assert_eq!(meta.continue_.as_deref(), Some("next"));
        let Head::Meta(meta) = at(body.len()) else {
            panic!("the whole page");
        };
        assert_eq!(meta.resource_version.as_deref(), Some("7"));
        // Objects first: the metadata is read with the rest.
        assert!(matches!(
            page_head(br#"{"items":[],"metadata":{"continue":"x"}}"#),
            Head::Unknown
        ));
        assert!(matches!(page_head(b"<html>"), Head::Unknown));
    }

    #[test]
    fn a_kind_with_a_reader_of_its_own_reads_its_pages_as_serde_does() {
        use crate::cluster::watch::Lean;
        use crate::model::project::PodParts as Pod;

        let body = br#"{"kind":"PodList","apiVersion":"v1",
            "metadata":{"resourceVersion":"12","continue":"abc","remainingItemCount":3},
            "items":[{"metadata":{"name":"a","managedFields":[{"fieldsV1":{"f:x":{}}}]},
                "spec":{"nodeName":"n1","containers":[{"name":"c","env":[{"name":"E"}]}]}},
              {"metadata":{"name":"b"},"status":{"phase":"Running"}}]}"#;
        let read = |body: &[u8]| {
            let mut seen = None;
            let page = read_page_with(
                body,
                |m| seen = m.continue_.clone(),
                Lean::<Pod>::READER.expect("a reader"),
                2,
            )
            .map(listed);
            (seen, page)
        };
        let (seen, page) = read(body);
        let page = page.expect("a page");
        let by_serde = read_page::<Lean<Pod>>(body, |_| {}).expect("a page");
        assert_eq!(seen.as_deref(), Some("abc"));
        assert_eq!(page.meta, by_serde.meta);
        let names = |p: &Page<Lean<Pod>>| p.items.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&page), names(&by_serde));
        assert_eq!(page.items.len(), 2);
        for broken in [
            &br#"{"items":[]}"#[..],
            br#"{"metadata":{},"items":[{"#,
            br#"{"metadata":{}} trailing"#,
            br#"{"metadata":{},"items":[null]}"#,
        ] {
            assert!(read(broken).1.is_err());
        }
        assert!(
            read(br#"{"metadata":{},"items":null}"#)
                .1
                .expect("no items")
                .items
                .is_empty()
        );
    }

    /// A page's listed objects, out of their events.
    fn listed<K>(page: Page<Item<K>>) -> Page<K> {
        Page {
            meta: page.meta,
            items: page
                .items
                .into_iter()
                .filter_map(|item| match item {
                    Ok(Event::InitApply(object)) => Some(object),
                    _ => None,
                })
                .collect(),
        }
    }

    /// A page of pods fed to `Streamed` in chunks of `size` bytes: its continue token (told
    /// once) and the pods, or the error.
    fn streamed(
        body: &[u8],
        size: usize,
    ) -> (
        Vec<String>,
        scan::Result<Page<crate::model::project::PodParts>>,
    ) {
        use crate::cluster::watch::Lean;
        let mut told = Vec::new();
        let mut on_meta = |m: &ListMeta| told.push(m.continue_.clone().unwrap_or_default());
        let mut page = Streamed::new(Lean::READER.expect("a reader"), 2);
        let read = body
            .chunks(size)
            .try_for_each(|chunk| page.feed(chunk, &mut on_meta))
            .and_then(|()| page.finish(&mut on_meta))
            .map(|page| {
                let page = listed(page);
                Page {
                    meta: page.meta,
                    items: page.items.into_iter().map(|Lean(pod)| pod).collect(),
                }
            });
        (told, read)
    }

    #[test]
    fn a_page_read_as_its_bytes_arrive_reads_as_the_whole_page_does() {
        use crate::cluster::watch::Lean;
        use crate::model::project::PodParts as Pod;

        // A pod bigger than the steps an object cut off by a chunk's end grows by.
        let big = "x".repeat(40_000);
        let body = format!(
            r#" {{"kind":"PodList","apiVersion":"v1",
            "metadata":{{"resourceVersion":"12","continue":"abc"}},
            "items":[{{"metadata":{{"name":"a","labels":{{"app":"a"}},"annotations":{{"big":"{big}"}},
                "managedFields":[{{"fieldsV1":{{"f:x":{{}}}}}}]}},
                "spec":{{"nodeName":"n1","containers":[{{"name":"c","env":[{{"name":"E"}}]}}]}}}},
              {{"metadata":{{"name":"b\"q"}},"status":{{"phase":"Running","containerStatuses":
                [{{"name":"c","ready":true,"restartCount":12,"state":{{}}}}]}}}},
              {{"metadata":{{"name":"c","deletionTimestamp":null}},"spec":null}}],
            "extra":[1,true,null]}}
"#
        );
        let body = body.as_bytes();
        let whole = read_page::<Lean<Pod>>(body, |_| {}).expect("a page");
        let pods: Vec<Pod> = whole.items.into_iter().map(|p| p.0).collect();
        assert_eq!(pods.len(), 3);
        for size in [1, 2, 3, 7, 64, 1000, 16 * 1024, 20_000, body.len()] {
            let (told, page) = streamed(body, size);
            let page = page.unwrap_or_else(|e| panic!("chunks of {size}: {e}"));
            assert_eq!(told, ["abc"], "chunks of {size}");
            assert_eq!(page.meta, whole.meta, "chunks of {size}");
            assert_eq!(page.items, pods, "chunks of {size}");
        }
        // Cut anywhere, the page is an error, never a page with fewer pods.
        for cut in (0..body.len() - 2).step_by(97) {
            let part = body.get(..cut).expect("a prefix");
            assert!(streamed(part, 500).1.is_err(), "cut at {cut}");
        }
        // Metadata after the items is read there, and told then.
        let late = br#"{"items":[{"metadata":{"name":"a"}}],"metadata":{"continue":"z"}}"#;
        for size in [1, 5, late.len()] {
            let (told, page) = streamed(late, size);
            assert_eq!(told, ["z"]);
            assert_eq!(page.expect("a page").items.len(), 1);
        }
        for broken in [
            &br#"{"metadata":{},"items":[{"metadata":{}},,]}"#[..],
            br#"{"metadata":{},"items":[{"metadata":{}}]} x"#,
            br#"{"metadata":{},"items":[{"metadata":{}}]"#,
            br#"{"metadata":{},"items":nul}"#,
            br#"{"metadata":{},"items":[{"metadata":{"name":tru}}]}"#,
        ] {
            for size in [1, 4, broken.len()] {
                assert!(streamed(broken, size).1.is_err());
            }
        }
    }

    #[test]
    fn a_page_changed_anywhere_reads_alike_in_chunks_and_whole_without_a_panic() {
        let body = br#"{"kind":"PodList","metadata":{"resourceVersion":"12","continue":"abc"},
            "items":[{"metadata":{"name":"a","labels":{"app":"a"},"annotations":{"x":"y\"z"},
                "managedFields":[{"fieldsV1":{"f:x":{}}}]},
                "spec":{"nodeName":"n1","containers":[{"name":"c","env":[{"name":"E"}]}]}},
              {"metadata":{"name":"b"},"status":{"phase":"Running","containerStatuses":
                [{"name":"c","ready":true,"restartCount":12,"state":{}}]}}],
            "extra":[1,true,null]}"#;
        let steering = b"\"\\{}[],: n0-u\x01\x80\xff";
        let mut changed = body.to_vec();
        let mut read = 0;
        for at in 0..body.len() {
            for &b in steering {
                changed[at] = b;
                let (told_whole, whole) = streamed(&changed, changed.len());
                let (told_chunks, chunks) = streamed(&changed, 7);
                match (whole, chunks) {
                    (Ok(whole), Ok(chunks)) => {
                        read += 1;
                        assert_eq!(whole.items, chunks.items, "byte {at} as {b}");
                        assert_eq!(told_whole, told_chunks, "byte {at} as {b}");
                    }
                    (Err(_), Err(_)) => {}
                    (whole, chunks) => panic!(
                        "byte {at} as {b}: whole {:?}, in chunks {:?}",
                        whole.map(|p| p.items.len()),
                        chunks.map(|p| p.items.len())
                    ),
                }
            }
            changed[at] = body[at];
        }
        // Most changes land in what is skipped or kept as text, and still read.
        assert!(
            read > body.len(),
            "{read} of {} changes read",
            body.len() * 16
        );
    }

    #[test]
    fn null_items_are_none_and_a_broken_page_is_an_error() {
        let page = read_page::<ConfigMap>(br#"{"metadata":{},"items":null}"#, |_| {})
            .expect("a page without items");
        assert!(page.items.is_empty());
        assert!(read_page::<ConfigMap>(br#"{"items":[]}"#, |_| {}).is_err());
        assert!(read_page::<ConfigMap>(br#"{"metadata":{},"items":[{"#, |_| {}).is_err());
        assert!(read_page::<ConfigMap>(br#"{"metadata":{}} trailing"#, |_| {}).is_err());
    }
}
