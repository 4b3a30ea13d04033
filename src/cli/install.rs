//! `meshtop install revision|gateway`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum InstallCmd {}
