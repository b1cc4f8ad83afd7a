//! Web-to-lead forms: what an admin defines (fields and where each lands on the lead, the
//! source, the thank-you text, who receives the leads, the anti-spam limits), and what an
//! anonymous submission becomes. Everything here is pure; the app serves the form at a public
//! address, verifies the render token, counts submissions per address and per form, saves
//! the lead through the lead rules and logs every submission, refused ones included.
//!
//! - A form's fields map to lead fields (`contact_name`, `company_name`, `mobile`…) or to a
//!   lead custom field; a submission is turned into a [`LeadInput`] by [`lead_input`], whose
//!   errors name the form's own field names so that the page can show them beside each input.
//! - Anti-spam ([`screen`]): a hidden honeypot input ([`HONEYPOT`]) that people never fill, a
//!   minimum fill time measured from a signed render time, a size limit per value and per
//!   submission, per-address and per-form rate limits. A refused submission is never told
//!   why in a way a robot could use: honeypot and too-fast refusals see the thank-you text.
//! - UTM parameters (`utm_source`…) and the referring page travel with the submission and are
//!   kept in its log entry, which the lead page shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::input::{Field, SHORT_TEXT};
use crate::model::{text_enum, CustomValues, Id, Language, Source, TeamId, UserId};
use crate::records::LeadInput;

text_enum!(
    /// Where a form field's value lands on the lead.
    FormTarget {
        ContactName => "contact_name",
        CompanyName => "company_name",
        Mobile => "mobile",
        Email => "email",
        Wechat => "wechat",
        Title => "title",
        Region => "region",
        Industry => "industry",
        Notes => "notes",
        Custom => "custom",
    }
);

text_enum!(
    /// How a form field is shown.
    FormInput {
        Text => "text",
        Email => "email",
        Tel => "tel",
        Textarea => "textarea",
        Select => "select",
    }
);

text_enum!(
    /// What became of a submission.
    SubmissionOutcome { Accepted => "accepted", Refused => "refused" }
);

text_enum!(
    /// Why a submission was refused.
    Refusal {
        Disabled => "disabled",
        Honeypot => "honeypot",
        TooFast => "too_fast",
        BadToken => "bad_token",
        TooLarge => "too_large",
        RateLimitedAddress => "rate_limited_address",
        RateLimitedForm => "rate_limited_form",
        Invalid => "invalid",
        BadSecret => "bad_secret",
        Duplicate => "duplicate",
    }
);

text_enum!(
    /// How a submission arrived: the public page (or its embedded frame), or the inbound
    /// endpoint another system posts to with the form's secret.
    SubmissionVia { Form => "form", Inbound => "inbound" }
);

/// The hidden input people leave empty and form-filling robots fill.
pub const HONEYPOT: &str = "homepage";
/// The UTM parameters kept with a submission.
pub const UTM_KEYS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];
/// Most fields a form may have.
pub const MAX_FIELDS: usize = 30;
/// Most characters of one submitted value (a longer one is refused as too large).
pub const MAX_VALUE_CHARS: usize = 2000;
/// Most bytes of a whole submission.
pub const MAX_SUBMISSION_BYTES: usize = 16 * 1024;
/// A render token older than this is refused (the page was left open for a day).
pub const TOKEN_MAX_AGE: Duration = Duration::hours(24);

/// One input of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The input's name in the submission (`a-z`, `0-9`, `_`; defaults to the target's name,
    /// or to the custom field's key).
    #[serde(default)]
    pub name: String,
    pub label_zh: String,
    #[serde(default)]
    pub label_en: String,
    pub target: FormTarget,
    /// The lead custom field's key, when `target` is `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default = "text_input")]
    pub input: FormInput,
    /// The choices of a `select` input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn text_input() -> FormInput {
    FormInput::Text
}

impl FormField {
    pub fn label(&self, lang: Language) -> &str {
        match lang {
            Language::En if !self.label_en.is_empty() => &self.label_en,
            _ => &self.label_zh,
        }
    }
}

/// Anti-spam limits of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AntiSpam {
    /// A submission sent sooner than this after the page was shown is a robot's.
    pub min_fill_seconds: u32,
    /// Most submissions one address may send in an hour.
    pub per_address_per_hour: u32,
    /// Most submissions the form takes in a minute (all addresses together).
    pub per_form_per_minute: u32,
}

impl Default for AntiSpam {
    fn default() -> Self {
        AntiSpam {
            min_fill_seconds: 3,
            per_address_per_hour: 10,
            per_form_per_minute: 120,
        }
    }
}

/// A web-to-lead form as the admin page and the API send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebFormInput {
    pub name: String,
    /// The form's public address is `/f/{slug}`; made up when not given.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The heading visitors see.
    #[serde(default)]
    pub heading: String,
    /// A line under the heading.
    #[serde(default)]
    pub intro: String,
    /// What visitors see after sending.
    #[serde(default)]
    pub thank_you: String,
    /// The language of the public page.
    #[serde(default = "zh")]
    pub language: Language,
    /// The source the leads get.
    #[serde(default = "website")]
    pub source: Source,
    pub fields: Vec<FormField>,
    /// Who gets the leads: a rep, else the least-loaded rep of a team, else the pool (公海).
    #[serde(default)]
    pub owner_id: Option<UserId>,
    #[serde(default)]
    pub team_id: Option<TeamId>,
    #[serde(default)]
    pub anti_spam: AntiSpam,
    /// The version read, when replacing a form (a stale one is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}
fn zh() -> Language {
    Language::ZhCn
}
fn website() -> Source {
    Source::Website
}

/// A stored form. `secret` authenticates the inbound endpoint and signs render tokens; only
/// admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebForm {
    pub id: Id,
    pub slug: String,
    pub name: String,
    pub enabled: bool,
    pub heading: String,
    pub intro: String,
    pub thank_you: String,
    pub language: Language,
    pub source: Source,
    pub fields: Vec<FormField>,
    pub owner_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    pub anti_spam: AntiSpam,
    pub secret: String,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl WebForm {
    /// A new form at `/f/{slug}` from a checked input; `secret` is what the store keeps of
    /// its secret.
    pub fn new(slug: String, secret: String, input: WebFormInput, now: OffsetDateTime) -> WebForm {
        let mut form = WebForm {
            id: 0,
            slug,
            name: String::new(),
            enabled: true,
            heading: String::new(),
            intro: String::new(),
            thank_you: String::new(),
            language: Language::ZhCn,
            source: Source::Website,
            fields: vec![],
            owner_id: None,
            team_id: None,
            anti_spam: AntiSpam::default(),
            secret,
            archived: false,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        form.apply(input);
        form
    }

    /// Whether the form takes submissions (switched on and not archived): what its public
    /// page and every submission go by.
    pub fn takes_submissions(&self) -> bool {
        self.enabled && !self.archived
    }

    pub fn to_input(&self) -> WebFormInput {
        WebFormInput {
            name: self.name.clone(),
            slug: Some(self.slug.clone()),
            enabled: self.enabled,
            heading: self.heading.clone(),
            intro: self.intro.clone(),
            thank_you: self.thank_you.clone(),
            language: self.language,
            source: self.source,
            fields: self.fields.clone(),
            owner_id: self.owner_id,
            team_id: self.team_id,
            anti_spam: self.anti_spam.clone(),
            version: None,
        }
    }

    /// Replaces what an admin edits with a checked input.
    pub fn apply(&mut self, input: WebFormInput) {
        self.name = input.name;
        if let Some(slug) = input.slug {
            self.slug = slug;
        }
        self.enabled = input.enabled;
        self.heading = input.heading;
        self.intro = input.intro;
        self.thank_you = input.thank_you;
        self.language = input.language;
        self.source = input.source;
        self.fields = input.fields;
        self.owner_id = input.owner_id;
        self.team_id = input.team_id;
        self.anti_spam = input.anti_spam;
    }
}

/// One logged submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Submission {
    pub id: Id,
    pub form_id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub via: SubmissionVia,
    pub outcome: SubmissionOutcome,
    pub refusal: Option<Refusal>,
    /// The address it came from.
    pub address: String,
    pub lead_id: Option<Id>,
    /// UTM parameters and `referrer`.
    #[schema(value_type = Object)]
    pub utm: BTreeMap<String, String>,
    /// What was sent, each value cut to 200 characters (for refused submissions, so that an
    /// admin can see what was turned away).
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, String>,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `s` can be a form's address: 3–40 of `a-z`, `0-9` and `-`, starting with a letter
/// or digit.
pub fn is_slug(s: &str) -> bool {
    (3..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Reserved input names: the honeypot, the render token, UTM parameters.
fn reserved(name: &str) -> bool {
    name == HONEYPOT || name.starts_with('_') || UTM_KEYS.contains(&name) || name == "referrer"
}

impl WebFormInput {
    /// Checks the form and fills in defaults (field names, a trimmed text); `custom_keys` are
    /// the lead custom fields a form may fill (text-like and single-select ones).
    pub fn checked(mut self, custom_keys: &[String]) -> Result<WebFormInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > SHORT_TEXT {
            errors.push(FieldError::new(
                "name",
                "required",
                "name is required (at most 200 characters)",
            ));
        }
        if let Some(slug) = &self.slug {
            let slug = slug.trim().to_ascii_lowercase();
            if !is_slug(&slug) {
                errors.push(FieldError::new(
                    "slug",
                    "invalid_slug",
                    "slug is 3 to 40 of a-z, 0-9 and -",
                ));
            }
            self.slug = Some(slug);
        }
        if self.owner_id.is_some() && self.team_id.is_some() {
            errors.push(FieldError::new(
                "team_id",
                "owner_or_team",
                "name a rep or a team, not both",
            ));
        }
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            errors.push(FieldError::new(
                "fields",
                "field_count",
                format!("a form has 1 to {MAX_FIELDS} fields"),
            ));
        }
        // Two rows filling one lead field: said once, on the later row (its name, if made up
        // from the target, would clash too).
        let targets: Vec<(FormTarget, Option<String>)> = self
            .fields
            .iter()
            .map(|f| (f.target, f.custom_key.clone()))
            .collect();
        let twice: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[..i].contains(&targets[i]))
            .collect();
        for i in &twice {
            errors.push(FieldError::new(
                &format!("fields[{i}].target"),
                "duplicate_target",
                "two fields fill the same lead field",
            ));
        }
        let mut seen = Vec::new();
        let mut reaches_someone = false;
        for (i, f) in self.fields.iter_mut().enumerate() {
            let at = |name: &str| format!("fields[{i}].{name}");
            f.label_zh = f.label_zh.trim().to_string();
            f.label_en = f.label_en.trim().to_string();
            if f.label_zh.is_empty() || f.label_zh.chars().count() > SHORT_TEXT {
                errors.push(FieldError::new(
                    &at("label_zh"),
                    "required",
                    "a label is required (at most 200 characters)",
                ));
            }
            if f.target == FormTarget::Custom {
                match &f.custom_key {
                    Some(k) if custom_keys.contains(k) => {}
                    _ => errors.push(FieldError::new(
                        &at("custom_key"),
                        "unknown_custom_field",
                        "name a text or single-select custom field of leads",
                    )),
                }
            } else {
                f.custom_key = None;
            }
            if f.name.trim().is_empty() {
                f.name = match (&f.target, &f.custom_key) {
                    (FormTarget::Custom, Some(k)) => k.clone(),
                    (t, _) => t.as_str().to_string(),
                };
            }
            f.name = f.name.trim().to_string();
            if !is_name(&f.name) || reserved(&f.name) {
                errors.push(FieldError::new(
                    &at("name"),
                    "invalid_name",
                    "a field name is 1 to 40 of a-z, 0-9 and _ starting with a letter, and not a reserved name",
                ));
            } else if seen.contains(&f.name) && !twice.contains(&i) {
                errors.push(FieldError::new(
                    &at("name"),
                    "duplicate_name",
                    "two fields have this name",
                ));
            }
            seen.push(f.name.clone());
            if f.input == FormInput::Select {
                f.options = f
                    .options
                    .iter()
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty())
                    .collect();
                if f.options.is_empty() {
                    errors.push(FieldError::new(
                        &at("options"),
                        "options_required",
                        "a select needs at least one choice",
                    ));
                }
            } else {
                f.options.clear();
            }
            if matches!(
                f.target,
                FormTarget::Mobile | FormTarget::Email | FormTarget::Wechat
            ) {
                reaches_someone = true;
            }
        }
        if !self.fields.is_empty() && !reaches_someone {
            errors.push(FieldError::new(
                "fields",
                "no_contact_field",
                "a form needs a mobile, email or WeChat field, or nobody can be called back",
            ));
        }
        for (field, v, range) in [
            (
                "anti_spam.min_fill_seconds",
                self.anti_spam.min_fill_seconds,
                0..=600,
            ),
            (
                "anti_spam.per_address_per_hour",
                self.anti_spam.per_address_per_hour,
                1..=100_000,
            ),
            (
                "anti_spam.per_form_per_minute",
                self.anti_spam.per_form_per_minute,
                1..=1_000_000,
            ),
        ] {
            if !range.contains(&v) {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    format!(
                        "{field} must be between {} and {}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        for (field, text, max) in [
            ("heading", &mut self.heading, SHORT_TEXT),
            ("intro", &mut self.intro, 1000),
            ("thank_you", &mut self.thank_you, 1000),
        ] {
            *text = text.trim().to_string();
            if text.chars().count() > max {
                errors.push(FieldError::new(
                    field,
                    "too_long",
                    format!("{field} must be at most {max} characters"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// What is known about a submission before its values are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub via: SubmissionVia,
    /// When the page was shown (from a verified render token); `None` when the token is
    /// missing or forged (inbound submissions carry none).
    pub rendered_at: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
    /// Submissions from this address in the last hour, and to this form in the last minute,
    /// this one not counted.
    pub address_last_hour: u32,
    pub form_last_minute: u32,
    pub bytes: usize,
}

/// Anti-spam: whether a submission is refused before its values are mapped. Inbound
/// submissions (authenticated by the form's secret) skip the honeypot, the token and the
/// per-address limit, but not the per-form limit or the size limits.
pub fn screen(
    form: &WebForm,
    arrival: &Arrival,
    values: &BTreeMap<String, String>,
) -> Option<Refusal> {
    if !form.takes_submissions() {
        return Some(Refusal::Disabled);
    }
    if arrival.bytes > MAX_SUBMISSION_BYTES
        || values.values().any(|v| v.chars().count() > MAX_VALUE_CHARS)
    {
        return Some(Refusal::TooLarge);
    }
    if arrival.form_last_minute >= form.anti_spam.per_form_per_minute {
        return Some(Refusal::RateLimitedForm);
    }
    if arrival.via == SubmissionVia::Inbound {
        return None;
    }
    if values.get(HONEYPOT).is_some_and(|v| !v.trim().is_empty()) {
        return Some(Refusal::Honeypot);
    }
    let Some(shown) = arrival.rendered_at else {
        return Some(Refusal::BadToken);
    };
    if arrival.now - shown > TOKEN_MAX_AGE || shown > arrival.now + Duration::minutes(5) {
        return Some(Refusal::BadToken);
    }
    if arrival.now - shown < Duration::seconds(form.anti_spam.min_fill_seconds.into()) {
        return Some(Refusal::TooFast);
    }
    if arrival.address_last_hour >= form.anti_spam.per_address_per_hour {
        return Some(Refusal::RateLimitedAddress);
    }
    None
}

/// The minute a moment falls in (milliseconds since the epoch / 60,000): how submissions are
/// counted for the rate limits.
pub fn minute_of(t: OffsetDateTime) -> i64 {
    ((t.unix_timestamp_nanos() / 1_000_000) as i64).div_euclid(60_000)
}

/// Submissions since `since` from per-minute counts `(minute, n)`: every minute after the one
/// `since` falls in, and of that minute the share still inside the window (its count in
/// proportion, rounded up) — the sliding window estimated from fixed ones, exact when the
/// submissions are spread evenly over that minute, and never more than the minute's count off.
pub fn count_since(minutes: &[(i64, u32)], since: OffsetDateTime) -> u32 {
    let first = minute_of(since);
    let since_ms = (since.unix_timestamp_nanos() / 1_000_000) as i64;
    let inside_ms = (first + 1) * 60_000 - since_ms;
    minutes
        .iter()
        .map(|&(m, n)| match m.cmp(&first) {
            std::cmp::Ordering::Greater => u64::from(n),
            std::cmp::Ordering::Equal => (u64::from(n) * inside_ms as u64).div_ceil(60_000),
            std::cmp::Ordering::Less => 0,
        })
        .sum::<u64>()
        .min(u64::from(u32::MAX)) as u32
}

impl Refusal {
    /// Whether the visitor is shown the thank-you text anyway: a robot learns nothing, and
    /// nobody learns that a record exists.
    pub fn looks_accepted(self) -> bool {
        matches!(
            self,
            Refusal::Honeypot | Refusal::TooFast | Refusal::Duplicate
        )
    }
}

/// The UTM parameters and referring page of a submission.
pub fn utm_of(values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    UTM_KEYS
        .iter()
        .chain(std::iter::once(&"referrer"))
        .filter_map(|k| {
            let v = values.get(*k)?.trim();
            (!v.is_empty()).then(|| (k.to_string(), v.chars().take(SHORT_TEXT).collect()))
        })
        .collect()
}

/// The lead a submission makes: each field's value on its target, the form's source and
/// receiver. Errors name the form's field names (`mobile`, `company`…).
pub fn lead_input(
    form: &WebForm,
    values: &BTreeMap<String, String>,
    owner_id: Option<UserId>,
) -> Result<LeadInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut input = LeadInput {
        source: Field::Value(form.source),
        owner_id: match owner_id {
            Some(u) => Field::Value(u),
            None => Field::Null,
        },
        ..Default::default()
    };
    let mut custom = CustomValues::new();
    for f in &form.fields {
        let v = values
            .get(&f.name)
            .map(|v| v.trim())
            .unwrap_or("")
            .to_string();
        if v.is_empty() {
            if f.required {
                errors.push(FieldError::new(
                    &f.name,
                    "required",
                    format!("{} is required", f.name),
                ));
            }
            continue;
        }
        if f.input == FormInput::Select && !f.options.contains(&v) {
            errors.push(FieldError::new(
                &f.name,
                "unknown_option",
                format!("{} is not one of the choices", f.name),
            ));
            continue;
        }
        // Formats are checked here too, so that every mistake is told at once (the lead
        // rules check them again when the lead is saved).
        let format = match f.target {
            FormTarget::Mobile => crate::input::phone(&f.name, v.clone(), true).err(),
            FormTarget::Email => crate::input::email(&f.name, v.clone()).err(),
            _ => None,
        };
        if let Some(e) = format {
            errors.push(e);
            continue;
        }
        let value = Field::Value(v.clone());
        match f.target {
            FormTarget::ContactName => input.contact_name = value,
            FormTarget::CompanyName => input.company_name = value,
            FormTarget::Mobile => input.mobile = value,
            FormTarget::Email => input.email = value,
            FormTarget::Wechat => input.wechat = value,
            FormTarget::Title => input.title = value,
            FormTarget::Region => input.region = value,
            FormTarget::Industry => input.industry = value,
            FormTarget::Notes => input.notes = value,
            FormTarget::Custom => {
                if let Some(k) = &f.custom_key {
                    custom.insert(k.clone(), serde_json::Value::String(v));
                }
            }
        }
    }
    if !custom.is_empty() {
        input.custom = Some(custom);
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// The form field a lead field's error belongs to (lead rules name lead fields, the page
/// shows form fields).
pub fn field_for_error<'a>(form: &'a WebForm, lead_field: &str) -> Option<&'a FormField> {
    form.fields.iter().find(|f| match f.target {
        FormTarget::Custom => f
            .custom_key
            .as_deref()
            .is_some_and(|k| lead_field == k || lead_field == format!("custom.{k}")),
        t => t.as_str() == lead_field,
    })
}

/// Each value cut to 200 characters, the honeypot and token left out: what the log keeps.
pub fn loggable(values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    values
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| (k.clone(), v.chars().take(SHORT_TEXT).collect()))
        .collect()
}

#[cfg(test)]
mod tests;
