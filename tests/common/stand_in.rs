//! Stand-ins for the installers meshtop runs (istioctl, helm), which cannot be installed
//! here: POSIX sh scripts in a temp directory put first on meshtop's PATH, each recording
//! its arguments (one per line, each call ended by [`END_OF_CALL`]) and doing to the sandbox,
//! with the installed kubectl, what the real program would.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, Run};

/// Ends each call's arguments in a stand-in's record.
pub const END_OF_CALL: &str = "--- end of call ---";

/// `s` as one word of a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A stand-in script's opening: the shebang, `calls` set to the record's path, this call's
/// arguments recorded, and `usage ARGS...`, which says what it wanted (`want`) and what it
/// got, and exits 64.
pub fn prologue(program: &str, record: &Path, want: &str) -> String {
    format!(
        r#"#!/bin/sh
# A stand-in for {program}, written by meshtop's tests.
set -u
calls={calls}
{{ printf '%s\n' "$@"; printf '%s\n' {end}; }} >>"$calls"
usage() {{
    printf '%s' {want} >&2
    printf ' [%s]' "$@" >&2
    printf '\n' >&2
    exit 64
}}
"#,
        calls = sh_quote(&record.display().to_string()),
        end = sh_quote(END_OF_CALL),
        want = sh_quote(&format!("Error: unexpected arguments (want: {want}):")),
    )
}

/// Writes an executable script `<bin>/<name>`; its path.
pub fn write_script(bin: &Path, name: &str, script: &str) -> PathBuf {
    std::fs::create_dir_all(bin).expect("bin dir");
    let path = bin.join(name);
    std::fs::write(&path, script).expect("write the stand-in");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod the stand-in");
    path
}

/// The arguments of each call a stand-in recorded in `record`, in order.
pub fn calls(record: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    let mut calls = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line == END_OF_CALL {
            calls.push(std::mem::take(&mut current));
        } else {
            current.push(line.to_string());
        }
    }
    assert!(current.is_empty(), "a call's record is cut short: {text}");
    calls
}

/// The meshtop binary with `bin` first on PATH, `home` as HOME, `$XDG_STATE_HOME` under it,
/// the log and audit log in it, and nothing from the caller's `MESHTOP_*` or `KUBECONFIG`;
/// `target` are the global flags that reach the cluster. Run to its end (2 minutes at most).
pub async fn meshtop(bin: &Path, home: &Path, target: &[String], args: &[&str]) -> Run {
    let mut path = vec![bin.to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path: OsString = std::env::join_paths(path).expect("PATH");
    let mut cmd = tokio::process::Command::from(process::meshtop());
    cmd.args(target)
        .arg("--log-file")
        .arg(home.join("meshtop.log"))
        .arg("--audit-log")
        .arg(home.join("audit.log"))
        .args(args)
        .env("PATH", path)
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MESHTOP_") {
            cmd.env_remove(k);
        }
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("meshtop finished within 2 minutes")
        .expect("run meshtop");
    out.into()
}
