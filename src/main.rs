//! meshtop's entry: install color-eyre, parse the command line, start logging, run.
//! The modules live in the library (`src/lib.rs`): `sandbox`, `cli`, `logging`.

use clap::Parser;
use meshtop::cli::{Cli, Command};
use meshtop::sandbox;

fn main() -> std::process::ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("meshtop: {e}");
    }
    let cli = Cli::parse();
    if let Err(e) = meshtop::logging::init(cli.log_file.as_deref()) {
        eprintln!("meshtop: {e} (continuing without a log)");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meshtop: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Sandbox(cmd) => {
            let args = sandbox::SandboxArgs {
                scenario: cmd.scenario,
                listen: cmd.listen,
                kubeconfig_out: cmd.kubeconfig_out,
            };
            match runtime.block_on(sandbox::run(args)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "sandbox failed");
                    eprintln!("meshtop sandbox: {e}");
                    // Every start-up failure is bad input: scenario, address, port.
                    std::process::ExitCode::from(2)
                }
            }
        }
    }
}
