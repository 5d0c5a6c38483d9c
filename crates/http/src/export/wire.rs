//! The Export API's JSON shapes.

use callvault_core::{ExportJob, ExternalStorage, StorageTarget};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

fn ts(t: DateTime<Utc>) -> String {
    callvault_core::time::format_utc_millis(t)
}

/// A target as the API shows it: never its credentials.
pub fn storage(s: &ExternalStorage) -> Value {
    let mut configuration = match serde_json::to_value(&s.target) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    configuration.remove("provider");
    configuration.retain(|_, v| !v.is_null());
    json!({
        "id": s.id.to_string(),
        "name": s.name,
        "storageProvider": s.target.provider(),
        "configuration": configuration,
        "createdAt": ts(s.created_at),
    })
}

pub fn job(j: &ExportJob) -> Value {
    json!({
        "jobId": j.id.to_string(),
        "type": j.kind.as_str(),
        "status": j.status.as_str(),
        "startDate": ts(j.start),
        "endDate": j.end.map(ts),
        "filters": {
            "contentTypes": j.filters.content_types.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "initialDirection": j.filters.initial_direction.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        },
        "externalStorageId": j.storage_id.to_string(),
        "createdAt": ts(j.created_at),
        "updatedAt": ts(j.updated_at),
        "lastRunAt": j.last_run.map(ts),
        "nextRunAt": j.next_run.map(ts),
        "itemsExported": j.items_exported,
        "bytesExported": j.bytes_exported,
        "consecutiveFailures": j.failures,
        "error": j.error,
    })
}

/// The provider names accepted in requests, for error messages.
pub const PROVIDERS: &str = "s3, azureBlob, local";

/// Builds a target from the request's provider name and configuration object.
pub fn target(provider: &str, configuration: Value) -> Result<StorageTarget, (String, String)> {
    let Value::Object(mut m) = configuration else {
        return Err((
            "configuration".into(),
            "configuration must be an object".into(),
        ));
    };
    if !["s3", "azureBlob", "local"].contains(&provider) {
        return Err((
            "storageProvider".into(),
            format!("storageProvider must be one of {PROVIDERS}"),
        ));
    }
    m.insert("provider".into(), Value::String(provider.into()));
    serde_json::from_value::<StorageTarget>(Value::Object(m)).map_err(|e| {
        let msg = e.to_string();
        let field = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| msg.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map_or("configuration".to_string(), |f| {
                format!("configuration.{f}")
            });
        (
            field,
            format!("invalid configuration for {provider}: {msg}"),
        )
    })
}
