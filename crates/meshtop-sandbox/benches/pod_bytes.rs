//! What a stored pod costs in memory: resident bytes over many copies kept alive, for the
//! pod's parsed JSON as a whole, for its parts, its head, and as the store keeps it (copies
//! of one pod share all they repeat); then a generated cluster of 5,000 pods, resident
//! bytes per pod, and the JSON each kind holds.
//! `cargo bench --bench pod_bytes` (own process, so nothing else moves the reading).
//!
//! `POD_BYTES_SPLIT=nodes=1000,pods=20000 cargo bench --bench pod_bytes` instead generates
//! that cluster and splits its heap (counted by this bench's allocator, each allocation
//! with a glibc-sized header) by part: the heads by kind, the stored text (each object's
//! own bytes, and the shared pieces once), the field offsets and the index.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use meshtop_sandbox::Stored;
use meshtop_sandbox::generate::{GenerateSpec, build};
use serde_json::Value;

/// Live heap: bytes asked for minus bytes freed, and allocations live.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static CHUNKS: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// A global allocator cannot be written without unsafe code; this one only forwards to
// `System` and counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            CHUNKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        CHUNKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live heap now: bytes, and bytes as chunks of a glibc-style allocator (an 8-byte header,
/// 16-byte alignment; on average 16 bytes more an allocation).
fn heap() -> (usize, usize) {
    let live = LIVE.load(Ordering::Relaxed);
    (live, live + 16 * CHUNKS.load(Ordering::Relaxed))
}

/// Where the heap of a generated cluster goes, by part, in MB.
fn split(spec: &str) {
    let (_, before) = heap();
    let rss_before = rss();
    let (started, cpu_before) = (std::time::Instant::now(), cpu());
    let cluster = build(
        &GenerateSpec::parse(spec).expect("spec"),
        jiff::Timestamp::now(),
    )
    .expect("build");
    let (took, load_cpu) = (started.elapsed(), cpu() - cpu_before);
    let (_, total) = heap();
    let total = total.saturating_sub(before);
    let rss_total = rss().saturating_sub(rss_before);
    let mut heads = 0;
    let mut by_kind = Vec::new();
    for key in cluster.store.keys() {
        let (mut n, mut bytes) = (0, 0);
        for o in cluster.store.list(&key, None) {
            let (_, a) = heap();
            let h = o.head().clone();
            let (_, b) = heap();
            drop(h);
            bytes += b.saturating_sub(a);
            n += 1;
        }
        heads += bytes;
        by_kind.push((bytes, n, key));
    }
    by_kind.sort();
    let pod_heads = by_kind
        .iter()
        .rev()
        .take(4)
        .map(|(b, n, k)| format!("{k} {n}: {:.0} MB", *b as f64 / 1e6))
        .collect::<Vec<_>>()
        .join(", ");
    let f = cluster.store.footprint();
    let mb = |b: usize| b as f64 / 1e6;
    println!(
        "{spec}: {} objects in {took:.1?} ({load_cpu:.1} s CPU), RSS {:.0} MB, heap {:.0} MB",
        f.objects,
        mb(rss_total),
        mb(total)
    );
    // What serving the pod list costs the store: every pod's JSON written out, as a
    // list streams it (the median of 5).
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let at = cpu();
            let mut out = Vec::with_capacity(64 * 1024);
            let mut bytes = 0;
            for o in cluster.store.list("pods", None) {
                o.write_json(&mut out);
                if out.len() >= 64 * 1024 {
                    bytes += out.len();
                    out.clear();
                }
            }
            std::hint::black_box(bytes + out.len());
            cpu() - at
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    println!("  writing every pod's JSON: {:.3} s CPU", runs[2]);
    println!("  heads {:.0} MB ({pod_heads})", mb(heads));
    println!(
        "  text: own {:.0} MB, shared {:.0} MB in {} pieces; field offsets {:.0} MB",
        mb(f.text_own),
        mb(f.text_shared),
        f.shared_pieces,
        mb(f.fields)
    );
    println!(
        "  index {:.0} MB; history {} events; snapshots {} objects",
        mb(f.index),
        f.history_events,
        f.snapshots
    );
    let known = heads + f.text_own + f.text_shared + f.fields + f.index;
    println!("  the rest {:.0} MB", mb(total.saturating_sub(known)));
}

/// CPU seconds (user and system) this process used so far, from /proc.
fn cpu() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
            let ticks: f64 =
                after.get(11)?.parse::<f64>().ok()? + after.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// Resident bytes of this process, from /proc.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

const COPIES: usize = 2000;

/// Resident bytes per copy of what `make` builds, over many copies kept alive (in `keep`,
/// so the memory they take is not reused by the next measurement).
fn per_copy<T: 'static>(keep: &mut Vec<Box<dyn std::any::Any>>, make: impl Fn() -> T) -> usize {
    let before = rss();
    let kept: Vec<T> = (0..COPIES).map(|_| make()).collect();
    let after = rss();
    keep.push(Box::new(kept));
    after.saturating_sub(before) / COPIES
}

fn main() {
    if let Ok(spec) = std::env::var("POD_BYTES_SPLIT") {
        split(&spec);
        return;
    }
    let spec = GenerateSpec::parse("nodes=3,pods=40").expect("spec");
    let cluster = build(&spec, jiff::Timestamp::now()).expect("build");
    let pod = cluster
        .store
        .list("pods", None)
        .find(|p| {
            p.head()["metadata"]["labels"]
                .get("pod-template-hash")
                .is_some()
        })
        .expect("a pod");
    let json = serde_json::to_vec(&**pod).expect("json");
    let whole = pod.full();
    let mut keep = Vec::new();
    let parsed = per_copy(&mut keep, || {
        serde_json::from_slice::<Value>(&json).expect("parse")
    });
    println!("pod: {} bytes of JSON, parsed {parsed} bytes", json.len());
    for part in [
        "/metadata/managedFields",
        "/status",
        "/spec",
        "/metadata/annotations",
    ] {
        let sub = serde_json::to_vec(whole.pointer(part).expect("part")).expect("json");
        let bytes = per_copy(&mut keep, || {
            serde_json::from_slice::<Value>(&sub).expect("parse")
        });
        println!("{part}: {} bytes of JSON, parsed {bytes} bytes", sub.len());
    }
    let head = serde_json::to_vec(pod.head()).expect("json");
    let head_bytes = per_copy(&mut keep, || {
        serde_json::from_slice::<Value>(&head).expect("parse")
    });
    println!(
        "head: {} bytes of JSON, parsed {head_bytes} bytes",
        head.len()
    );
    let stored = per_copy(&mut keep, || Stored::new(whole.clone()));
    println!("as stored: {stored} bytes");
    let before = rss();
    let big = build(
        &GenerateSpec::parse("pods=5000").expect("spec"),
        jiff::Timestamp::now(),
    )
    .expect("build");
    let resident = rss().saturating_sub(before);
    println!(
        "generated cluster of 5000 pods: {} MB resident, {} bytes per pod",
        resident / 1_000_000,
        resident / 5000
    );
    for key in big.store.keys() {
        let (mut n, mut json_len, mut head_len) = (0, 0, 0);
        for o in big.store.list(&key, None) {
            n += 1;
            json_len += o.json().len();
            head_len += serde_json::to_vec(o.head()).map_or(0, |v| v.len());
        }
        if json_len > 200_000 {
            println!(
                "  {key}: {n}, JSON {} KB, head JSON {} KB",
                json_len / 1000,
                head_len / 1000
            );
        }
    }
    if parsed > 0 {
        println!(
            "stored / parsed: {:.0}%",
            stored as f64 * 100.0 / parsed as f64
        );
    }
}
