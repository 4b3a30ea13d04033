//! meshtop, kubectl and `meshtop sandbox` as processes: the binary run from the crate root,
//! the sandbox's kubeconfig written to a temp directory for them, the audit log read back,
//! and a child's output lines awaited with a deadline.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use meshtop::cluster::actions::AuditRecord;
use meshtop_sandbox::Sandbox;

/// The meshtop binary as a command, run from the crate root so that scenario paths such as
/// `assets/scenarios/k1-upgrade.yaml` resolve.
pub fn meshtop() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshtop"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// A finished process: its exit code and its two streams as text. A failed assertion shows
/// it whole (`{run}`), so that the failure says what the process said.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to its end.
pub fn run(cmd: &mut Command) -> Run {
    cmd.output().expect("run the command").into()
}

/// A process's output as text.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lines of an audit log; none if it was never written.
pub fn audit_lines(path: &Path) -> Vec<AuditRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
        .collect()
}

/// Each audit line's `(action, target, dry_run, result)`, in order.
pub fn audit_steps(path: &Path) -> Vec<(String, String, bool, String)> {
    audit_lines(path)
        .into_iter()
        .map(|l| (l.action, l.target, l.dry_run, l.result))
        .collect()
}

/// An audit step as [`audit_steps`] gives it, from borrowed words.
pub fn step(
    action: &str,
    target: &str,
    dry_run: bool,
    result: &str,
) -> (String, String, bool, String) {
    (action.into(), target.into(), dry_run, result.into())
}

/// The row of `rev` in what `meshtop get revisions -o json` printed (which must have
/// succeeded).
pub fn revision_row(out: &Run, rev: &str) -> Option<serde_json::Value> {
    assert_eq!(out.code, Some(0), "{out}");
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    rows.as_array()?
        .iter()
        .find(|r| r["revision"] == rev)
        .cloned()
}

/// Runs each command line and checks it exits with its code and prints nothing on stdout:
/// input refused before anything is done.
pub fn assert_refused(run: impl Fn(&[&str]) -> Run, cases: &[(&[&str], i32)]) {
    for (args, code) in cases {
        let out = run(args);
        assert_eq!(out.code, Some(*code), "{args:?}: {out}");
        assert!(out.stdout.is_empty(), "{args:?}: {out}");
    }
}

/// `kubectl` on PATH. Not a skip: its absence fails the test, saying what to install.
pub fn kubectl() -> PathBuf {
    meshtop::ops::install::find_on_path("kubectl", std::env::var_os("PATH").as_deref()).expect(
        "kubectl is required by this test and is not on PATH: install Debian's kubernetes-client (`.ci/run` does)",
    )
}

/// kubectl against the cluster of a kubeconfig file.
pub fn kubectl_at(kubeconfig: &Path) -> Command {
    let mut cmd = Command::new(kubectl());
    cmd.arg("--kubeconfig").arg(kubeconfig);
    cmd
}

/// What meshtop needs as a process against an in-process sandbox: a temp directory holding
/// the sandbox's kubeconfig, with the paths of meshtop's log and audit log beside it.
pub struct CliFiles {
    dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub audit: PathBuf,
    pub log: PathBuf,
}

impl CliFiles {
    pub fn new(sandbox: &Sandbox) -> Self {
        Self::with_kubeconfig(&sandbox.kubeconfig_yaml())
    }

    /// The same with a kubeconfig of the test's own (the sandbox's, changed).
    pub fn with_kubeconfig(yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, yaml).expect("write the kubeconfig");
        Self {
            audit: dir.path().join("audit.log"),
            log: dir.path().join("meshtop.log"),
            kubeconfig,
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// meshtop pointed at the sandbox through the environment (`MESHTOP_KUBECONFIG`,
    /// `MESHTOP_AUDIT_LOG`), logging to the temp directory.
    pub fn meshtop(&self) -> Command {
        let mut cmd = meshtop();
        cmd.arg("--log-file")
            .arg(&self.log)
            .env("MESHTOP_KUBECONFIG", &self.kubeconfig)
            .env("MESHTOP_AUDIT_LOG", &self.audit);
        cmd
    }

    pub fn audit_lines(&self) -> Vec<AuditRecord> {
        audit_lines(&self.audit)
    }
}

/// A child's output lines, read on a thread of their own to the end, so that the child never
/// blocks on (or dies of) a pipe nobody reads.
pub struct Lines(mpsc::Receiver<String>);

impl Lines {
    pub fn read(from: impl Read + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines().map_while(Result::ok) {
                // Nobody waits for lines any more: read on regardless.
                let _ = tx.send(line);
            }
        });
        Self(rx)
    }

    /// The next line containing `what`, passing over the lines before it; panics if none
    /// comes within `within`.
    pub fn until(&self, what: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            match self
                .0
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with {what:?} within {within:?}"),
            }
        }
    }
}

/// `meshtop sandbox` as its own process, for clients that connect through a kubeconfig file
/// (kubectl, the TUI); killed on drop.
pub struct SandboxProcess {
    child: Child,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl SandboxProcess {
    /// Starts it on a scenario file (a path from the crate root) and waits until it says
    /// where its kubeconfig is.
    pub fn start(scenario: &str) -> Self {
        Self::start_with(&["--scenario", scenario])
    }

    /// Starts it on a generated cluster (`nodes=N,pods=M,…`).
    pub fn generated(spec: &str) -> Self {
        Self::start_with(&["--generate", spec])
    }

    fn start_with(source: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = meshtop()
            .arg("sandbox")
            .args(source)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--log-file")
            .arg(dir.path().join("meshtop.log"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start meshtop sandbox");
        let lines = Lines::read(child.stdout.take().expect("stdout"));
        let line = lines.until("kubeconfig: ", Duration::from_secs(30));
        assert_eq!(
            PathBuf::from(line.trim_start_matches("kubeconfig: ")),
            kubeconfig
        );
        Self {
            child,
            kubeconfig,
            _dir: dir,
        }
    }

    /// kubectl against the sandbox, to spawn.
    pub fn kubectl_command(&self) -> Command {
        kubectl_at(&self.kubeconfig)
    }

    /// kubectl with `args`, run to its end.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        run(self.kubectl_command().args(args))
    }

    /// kubectl with `args`, which must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert_eq!(out.code, Some(0), "kubectl {args:?} failed: {out}");
        out.stdout
    }

    /// Sets a PDB's `minAvailable` with `kubectl patch`, as an operator relaxes a budget by
    /// hand.
    pub fn set_min_available(&self, namespace: &str, pdb: &str, min: u32) {
        let patch = format!(r#"{{"spec":{{"minAvailable":{min}}}}}"#);
        self.kubectl_ok(&[
            "patch",
            "pdb",
            pdb,
            "-n",
            namespace,
            "--type=merge",
            "-p",
            &patch,
        ]);
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
