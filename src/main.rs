//! meshtop's entry: install color-eyre, parse the command line, start logging, run.
//! The modules live in the library (`src/lib.rs`, which maps them).

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use meshtop::cli::Cli;

/// mimalloc rather than glibc's allocator: a list's objects are read on one thread and
/// dropped on another, and glibc's arenas made the reading threads wait on each other's
/// locks (about a fifth of a 100k-pod full sync's CPU went to allocation and its futexes).
/// Built without transparent huge pages (`no_thp`): memory it handed back and took again
/// was zeroed 2 MB at a time, half of meshtop's CPU while idle at 100k pods.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("meshtop: {e}");
    }
    let cli = Cli::parse();
    if let Err(e) = meshtop::logging::init(cli.global.log_file.as_deref()) {
        eprintln!("meshtop: {e} (continuing without a log)");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meshtop: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(meshtop::app::run(cli));
    // The in-process sandbox of --demo and the watchers stop with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "meshtop failed");
            // Not eprintln!: after a SIGHUP stderr may be a terminal that is gone, and a
            // failed write must not turn the exit code into a panic's.
            let _ = writeln!(std::io::stderr(), "meshtop: {e}");
            e.exit_code()
        }
    }
}
