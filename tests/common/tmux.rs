//! meshtop in a real terminal: the binary under tmux, keys sent with `send-keys`, the screen
//! read with `capture-pane`, the way a person sees it.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::wait::eventually_blocking;

/// How long the screen may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

/// Fails the test when tmux is missing. Not a skip: it says what to install.
pub fn require_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is required by this test and is not installed: install Debian's tmux (`.ci/run` does)"
    );
}

/// A tmux session running meshtop, killed on drop. Each session has its own tmux server
/// (`-L`), so tests never see each other's sessions.
pub struct Session {
    socket: String,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Session {
    /// `meshtop ARGS` in a terminal of `width` x `height`.
    pub fn start(args: &str, width: u16, height: u16) -> Self {
        Self::start_with_env(args, width, height, &[])
    }

    /// The same, with `env` added to meshtop's environment.
    pub fn start_with_env(args: &str, width: u16, height: u16, env: &[(&str, &OsStr)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("meshtop.log");
        let socket = format!("meshtop-test-{}-{}", std::process::id(), rand_suffix());
        // The shell says how meshtop ended, on the normal screen once it has left the
        // alternate one, and whether it left the terminal in raw mode (`-icanon`); then it
        // waits, as a prompt would, so that the pane shows the terminal as meshtop left it.
        let cmd = format!(
            "{} {args} --log-file {}; echo \"meshtop exited with $?\"; \
             echo \"terminal mode: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e -icanon -e icanon)\"; \
             read line",
            env!("CARGO_BIN_EXE_meshtop"),
            log.display()
        );
        let mut tmux = Command::new("tmux");
        tmux.args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args([
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(&cmd)
            .env("TERM", "xterm-256color")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        for (k, v) in env {
            tmux.env(k, v);
        }
        let out = tmux.output().expect("tmux new-session");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = Self {
            socket,
            _dir: dir,
            log,
        };
        s.tmux(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        s
    }

    /// A tmux command against this session's server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(
            out.status.success(),
            "send-keys: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until the screen satisfies `check`; fails with the last screen and the log.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        eventually_blocking(what, WAIT, || {
            let screen = self.screen();
            // A capture can land while meshtop is still writing a frame: judge a screen only
            // once a second capture shows it unchanged.
            if check(&screen) {
                std::thread::sleep(Duration::from_millis(60));
                if self.screen() == screen {
                    return Ok(screen);
                }
            }
            Err(Seen {
                screen,
                log: &self.log,
            })
        })
    }

    /// The screen and the scrollback above it.
    pub fn history(&self) -> String {
        String::from_utf8_lossy(
            &self
                .tmux(&["capture-pane", "-p", "-S", "-", "-t", "t"])
                .stdout,
        )
        .into_owned()
    }

    /// meshtop's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The pid of meshtop, the child of the pane's shell.
    pub fn meshtop_pid(&self) -> u32 {
        let out = self.tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        let shell: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the pane's pid");
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .expect("the shell's children");
        let pids: Vec<u32> = children
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        assert_eq!(pids.len(), 1, "the shell runs meshtop alone: {pids:?}");
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", pids[0])).unwrap_or_default();
        assert_eq!(comm.trim(), "meshtop", "the shell's child is meshtop");
        pids[0]
    }

    /// tmux's `#{alternate_on} #{cursor_flag}`: `0 1` is the main screen, cursor shown.
    pub fn screen_and_cursor(&self) -> String {
        let out = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            "t",
            "#{alternate_on} #{cursor_flag}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits for meshtop to end; its exit status.
    pub fn wait_exit(&self) -> Option<i32> {
        let history = eventually_blocking("meshtop's exit", WAIT, || {
            let history = self.history();
            if history.contains("meshtop exited with ") {
                Ok(history)
            } else {
                Err(Seen {
                    screen: self.screen(),
                    log: &self.log,
                })
            }
        });
        history
            .lines()
            .find_map(|l| l.split_once("meshtop exited with ").map(|(_, code)| code))
            .and_then(|code| code.trim().parse().ok())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The last screen of a wait that timed out, and meshtop's log, read only then.
struct Seen<'a> {
    screen: String,
    log: &'a Path,
}

impl fmt::Display for Seen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = std::fs::read_to_string(self.log).unwrap_or_default();
        write!(f, "{}\nlog:\n{log}", self.screen)
    }
}

fn rand_suffix() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    t ^ (std::process::id() << 8)
}
