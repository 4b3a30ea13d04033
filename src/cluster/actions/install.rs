//! Carrying out an install plan ([`crate::ops::install`]): the mesh ConfigMaps' contents its
//! facts lack ([`read`]), and its steps, applied or handed to istioctl ([`apply`]).

pub mod apply;
pub mod read;

pub use apply::InstallOutcome;
pub use read::read_mesh_configs;
