//! Carrying out an install plan ([`crate::ops::install`]): the facts its checks need, listed
//! from the API server ([`read`]), and its steps, applied or handed to istioctl ([`apply`]).

pub mod apply;
pub mod read;

pub use apply::InstallOutcome;
pub use read::read_facts;
