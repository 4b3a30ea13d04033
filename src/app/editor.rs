//! Editing a text in the user's editor: `$EDITOR`, else `$VISUAL`, else `vi`. The caller
//! owns the terminal: the TUI suspends itself around [`EditorCommand::edit`], which blocks
//! until the editor exits.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ops::ActionError;

/// An editor command line: a program and its leading arguments (`code --wait`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorCommand {
    pub program: String,
    pub args: Vec<String>,
}

impl EditorCommand {
    /// Splits a command line on whitespace; `None` when it is blank.
    pub fn parse(line: &str) -> Option<Self> {
        let mut words = line.split_whitespace().map(str::to_string);
        let program = words.next()?;
        Some(Self {
            program,
            args: words.collect(),
        })
    }

    /// `$EDITOR`, else `$VISUAL`, else `vi`.
    pub fn from_env() -> Self {
        Self::choose(std::env::var_os("EDITOR"), std::env::var_os("VISUAL"))
    }

    fn choose(editor: Option<OsString>, visual: Option<OsString>) -> Self {
        [editor, visual]
            .into_iter()
            .flatten()
            .find_map(|v| Self::parse(&v.to_string_lossy()))
            .unwrap_or_else(|| Self {
                program: "vi".into(),
                args: Vec::new(),
            })
    }

    /// Writes `text` to a new file under the temp directory (ending in `.yaml`, so editors
    /// highlight it), runs the editor on it, and returns what it holds when the editor exits
    /// with success. The file is removed either way.
    pub fn edit(&self, text: &str) -> Result<String, ActionError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let file: PathBuf = std::env::temp_dir().join(format!(
            "meshtop-edit-{}-{}-{}.yaml",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            ActionError::Refused(format!("{what} {}: {e}", file.display()))
        };
        {
            use std::io::Write as _;
            let mut f = crate::files::create_new(&file).map_err(|e| fail("creating", &e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| fail("writing", &e))?;
        }
        let status = std::process::Command::new(&self.program)
            .args(&self.args)
            .arg(&file)
            .status();
        let result = match status {
            Err(e) => Err(ActionError::Refused(format!(
                "cannot start the editor {:?}: {e}",
                self.program
            ))),
            Ok(s) if !s.success() => Err(ActionError::Refused(format!(
                "the editor {:?} exited with {s}: the edit is discarded",
                self.program
            ))),
            Ok(_) => std::fs::read_to_string(&file).map_err(|e| fail("reading", &e)),
        };
        let _ = std::fs::remove_file(&file);
        result
    }
}

/// Edits `text` in the user's editor ([`EditorCommand::from_env`]).
pub fn edit_in_editor(text: &str) -> Result<String, ActionError> {
    EditorCommand::from_env().edit(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_choice() {
        let s = |v: &str| Some(OsString::from(v));
        assert_eq!(
            EditorCommand::choose(s("code --wait"), s("nano")),
            EditorCommand {
                program: "code".into(),
                args: vec!["--wait".into()]
            }
        );
        assert_eq!(EditorCommand::choose(s("  "), s("nano")).program, "nano");
        assert_eq!(EditorCommand::choose(None, None).program, "vi");
    }

    #[test]
    fn edits_through_a_real_command() {
        // `sed -i` is an editor that needs no terminal: it edits the file in place.
        let sed = EditorCommand::parse("sed -i s/2$/3/").expect("cmd");
        let out = sed.edit("hpaSpec:\n  minReplicas: 2\n").expect("sed edits");
        assert_eq!(out, "hpaSpec:\n  minReplicas: 3\n");
        let failing = EditorCommand::parse("false").expect("cmd");
        let e = failing.edit("x").expect_err("false fails");
        assert!(e.to_string().contains("exited with"), "{e}");
        let missing = EditorCommand::parse("/nonexistent/editor").expect("cmd");
        let e = missing.edit("x").expect_err("no such editor");
        assert!(e.to_string().contains("cannot start the editor"), "{e}");
    }
}
