//! The `callvault` command line.

use std::path::PathBuf;

use anyhow::Context;
use callvault::audit_cmd::{self, AuditCmd};
use callvault::config::{ServeArgs, Settings, StoreArgs};
use callvault::governance_cmd::{self, GovernanceCmd};
use callvault::webhook_cmd::WebhookCmd;
use callvault::{admin, demo, ingest_cmd, migrate_cmd, server, transcribe_cmd, webhook_cmd};
use callvault_core::Role;
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "callvault",
    version,
    about = "Self-hosted vault for call recordings and interaction content"
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    /// Print a machine-readable JSON result.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (with the background work: exports, jobs, housekeeping).
    Serve(ServeArgs),
    /// Run only the background work (exports, jobs, housekeeping), e.g. on nodes kept
    /// apart for exports.
    Worker,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage API clients (OAuth client credentials).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Manage users who sign in with a password (the Call Recording API).
    #[command(subcommand)]
    User(UserCmd),
    /// The audit trail: verify a tenant's chain, export its records.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Legal holds, retention policies and deletes that obey them.
    #[command(subcommand)]
    Governance(GovernanceCmd),
    /// Signed webhooks: subscriptions and their deliveries.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Load a folder of recordings and a manifest into a tenant.
    Ingest {
        #[arg(long)]
        tenant: String,
        /// Folder with manifest.csv or manifest.jsonl and the files it names.
        path: PathBuf,
    },
    /// Transcribe a tenant's recordings that have no transcript yet (or one interaction
    /// again), with a progress bar. Interrupt and re-run to resume.
    Transcribe {
        #[arg(long)]
        tenant: String,
        /// Only recordings that started at or after this date (ISO 8601).
        #[arg(long)]
        since: Option<String>,
        /// Re-transcribe this interaction (GUID) from scratch instead.
        #[arg(long, conflicts_with = "since")]
        interaction: Option<String>,
        /// Queue the jobs for the server's runners and return.
        #[arg(long)]
        queue_only: bool,
    },
    /// Move this embedded vault to PostgreSQL and S3, verifying counts and checksums.
    /// Stop the embedded server first; re-running is safe.
    Migrate {
        /// The embedded vault: sqlite:DATA_DIR.
        #[arg(long)]
        from: String,
        /// The scale-out database: postgres://...
        #[arg(long)]
        to: String,
        /// The scale-out bucket: s3://bucket[/prefix] (endpoint and credentials from the
        /// --config file's [s3] table or the AWS_* variables).
        #[arg(long)]
        to_blobs: String,
    },
    /// Run housekeeping now: staging leftovers, orphaned blobs, expired tokens, retention.
    Sweep {
        /// Leave files younger than this alone: an upload may still be writing them. Use 0
        /// only when no server is running on this data directory.
        #[arg(long, default_value_t = 3600)]
        grace_secs: u64,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    Create {
        name: String,
        /// IANA time zone for dialects that show local times.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    List,
    /// Change the tenant's time zone.
    SetTimeZone {
        name: String,
        time_zone: String,
    },
    /// Generate the tenant's Recordings API token (HTTP Basic password); the previous
    /// token stops working.
    Token {
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; prints the user id that `self` resolves to.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login: String,
        /// At least 8 characters; stored as an argon2id hash.
        #[arg(long, env = "CALLVAULT_USER_PASSWORD")]
        password: String,
        /// The same as `--role admin`.
        #[arg(long, conflicts_with = "role")]
        admin: bool,
        /// agent (the default) sees their own on-demand recordings and the calls they
        /// handled; reviewer sees all the tenant's recordings but changes nothing; admin
        /// also deletes, governs and manages.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// Make an existing agent (by agent id) the user; default: a new numeric id.
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Create a client and print its secret (shown once).
    Create {
        #[arg(long)]
        tenant: String,
        /// Space-separated scopes, e.g. "interaction-content:read interaction-content:delete".
        #[arg(long)]
        scopes: String,
        #[arg(long, default_value = "api")]
        name: String,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Replace a client's secret and print the new one (the operator may name any
    /// tenant's client).
    Rotate { client_id: String },
    /// Revoke a client and every token it holds (of any tenant).
    Revoke { client_id: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse("role", s).map_err(|e| e.message)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("CALLVAULT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() {
    init_logging();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_args = match &cli.command {
        Command::Serve(a) => a.clone(),
        _ => ServeArgs::default(),
    };
    if let Command::Migrate { from, to, to_blobs } = &cli.command {
        return migrate_cmd::run(&cli.store, from, to, to_blobs, cli.json).await;
    }
    let settings = Settings::resolve(&cli.store, &serve_args)?;
    let vault = server::open_vault(&settings).await?;
    let out = cli.json;
    match cli.command {
        Command::Serve(_) => serve(&settings, vault.clone()).await?,
        Command::Worker => {
            tracing::info!("worker running: exports, jobs and housekeeping; no HTTP");
            server::work(vault.clone()).await;
        }
        Command::Tenant(TenantCmd::Create { name, time_zone }) => {
            let t = admin::create_tenant(&vault, &name, &time_zone).await?;
            admin::print(
                out,
                admin::tenant_json(&t),
                format!("created tenant '{}' (id {})", t.name, t.id.0),
            );
        }
        Command::Tenant(TenantCmd::List) => {
            let tenants = vault.list_tenants().await?;
            let human = tenants
                .iter()
                .map(|t| format!("{}\t{}\t{}", t.id.0, t.name, t.time_zone))
                .collect::<Vec<_>>()
                .join("\n");
            admin::print(
                out,
                json!(tenants.iter().map(admin::tenant_json).collect::<Vec<_>>()),
                human,
            );
        }
        Command::Tenant(TenantCmd::SetTimeZone { name, time_zone }) => {
            let t = admin::tenant_by_name(&vault, &name).await?;
            vault.set_tenant_time_zone(t.id, &time_zone).await?;
            let t = admin::tenant_by_name(&vault, &name).await?;
            admin::print(
                out,
                admin::tenant_json(&t),
                format!("tenant '{name}' now uses {time_zone}"),
            );
        }
        Command::Tenant(TenantCmd::Token { name }) => {
            let t = admin::tenant_by_name(&vault, &name).await?;
            let token = vault.auth.new_tenant_api_token(t.id).await?;
            admin::print(
                out,
                json!({ "tenant": name, "token": token }),
                format!("tenant:    {name}\napi token: {token}\n\nUse them as HTTP Basic user and password for /api/recordings/files.\nThe previous token no longer works."),
            );
        }
        Command::Client(ClientCmd::Create {
            tenant,
            scopes,
            name,
        }) => {
            let c = admin::create_client(&vault, &tenant, &name, &scopes).await?;
            admin::print(
                out,
                admin::credentials_json(&tenant, &c),
                admin::credentials_human(&tenant, &c),
            );
        }
        Command::Client(ClientCmd::List { tenant }) => {
            let list = admin::list_clients(&vault, &tenant).await?;
            let human = serde_json::to_string_pretty(&list)?;
            admin::print(out, list, human);
        }
        Command::Client(ClientCmd::Rotate { client_id }) => {
            let owner = vault.auth.client_owner(&client_id).await?;
            let c = vault.auth.rotate_secret(owner, &client_id).await?;
            let tenant = vault
                .tenant(c.tenant)
                .await?
                .map(|t| t.name)
                .unwrap_or_default();
            admin::print(
                out,
                admin::credentials_json(&tenant, &c),
                admin::credentials_human(&tenant, &c),
            );
        }
        Command::Client(ClientCmd::Revoke { client_id }) => {
            let owner = vault.auth.client_owner(&client_id).await?;
            vault.auth.revoke(owner, &client_id).await?;
            admin::print(
                out,
                json!({ "clientId": client_id, "revoked": true }),
                format!("revoked {client_id}"),
            );
        }
        Command::User(UserCmd::Create {
            tenant,
            login,
            password,
            admin: is_admin,
            role,
            id,
        }) => {
            let role = match (is_admin, role) {
                (true, _) => Role::Admin,
                (false, role) => role.unwrap_or_default(),
            };
            let t = admin::tenant_by_name(&vault, &tenant).await?;
            let u = vault
                .auth
                .create_user(t.id, id.as_deref(), &login, &password, role)
                .await?;
            admin::print(
                out,
                json!({ "tenant": tenant, "userId": u.id, "login": u.login, "role": u.role, "admin": u.is_admin() }),
                format!(
                    "created user '{}' (id {}) in tenant '{tenant}' as {}",
                    u.login,
                    u.id,
                    match u.role {
                        Role::Admin => "account admin",
                        Role::Reviewer => "reviewer",
                        Role::Agent => "agent",
                    }
                ),
            );
        }
        Command::Governance(cmd) => governance_cmd::run(&vault, cmd, out).await?,
        Command::Webhook(cmd) => webhook_cmd::run(&vault, cmd, out).await?,
        Command::Audit(cmd) => audit_cmd::run(&vault, cmd, out).await?,
        Command::Ingest { tenant, path } => ingest_cmd::run(&vault, &tenant, &path, out).await?,
        Command::Transcribe {
            tenant,
            since,
            interaction,
            queue_only,
        } => {
            let args = transcribe_cmd::Args {
                tenant: &tenant,
                since: since.as_deref(),
                interaction: interaction.as_deref(),
                queue_only,
            };
            transcribe_cmd::run(&vault, args, out).await?
        }
        // Returned above, before the configured vault opens.
        Command::Migrate { .. } => {}
        Command::Sweep { grace_secs } => {
            let r = vault
                .sweep(std::time::Duration::from_secs(grace_secs))
                .await?;
            admin::print(
                out,
                json!({
                    "stagingRemoved": r.staging_removed,
                    "orphansRemoved": r.orphans_removed,
                    "tokensRemoved": r.tokens_removed,
                    "webhookDeliveriesPruned": r.deliveries_pruned,
                    "retentionInteractions": r.retention_interactions,
                    "retentionItems": r.retention_items,
                }),
                format!("{r:?}"),
            );
        }
    }
    // Reads a command made (searches, downloads) are in the trail before it exits.
    vault.audit.flush().await;
    Ok(())
}

async fn serve(
    settings: &Settings,
    vault: std::sync::Arc<callvault_services::Vault>,
) -> anyhow::Result<()> {
    let demo_access = if settings.demo {
        Some(
            demo::prepare(&vault, settings.demo_interactions)
                .await
                .context("preparing demo data")?,
        )
    } else {
        None
    };
    let running = server::start(settings, vault).await?;
    let scheme = if running.tls { "https" } else { "http" };
    let authority = if running.addr.ip().is_unspecified() {
        format!("localhost:{}", running.addr.port())
    } else {
        running.addr.to_string()
    };
    let base = format!("{scheme}://{authority}");
    tracing::info!(%base, data_dir = %settings.data_dir.display(), "callvault listening");
    if let Some(d) = &demo_access {
        println!("{}", demo::banner(&base, d));
    }
    let stopper = running.stopper();
    tokio::spawn(async move {
        server::shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stopper.send(true);
    });
    running.wait().await
}
