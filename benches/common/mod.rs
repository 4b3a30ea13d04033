//! What the benchmarks that run meshtop's binaries share: the sandbox started in a process
//! of its own on a generated cluster, a process's memory from /proc, the machine they ran
//! on, the sizes asked for, and their table written into README.md between markers.
//! Each benchmark uses part of it.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release meshtop `cargo bench` built.
pub const MESHTOP: &str = env!("CARGO_BIN_EXE_meshtop");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

/// The cluster sizes to measure: `MESHTOP_BENCH_SIZES` (pods, comma-separated), 1,000 and
/// 20,000 by default.
pub fn sizes() -> Vec<usize> {
    std::env::var("MESHTOP_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,20000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// The nodes of a generated cluster: one per 20 pods.
pub fn nodes(pods: usize) -> usize {
    (pods / 20).max(1)
}

/// The generated cluster of a size.
pub fn spec(pods: usize) -> String {
    format!("nodes={},pods={pods}", nodes(pods))
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
pub fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub struct Sandbox {
    pub child: Child,
    pub kubeconfig: PathBuf,
    pub url: String,
    pub token: String,
    pub load: Duration,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `meshtop sandbox --generate SPEC` in its own process, once it serves.
pub fn start(spec: &str, dir: &Path) -> Sandbox {
    let kubeconfig = dir.join("kubeconfig");
    let t0 = Instant::now();
    let mut child = Command::new(MESHTOP)
        .args(["sandbox", "--generate", spec, "--kubeconfig-out"])
        .arg(&kubeconfig)
        .arg("--log-file")
        .arg(dir.join("sandbox.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start meshtop sandbox");
    let mut url = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(rest) = line.split(" on https://").nth(1) {
            url = format!("https://{rest}");
        }
        if line.starts_with("kubeconfig: ") {
            break;
        }
    }
    let load = t0.elapsed();
    // Keep reading, so the sandbox never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let text = std::fs::read_to_string(&kubeconfig).expect("the sandbox's kubeconfig");
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("the admin token")
        .to_string();
    Sandbox {
        child,
        kubeconfig,
        url,
        token,
        load,
    }
}

/// The CPU, cores and memory of this machine, for a table's first line.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!(
        "{model}, {cores} cores, {:.1} GB memory",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

/// A table's header: a column per cluster size.
pub fn table_head(sizes: impl Iterator<Item = usize>) -> String {
    let sizes: Vec<usize> = sizes.collect();
    let mut out = String::from("| |");
    for pods in &sizes {
        out.push_str(&format!(" {pods} pods |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(sizes.len()));
    out.push('\n');
    out
}

/// Puts `text` into README.md between `begin` and `end`; without the markers, says so.
pub fn write_readme(begin: &str, end: &str, text: &str) {
    let readme = std::fs::read_to_string(README).unwrap_or_default();
    match (readme.find(begin), readme.find(end)) {
        (Some(b), Some(e)) if b < e => {
            let new = format!("{}{begin}\n{text}{}", &readme[..b], &readme[e..]);
            if std::fs::write(README, new).is_err() {
                eprintln!("could not write {README}");
            }
        }
        _ => eprintln!("README.md has no {begin} … {end} markers: the table is printed only"),
    }
}
