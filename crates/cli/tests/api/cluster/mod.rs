//! Several nodes over one store, and moving an embedded vault to the scale-out backends.

mod migrate;
mod multi_node;
pub(crate) mod nodes;
mod webhooks;
