//! The audit log: one JSON line per action sent to a cluster, appended.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `$XDG_STATE_HOME/meshtop/audit.log`, else `~/.local/state/meshtop/audit.log`.
pub fn default_audit_log() -> Option<PathBuf> {
    crate::logging::default_log_file().map(|p| p.with_file_name("audit.log"))
}

/// One action and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it ended (the line is written then), RFC 3339, UTC.
    pub time: String,
    /// When it was sent, RFC 3339, UTC: a drain's line comes after the actions that
    /// unblocked it, this says it started before them.
    pub started: String,
    pub context: String,
    pub user: String,
    pub action: String,
    pub target: String,
    pub dry_run: bool,
    /// `ok`, or the error message.
    pub result: String,
    /// The safeguards the user explicitly waived for this action (`evict-last-replica`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<String>,
}

impl AuditRecord {
    /// The record of an action sent at `started` that ends now.
    pub fn since(
        started: jiff::Timestamp,
        context: &str,
        user: &str,
        action: &str,
        target: &str,
        dry_run: bool,
        result: Result<(), String>,
    ) -> Self {
        Self {
            time: jiff::Timestamp::now().to_string(),
            started: started.to_string(),
            context: context.to_string(),
            user: user.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            dry_run,
            result: match result {
                Ok(()) => "ok".to_string(),
                Err(e) => e,
            },
            consent: Vec::new(),
        }
    }
}

/// An append-only file of [`AuditRecord`]s, its owner's only; its directory is created on
/// first use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes sure a line can be appended (its directory made, the file opened for append),
    /// so that an action is refused before it is sent rather than left unaudited.
    pub fn check(&self) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!("cannot write the audit log {}: {e}", self.path.display())
        };
        crate::files::append(&self.path)
            .map(drop)
            .map_err(|e| fail(&e))
    }

    /// Appends one line; a single `write` so concurrent meshtops do not interleave lines.
    pub fn append(&self, record: &AuditRecord) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| format!("audit log {}: {e}", self.path.display());
        let mut line = serde_json::to_string(record).map_err(|e| fail(&e))?;
        line.push('\n');
        crate::files::append(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| fail(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_json_line_per_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("sub/audit.log"));
        let ok = AuditRecord::since(
            jiff::Timestamp::now(),
            "ctx",
            "admin",
            "cordon",
            "node/n1",
            false,
            Ok(()),
        );
        let err = AuditRecord::since(
            jiff::Timestamp::now(),
            "ctx",
            "admin",
            "drain",
            "node/n1",
            true,
            Err("boom".into()),
        );
        log.append(&ok).expect("append");
        log.append(&err).expect("append");
        let text = std::fs::read_to_string(log.path()).expect("read");
        let lines: Vec<AuditRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines, vec![ok, err.clone()]);
        assert_eq!(err.result, "boom");
        assert!(err.dry_run);
    }

    #[test]
    fn check_says_why_a_log_cannot_be_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = AuditLog::new(dir.path().join("new/dir/audit.log"));
        fresh.check().expect("a new file in new directories");
        assert!(fresh.path().exists());
        // A directory where the file should be.
        let e = AuditLog::new(dir.path()).check().expect_err("a directory");
        assert!(e.starts_with("cannot write the audit log "), "{e}");
        // A file where a directory should be.
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").expect("write");
        let e = AuditLog::new(file.join("audit.log"))
            .check()
            .expect_err("under a file");
        assert!(e.contains(&file.display().to_string()), "{e}");
        let e = AuditLog::new(file.join("audit.log"))
            .append(&AuditRecord::since(
                jiff::Timestamp::now(),
                "c",
                "u",
                "a",
                "t",
                false,
                Ok(()),
            ))
            .expect_err("append under a file");
        assert!(e.contains("audit log"), "{e}");
    }
}
