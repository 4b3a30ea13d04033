//! meshtop's TUI at size, the way a person runs it: the sandbox serves a generated cluster in
//! its own process (`benches/common`), the release meshtop runs in a real terminal (tmux,
//! as the tmux tests drive it), and once it has synced this measures
//!
//! - **idle CPU**: meshtop's user + system time (`/proc/PID/stat`) over 60 s while nothing
//!   changes and nobody types, once every istiod replica has answered or failed (a large
//!   mesh's replicas are asked about every 40 s: a shorter window catches one poll or two,
//!   and 20 s gave 1.9 % in one run and 4.2 % in the next at 100k);
//! - **CPU under churn**: the same, against a sandbox changing 1,000 pods a second
//!   (`--generate …,churn=1000`), also over 60 s (over 20 s, the first window after the sync
//!   gave 32.6 % in one run where 14–16 % is what every later one costs);
//! - **key to screen**: each view's key pressed (`send-keys`), then the screen read
//!   (`capture-pane`) until it shows that view; and the first letter of a fresh `/` filter
//!   in the Proxies view, until the title shows it. Median and p99 over repeated presses.
//!   Each sample includes one `send-keys` and up to one `capture-pane` (a tmux client
//!   process each, timed here alone and printed beside the table).
//!
//! Sizes: `MESHTOP_BENCH_SIZES` (pods; 1,000 and 20,000 by default, 100,000 on request).
//! The table goes to stdout and into README.md between `<!-- bench:tui -->` and
//! `<!-- /bench:tui -->`.

mod common;
// The tmux driver of the tests, shared rather than copied; the benchmark uses part of it.
#[allow(dead_code)]
#[path = "../tests/common/tmux.rs"]
mod tmux;
#[allow(dead_code)]
#[path = "../tests/common/wait.rs"]
mod wait;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sandbox, machine, spec, start};
use tmux::Session;

const BEGIN: &str = "<!-- bench:tui -->";
const END: &str = "<!-- /bench:tui -->";

/// How long CPU is counted, idle and under churn: at least one round of every istiod
/// replica's polls (about 40 s apart at 100k), whose answers are most of the cost; 20 s
/// caught one round or two, and under churn the events of the sync's own seconds too.
const CPU_WINDOW: Duration = Duration::from_secs(60);
/// Presses per view key.
const PRESSES: usize = 15;
/// The terminal meshtop runs in.
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

/// Each view: its key and what its screen shows once drawn (its table's title).
const VIEWS: [(&str, &str, &str); 7] = [
    ("Overview", "1", " Control plane "),
    ("Revisions", "2", " Revisions ("),
    ("Gateways", "3", " Gateways ("),
    ("Proxies", "4", " Proxies ("),
    ("Disruption", "5", " Disruption ("),
    ("Nodes", "6", " Nodes ("),
    ("Namespaces", "7", " Namespaces ("),
];

/// Median and 99th percentile, in ms.
struct Spread {
    median: f64,
    p99: f64,
}

impl Spread {
    fn of(mut ms: Vec<f64>) -> Spread {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((ms.len() as f64 - 1.0) * q).round() as usize;
            ms.get(i).copied().unwrap_or(f64::NAN)
        };
        Spread {
            median: at(0.5),
            p99: at(0.99),
        }
    }

    fn cell(&self) -> String {
        format!("{:.1} / {:.1}", self.median, self.p99)
    }
}

/// What one size measured.
struct Column {
    pods: usize,
    proxies: String,
    sync: f64,
    idle: f64,
    churn: f64,
    keys: Vec<(String, Spread)>,
    send: Spread,
    capture: Spread,
}

/// Clock ticks a second, as `/proc/PID/stat` counts CPU time.
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A process's user + system CPU so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name, in brackets, may hold spaces: fields count from after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the name.
    (field(11) + field(12)) / ticks_per_second()
}

/// The share of one core `pid` used over `window`.
fn cpu_share(pid: u32, window: Duration) -> f64 {
    let before = cpu_seconds(pid);
    let t0 = Instant::now();
    std::thread::sleep(window);
    (cpu_seconds(pid) - before) / t0.elapsed().as_secs_f64()
}

/// Reads the screen until `check` holds or `within` passes: the screen, or `None`.
fn poll(session: &Session, within: Duration, check: impl Fn(&str) -> bool) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        let screen = session.screen();
        if check(&screen) {
            return Some(screen);
        }
        if Instant::now() > deadline {
            return None;
        }
    }
}

/// meshtop on the sandbox, in a terminal, once every source is listed and istiod's sync
/// states are in: the session, how long that took, and the Proxies title.
fn synced(kubeconfig: &str, pods: usize) -> (Session, f64, String) {
    let t0 = Instant::now();
    let session = Session::start(&format!("--kubeconfig {kubeconfig}"), WIDTH, HEIGHT);
    // Slow clusters take long: a minute, and one more per 10,000 pods.
    let within = Duration::from_secs(60 + 6 * (pods as u64 / 1000));
    let header_ready = |s: &str| {
        let header: String = s.lines().take(3).collect();
        header.contains("po✓") && !header.contains('…') && !header.contains("connecting")
    };
    if poll(&session, within, header_ready).is_none() {
        panic!("meshtop did not sync:\n{}", session.screen());
    }
    session.keys(&["4"]);
    let proxies = poll(&session, within, |s| {
        s.contains(" Proxies (") && !s.contains("waiting for istiod") && !s.contains(" Proxies (0)")
    })
    .unwrap_or_else(|| panic!("no proxies:\n{}", session.screen()));
    let title = proxies
        .lines()
        .find_map(|l| l.split_once(" Proxies (").map(|(_, r)| r))
        .and_then(|r| r.split_once(')'))
        .map_or(String::new(), |(n, _)| n.to_string());
    (session, t0.elapsed().as_secs_f64(), title)
}

/// The sandbox serving `spec`, and meshtop synced with it showing the Overview: with how
/// long the sync took and the Proxies title's count.
fn on_overview(spec: &str, pods: usize, dir: &Path) -> (Sandbox, Session, f64, String) {
    let sandbox = start(spec, dir);
    let kubeconfig = sandbox.kubeconfig.to_string_lossy().to_string();
    let (session, sync, proxies) = synced(&kubeconfig, pods);
    session.keys(&["1"]);
    poll(&session, Duration::from_secs(30), |s| {
        s.contains(" Control plane ")
    });
    // Idle is idle once every istiod replica has answered or failed: the first answer is
    // what "synced" waits for, the others' first answers are still sync.
    let within = Duration::from_secs(60 + 6 * (pods as u64 / 1000));
    if poll(&session, within, istiod_settled).is_none() {
        eprintln!("  istiod replicas still unsettled:\n{}", session.screen());
    }
    (sandbox, session, sync, proxies)
}

/// The Overview's `istiod A/B answering`, with every replica not answering named as failed.
fn istiod_settled(screen: &str) -> bool {
    let counts = |rest: &str| {
        let (counts, tail) = rest.split_once(' ')?;
        tail.starts_with("answering").then_some(())?;
        let (a, b) = counts.split_once('/')?;
        Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
    };
    let Some((answering, of)) = screen.split("istiod ").skip(1).find_map(counts) else {
        return false;
    };
    let failed = screen.matches("✗ istiod-").count();
    answering + failed >= of
}

/// Presses `key` and times it until the screen satisfies `shows`.
fn key_to_screen(session: &Session, key: &str, shows: impl Fn(&str) -> bool) -> f64 {
    let t0 = Instant::now();
    session.keys(&[key]);
    if poll(session, Duration::from_secs(30), shows).is_none() {
        panic!("{key:?} did not show:\n{}", session.screen());
    }
    t0.elapsed().as_secs_f64() * 1000.0
}

fn measure(pods: usize) -> Column {
    let dir = tempfile::tempdir().expect("tempdir");
    eprintln!("tui bench: {} …", spec(pods));
    let (sync, proxies, idle, keys, send, capture) = {
        let (_sandbox, session, sync, proxies) = on_overview(&spec(pods), pods, dir.path());
        let pid = session.meshtop_pid();
        eprintln!("  synced in {sync:.1} s; idle CPU for {CPU_WINDOW:?} …");
        let idle = cpu_share(pid, CPU_WINDOW);
        eprintln!("  idle: {:.2} % of a core; keys …", idle * 100.0);
        let mut keys: Vec<(String, Vec<f64>)> = VIEWS
            .iter()
            .map(|(name, key, _)| (format!("{name} (`{key}`)"), Vec::new()))
            .collect();
        // Each press moves from the view before to the next: the screen changes every time.
        for _ in 0..PRESSES {
            for (i, (_, key, title)) in VIEWS.iter().enumerate() {
                keys[i]
                    .1
                    .push(key_to_screen(&session, key, |s| s.contains(title)));
            }
        }
        // The first letter of a fresh filter, in the Proxies view: it reads every line.
        let mut filter = Vec::new();
        session.keys(&["4"]);
        poll(&session, Duration::from_secs(30), |s| {
            s.contains(" Proxies (")
        });
        // The footer says how to leave the filter while one is typed.
        let typing = |s: &str| s.contains("esc clears");
        for _ in 0..PRESSES {
            session.keys(&["/"]);
            poll(&session, Duration::from_secs(30), typing);
            filter.push(key_to_screen(&session, "s", |s| {
                s.contains(" of ") && s.contains("/s ")
            }));
            session.keys(&["Escape"]);
            poll(&session, Duration::from_secs(30), |s| {
                !typing(s) && !s.contains("/s ")
            });
        }
        keys.push(("Proxies, a fresh `/` filter's first letter".into(), filter));
        // What the driver itself costs: a `send-keys` of a key that does nothing here, and
        // a `capture-pane`.
        let send: Vec<f64> = (0..30)
            .map(|_| {
                let t0 = Instant::now();
                session.tmux(&["send-keys", "-t", "t", ""]);
                t0.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let capture: Vec<f64> = (0..30)
            .map(|_| {
                let t0 = Instant::now();
                session.screen();
                t0.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let keys = keys
            .into_iter()
            .map(|(name, ms)| (name, Spread::of(ms)))
            .collect();
        (
            sync,
            proxies,
            idle,
            keys,
            Spread::of(send),
            Spread::of(capture),
        )
    };
    let churn = {
        let churn_dir = tempfile::tempdir().expect("tempdir");
        let churned = format!("{},churn=1000", spec(pods));
        let (_sandbox, session, _, _) = on_overview(&churned, pods, churn_dir.path());
        let pid = session.meshtop_pid();
        eprintln!("  CPU under churn=1000 for {CPU_WINDOW:?} …");
        cpu_share(pid, CPU_WINDOW)
    };
    Column {
        pods,
        proxies,
        sync,
        idle,
        churn,
        keys,
        send,
        capture,
    }
}

fn table(columns: &[Column], took: Duration) -> String {
    let mut out = format!(
        "Measured by `cargo bench --bench tui` on {} in {:.0} s: the release meshtop in tmux at \
         {WIDTH}x{HEIGHT}, the sandbox in its own process (one node per 20 pods). Key to screen \
         in ms, median / p99 of {PRESSES} presses, each including one `send-keys` and the \
         `capture-pane` polls until the screen shows it.\n\n",
        machine(),
        took.as_secs_f64()
    );
    out.push_str(&common::table_head(columns.iter().map(|c| c.pods)));
    let mut row = |label: &str, cell: &dyn Fn(&Column) -> String| {
        out.push_str(&format!("| {label} |"));
        for c in columns {
            out.push_str(&format!(" {} |", cell(c)));
        }
        out.push('\n');
    };
    row("proxies", &|c| c.proxies.clone());
    row("started to synced, s", &|c| format!("{:.1}", c.sync));
    row("**idle** CPU, % of a core", &|c| {
        format!("{:.2}", c.idle * 100.0)
    });
    row("**1,000 pod changes/s**, % of a core", &|c| {
        format!("{:.1}", c.churn * 100.0)
    });
    let labels: Vec<String> = columns
        .first()
        .map(|c| c.keys.iter().map(|(l, _)| l.clone()).collect())
        .unwrap_or_default();
    for (i, label) in labels.iter().enumerate() {
        let label = if i == 0 {
            format!("**key to screen** {label}, ms")
        } else {
            format!("{label}, ms")
        };
        row(&label, &|c| {
            c.keys.get(i).map_or(String::new(), |(_, s)| s.cell())
        });
    }
    row("(the driver) one `send-keys`, ms", &|c| c.send.cell());
    row("(the driver) one `capture-pane`, ms", &|c| c.capture.cell());
    out
}

fn main() {
    let t0 = Instant::now();
    let columns: Vec<Column> = common::sizes().into_iter().map(measure).collect();
    let text = table(&columns, t0.elapsed());
    println!("{text}");
    common::write_readme(BEGIN, END, &text);
}
