//! The Interaction Content API (`001`, `004`) and the ingest endpoints under it.

mod content;
mod content_keys;
mod ingest;
mod paging_props;
mod search;
mod shapes;
mod uploads;
mod with_content;
