//! `meshtop install revision|gateway`: render, preview, apply.

use super::{AppError, GlobalArgs};
use crate::cli::InstallCmd;

pub(super) async fn run(_global: &GlobalArgs, cmd: &InstallCmd) -> Result<(), AppError> {
    match *cmd {}
}
