//! What a stored pod costs in memory: resident bytes over many copies kept alive, for the
//! pod's parsed JSON as a whole, for its parts, its head, and as the store keeps it (copies
//! of one pod share all they repeat); then a generated cluster of 5,000 pods, resident
//! bytes per pod, and the JSON each kind holds.
//! `cargo bench --bench pod_bytes` (own process, so nothing else moves the reading).

use meshtop_sandbox::Stored;
use meshtop_sandbox::generate::{GenerateSpec, build};
use serde_json::Value;

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
