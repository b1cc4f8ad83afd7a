//! `shangji handover --from LOGIN --to LOGIN[,LOGIN…] [--dry-run]`: hands a leaving user's
//! book over (`ops::handover`), acting as an admin, and prints the counts per receiver and
//! kind.

use anyhow::Context;
use shangji_core::handover::{HandoverInput, HandoverMethod};
use shangji_core::model::Role;
use time::OffsetDateTime;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct HandoverArgs {
    /// The leaving user's login.
    #[arg(long)]
    from: String,
    /// Who receives: a login, or several separated by commas to split by account.
    #[arg(long, required = true, value_delimiter = ',')]
    to: Vec<String>,
    /// How several receivers share: round_robin or least_load.
    #[arg(long, default_value = "round_robin")]
    split: String,
    /// Only count what would move.
    #[arg(long)]
    dry_run: bool,
    /// Deactivate the leaver once everything has moved.
    #[arg(long)]
    deactivate: bool,
    /// Act as this admin (default: the first active admin).
    #[arg(long = "as")]
    actor: Option<String>,
}

pub async fn run(config: &Config, a: HandoverArgs, now: OffsetDateTime) -> anyhow::Result<()> {
    let db = super::open(config).await?;
    let login = |l: String| {
        let db = db.clone();
        async move {
            db.user_by_login(&l)
                .await?
                .map(|(u, _)| u)
                .with_context(|| format!("no user `{l}`"))
        }
    };
    let actor = match a.actor {
        Some(l) => login(l).await?,
        None => db
            .users()
            .await?
            .into_iter()
            .filter(|u| u.role == Role::Admin && u.active)
            .min_by_key(|u| u.id)
            .context("no active admin (give one with --as)")?,
    };
    let from = login(a.from).await?;
    let mut receivers = Vec::new();
    for l in a.to {
        receivers.push(login(l).await?);
    }
    let method = if receivers.len() == 1 {
        HandoverMethod::One
    } else {
        a.split
            .parse()
            .map_err(|_| anyhow::anyhow!("--split is round_robin or least_load"))?
    };
    let ctx = crate::ops::Ctx::for_cli(&db, &actor, now)
        .await
        .map_err(super::cli_error)?;
    let input = HandoverInput {
        from_user_id: from.id,
        receivers: receivers.iter().map(|u| u.id).collect(),
        method,
        deactivate: a.deactivate,
        dry_run: a.dry_run,
    };
    let out = crate::ops::handover::hand_over(&db, &ctx, input)
        .await
        .map_err(super::cli_error)?;
    let users = db.users().await?;
    match &out.handover {
        None => println!("would hand over from {}:", from.login),
        Some(h) => println!(
            "handover {} from {}: {}",
            h.id,
            from.login,
            h.status.as_str()
        ),
    }
    if out.counts.is_empty() {
        println!("  nothing to move");
    }
    for c in &out.counts {
        let to = users
            .iter()
            .find(|u| u.id == c.to_user_id)
            .map_or_else(|| c.to_user_id.to_string(), |u| u.login.clone());
        println!("  to {to:<16} {:<12} {}", c.kind.as_str(), c.count);
    }
    Ok(())
}
