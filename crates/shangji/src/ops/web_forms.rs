//! Web-to-lead forms: admins define them (`shangji_core::web_forms` checks them); anonymous
//! visitors submit them at `/f/{slug}` (or in the frame the embed snippet makes), other
//! systems through the inbound endpoint with the form's secret. A submission is screened
//! (honeypot, minimum fill time from a signed render token, size, per-address and per-form
//! limits counted from the log, so that several instances limit together), mapped onto a lead,
//! checked by the same lead rules as every other path (the lead's own rules, custom fields,
//! duplicates), routed to the form's rep, team or the pool, scored, and logged — refused
//! submissions too.
//!
//! A public form never tells whether a record exists: a duplicate the settings block is
//! refused like a robot, with the thank-you text, and kept in the log for an admin.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use shangji_core::assignment::{self, AssignmentRule, Method, RepStats};
use shangji_core::custom_fields::CustomFieldType;
use shangji_core::error::FieldError;
use shangji_core::model::*;
use shangji_core::web_forms::{
    self, Arrival, Refusal, Submission, SubmissionOutcome, SubmissionVia, WebForm, WebFormInput,
};
use shangji_store::{Db, StoreError};
use time::{Duration, OffsetDateTime};

use super::directory::{digest, random_token};
use super::Ctx;
use crate::error::AppError;

/// Latest submissions an admin sees per form.
pub const LOG_LIMIT: i64 = 200;
/// Days a refused submission stays in the log (what robots sent is evidence for a while, not
/// for ever); accepted ones stay with their lead.
pub const REFUSED_KEPT_DAYS: i64 = 90;

/// A form with what its log says.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WebFormView {
    #[serde(flatten)]
    pub form: WebForm,
    pub accepted: u32,
    pub refused: u32,
}

/// A form just created, or whose secret was just replaced: the only time the secret is told.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WithSecret {
    #[serde(flatten)]
    pub form: WebForm,
    /// Send it as `X-Form-Secret` to the inbound endpoint; only its digest is kept.
    pub secret: String,
}

/// What became of a submission, as the submitter may learn it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Saved as a lead (or refused in a way a robot must not tell: shown as accepted).
    Accepted { lead_id: Option<LeadId> },
    /// Values a person can correct, named by the form's field names.
    Invalid(Vec<FieldError>),
    /// Too many submissions; try later.
    RateLimited,
    /// The form takes no submissions (switched off or archived).
    Closed,
}

/// A submission as it arrived.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub via: SubmissionVia,
    pub address: String,
    pub values: BTreeMap<String, String>,
    /// The render token of the page (`_t`), for submissions through the page.
    pub token: Option<String>,
    /// The secret sent to the inbound endpoint.
    pub secret: Option<String>,
    pub bytes: usize,
}

fn slug_of() -> String {
    // 10 characters of a-z0-9 from a random token: hard to guess, easy to read out.
    random_token("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(10)
        .collect()
}

/// The lead custom fields a form may fill: those whose value is one text.
pub fn custom_keys(ctx: &Ctx) -> Vec<String> {
    ctx.dir
        .custom_fields
        .iter()
        .filter(|d| d.record_kind == RecordKind::Lead && !d.archived)
        .filter(|d| {
            matches!(
                d.field_type,
                CustomFieldType::Text
                    | CustomFieldType::LongText
                    | CustomFieldType::SingleSelect
                    | CustomFieldType::Url
                    | CustomFieldType::Phone
                    | CustomFieldType::Email
            )
        })
        .map(|d| d.key.clone())
        .collect()
}

async fn checked(db: &Db, ctx: &Ctx, input: WebFormInput) -> Result<WebFormInput, AppError> {
    let input = input
        .checked(&custom_keys(ctx))
        .map_err(AppError::InvalidMany)?;
    if let Some(u) = input.owner_id {
        if !db.users().await?.iter().any(|x| x.id == u && x.active) {
            return Err(AppError::invalid(
                "owner_id",
                "unknown_user",
                format!("there is no active user {u}"),
            ));
        }
    }
    if let Some(t) = input.team_id {
        if !ctx.dir.org.teams.iter().any(|x| x.id == t) {
            return Err(AppError::invalid(
                "team_id",
                "unknown_team",
                format!("there is no team {t}"),
            ));
        }
    }
    Ok(input)
}

fn slug_taken(e: StoreError) -> AppError {
    match e {
        StoreError::Duplicate(_) => {
            AppError::invalid("slug", "slug_taken", "another form has this address")
        }
        other => other.into(),
    }
}

/// Every form with its accepted and refused counts (admin).
pub async fn list(db: &Db, ctx: &Ctx) -> Result<Vec<WebFormView>, AppError> {
    ctx.require_admin()?;
    let counts = db.submission_counts().await?;
    Ok(db
        .web_forms()
        .await?
        .into_iter()
        .map(|form| {
            let (accepted, refused) = counts.get(&form.id).copied().unwrap_or_default();
            WebFormView {
                form,
                accepted,
                refused,
            }
        })
        .collect())
}

/// One form (admin).
pub async fn get(db: &Db, ctx: &Ctx, id: Id) -> Result<WebForm, AppError> {
    ctx.require_admin()?;
    db.web_form(id).await?.ok_or(AppError::NotFound)
}

/// Creates a form (admin); the answer is the only place its secret is told.
pub async fn create(db: &Db, ctx: &Ctx, input: WebFormInput) -> Result<WithSecret, AppError> {
    ctx.require_admin()?;
    let input = checked(db, ctx, input).await?;
    let secret = random_token("wf_");
    let mut form = WebForm::new(slug_of(), digest(&secret), input, ctx.now);
    form.id = db.insert_web_form(&form).await.map_err(slug_taken)?;
    super::audit::setting(db, ctx, "web_forms::create", "").await?;
    Ok(WithSecret { form, secret })
}

/// Replaces a form's definition (admin); a stale `version` is a conflict.
pub async fn update(db: &Db, ctx: &Ctx, id: Id, input: WebFormInput) -> Result<WebForm, AppError> {
    ctx.require_admin()?;
    let mut form = db.web_form(id).await?.ok_or(AppError::NotFound)?;
    super::records::check_version(form.version, input.version)?;
    let input = checked(db, ctx, input).await?;
    form.apply(input);
    form.updated_at = ctx.now;
    let expected = form.version;
    form.version = db
        .update_web_form(&form, expected)
        .await
        .map_err(slug_taken)?;
    super::audit::setting(db, ctx, "web_forms::update", "").await?;
    Ok(form)
}

/// Archives a form (it takes no more submissions) or restores it (admin).
pub async fn set_archived(db: &Db, ctx: &Ctx, id: Id, archived: bool) -> Result<WebForm, AppError> {
    ctx.require_admin()?;
    let mut form = db.web_form(id).await?.ok_or(AppError::NotFound)?;
    form.archived = archived;
    form.updated_at = ctx.now;
    form.version = db.update_web_form(&form, form.version).await?;
    super::audit::setting(db, ctx, "web_forms::set_archived", "").await?;
    Ok(form)
}

/// Replaces a form's secret (admin): the old one stops working at once.
pub async fn rotate_secret(db: &Db, ctx: &Ctx, id: Id) -> Result<WithSecret, AppError> {
    ctx.require_admin()?;
    let mut form = db.web_form(id).await?.ok_or(AppError::NotFound)?;
    let secret = random_token("wf_");
    form.secret = digest(&secret);
    form.updated_at = ctx.now;
    form.version = db.update_web_form(&form, form.version).await?;
    super::audit::setting(db, ctx, "web_forms::rotate_secret", "").await?;
    Ok(WithSecret { form, secret })
}

/// A form's latest submissions, newest first (admin).
pub async fn submissions(db: &Db, ctx: &Ctx, id: Id) -> Result<Vec<Submission>, AppError> {
    ctx.require_admin()?;
    db.web_form(id).await?.ok_or(AppError::NotFound)?;
    Ok(db.submissions(id, LOG_LIMIT).await?)
}

/// Forgets the refused submissions older than [`REFUSED_KEPT_DAYS`] and the per-minute counts
/// older than any rate limit's window; the scheduler calls it
/// every hour (on any instance: deleting twice deletes nothing more).
pub async fn prune_log(db: &Db, now: OffsetDateTime) -> Result<u64, AppError> {
    // The per-minute counts the rate limits read: none is older than an hour's window.
    db.prune_submission_rates(now - Duration::hours(2)).await?;
    Ok(db
        .prune_refused_submissions(now - Duration::days(REFUSED_KEPT_DAYS))
        .await?)
}

/// The form a lead came in through and its logged submission (UTM parameters, referrer).
pub async fn origin_of_lead(
    db: &Db,
    lead_id: LeadId,
) -> Result<Option<(WebForm, Submission)>, AppError> {
    let Some(sub) = db.submission_of_lead(lead_id).await? else {
        return Ok(None);
    };
    Ok(db.web_form(sub.form_id).await?.map(|f| (f, sub)))
}

/// The form at a public address, if it takes submissions.
pub async fn public_form(db: &Db, slug: &str) -> Result<Option<WebForm>, AppError> {
    Ok(db
        .web_form_by_slug(slug)
        .await?
        .filter(WebForm::takes_submissions))
}

type HmacSha256 = Hmac<Sha256>;

/// The MAC of a page shown at `millis`, keyed with what the store keeps of the form's secret.
fn mac(form: &WebForm, millis: i128) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(form.secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{}:{millis}", form.id).as_bytes());
    mac
}

/// The token a page carries: when it was shown, signed with the form's key, so that the
/// minimum fill time cannot be forged.
pub fn render_token(form: &WebForm, now: OffsetDateTime) -> String {
    let millis = now.unix_timestamp_nanos() / 1_000_000;
    let signature = hex::encode(mac(form, millis).finalize().into_bytes());
    format!("{millis}.{signature}")
}

/// When the page carrying `token` was shown, if the token is the form's.
fn rendered_at(form: &WebForm, token: &str) -> Option<OffsetDateTime> {
    let (millis, sig) = token.split_once('.')?;
    let millis: i128 = millis.parse().ok()?;
    mac(form, millis)
        .verify_slice(&hex::decode(sig).ok()?)
        .ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).ok()
}

/// Who gets a lead of `form`: its rep when active and not on leave, else the least-loaded
/// rep of its team (as assignment rules pick), else nobody (the pool).
async fn receiver(db: &Db, ctx: &Ctx, form: &WebForm) -> Result<Option<UserId>, AppError> {
    let today = shangji_core::calendar::china_date(ctx.now);
    let users = &ctx.dir.users;
    if let Some(u) = form.owner_id {
        let able = users
            .iter()
            .any(|x| x.id == u && x.active && !x.on_leave(today));
        return Ok(able.then_some(u));
    }
    let Some(team_id) = form.team_id else {
        return Ok(None);
    };
    let rule = AssignmentRule {
        id: 0,
        position: 0,
        name: String::new(),
        enabled: true,
        record_type: shangji_core::rules::RecordType::Lead,
        conditions: Default::default(),
        team_id,
        method: Method::LeastLoaded,
        members: vec![],
        capacities: vec![],
        default_capacity: 0,
    };
    let members = assignment::members(&rule, &ctx.dir.org.teams, users);
    let (open_load, last_assigned) = db.open_lead_load(&members).await?;
    let stats = RepStats {
        open_load,
        last_assigned,
        ..Default::default()
    };
    Ok(
        assignment::pick(&rule, &ctx.dir.org.teams, users, &stats, today)
            .ok()
            .map(|p| p.user_id),
    )
}

/// Takes a submission: screens it, saves the lead, logs it. Errors are the server's only;
/// what the submitter may learn is the [`Outcome`], given with the form (for the page that
/// answers).
pub async fn submit(
    db: &Db,
    now: OffsetDateTime,
    slug: &str,
    incoming: Incoming,
) -> Result<(WebForm, Outcome), AppError> {
    let form = db.web_form_by_slug(slug).await?.ok_or(AppError::NotFound)?;
    let outcome = take(db, now, &form, incoming).await?;
    Ok((form, outcome))
}

async fn take(
    db: &Db,
    now: OffsetDateTime,
    form: &WebForm,
    incoming: Incoming,
) -> Result<Outcome, AppError> {
    let ctx = Ctx::system(db, now).await?;
    let now = ctx.now;
    let mut entry = Submission {
        id: 0,
        form_id: form.id,
        at: now,
        via: incoming.via,
        outcome: SubmissionOutcome::Refused,
        refusal: None,
        address: incoming.address.chars().take(64).collect(),
        lead_id: None,
        utm: web_forms::utm_of(&incoming.values),
        values: web_forms::loggable(&incoming.values),
    };
    if incoming.via == SubmissionVia::Inbound {
        let given = incoming.secret.as_deref().map(digest);
        if given.as_deref() != Some(form.secret.as_str()) {
            entry.refusal = Some(Refusal::BadSecret);
            db.log_submission(&entry).await?;
            return Err(AppError::Unauthorized);
        }
    }
    let (form_last_minute, address_last_hour) = db
        .recent_submissions(
            (
                form.id,
                now - Duration::minutes(1),
                form.anti_spam.per_form_per_minute,
            ),
            (
                &entry.address,
                now - Duration::hours(1),
                form.anti_spam.per_address_per_hour,
            ),
        )
        .await?;
    let arrival = Arrival {
        via: incoming.via,
        rendered_at: incoming.token.as_deref().and_then(|t| rendered_at(form, t)),
        now,
        address_last_hour,
        form_last_minute,
        bytes: incoming.bytes,
    };
    if let Some(r) = web_forms::screen(form, &arrival, &incoming.values) {
        entry.refusal = Some(r);
        db.log_submission(&entry).await?;
        return Ok(match r {
            Refusal::Disabled => Outcome::Closed,
            Refusal::RateLimitedAddress | Refusal::RateLimitedForm => Outcome::RateLimited,
            r if r.looks_accepted() => Outcome::Accepted { lead_id: None },
            _ => Outcome::Invalid(vec![FieldError::new(
                "",
                r.as_str(),
                "the submission could not be taken; reload the page and send again",
            )]),
        });
    }
    let owner = receiver(db, &ctx, form).await?;
    let saved = match web_forms::lead_input(form, &incoming.values, owner) {
        Ok(mut input) => {
            input.allow_duplicate = true;
            // Logged as soon as the lead is stored: the submission is a touch the lead is
            // scored on before its rules run.
            let log = async |lead: &Lead| {
                let accepted = Submission {
                    outcome: SubmissionOutcome::Accepted,
                    lead_id: Some(lead.id),
                    ..entry.clone()
                };
                db.log_submission(&accepted).await?;
                Ok(())
            };
            super::records::create_then::<Lead>(db, &ctx, input, None, log).await
        }
        Err(errors) => Err(AppError::InvalidMany(errors)),
    };
    let lead = match saved {
        Ok(created) => created.record,
        Err(e) => {
            let outcome = refused_outcome(form, e)?;
            entry.refusal = Some(match outcome {
                Outcome::Invalid(_) => Refusal::Invalid,
                _ => Refusal::Duplicate,
            });
            db.log_submission(&entry).await?;
            return Ok(outcome);
        }
    };
    Ok(Outcome::Accepted {
        lead_id: Some(lead.id),
    })
}

/// What a refused lead tells the submitter: field errors on the form's own fields, or — for a
/// duplicate the settings block — the thank-you text, never that the record exists.
fn refused_outcome(form: &WebForm, e: AppError) -> Result<Outcome, AppError> {
    let errors = match e {
        AppError::Duplicate { .. } => return Ok(Outcome::Accepted { lead_id: None }),
        AppError::Invalid(one) => vec![one],
        AppError::InvalidMany(many) => many,
        other => return Err(other),
    };
    Ok(Outcome::Invalid(
        errors
            .into_iter()
            .map(|mut e| {
                if let Some(f) = web_forms::field_for_error(form, &e.field) {
                    e.field = f.name.clone();
                } else if !form.fields.iter().any(|f| f.name == e.field) {
                    e.field = String::new();
                }
                e
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> WebForm {
        let input: WebFormInput = serde_json::from_value(serde_json::json!({
            "name": "x", "fields": [{"label_zh": "手机", "target": "mobile"}]
        }))
        .unwrap();
        let mut f = WebForm::new(
            "abc".into(),
            digest("wf_secret"),
            input,
            OffsetDateTime::now_utc(),
        );
        f.id = 3;
        f
    }

    #[test]
    fn a_render_token_tells_when_the_page_was_shown_and_cannot_be_forged() {
        let f = form();
        let shown = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let token = render_token(&f, shown);
        assert_eq!(rendered_at(&f, &token), Some(shown));
        let (_, sig) = token.split_once('.').unwrap();
        // An earlier time with the same signature, another form's token, garbage: none.
        assert_eq!(rendered_at(&f, &format!("1800000000000.{sig}")), None);
        let mut other = form();
        other.id = 4;
        assert_eq!(rendered_at(&other, &token), None);
        for bad in ["", "123", "abc.def", "1.zz"] {
            assert_eq!(rendered_at(&f, bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_are_short_and_readable() {
        let s = slug_of();
        assert_eq!(s.len(), 10);
        assert!(web_forms::is_slug(&s), "{s}");
    }
}
