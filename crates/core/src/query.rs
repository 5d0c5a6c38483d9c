//! A backend-neutral description of which interactions a dialect wants. Each dialect
//! translates its own parameters into this; each metadata store translates this into its
//! own query language. Adding a dialect never adds a query path to a store.

use chrono::{DateTime, Utc};

use crate::{ContentType, Direction};

/// Interactions with at least one content item (or one of `with_content`), matching every
/// given condition. Time ranges are inclusive at both ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InteractionQuery {
    pub start: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub end: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub direction: Option<Direction>,
    pub handling_agent: Option<String>,
    pub connect_from_prefix: Option<String>,
    pub connect_to_prefix: Option<String>,
    pub with_content: Option<ContentType>,
}
