//! Legal holds, retention policies, their dry run and the retention pass
//! (docs/governance.md). Whether a delete may happen is core's decision, taken by the
//! store inside the delete's transaction; this is where rules are made and where
//! retention asks for what has expired.

use std::time::{Duration, Instant};

use callvault_core::governance::{check_text, Expired, Selector, MAX_TEXT};
use callvault_core::query::SearchCursor;
use callvault_core::{AuditAction, Interaction, LegalHold, RetentionPolicy, Rules, TenantId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use callvault_storage::meta::Expiring;

use crate::audit::Actor;
use crate::audit_sink::RETENTION;
use crate::clock::micros;
use crate::error::{ServiceError, ServiceResult};
use crate::vault::Vault;

/// Interactions read per step of the retention scan.
const SCAN_PAGE: u32 = 500;
/// GUIDs a dry run lists as its sample.
const SAMPLE: usize = 20;
const MAX_REASON: usize = 2000;

/// What a client gives to place a hold.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub case_name: String,
    pub reason: String,
    pub selector: Selector,
}

/// What a client gives to create or replace a policy.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub name: String,
    pub selector: Selector,
    pub min_days: Option<u32>,
    pub max_days: Option<u32>,
    pub enabled: bool,
}

/// What a policy would delete today, or what a retention pass did delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionReport {
    /// Interactions removed whole (metadata and all their content).
    pub interactions: u64,
    /// Content items removed, those of whole interactions included.
    pub items: u64,
    pub bytes: u64,
    /// Some of the interactions concerned, oldest first.
    pub sample: Vec<String>,
    /// Items that were due but refused at delete time (a hold placed meanwhile).
    pub refused: u64,
    /// Whether the pass stopped at its time budget with more left to scan.
    pub incomplete: bool,
}

/// The call a hold names when it names exactly one by id: its record then belongs to
/// that call's trail as well as the tenant's. A hold on several calls or on a query stays
/// on the tenant's trail only, as one record cannot name more than one call.
fn one_call(h: &LegalHold) -> Option<&callvault_core::Guid> {
    match h.selector.guids.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

impl Vault {
    pub async fn create_hold(&self, actor: &Actor, new: NewHold) -> ServiceResult<LegalHold> {
        let tenant = actor.tenant;
        check_text("caseName", &new.case_name, MAX_TEXT)?;
        check_text("reason", &new.reason, MAX_REASON)?;
        new.selector.validate("selector")?;
        let hold = LegalHold {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            case_name: new.case_name,
            reason: new.reason,
            selector: new.selector,
            created_by: actor.principal.clone(),
            created_at: micros(self.clock.now()),
            released_at: None,
            released_by: None,
        };
        let event = actor.event(
            AuditAction::HoldPlaced,
            one_call(&hold),
            None,
            "ok",
            Some(format!("hold {} ('{}')", hold.id, hold.case_name)),
        );
        self.store.create_hold(&hold, &event).await?;
        Ok(hold)
    }

    pub async fn holds(&self, tenant: TenantId) -> ServiceResult<Vec<LegalHold>> {
        Ok(self.store.holds(tenant).await?)
    }

    pub async fn hold(&self, tenant: TenantId, id: Uuid) -> ServiceResult<LegalHold> {
        self.store
            .hold(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("hold {id} was not found")))
    }

    /// Releases a hold; nothing is deleted by the release itself.
    pub async fn release_hold(&self, actor: &Actor, id: Uuid) -> ServiceResult<LegalHold> {
        let held = self.hold(actor.tenant, id).await?;
        let event = actor.event(
            AuditAction::HoldReleased,
            one_call(&held),
            None,
            "ok",
            Some(format!("hold {id}")),
        );
        self.store
            .release_hold(
                actor.tenant,
                id,
                &actor.principal,
                micros(self.clock.now()),
                &event,
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("hold {id} was not found")))
    }

    pub async fn policies(&self, tenant: TenantId) -> ServiceResult<Vec<RetentionPolicy>> {
        Ok(self.store.policies(tenant).await?)
    }

    pub async fn policy(&self, tenant: TenantId, id: Uuid) -> ServiceResult<RetentionPolicy> {
        self.store
            .policy(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("policy {id} was not found")))
    }

    /// Creates a policy (`id` `None`) or replaces one.
    pub async fn put_policy(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
        spec: PolicySpec,
    ) -> ServiceResult<RetentionPolicy> {
        let tenant = actor.tenant;
        let now = micros(self.clock.now());
        let created_at = match id {
            Some(id) => self.policy(tenant, id).await?.created_at,
            None => now,
        };
        let policy = RetentionPolicy {
            id: id.unwrap_or_else(Uuid::new_v4),
            tenant_id: tenant,
            name: spec.name,
            selector: spec.selector,
            min_days: spec.min_days,
            max_days: spec.max_days,
            enabled: spec.enabled,
            created_at,
            updated_at: now,
        };
        policy.validate()?;
        let event = actor.event(
            AuditAction::PolicyChanged,
            None,
            None,
            "ok",
            Some(format!(
                "policy {} ('{}'): minDays {:?}, maxDays {:?}, enabled {}",
                policy.id, policy.name, policy.min_days, policy.max_days, policy.enabled
            )),
        );
        self.store
            .put_policy(&policy, &event)
            .await
            .map_err(|e| match e {
                callvault_storage::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                    "a policy named '{}' already exists",
                    policy.name
                )),
                other => other.into(),
            })?;
        Ok(policy)
    }

    pub async fn delete_policy(&self, actor: &Actor, id: Uuid) -> ServiceResult<()> {
        let event = actor.event(
            AuditAction::PolicyRemoved,
            None,
            None,
            "ok",
            Some(format!("policy {id}")),
        );
        if self.store.delete_policy(actor.tenant, id, &event).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("policy {id} was not found")))
        }
    }

    /// What retention would delete today if `policy` were enabled beside the tenant's
    /// other enabled policies and under its holds.
    pub async fn dry_run(
        &self,
        tenant: TenantId,
        policy: &RetentionPolicy,
    ) -> ServiceResult<RetentionReport> {
        let mut rules = self.store.rules(tenant).await?;
        rules.policies.retain(|p| p.id != policy.id);
        rules.policies.push(RetentionPolicy {
            enabled: true,
            ..policy.clone()
        });
        let mut report = RetentionReport::default();
        let mut scan = Scan::new(tenant, rules, self.clock.now());
        while let Some(page) = scan.next(self).await? {
            for (i, expired) in page {
                tally(&mut report, &i, &expired);
            }
        }
        Ok(report)
    }

    /// One retention pass over every tenant: deletes what has expired, in pages, until
    /// done or `budget` has passed. What was deleted is gone, so the next pass, starting
    /// from the oldest again, goes on where this one stopped, after a crash too. Run
    /// under the housekeeping lease, so never on two nodes at once.
    pub async fn run_retention(&self, budget: Duration) -> ServiceResult<RetentionReport> {
        let deadline = Instant::now() + budget;
        let mut report = RetentionReport::default();
        for tenant in self.store.list_tenants().await? {
            let rules = self.store.rules(tenant.id).await?;
            let mut scan = Scan::new(tenant.id, rules.clone(), self.clock.now());
            while let Some(page) = scan.next(self).await? {
                self.expire(tenant.id, &rules, page, &mut report).await?;
                if Instant::now() >= deadline {
                    report.incomplete = true;
                    return Ok(report);
                }
            }
        }
        Ok(report)
    }

    /// Deletes a page's expired content in one transaction (one commit and sync for the
    /// lot), the store's gate asked again for each; each deletion's record names the
    /// policy that expired it.
    async fn expire(
        &self,
        tenant: TenantId,
        rules: &Rules,
        page: Vec<(Interaction, Expired)>,
        report: &mut RetentionReport,
    ) -> ServiceResult<()> {
        let actor = Actor::system(tenant, RETENTION.into(), RETENTION, "retention pass");
        let mut batch = Vec::new();
        let mut owner = Vec::new();
        for (n, (i, expired)) in page.iter().enumerate() {
            let keys: Vec<Option<&str>> = match expired {
                Expired::Nothing => continue,
                Expired::Interaction => vec![None],
                Expired::Items(keys) => keys.iter().map(|k| Some(k.as_str())).collect(),
            };
            for key in keys {
                let item = key.and_then(|k| i.content.iter().find(|c| c.key == k));
                let policy = rules
                    .expiring_policy(i, item)
                    .unwrap_or_else(|| "retention".into());
                let mut audit = actor.event(
                    AuditAction::Delete,
                    Some(&i.meta.guid),
                    key,
                    "ok",
                    Some(format!("expired by policy '{policy}'")),
                );
                audit.principal = format!("policy:{policy}");
                batch.push(Expiring {
                    guid: i.meta.guid.clone(),
                    key: key.map(str::to_string),
                    audit,
                });
                owner.push(n);
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let outcomes = self.store.delete_expired(tenant, &batch).await?;
        let mut done = vec![false; page.len()];
        let mut items = 0;
        for (outcome, n) in outcomes.into_iter().zip(owner) {
            match outcome {
                Ok(Some(removed)) => {
                    self.release_blobs(&removed.released_blobs).await?;
                    items += removed.items.len() as u64;
                    done[n] = true;
                }
                Ok(None) => {}
                Err(_) => report.refused += 1,
            }
        }
        for ((i, expired), done) in page.iter().zip(done) {
            if done {
                tally(report, i, expired);
            }
        }
        metrics::counter!("callvault_retention_deleted_items_total").increment(items);
        Ok(())
    }
}

/// The tenant's interactions that may have expired, oldest first, a page at a time, each
/// with what has expired of it.
struct Scan {
    tenant: TenantId,
    rules: Rules,
    now: DateTime<Utc>,
    /// Nothing expires before the shortest maximum of an enabled policy; `None` when no
    /// policy has one, so there is nothing to scan.
    before: Option<DateTime<Utc>>,
    after: Option<SearchCursor>,
}

impl Scan {
    fn new(tenant: TenantId, rules: Rules, now: DateTime<Utc>) -> Self {
        let before = rules
            .policies
            .iter()
            .filter(|p| p.enabled)
            .filter_map(|p| p.max_days)
            .min()
            .map(|days| now - chrono::Duration::days(i64::from(days)));
        Self {
            tenant,
            rules,
            now,
            before,
            after: None,
        }
    }

    async fn next(&mut self, vault: &Vault) -> ServiceResult<Option<Vec<(Interaction, Expired)>>> {
        let Some(before) = self.before else {
            return Ok(None);
        };
        let page = vault
            .store
            .started_before(self.tenant, before, self.after, SCAN_PAGE)
            .await?;
        if page.len() < SCAN_PAGE as usize {
            self.before = None;
        }
        let Some(last) = page.last() else {
            return Ok(None);
        };
        self.after = Some(SearchCursor::of(last));
        Ok(Some(
            page.into_iter()
                .filter_map(|i| {
                    let expired = self.rules.expired(&i, self.now);
                    (expired != Expired::Nothing).then_some((i, expired))
                })
                .collect(),
        ))
    }
}

fn tally(report: &mut RetentionReport, i: &Interaction, expired: &Expired) {
    let items: Vec<_> = match expired {
        Expired::Nothing => return,
        Expired::Interaction => {
            report.interactions += 1;
            i.content.iter().collect()
        }
        Expired::Items(keys) => i
            .content
            .iter()
            .filter(|c| keys.iter().any(|k| *k == c.key))
            .collect(),
    };
    report.items += items.len() as u64;
    report.bytes += items.iter().map(|c| c.length).sum::<u64>();
    if report.sample.len() < SAMPLE {
        report.sample.push(i.meta.guid.to_string());
    }
}
