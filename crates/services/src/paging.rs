//! The one paging abstraction over search, for every dialect: keyset pages with
//! continuation tokens (Interaction Content API v3), offset pages with a total (v2, the
//! Call Recording API, the Recordings files API), and walks in keyset batches (bulk-export
//! jobs, and scans that filter on what the store cannot). All in `(start, id)` order, or
//! its reverse with `newest_first`.

use callvault_core::query::{PageStart, SearchCursor};
use callvault_core::AuditAction;
use callvault_core::{Interaction, InteractionQuery, TenantId};

use crate::audit::Actor;
use crate::error::ServiceResult;
use crate::Vault;

/// A keyset page and the token that continues it, if more follow.
#[derive(Debug)]
pub struct KeysetPage {
    pub items: Vec<Interaction>,
    pub next_token: Option<String>,
}

/// An offset page and how many items the whole search has.
#[derive(Debug)]
pub struct OffsetPage {
    pub total: u64,
    pub items: Vec<Interaction>,
}

/// What a bounded scan found.
#[derive(Debug)]
pub enum Scanned<T> {
    /// The page: up to `take` matches after the first `skip`.
    Page(Vec<T>),
    /// Filling the page would have read more than the bound.
    TooWide,
}

/// A walk over every match of a search, a batch at a time.
pub struct SearchWalk<'a> {
    vault: &'a Vault,
    tenant: TenantId,
    query: &'a InteractionQuery,
    batch: u32,
    after: Option<SearchCursor>,
    done: bool,
}

impl SearchWalk<'_> {
    /// The next batch, or `None` once every match was handed out.
    pub async fn next_batch(&mut self) -> ServiceResult<Option<Vec<Interaction>>> {
        if self.done {
            return Ok(None);
        }
        let start = PageStart::After(self.after);
        let items = self
            .vault
            .store
            .search(self.tenant, self.query, start, self.batch)
            .await?;
        self.done = items.len() < self.batch as usize;
        self.after = items.last().map(SearchCursor::of);
        Ok(if items.is_empty() { None } else { Some(items) })
    }
}

impl Vault {
    /// A page of up to `limit` items after the position `token` names (the first page
    /// without one). A token is checked against the tenant and the filter; `field` names
    /// the parameter it came in, for the error.
    pub async fn search_keyset(
        &self,
        actor: &Actor,
        query: &InteractionQuery,
        field: &str,
        token: Option<&str>,
        limit: u32,
    ) -> ServiceResult<KeysetPage> {
        let tenant = actor.tenant;
        let after = token
            .map(|t| self.cursors.decode(field, t, tenant, query))
            .transpose()?;
        let mut items = self
            .store
            .search(
                tenant,
                query,
                PageStart::After(after),
                limit.saturating_add(1),
            )
            .await?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_token = match (more, items.last()) {
            (true, Some(last)) => Some(self.cursors.encode(tenant, query, SearchCursor::of(last))),
            _ => None,
        };
        self.searched(actor, items.len()).await;
        Ok(KeysetPage { items, next_token })
    }

    /// The page of up to `limit` items from `offset`, with the total; past the end, the
    /// total and no items, without a second query.
    pub async fn search_offset(
        &self,
        actor: &Actor,
        query: &InteractionQuery,
        offset: u64,
        limit: u32,
    ) -> ServiceResult<OffsetPage> {
        let tenant = actor.tenant;
        let total = self.store.count(tenant, query).await?;
        let items = if offset < total && limit > 0 {
            self.store
                .search(tenant, query, PageStart::Offset(offset), limit)
                .await?
        } else {
            Vec::new()
        };
        self.searched(actor, items.len()).await;
        Ok(OffsetPage { total, items })
    }

    /// The page of up to `limit` items from `offset`, without counting.
    pub async fn search_from(
        &self,
        actor: &Actor,
        query: &InteractionQuery,
        offset: u64,
        limit: u32,
    ) -> ServiceResult<Vec<Interaction>> {
        let items = self
            .store
            .search(actor.tenant, query, PageStart::Offset(offset), limit)
            .await?;
        self.searched(actor, items.len()).await;
        Ok(items)
    }

    /// One record per search or listing, with how many items it answered (not its
    /// filter values: a searched number must not outlive its erasure here).
    pub(crate) async fn searched(&self, actor: &Actor, results: usize) {
        self.audit(actor.event(
            AuditAction::Search,
            None,
            None,
            "ok",
            Some(format!("results={results}")),
        ))
        .await;
    }

    /// Every match, `batch` at a time.
    pub fn search_walk<'a>(
        &'a self,
        tenant: TenantId,
        query: &'a InteractionQuery,
        batch: u32,
    ) -> SearchWalk<'a> {
        SearchWalk {
            vault: self,
            tenant,
            query,
            batch: batch.max(1),
            after: None,
            done: false,
        }
    }

    /// For filters the store cannot apply: walks the search, keeps what `keep` turns into
    /// an item, skips the first `skip` of those and answers up to `take`, reading at most
    /// `max_scanned` interactions.
    pub async fn search_scan<T>(
        &self,
        actor: &Actor,
        query: &InteractionQuery,
        (skip, take): (u64, usize),
        max_scanned: u64,
        mut keep: impl FnMut(&Interaction) -> Option<T>,
    ) -> ServiceResult<Scanned<T>> {
        const BATCH: u32 = 500;
        let mut walk = self.search_walk(actor.tenant, query, BATCH);
        let (mut out, mut matched, mut scanned) = (Vec::with_capacity(take), 0u64, 0u64);
        while let Some(batch) = walk.next_batch().await? {
            for t in batch.iter().filter_map(&mut keep) {
                matched += 1;
                if matched > skip {
                    out.push(t);
                    if out.len() == take {
                        self.searched(actor, out.len()).await;
                        return Ok(Scanned::Page(out));
                    }
                }
            }
            scanned += batch.len() as u64;
            if scanned >= max_scanned && !walk.done {
                return Ok(Scanned::TooWide);
            }
        }
        self.searched(actor, out.len()).await;
        Ok(Scanned::Page(out))
    }
}
