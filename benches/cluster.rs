//! The sandbox and its clients at size: `meshtop sandbox --generate` in its own process at
//! 1,000 and 20,000 pods (`MESHTOP_BENCH_SIZES=1000,20000,100000` adds 100,000 on 5,000
//! nodes), measured side by side: the sandbox's load time and RSS (from /proc), meshtop's
//! full sync (`meshtop get nodes`: wall, peak RSS, CPU), `kubectl get pods -A`, `kubectl get
//! pods -A -o json` (up to `MESHTOP_BENCH_JSON_MAX` pods, 10,000 by default), the raw
//! download of the pod list (one plain HTTPS GET with the token), and one write's latency
//! (a pod label, the median of 7).
//!
//! The table goes to README.md between `<!-- bench:cluster -->` and
//! `<!-- /bench:cluster -->`, with the machine it ran on. Clients are timed with
//! `/usr/bin/time` (GNU time: wall, user + system CPU, peak RSS) and the raw requests with
//! `curl`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{MESHTOP, Sandbox, machine, rss_kb, start};

const BEGIN: &str = "<!-- bench:cluster -->";
const END: &str = "<!-- /bench:cluster -->";

/// A client run to its end, as GNU time saw it.
struct Timed {
    wall: f64,
    cpu: f64,
    peak_kb: u64,
    ok: bool,
}

fn timed(program: &str, args: &[&str]) -> Timed {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIMED %e %U %S %M"])
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let Ok(out) = out else {
        return Timed {
            wall: 0.0,
            cpu: 0.0,
            peak_kb: 0,
            ok: false,
        };
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("TIMED "))
        .unwrap_or("");
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    match f.as_slice() {
        [wall, user, sys, rss] => Timed {
            wall: *wall,
            cpu: user + sys,
            peak_kb: *rss as u64,
            ok: out.status.success(),
        },
        _ => {
            eprintln!("{program} {args:?}: {stderr}");
            Timed {
                wall: 0.0,
                cpu: 0.0,
                peak_kb: 0,
                ok: false,
            }
        }
    }
}

/// A plain HTTPS request with curl: seconds and bytes downloaded.
fn curl(sb: &Sandbox, method: &str, path: &str, body: Option<&str>) -> (f64, u64) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{time_total} %{size_download} %{http_code}",
    ])
    .args(["-X", method])
    .arg("-H")
    .arg(format!("Authorization: Bearer {}", sb.token));
    if let Some(b) = body {
        cmd.args([
            "-H",
            "Content-Type: application/merge-patch+json",
            "--data",
            b,
        ]);
    }
    let out = cmd.arg(format!("{}{path}", sb.url)).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    match f.as_slice() {
        [t, n, code] if code.starts_with('2') => (t.parse().unwrap_or(0.0), n.parse().unwrap_or(0)),
        _ => {
            eprintln!("curl {method} {path}: {text}");
            (f64::NAN, 0)
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One size's figures, as table cells.
struct Column {
    pods: usize,
    cells: Vec<(String, String)>,
}

fn mb(kb: u64) -> String {
    format!("{} MB", kb / 1024)
}

fn client_cell(t: &Timed) -> String {
    if t.ok {
        format!("{:.2} s, {:.2} s CPU, {}", t.wall, t.cpu, mb(t.peak_kb))
    } else {
        "failed".into()
    }
}

fn measure(pods: usize, json_max: usize) -> Column {
    let nodes = common::nodes(pods);
    let spec = common::spec(pods);
    eprintln!("cluster bench: {spec}");
    let dir = tempfile::tempdir().expect("tempdir");
    let sb = start(&spec, dir.path());
    let pid = sb.child.id();
    // The first request: the controllers went over the loaded cluster before the port opened.
    let t0 = Instant::now();
    curl(&sb, "GET", "/api/v1/namespaces/default/pods?limit=1", None);
    let settled = t0.elapsed();
    let (loaded_rss, _) = rss_kb(pid);
    let (raw_secs, raw_bytes) = curl(&sb, "GET", "/api/v1/pods", None);
    let kc = sb.kubeconfig.to_string_lossy().to_string();
    let log = dir.path().join("meshtop.log").to_string_lossy().to_string();
    let meshtop = timed(
        MESHTOP,
        &["--kubeconfig", &kc, "--log-file", &log, "get", "nodes"],
    );
    let kubectl = timed("kubectl", &["--kubeconfig", &kc, "get", "pods", "-A"]);
    let json = (pods <= json_max).then(|| {
        timed(
            "kubectl",
            &["--kubeconfig", &kc, "get", "pods", "-A", "-o", "json"],
        )
    });
    // A pod in the middle of the list, labelled seven times.
    let names = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kc,
            "get",
            "pods",
            "-n",
            "checkout-prod",
            "-o",
            "name",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let pod = names
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("pod/"))
        .unwrap_or("missing")
        .to_string();
    let writes: Vec<f64> = (0..7)
        .map(|i| {
            let body = format!(r#"{{"metadata":{{"labels":{{"bench":"w{i}"}}}}}}"#);
            curl(
                &sb,
                "PATCH",
                &format!("/api/v1/namespaces/checkout-prod/pods/{pod}"),
                Some(&body),
            )
            .0
        })
        .collect();
    let (serving_rss, peak_rss) = rss_kb(pid);
    let cells = vec![
        ("nodes".into(), format!("{nodes}")),
        (
            "sandbox: load (generate + store)".into(),
            format!("{:.1} s", sb.load.as_secs_f64()),
        ),
        (
            "sandbox: first answer after load".into(),
            format!("{:.1} s", settled.as_secs_f64()),
        ),
        ("sandbox: RSS loaded".into(), mb(loaded_rss)),
        (
            "sandbox: RSS after serving all below (peak)".into(),
            format!("{} ({})", mb(serving_rss), mb(peak_rss)),
        ),
        (
            "raw pod list download (curl)".into(),
            format!("{:.2} s, {} MB", raw_secs, raw_bytes / 1_000_000),
        ),
        (
            "`meshtop get nodes` (full sync)".into(),
            client_cell(&meshtop),
        ),
        ("`kubectl get pods -A`".into(), client_cell(&kubectl)),
        (
            "`kubectl get pods -A -o json`".into(),
            json.as_ref()
                .map_or(format!("skipped (over {json_max} pods)"), client_cell),
        ),
        (
            "label one pod (median of 7)".into(),
            format!("{:.0} ms", median(writes) * 1000.0),
        ),
    ];
    Column { pods, cells }
}

fn table(columns: &[Column], took: Duration) -> String {
    let mut out = format!(
        "Measured by `cargo bench --bench cluster` on {} in {:.0} s (pods of ~12 KB of JSON, one node per 20 pods).\n\n",
        machine(),
        took.as_secs_f64()
    );
    out.push_str(&common::table_head(columns.iter().map(|c| c.pods)));
    let rows = columns.first().map_or(0, |c| c.cells.len());
    for r in 0..rows {
        out.push_str(&format!("| {} |", columns[0].cells[r].0));
        for c in columns {
            out.push_str(&format!(" {} |", c.cells[r].1));
        }
        out.push('\n');
    }
    out
}

fn main() {
    let sizes = common::sizes();
    let json_max: usize = std::env::var("MESHTOP_BENCH_JSON_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let t0 = Instant::now();
    let columns: Vec<Column> = sizes.iter().map(|&n| measure(n, json_max)).collect();
    let text = table(&columns, t0.elapsed());
    println!("{text}");
    common::write_readme(BEGIN, END, &text);
}
