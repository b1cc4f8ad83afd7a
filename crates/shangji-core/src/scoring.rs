//! Lead scoring: a score from 0 to 100 and a grade A–D for every lead, always explained.
//! Everything here is pure; the app loads a lead's features and touches, the settings and the
//! stored model, and saves what [`score`] says.
//!
//! A lead is seen through its features ([`LeadFeatures::of`]): `source` (the [`Source`] key),
//! `industry`, `region`, `title`, `has_email` and `has_mobile` (`yes` / `no`), `email_kind`
//! (`company`, `free` for the public mail services of [`FREE_MAIL_DOMAINS`], or `none`), and
//! `custom.<key>` for each custom value that is a string, number or boolean. A missing value is
//! the empty string, a value like any other.
//!
//! The score has three parts:
//!
//! - **Fit** ([`FitRule`]): admins' rules. A rule matches when the lead's value for its field
//!   equals one of its values (trimmed, ASCII letters in any case); every matching rule adds its
//!   points, which may be negative.
//! - **Engagement** ([`Touch`]): each follow-up or web form submission is worth the points of its
//!   kind ([`TouchPoints`]), halved every `half_life_days` of age ([`decayed`]; a touch dated in
//!   the future counts as new). The sum is capped at `engagement_cap`.
//! - **The model** ([`Model`]): categorical naive Bayes learned from the company's own closed
//!   leads ([`train`], [`train_for_use`]), as Odoo's predictive lead scoring does: the chance that
//!   a lead with these built-in features ([`MODEL_FEATURES`]) is qualified.
//!
//! The rule part is fit + engagement, clamped to 0..=100. Without a model it is the score; with
//! one, the score is `w·100·p + (1 − w)·rule part`, rounded, where `p` is the model's probability
//! and `w` is `model_weight_percent` / 100. The grade follows from the score by
//! [`GradeThresholds`].
//!
//! Every score comes with its [`Factor`]s, structured so that pages word them in either
//! language: each matching fit rule with its points; each touch with its decayed points (and its
//! undecayed points and age); the engagement cap, when it cuts, as a negative factor `cap`; and
//! each model feature with its effect in score points — `w·100·(p − p')`, where `p'` is the
//! model's probability with that feature's log-likelihood ratio set to 0 (the feature ignored) —
//! and its odds ratio. A factor's points are rounded on their own, so they need not add up to the
//! score exactly: fit and engagement factors show the rules' own points, which with a model count
//! `(1 − w)`, and the model factors' effects are not additive. Factors worth 0 points are left
//! out; the rest are sorted by their size, largest first, then by field.
//!
//! The model's held-out quality is measured by [`evaluate`]: a fifth of the closed leads, chosen
//! by a hash of the lead id ([`held_out`]), are scored by a model trained on the others; the
//! area under the ROC curve ([`auc`]) of the model is set beside that of the fit points alone.
//! Everything is deterministic: maps are ordered, sorts are stable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::{text_enum, ActivityType, Lead, LeadId, Source};

/// The built-in features, which fit rules and the model use.
pub const FEATURES: [&str; 7] = [
    "source",
    "industry",
    "region",
    "title",
    "has_email",
    "has_mobile",
    "email_kind",
];
/// The features the model learns from: the built-in ones (custom values only count in fit
/// rules).
pub const MODEL_FEATURES: [&str; 7] = FEATURES;
/// What a fit rule's field starts with to name a custom field.
pub const CUSTOM_PREFIX: &str = "custom.";
/// Mail services anyone can sign up to: an address there is `free`, any other `company`.
pub const FREE_MAIL_DOMAINS: [&str; 10] = [
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "sina.com",
    "foxmail.com",
    "hotmail.com",
    "outlook.com",
    "yeah.net",
    "sohu.com",
];
/// Most fit rules.
pub const MAX_RULES: usize = 200;
/// Most values a fit rule may list.
pub const MAX_VALUES: usize = 100;
/// Longest value a fit rule may list, in characters.
pub const VALUE_MAX: usize = 100;
/// A fit rule's points lie within ±this.
pub const MAX_RULE_POINTS: i32 = 100;

pub use crate::model::LeadGrade;

text_enum!(
    /// Which part of the score a factor belongs to.
    FactorKind { Fit => "fit", Engagement => "engagement", Model => "model" }
);

// ---------------------------------------------------------------------------------------
// Features.

/// A lead's features by name (see the module docs). A feature that is absent reads as the
/// empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct LeadFeatures(pub BTreeMap<String, String>);

impl LeadFeatures {
    /// The features of `lead`: the built-in ones, trimmed (missing: empty), and
    /// `custom.<key>` for custom values that are strings, numbers or booleans (`true` /
    /// `false`), in their string form.
    pub fn of(lead: &Lead) -> LeadFeatures {
        let text = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_string();
        let yes_no = |v: &Option<String>| if text(v).is_empty() { "no" } else { "yes" };
        let mut f = BTreeMap::new();
        f.insert(
            "source".to_string(),
            lead.source.map_or("", Source::as_str).to_string(),
        );
        f.insert("industry".to_string(), text(&lead.industry));
        f.insert("region".to_string(), text(&lead.region));
        f.insert("title".to_string(), text(&lead.title));
        f.insert("has_email".to_string(), yes_no(&lead.email).to_string());
        f.insert("has_mobile".to_string(), yes_no(&lead.mobile).to_string());
        f.insert(
            "email_kind".to_string(),
            email_kind(lead.email.as_deref()).to_string(),
        );
        for (key, value) in &lead.custom {
            let s = match value {
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            f.insert(format!("{CUSTOM_PREFIX}{key}"), s);
        }
        LeadFeatures(f)
    }

    /// Features from (name, value) pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LeadFeatures {
        LeadFeatures(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The value of a feature; empty when absent.
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    pub fn set(&mut self, field: &str, value: &str) {
        self.0.insert(field.to_string(), value.to_string());
    }
}

/// `company`, `free` (an address at one of [`FREE_MAIL_DOMAINS`]) or `none` (no address).
pub fn email_kind(email: Option<&str>) -> &'static str {
    let email = email.unwrap_or("").trim();
    if email.is_empty() {
        return "none";
    }
    let domain = email.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
    if FREE_MAIL_DOMAINS.contains(&domain.as_str()) {
        "free"
    } else {
        "company"
    }
}

/// Whether two values are the same: trimmed, ASCII letters in any case.
fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A value as the model keys it: trimmed, ASCII letters in lower case.
fn model_key(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------
// Settings.

/// A fit rule: `points` when the lead's `field` is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FitRule {
    /// A built-in feature ([`FEATURES`]) or `custom.<key>`.
    pub field: String,
    /// The values that match (trimmed, ASCII letters in any case); `""` matches a missing
    /// value.
    pub values: Vec<String>,
    /// Added when the rule matches; may be negative.
    pub points: i32,
}

impl FitRule {
    pub fn new(field: &str, values: &[&str], points: i32) -> FitRule {
        FitRule {
            field: field.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
            points,
        }
    }

    pub fn matches(&self, features: &LeadFeatures) -> bool {
        let value = features.get(&self.field);
        self.values.iter().any(|v| same(v, value))
    }
}

/// The engagement points of each kind of touch (before decay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TouchPoints {
    pub call: i32,
    pub visit: i32,
    pub meeting: i32,
    pub email: i32,
    pub wechat: i32,
    pub sms: i32,
    pub demo: i32,
    pub note: i32,
    pub internal: i32,
    /// A web form submitted.
    pub form_submission: i32,
}

impl Default for TouchPoints {
    /// Meeting the customer (visits, meetings, demos) counts most, then calls, then written
    /// messages; notes and internal work are not touches and count nothing.
    fn default() -> Self {
        TouchPoints {
            call: 6,
            visit: 10,
            meeting: 10,
            email: 4,
            wechat: 4,
            sms: 2,
            demo: 10,
            note: 0,
            internal: 0,
            form_submission: 8,
        }
    }
}

impl TouchPoints {
    /// The points of a touch of `kind`.
    pub fn of(&self, kind: TouchKind) -> i32 {
        match kind {
            TouchKind::FormSubmission => self.form_submission,
            TouchKind::Activity(a) => match a {
                ActivityType::Call => self.call,
                ActivityType::Visit => self.visit,
                ActivityType::Meeting => self.meeting,
                ActivityType::Email => self.email,
                ActivityType::Wechat => self.wechat,
                ActivityType::Sms => self.sms,
                ActivityType::Demo => self.demo,
                ActivityType::Note => self.note,
                ActivityType::Internal => self.internal,
            },
        }
    }

    fn named(&self) -> [(&'static str, i32); 10] {
        [
            ("call", self.call),
            ("visit", self.visit),
            ("meeting", self.meeting),
            ("email", self.email),
            ("wechat", self.wechat),
            ("sms", self.sms),
            ("demo", self.demo),
            ("note", self.note),
            ("internal", self.internal),
            ("form_submission", self.form_submission),
        ]
    }
}

/// Where a score's grade changes: a score of at least `a` is A, at least `b` B, at least `c`
/// C, anything lower D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GradeThresholds {
    pub a: i32,
    pub b: i32,
    pub c: i32,
}

impl Default for GradeThresholds {
    fn default() -> Self {
        GradeThresholds {
            a: 75,
            b: 50,
            c: 25,
        }
    }
}

/// The lead scoring settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringSettings {
    /// At most [`MAX_RULES`].
    pub fit_rules: Vec<FitRule>,
    pub touch_points: TouchPoints,
    /// A touch counts half after this many days, a quarter after twice as many; 1..=365.
    pub half_life_days: u32,
    /// The most engagement points a lead gets; 0..=100.
    pub engagement_cap: i32,
    /// How much the model counts when there is one, in percent (the rule part counts the
    /// rest); 0..=100.
    pub model_weight_percent: u32,
    /// Closed leads (qualified or disqualified) needed before a model is trained;
    /// 50..=1,000,000.
    pub min_closed: u32,
    pub thresholds: GradeThresholds,
}

impl Default for ScoringSettings {
    /// Rules for a B2B equipment seller: machinery makers, referrals and exhibitions, a
    /// decision maker's title, a mobile and a company email make a good lead; advertising
    /// brings poorer ones.
    fn default() -> Self {
        ScoringSettings {
            fit_rules: default_fit_rules(),
            touch_points: TouchPoints::default(),
            half_life_days: 14,
            engagement_cap: 30,
            model_weight_percent: 50,
            min_closed: 200,
            thresholds: GradeThresholds::default(),
        }
    }
}

/// The default fit rules (see [`ScoringSettings::default`]).
pub fn default_fit_rules() -> Vec<FitRule> {
    vec![
        FitRule::new("industry", &["机械制造"], 15),
        FitRule::new("industry", &["汽车零部件", "电子"], 6),
        FitRule::new("source", &["referral"], 15),
        FitRule::new("source", &["exhibition"], 10),
        FitRule::new("source", &["advertising"], -5),
        FitRule::new(
            "title",
            &[
                "总经理",
                "董事长",
                "厂长",
                "技术总监",
                "财务总监",
                "采购总监",
            ],
            15,
        ),
        FitRule::new("title", &["采购经理"], 5),
        FitRule::new("has_mobile", &["yes"], 5),
        FitRule::new("email_kind", &["company"], 10),
    ]
}

fn fe(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

impl ScoringSettings {
    /// Checks the settings; every problem is reported with its place
    /// (`fit_rules[2].points`, `thresholds.b`…).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.fit_rules.len() > MAX_RULES {
            errors.push(fe(
                "fit_rules",
                "too_many",
                format!("at most {MAX_RULES} rules"),
            ));
        }
        for (n, r) in self.fit_rules.iter().enumerate() {
            let at = |f: &str| format!("fit_rules[{n}].{f}");
            let known = FEATURES.contains(&r.field.as_str())
                || r.field
                    .strip_prefix(CUSTOM_PREFIX)
                    .is_some_and(|key| crate::custom_fields::check_key(key).is_ok());
            if !known {
                errors.push(fe(
                    &at("field"),
                    "unknown_field",
                    format!(
                        "`{}` is not one of {} or custom.<key>",
                        r.field,
                        FEATURES.join(", ")
                    ),
                ));
            }
            if r.values.is_empty() {
                errors.push(fe(&at("values"), "required", "a rule needs a value"));
            } else if r.values.len() > MAX_VALUES {
                errors.push(fe(
                    &at("values"),
                    "too_many",
                    format!("at most {MAX_VALUES} values"),
                ));
            }
            for (k, v) in r.values.iter().enumerate() {
                if v.chars().count() > VALUE_MAX {
                    errors.push(fe(
                        &format!("fit_rules[{n}].values[{k}]"),
                        "too_long",
                        format!("at most {VALUE_MAX} characters"),
                    ));
                }
            }
            if !(-MAX_RULE_POINTS..=MAX_RULE_POINTS).contains(&r.points) {
                errors.push(fe(
                    &at("points"),
                    "out_of_range",
                    format!("between -{MAX_RULE_POINTS} and {MAX_RULE_POINTS}"),
                ));
            }
        }
        for (name, points) in self.touch_points.named() {
            if !(0..=100).contains(&points) {
                errors.push(fe(
                    &format!("touch_points.{name}"),
                    "out_of_range",
                    "between 0 and 100",
                ));
            }
        }
        if !(1..=365).contains(&self.half_life_days) {
            errors.push(fe(
                "half_life_days",
                "out_of_range",
                "between 1 and 365 days",
            ));
        }
        if !(0..=100).contains(&self.engagement_cap) {
            errors.push(fe("engagement_cap", "out_of_range", "between 0 and 100"));
        }
        if self.model_weight_percent > 100 {
            errors.push(fe(
                "model_weight_percent",
                "out_of_range",
                "between 0 and 100",
            ));
        }
        if !(50..=1_000_000).contains(&self.min_closed) {
            errors.push(fe(
                "min_closed",
                "out_of_range",
                "between 50 and 1,000,000 closed leads",
            ));
        }
        let t = self.thresholds;
        for (name, v) in [("a", t.a), ("b", t.b), ("c", t.c)] {
            if !(1..=100).contains(&v) {
                errors.push(fe(
                    &format!("thresholds.{name}"),
                    "out_of_range",
                    "between 1 and 100",
                ));
            }
        }
        if t.b >= t.a {
            errors.push(fe(
                "thresholds.b",
                "out_of_order",
                "B's threshold must be below A's",
            ));
        }
        if t.c >= t.b {
            errors.push(fe(
                "thresholds.c",
                "out_of_order",
                "C's threshold must be below B's",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The grade of a score.
    pub fn grade(&self, score: i32) -> LeadGrade {
        let t = self.thresholds;
        if score >= t.a {
            LeadGrade::A
        } else if score >= t.b {
            LeadGrade::B
        } else if score >= t.c {
            LeadGrade::C
        } else {
            LeadGrade::D
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fit and engagement.

/// The sum of the points of the rules that match.
pub fn fit_points(features: &LeadFeatures, rules: &[FitRule]) -> i32 {
    rules
        .iter()
        .filter(|r| r.matches(features))
        .fold(0i32, |sum, r| sum.saturating_add(r.points))
}

/// What a touch is: a follow-up of some kind, or a web form submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    Activity(ActivityType),
    FormSubmission,
}

impl TouchKind {
    /// The activity type's name, or `form_submission`.
    pub fn as_str(self) -> &'static str {
        match self {
            TouchKind::Activity(a) => a.as_str(),
            TouchKind::FormSubmission => "form_submission",
        }
    }
}

/// A touch of the lead, and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Touch {
    pub kind: TouchKind,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A touch's age in days at `now` (fractional; 0 for a touch in the future).
fn age_days(at: OffsetDateTime, now: OffsetDateTime) -> f64 {
    ((now - at).as_seconds_f64() / 86_400.0).max(0.0)
}

/// `points`·0.5^(age / half life): what a touch worth `points` at `at` counts at `now`.
pub fn decayed(points: i32, at: OffsetDateTime, now: OffsetDateTime, half_life_days: u32) -> f64 {
    let half_life = f64::from(half_life_days.max(1));
    f64::from(points) * 0.5f64.powf(age_days(at, now) / half_life)
}

// ---------------------------------------------------------------------------------------
// The model.

/// Categorical naive Bayes over [`MODEL_FEATURES`], trained on closed leads (qualified:
/// positive). Stored by the app as JSON.
///
/// With `N+` positives and `N−` negatives, and for a feature whose training values are the
/// set `V`, `K = |V| + 1` (one slot is kept for values not seen), Laplace (add-one)
/// smoothing gives `P(v | class) = (n(v, class) + 1) / (N_class + K)`. A value's
/// log-likelihood ratio is `ln P(v | +) − ln P(v | −)`; the prior log-odds are
/// `ln((N+ + 1) / (N− + 1))`. A lead's log-odds are the prior plus the ratios of its values,
/// its probability their logistic.
///
/// A value never seen in training gets the ratio in `unseen`, which [`train`] sets to 0: it
/// says nothing either way. (The add-one estimate for a zero count, `ln((N− + K) / (N+ + K))`,
/// would only reflect the balance of the classes, and push every new value towards the
/// larger one.) Values are compared trimmed, ASCII letters in any case; the empty value
/// (missing) is a value like any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Model {
    pub prior_log_odds: f64,
    /// Feature → value → log-likelihood ratio.
    #[schema(value_type = Object)]
    pub log_likelihood_ratios: BTreeMap<String, BTreeMap<String, f64>>,
    /// Feature → the ratio of a value not seen in training.
    #[schema(value_type = Object)]
    pub unseen: BTreeMap<String, f64>,
    /// Qualified and disqualified leads trained on.
    pub positives: u32,
    pub negatives: u32,
    /// Closed leads behind the model (see [`train_for_use`]).
    #[serde(default)]
    pub n_closed: u32,
    /// Held-out leads its quality was measured on.
    #[serde(default)]
    pub n_test: u32,
    /// The held-out AUC of the model, and of the fit points alone on the same leads.
    #[serde(default)]
    pub auc: Option<f64>,
    #[serde(default)]
    pub auc_fit: Option<f64>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub trained_at: Option<OffsetDateTime>,
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn train_on<'a>(examples: impl Iterator<Item = (&'a LeadFeatures, bool)> + Clone) -> Model {
    let (mut pos, mut neg) = (0u32, 0u32);
    // feature → value → (positives, negatives)
    let mut counts: BTreeMap<&str, BTreeMap<String, (u32, u32)>> = BTreeMap::new();
    for (features, converted) in examples {
        if converted {
            pos += 1;
        } else {
            neg += 1;
        }
        for f in MODEL_FEATURES {
            let c = counts
                .entry(f)
                .or_default()
                .entry(model_key(features.get(f)))
                .or_default();
            if converted {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
    }
    let mut llr = BTreeMap::new();
    let mut unseen = BTreeMap::new();
    for f in MODEL_FEATURES {
        let values = counts.remove(f).unwrap_or_default();
        let k = values.len() as f64 + 1.0;
        let (np, nn) = (f64::from(pos) + k, f64::from(neg) + k);
        let table: BTreeMap<String, f64> = values
            .into_iter()
            .map(|(v, (p, n))| {
                let ratio = ((f64::from(p) + 1.0) / np).ln() - ((f64::from(n) + 1.0) / nn).ln();
                (v, ratio)
            })
            .collect();
        llr.insert(f.to_string(), table);
        unseen.insert(f.to_string(), 0.0);
    }
    Model {
        prior_log_odds: ((f64::from(pos) + 1.0) / (f64::from(neg) + 1.0)).ln(),
        log_likelihood_ratios: llr,
        unseen,
        positives: pos,
        negatives: neg,
        n_closed: pos + neg,
        n_test: 0,
        auc: None,
        auc_fit: None,
        trained_at: None,
    }
}

/// Trains the model on (features, converted) of closed leads. No evaluation is attached.
pub fn train(examples: &[(LeadFeatures, bool)]) -> Model {
    train_on(examples.iter().map(|(f, y)| (f, *y)))
}

impl Model {
    /// The log-likelihood ratio of a feature's value (see [`Model`]).
    pub fn ratio(&self, feature: &str, value: &str) -> f64 {
        let Some(table) = self.log_likelihood_ratios.get(feature) else {
            return 0.0;
        };
        table
            .get(&model_key(value))
            .copied()
            .unwrap_or_else(|| self.unseen.get(feature).copied().unwrap_or(0.0))
    }

    /// Each feature the model knows, the lead's value and its log-likelihood ratio, by
    /// feature name.
    pub fn contributions(&self, features: &LeadFeatures) -> Vec<(String, String, f64)> {
        self.log_likelihood_ratios
            .keys()
            .map(|f| {
                let v = features.get(f);
                (f.clone(), v.to_string(), self.ratio(f, v))
            })
            .collect()
    }

    /// The log-odds that the lead is qualified: the prior plus its values' ratios.
    pub fn log_odds(&self, features: &LeadFeatures) -> f64 {
        self.prior_log_odds
            + self
                .log_likelihood_ratios
                .keys()
                .map(|f| self.ratio(f, features.get(f)))
                .sum::<f64>()
    }

    /// The probability that the lead is qualified.
    pub fn probability(&self, features: &LeadFeatures) -> f64 {
        logistic(self.log_odds(features))
    }
}

/// The area under the ROC curve of (score, positive) pairs: the chance that a random positive
/// scores above a random negative, ties counting half (the Mann–Whitney statistic). `None`
/// when either class is empty.
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let pos = scored.iter().filter(|s| s.1).count() as u64;
    let neg = scored.len() as u64 - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Twice the rank sum of the positives, ties sharing their mean rank (ranks from 1).
    let mut rank_sum2: u64 = 0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let positives = sorted[i..=j].iter().filter(|s| s.1).count() as u64;
        rank_sum2 += positives * (i as u64 + j as u64 + 2);
        i = j + 1;
    }
    Some((rank_sum2 - pos * (pos + 1)) as f64 / (2 * pos * neg) as f64)
}

/// Whether a lead is held out for testing: about one in five, by a hash of its id (the
/// SplitMix64 finaliser), so the split is the same every time.
pub fn held_out(id: LeadId) -> bool {
    let mut z = (id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).is_multiple_of(5)
}

/// How well the model ranks held-out leads, beside the fit points alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evaluation {
    pub n_train: u32,
    pub n_test: u32,
    /// The AUC of the model's probability on the held-out leads.
    pub auc_model: Option<f64>,
    /// The AUC of the fit points alone on the same leads.
    pub auc_fit: Option<f64>,
}

/// Trains on the closed leads that are not [`held_out`] and measures the model and the fit
/// points on those that are. Examples are (lead id, features, converted).
pub fn evaluate(
    examples: &[(LeadId, LeadFeatures, bool)],
    settings: &ScoringSettings,
) -> Evaluation {
    let train_set = examples
        .iter()
        .filter(|e| !held_out(e.0))
        .map(|(_, f, y)| (f, *y));
    let model = train_on(train_set.clone());
    let test: Vec<&(LeadId, LeadFeatures, bool)> =
        examples.iter().filter(|e| held_out(e.0)).collect();
    let by_model: Vec<(f64, bool)> = test
        .iter()
        .map(|(_, f, y)| (model.probability(f), *y))
        .collect();
    let by_fit: Vec<(f64, bool)> = test
        .iter()
        .map(|(_, f, y)| (f64::from(fit_points(f, &settings.fit_rules)), *y))
        .collect();
    Evaluation {
        n_train: model.n_closed,
        n_test: test.len() as u32,
        auc_model: auc(&by_model),
        auc_fit: auc(&by_fit),
    }
}

/// The model to score with: `None` with fewer than `settings.min_closed` closed leads;
/// otherwise trained on all of them, with the held-out evaluation of [`evaluate`] attached.
pub fn train_for_use(
    examples: &[(LeadId, LeadFeatures, bool)],
    settings: &ScoringSettings,
    now: OffsetDateTime,
) -> Option<Model> {
    if examples.len() < settings.min_closed as usize {
        return None;
    }
    let eval = evaluate(examples, settings);
    let mut model = train_on(examples.iter().map(|(_, f, y)| (f, *y)));
    model.n_test = eval.n_test;
    model.auc = eval.auc_model;
    model.auc_fit = eval.auc_fit;
    model.trained_at = Some(now);
    Some(model)
}

// ---------------------------------------------------------------------------------------
// The score.

/// One reason for a score (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Factor {
    pub kind: FactorKind,
    /// The feature (fit, model), `touch` or `cap` (engagement).
    pub field: String,
    /// The lead's value; the touch kind for a touch; the cap for `cap`.
    pub value: String,
    /// Fit: the rule's points. Engagement: the touch's decayed points (the cap: minus what it
    /// cut). Model: the effect on the score, `w·100·(p − p')`.
    pub points: i32,
    /// A touch's points before decay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_points: Option<i32>,
    /// A touch's age in whole days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<i32>,
    /// A model factor's odds ratio, ×1000 (1000: no effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odds_ratio_milli: Option<i64>,
}

impl Factor {
    fn new(kind: FactorKind, field: &str, value: &str, points: i32) -> Factor {
        Factor {
            kind,
            field: field.to_string(),
            value: value.to_string(),
            points,
            base_points: None,
            age_days: None,
            odds_ratio_milli: None,
        }
    }
}

/// A lead's score, grade and reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Scored {
    /// 0..=100.
    pub score: i32,
    pub grade: LeadGrade,
    /// The fit points (the sum of the matching rules).
    pub fit_points: i32,
    /// The engagement points after decay and cap, rounded.
    pub engagement_points: i32,
    /// The model's probability in percent, rounded, when there is a model.
    pub model_percent: Option<i32>,
    /// Largest first; none worth 0 points.
    pub factors: Vec<Factor>,
}

fn round_i32(x: f64) -> i32 {
    x.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

/// Scores a lead at `now` from its features and touches (see the module docs).
pub fn score(
    features: &LeadFeatures,
    touches: &[Touch],
    now: OffsetDateTime,
    settings: &ScoringSettings,
    model: Option<&Model>,
) -> Scored {
    let mut factors = Vec::new();

    let fit = fit_points(features, &settings.fit_rules);
    for r in settings.fit_rules.iter().filter(|r| r.matches(features)) {
        factors.push(Factor::new(
            FactorKind::Fit,
            &r.field,
            features.get(&r.field),
            r.points,
        ));
    }

    let mut engagement = 0.0;
    for t in touches {
        let base = settings.touch_points.of(t.kind);
        let points = decayed(base, t.at, now, settings.half_life_days);
        engagement += points;
        factors.push(Factor {
            base_points: Some(base),
            age_days: Some(age_days(t.at, now).floor() as i32),
            ..Factor::new(
                FactorKind::Engagement,
                "touch",
                t.kind.as_str(),
                round_i32(points),
            )
        });
    }
    let cap = f64::from(settings.engagement_cap.max(0));
    if engagement > cap {
        factors.push(Factor::new(
            FactorKind::Engagement,
            "cap",
            &settings.engagement_cap.to_string(),
            round_i32(cap - engagement),
        ));
        engagement = cap;
    }

    let rule_part = (f64::from(fit) + engagement).clamp(0.0, 100.0);
    let (total, model_percent) = match model {
        None => (rule_part, None),
        Some(m) => {
            let w = f64::from(settings.model_weight_percent.min(100)) / 100.0;
            let log_odds = m.log_odds(features);
            let p = logistic(log_odds);
            for (field, value, ratio) in m.contributions(features) {
                let without = logistic(log_odds - ratio);
                factors.push(Factor {
                    odds_ratio_milli: Some((ratio.exp() * 1000.0).round().min(1e15) as i64),
                    ..Factor::new(
                        FactorKind::Model,
                        &field,
                        &value,
                        round_i32(w * 100.0 * (p - without)),
                    )
                });
            }
            (
                w * 100.0 * p + (1.0 - w) * rule_part,
                Some(round_i32(p * 100.0)),
            )
        }
    };
    let score = round_i32(total).clamp(0, 100);

    factors.retain(|f| f.points != 0);
    factors.sort_by(|a, b| {
        b.points
            .unsigned_abs()
            .cmp(&a.points.unsigned_abs())
            .then_with(|| a.field.cmp(&b.field))
    });
    Scored {
        score,
        grade: settings.grade(score),
        fit_points: fit,
        engagement_points: round_i32(engagement),
        model_percent,
        factors,
    }
}

#[cfg(test)]
mod tests;
