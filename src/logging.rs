//! Logging: `tracing` to a file only, filtered by `MESHTOP_LOG`. Never to the terminal.

use std::path::{Path, PathBuf};

/// The default log file: `$XDG_STATE_HOME/meshtop/meshtop.log`, else
/// `~/.local/state/meshtop/meshtop.log`.
pub fn default_log_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
    Some(base.join("meshtop").join("meshtop.log"))
}

/// Starts logging to `path`, a file its owner's only. A log file that cannot be opened is reported and logging
/// stays off: it is never a reason not to run.
pub fn init(path: Option<&Path>) -> Result<(), String> {
    let Some(path) = path.map(Path::to_path_buf).or_else(default_log_file) else {
        return Ok(());
    };
    let file =
        crate::files::append(&path).map_err(|e| format!("log file {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESHTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}
