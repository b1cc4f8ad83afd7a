//! Custom fields: extra fields that admins define for accounts, contacts, leads and
//! opportunities, which then work like built-in fields.
//!
//! - A definition is checked by [`apply`] (create and update alike).
//! - A value is checked by [`check_value`], which returns the rows that store it: one
//!   [`CustomRow`] per value (text, number or long text), one per chosen option of a
//!   multi-select. [`value_of`] turns rows back into the canonical JSON the API shows, and
//!   every written value is shown through it, so what a write answers is what a read returns.
//! - The `custom` object of a create or update is applied by [`apply_values`], which returns
//!   the changes (opportunities record them as history events).
//! - A type change keeps every stored value or is refused ([`convert_values`]).
//! - List filters are parsed by [`filter_value`].
//!
//! Never floats: a decimal is a scaled integer (`"12.34"` with 2 places is 1234), money is
//! integer minor units, a date is its Julian day number, an instant is UTC milliseconds.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::input::{self, Field, LONG_TEXT, SHORT_TEXT};
use crate::model::{text_enum, CustomValues, Id, RecordKind};
use crate::money::Money;

/// Longest key.
pub const KEY_MAX: usize = 50;
/// Longest label or option label.
pub const LABEL_MAX: usize = 100;
/// Longest help text.
pub const HELP_MAX: usize = 1000;
/// Longest option value.
pub const OPTION_MAX: usize = 100;
/// Most options of a select field.
pub const OPTIONS_MAX: usize = 500;
/// Longest URL value.
pub const URL_MAX: usize = 1000;
/// Longest validation pattern.
pub const PATTERN_MAX: usize = 500;
/// Most decimal places of a decimal field.
pub const MAX_DECIMAL_PLACES: i32 = 6;
/// Decimal places of a new decimal field that names none.
pub const DEFAULT_DECIMAL_PLACES: i32 = 2;

text_enum!(
    /// The type of a custom field: how its values are checked, stored and filtered.
    CustomFieldType {
        Text => "text",
        LongText => "long_text",
        Integer => "integer",
        Decimal => "decimal",
        Money => "money",
        Date => "date",
        DateTime => "date_time",
        SingleSelect => "single_select",
        MultiSelect => "multi_select",
        Boolean => "boolean",
        User => "user",
        Url => "url",
        Phone => "phone",
        Email => "email",
    }
);

impl CustomFieldType {
    pub fn is_select(self) -> bool {
        matches!(self, Self::SingleSelect | Self::MultiSelect)
    }

    /// Filterable by a range (`cf.<key>_from`, `cf.<key>_to`).
    pub fn has_range(self) -> bool {
        matches!(
            self,
            Self::Integer | Self::Decimal | Self::Money | Self::Date | Self::DateTime
        )
    }

    fn has_length(self) -> bool {
        matches!(self, Self::Text | Self::LongText)
    }

    fn has_min_max(self) -> bool {
        matches!(self, Self::Integer | Self::Decimal | Self::Money)
    }

    fn has_pattern(self) -> bool {
        matches!(
            self,
            Self::Text | Self::LongText | Self::Url | Self::Phone | Self::Email
        )
    }

    /// The most characters a text value of this type may have.
    pub fn max_chars(self) -> usize {
        match self {
            Self::LongText => LONG_TEXT,
            Self::Url => URL_MAX,
            _ => SHORT_TEXT,
        }
    }
}

/// A choice of a select field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    /// What is stored and sent, e.g. "华东".
    pub value: String,
    #[serde(default)]
    pub label_en: Option<String>,
    /// An archived option stays on the records that have it but cannot be chosen anew.
    #[serde(default)]
    pub archived: bool,
}

/// Rules for values beyond their type. Each applies to some types only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Text and long text: fewest characters.
    #[serde(default)]
    pub min_length: Option<i64>,
    /// Text and long text: most characters.
    #[serde(default)]
    pub max_length: Option<i64>,
    /// Integer, decimal and money, in the stored unit: the integer, the decimal scaled by its
    /// places (12.34 with 2 places is 1234), money in minor units.
    #[serde(default)]
    pub min: Option<i64>,
    /// Like `min`.
    #[serde(default)]
    pub max: Option<i64>,
    /// Text, long text, URL, phone and email: a regular expression the whole value must
    /// match.
    #[serde(default)]
    pub pattern: Option<String>,
}

/// A custom field of one record kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomFieldDef {
    pub id: Id,
    pub record_kind: RecordKind,
    /// snake_case ASCII, unique per record kind, never changes; records carry values under
    /// it in `custom`.
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub field_type: CustomFieldType,
    /// A new record must have a value; a value cannot be cleared.
    pub required: bool,
    /// Select fields only, in display order.
    pub options: Vec<SelectOption>,
    pub validation: Validation,
    /// Decimal fields only, 0 to 6.
    pub decimal_places: Option<i32>,
    pub help_zh: Option<String>,
    pub help_en: Option<String>,
    pub position: i32,
    /// An archived field keeps its values, which can no longer change.
    pub archived: bool,
}

/// Renames an option's value; the stored values follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionRename {
    pub from: String,
    pub to: String,
}

/// The body of a create or partial update of a definition.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldInput {
    /// Create only.
    #[serde(default)]
    pub record_kind: Field<RecordKind>,
    /// Create only: snake_case ASCII (a-z, 0-9, _), starting with a letter, at most 50.
    /// Absent, null or empty: derived from the labels (`keys::derive`).
    #[serde(default)]
    pub key: Field<String>,
    #[serde(default)]
    pub label_zh: Field<String>,
    #[serde(default)]
    pub label_en: Field<String>,
    /// A change is refused if a stored value would be lost.
    #[serde(default)]
    pub field_type: Field<CustomFieldType>,
    #[serde(default)]
    pub required: Field<bool>,
    /// The whole list. Options are archived, never removed.
    #[serde(default)]
    pub options: Field<Vec<SelectOption>>,
    #[serde(default)]
    pub validation: Field<Validation>,
    #[serde(default)]
    pub decimal_places: Field<i32>,
    #[serde(default)]
    pub help_zh: Field<String>,
    #[serde(default)]
    pub help_en: Field<String>,
    /// Defaults to after the record kind's last field.
    #[serde(default)]
    pub position: Field<i32>,
    #[serde(default)]
    pub archived: Field<bool>,
    /// Update only: renames option values, in order, before `options` applies. Stored values
    /// are renamed with them.
    #[serde(default)]
    pub rename_options: Field<Vec<OptionRename>>,
}

fn fe(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

/// A definition before its fields are applied.
pub fn blank_definition() -> CustomFieldDef {
    CustomFieldDef {
        id: 0,
        record_kind: RecordKind::Account,
        key: String::new(),
        label_zh: String::new(),
        label_en: String::new(),
        field_type: CustomFieldType::Text,
        required: false,
        options: vec![],
        validation: Validation::default(),
        decimal_places: None,
        help_zh: None,
        help_en: None,
        position: 0,
        archived: false,
    }
}

/// A key: snake_case ASCII starting with a letter.
pub fn check_key(key: &str) -> Result<String, FieldError> {
    let ok = (1..=KEY_MAX).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(fe(
            "key",
            "invalid_key",
            format!("a key has 1 to {KEY_MAX} lower-case letters, digits and underscores, starting with a letter"),
        ));
    }
    Ok(key.to_string())
}

/// A pattern as it is matched: the whole value.
fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

fn check_options(list: Vec<SelectOption>) -> Result<Vec<SelectOption>, FieldError> {
    if list.len() > OPTIONS_MAX {
        return Err(fe(
            "options",
            "too_many",
            format!("at most {OPTIONS_MAX} options"),
        ));
    }
    let mut out: Vec<SelectOption> = Vec::with_capacity(list.len());
    for (n, o) in list.into_iter().enumerate() {
        let field = format!("options[{n}].value");
        let value = input::required_text(&field, o.value, OPTION_MAX)?;
        if out.iter().any(|x| x.value == value) {
            return Err(fe(
                &field,
                "duplicate_option",
                format!("option `{value}` is listed twice"),
            ));
        }
        let label_en = match o.label_en {
            Some(l) => input::text(&format!("options[{n}].label_en"), l, LABEL_MAX)?,
            None => None,
        };
        out.push(SelectOption {
            value,
            label_en,
            archived: o.archived,
        });
    }
    Ok(out)
}

/// Drops the rules that do not apply to `t` (after a type change).
fn keep_applicable(v: &Validation, t: CustomFieldType) -> Validation {
    Validation {
        min_length: v.min_length.filter(|_| t.has_length()),
        max_length: v.max_length.filter(|_| t.has_length()),
        min: v.min.filter(|_| t.has_min_max()),
        max: v.max.filter(|_| t.has_min_max()),
        pattern: v.pattern.clone().filter(|_| t.has_pattern()),
    }
}

fn check_validation(def: &mut CustomFieldDef) -> Result<(), FieldError> {
    let t = def.field_type;
    let v = &mut def.validation;
    if v.pattern.as_deref().is_some_and(|p| p.is_empty()) {
        v.pattern = None;
    }
    let not_applicable = |name: &str| {
        fe(
            &format!("validation.{name}"),
            "not_applicable",
            format!("{name} does not apply to a {t} field"),
        )
    };
    for (name, given, applies) in [
        ("min_length", v.min_length.is_some(), t.has_length()),
        ("max_length", v.max_length.is_some(), t.has_length()),
        ("min", v.min.is_some(), t.has_min_max()),
        ("max", v.max.is_some(), t.has_min_max()),
        ("pattern", v.pattern.is_some(), t.has_pattern()),
    ] {
        if given && !applies {
            return Err(not_applicable(name));
        }
    }
    let limit = t.max_chars() as i64;
    if v.min_length.is_some_and(|n| !(0..=limit).contains(&n)) {
        return Err(fe(
            "validation.min_length",
            "out_of_range",
            format!("min_length must be between 0 and {limit}"),
        ));
    }
    if v.max_length.is_some_and(|n| !(1..=limit).contains(&n)) {
        return Err(fe(
            "validation.max_length",
            "out_of_range",
            format!("max_length must be between 1 and {limit}"),
        ));
    }
    if let (Some(a), Some(b)) = (v.min_length, v.max_length) {
        if a > b {
            return Err(fe(
                "validation.min_length",
                "invalid_range",
                "min_length is larger than max_length",
            ));
        }
    }
    if let (Some(a), Some(b)) = (v.min, v.max) {
        if a > b {
            return Err(fe(
                "validation.min",
                "invalid_range",
                "min is larger than max",
            ));
        }
    }
    if let Some(p) = &v.pattern {
        if p.chars().count() > PATTERN_MAX {
            return Err(fe(
                "validation.pattern",
                "too_long",
                format!("a pattern has at most {PATTERN_MAX} characters"),
            ));
        }
        if let Err(e) = compile(p) {
            return Err(fe(
                "validation.pattern",
                "invalid_pattern",
                format!("the pattern is not a valid regular expression: {e}"),
            ));
        }
    }
    Ok(())
}

/// The key of a new definition sent without one: from its labels, unique among the record
/// kind's fields (archived ones too), and never changed afterwards.
pub fn derived_key(def: &CustomFieldDef, all: &[CustomFieldDef]) -> String {
    crate::keys::derive(&[&def.label_en, &def.label_zh], "f", KEY_MAX, |k| {
        all.iter()
            .any(|d| d.record_kind == def.record_kind && d.key == k)
    })
}

fn required<T>(value: &Field<T>, field: &str) -> Result<(), FieldError> {
    match value {
        Field::Value(_) => Ok(()),
        _ => Err(fe(field, "required", format!("{field} is required"))),
    }
}

/// Applies a create or update body to a definition, checking it whole. `all` holds the
/// definitions that exist (of every record kind). Returns the option renames to carry out
/// on the stored values; a type change is checked against them by [`convert_values`].
pub fn apply(
    def: &mut CustomFieldDef,
    i: CustomFieldInput,
    creating: bool,
    all: &[CustomFieldDef],
) -> Result<Vec<OptionRename>, FieldError> {
    let before = def.clone();
    if creating {
        required(&i.record_kind, "record_kind")?;
        required(&i.label_zh, "label_zh")?;
        required(&i.label_en, "label_en")?;
        required(&i.field_type, "field_type")?;
    }
    match i.record_kind {
        Field::Absent => {}
        Field::Value(k) if creating => def.record_kind = k,
        Field::Value(k) if k == def.record_kind => {}
        _ => {
            return Err(fe(
                "record_kind",
                "read_only",
                "a custom field's record kind cannot be changed",
            ))
        }
    }
    match i.key {
        Field::Absent => {}
        // Left empty: derived from the labels below.
        Field::Null if creating => {}
        Field::Value(k) if creating && k.trim().is_empty() => {}
        Field::Value(k) if creating => def.key = check_key(k.trim())?,
        Field::Value(k) if k == def.key => {}
        _ => {
            return Err(fe(
                "key",
                "read_only",
                "a custom field's key cannot be changed",
            ))
        }
    }
    if creating
        && !def.key.is_empty()
        && all
            .iter()
            .any(|d| d.record_kind == def.record_kind && d.key == def.key)
    {
        return Err(fe(
            "key",
            "duplicate",
            format!(
                "a {} field with the key `{}` exists",
                def.record_kind, def.key
            ),
        ));
    }
    i.label_zh
        .try_map(|v| input::required_text("label_zh", v, LABEL_MAX))?
        .apply_required(&mut def.label_zh, "label_zh")?;
    i.label_en
        .try_map(|v| input::required_text("label_en", v, LABEL_MAX))?
        .apply_required(&mut def.label_en, "label_en")?;
    if creating && def.key.is_empty() {
        def.key = derived_key(def, all);
    }
    input::opt_text("help_zh", i.help_zh, HELP_MAX)?.apply_opt(&mut def.help_zh);
    input::opt_text("help_en", i.help_en, HELP_MAX)?.apply_opt(&mut def.help_en);
    i.field_type
        .apply_required(&mut def.field_type, "field_type")?;
    i.required.apply_required(&mut def.required, "required")?;
    i.archived.apply_required(&mut def.archived, "archived")?;
    match i.position {
        Field::Value(p) => def.position = p,
        Field::Null => return Err(fe("position", "required", "position is required")),
        Field::Absent if creating => {
            def.position = all
                .iter()
                .filter(|d| d.record_kind == def.record_kind)
                .map(|d| d.position + 1)
                .max()
                .unwrap_or(0);
        }
        Field::Absent => {}
    }
    let t = def.field_type;
    let type_changed = !creating && t != before.field_type;

    // Options: renamed first, then replaced by the list given; never removed.
    let mut renames = Vec::new();
    if let Field::Value(list) = i.rename_options {
        if creating || !before.field_type.is_select() || !t.is_select() {
            return Err(fe(
                "rename_options",
                "not_applicable",
                "options are renamed on an existing select field",
            ));
        }
        for (n, r) in list.into_iter().enumerate() {
            let Some(at) = def.options.iter().position(|o| o.value == r.from) else {
                return Err(fe(
                    &format!("rename_options[{n}].from"),
                    "unknown_option",
                    format!("there is no option `{}`", r.from),
                ));
            };
            let to = input::required_text(&format!("rename_options[{n}].to"), r.to, OPTION_MAX)?;
            if def.options.iter().any(|o| o.value == to) {
                return Err(fe(
                    &format!("rename_options[{n}].to"),
                    "duplicate_option",
                    format!("option `{to}` exists"),
                ));
            }
            def.options[at].value = to.clone();
            renames.push(OptionRename { from: r.from, to });
        }
    }
    let kept: Vec<String> = def.options.iter().map(|o| o.value.clone()).collect();
    match i.options {
        Field::Value(list) => def.options = check_options(list)?,
        Field::Null => def.options.clear(),
        Field::Absent if type_changed && !t.is_select() => def.options.clear(),
        Field::Absent => {}
    }
    if !creating && before.field_type.is_select() && t.is_select() {
        if let Some(gone) = kept
            .iter()
            .find(|v| !def.options.iter().any(|o| &o.value == *v))
        {
            return Err(fe(
                "options",
                "option_removed",
                format!("option `{gone}` may be on records: archive it instead of removing it"),
            ));
        }
    }
    if t.is_select() && def.options.is_empty() {
        return Err(fe(
            "options",
            "required",
            "a select field needs at least one option",
        ));
    }
    if !t.is_select() && !def.options.is_empty() {
        return Err(fe(
            "options",
            "not_applicable",
            format!("options do not apply to a {t} field"),
        ));
    }

    match i.decimal_places {
        Field::Value(p) => {
            if t != CustomFieldType::Decimal {
                return Err(fe(
                    "decimal_places",
                    "not_applicable",
                    format!("decimal_places does not apply to a {t} field"),
                ));
            }
            if !(0..=MAX_DECIMAL_PLACES).contains(&p) {
                return Err(fe(
                    "decimal_places",
                    "out_of_range",
                    format!("decimal_places must be between 0 and {MAX_DECIMAL_PLACES}"),
                ));
            }
            def.decimal_places = Some(p);
        }
        Field::Null => def.decimal_places = None,
        Field::Absent => {}
    }
    if t == CustomFieldType::Decimal {
        def.decimal_places.get_or_insert(DEFAULT_DECIMAL_PLACES);
    } else {
        def.decimal_places = None;
    }

    match i.validation {
        Field::Value(v) => def.validation = v,
        Field::Null => def.validation = Validation::default(),
        Field::Absent if type_changed => def.validation = keep_applicable(&def.validation, t),
        Field::Absent => {}
    }
    check_validation(def)?;
    Ok(renames)
}

// ---- Values ----

/// One stored row of a value: the columns a value is kept and indexed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomRow {
    /// Text, URL, phone, email, select option; a money value's currency.
    pub value_text: Option<String>,
    /// Integer, scaled decimal, money minor units, Julian day, UTC milliseconds, 0/1, user id.
    pub value_num: Option<i64>,
    /// Long text (kept out of the text index, whose entries have a size limit).
    pub value_long: Option<String>,
}

impl CustomRow {
    pub fn text(s: impl Into<String>) -> CustomRow {
        CustomRow {
            value_text: Some(s.into()),
            ..Default::default()
        }
    }
    pub fn num(n: i64) -> CustomRow {
        CustomRow {
            value_num: Some(n),
            ..Default::default()
        }
    }
    pub fn long(s: impl Into<String>) -> CustomRow {
        CustomRow {
            value_long: Some(s.into()),
            ..Default::default()
        }
    }
}

/// The name of a custom field in errors: `custom.<key>`.
pub fn field_name(key: &str) -> String {
    format!("custom.{key}")
}

fn places(def: &CustomFieldDef) -> u32 {
    def.decimal_places
        .unwrap_or(DEFAULT_DECIMAL_PLACES)
        .clamp(0, MAX_DECIMAL_PLACES) as u32
}

/// `"12.34"` with 2 places → 1234. Refuses exponents, more places than the field has (unless
/// they are zeros) and values beyond an `i64`; `Err` is the error code.
pub fn parse_decimal(s: &str, places: u32) -> Result<i64, &'static str> {
    let s = s.trim();
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return Err("invalid_custom_value"),
        None => (body, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return Err("invalid_custom_value");
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > places as usize {
        return Err("too_many_decimals");
    }
    let int = int.trim_start_matches('0');
    let mut all = String::with_capacity(int.len() + places as usize);
    all.push_str(int);
    all.push_str(frac);
    for _ in frac.len()..places as usize {
        all.push('0');
    }
    if all.is_empty() {
        return Ok(0);
    }
    let n: i64 = all.parse().map_err(|_| "out_of_range")?;
    Ok(if negative { -n } else { n })
}

/// 1234 with 2 places → `"12.34"`.
pub fn format_decimal(n: i64, places: u32) -> String {
    if places == 0 {
        return n.to_string();
    }
    let scale = 10i128.pow(places);
    let a = (n as i128).abs();
    let sign = if n < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        a / scale,
        a % scale,
        width = places as usize
    )
}

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), DATE_FORMAT).ok()
}

fn parse_instant_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    Some(crate::unix_ms(t))
}

fn format_instant_ms(ms: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// A URL: `http://` or `https://`, a host, no spaces.
fn check_url(field: &str, s: String) -> Result<String, FieldError> {
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let ok = host.is_some_and(|h| !h.is_empty() && !h.starts_with('.') && !h.starts_with(':'))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(fe(
            field,
            "invalid_url",
            format!("{field} must be a web address starting with http:// or https://"),
        ));
    }
    Ok(s)
}

/// An integer from a JSON integer or a text of digits.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn in_range(def: &CustomFieldDef, field: &str, n: i64) -> Result<(), FieldError> {
    let v = &def.validation;
    let show = |x: i64| match def.field_type {
        CustomFieldType::Decimal => format_decimal(x, places(def)),
        _ => x.to_string(),
    };
    if let Some(min) = v.min.filter(|m| n < *m) {
        return Err(fe(
            field,
            "out_of_range",
            format!("{field} must be at least {}", show(min)),
        ));
    }
    if let Some(max) = v.max.filter(|m| n > *m) {
        return Err(fe(
            field,
            "out_of_range",
            format!("{field} must be at most {}", show(max)),
        ));
    }
    Ok(())
}

fn option<'a>(def: &'a CustomFieldDef, field: &str, v: &str) -> Result<&'a str, FieldError> {
    def.options
        .iter()
        .find(|o| o.value == v && !o.archived)
        .map(|o| o.value.as_str())
        .ok_or_else(|| {
            fe(
                field,
                "unknown_option",
                format!("`{v}` is not an option of {field}"),
            )
        })
}

/// Checks one value (not `null`) against its definition; returns the rows that store it —
/// none for an empty value (`""`, `[]`), which clears the field.
pub fn check_value(def: &CustomFieldDef, v: &Value) -> Result<Vec<CustomRow>, FieldError> {
    use CustomFieldType as T;
    let f = field_name(&def.key);
    let invalid = |what: &str| fe(&f, "invalid_custom_value", format!("{f} must be {what}"));
    let t = def.field_type;
    match t {
        T::Text | T::LongText | T::Url | T::Phone | T::Email => {
            let Value::String(s) = v else {
                return Err(invalid("a text"));
            };
            let Some(s) = input::text(&f, s.clone(), t.max_chars())? else {
                return Ok(vec![]);
            };
            let s = match t {
                T::Phone => input::phone(&f, s, false)?.unwrap_or_default(),
                T::Email => input::email(&f, s)?.unwrap_or_default(),
                T::Url => check_url(&f, s)?,
                _ => s,
            };
            let n = s.chars().count() as i64;
            let rules = &def.validation;
            if let Some(max) = rules.max_length.filter(|m| n > *m) {
                return Err(fe(
                    &f,
                    "too_long",
                    format!("{f} must be at most {max} characters"),
                ));
            }
            if let Some(min) = rules.min_length.filter(|m| n < *m) {
                return Err(fe(
                    &f,
                    "too_short",
                    format!("{f} must be at least {min} characters"),
                ));
            }
            if let Some(p) = &rules.pattern {
                let matches = compile(p).map(|re| re.is_match(&s)).unwrap_or(false);
                if !matches {
                    return Err(fe(
                        &f,
                        "pattern_mismatch",
                        format!("{f} does not have the required form"),
                    ));
                }
            }
            Ok(vec![if t == T::LongText {
                CustomRow::long(s)
            } else {
                CustomRow::text(s)
            }])
        }
        T::Integer => {
            let n = integer(v).ok_or_else(|| invalid("an integer"))?;
            in_range(def, &f, n)?;
            Ok(vec![CustomRow::num(n)])
        }
        T::Decimal => {
            let text = match v {
                Value::String(s) if s.trim().is_empty() => return Ok(vec![]),
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid("a decimal number such as \"12.34\"")),
            };
            let n = parse_decimal(&text, places(def)).map_err(|code| match code {
                "too_many_decimals" => fe(
                    &f,
                    code,
                    format!("{f} has at most {} decimal places", places(def)),
                ),
                "out_of_range" => fe(&f, code, format!("{f} is too large")),
                _ => invalid("a decimal number such as \"12.34\""),
            })?;
            in_range(def, &f, n)?;
            Ok(vec![CustomRow::num(n)])
        }
        T::Money => {
            let money =
                || invalid(r#"an amount such as {"amount_minor": 12300, "currency": "CNY"}"#);
            let Value::Object(m) = v else {
                return Err(money());
            };
            if m.keys().any(|k| k != "amount_minor" && k != "currency") {
                return Err(money());
            }
            let amount = m
                .get("amount_minor")
                .and_then(Value::as_i64)
                .ok_or_else(money)?;
            let currency = match m.get("currency") {
                None | Some(Value::Null) => "CNY",
                Some(Value::String(c)) => c.as_str(),
                Some(_) => return Err(money()),
            };
            let parsed = Money::parse(amount, currency, &f).map_err(|e| FieldError {
                field: f.clone(),
                ..e
            })?;
            in_range(def, &f, parsed.amount_minor)?;
            Ok(vec![CustomRow {
                value_text: Some(parsed.currency),
                value_num: Some(parsed.amount_minor),
                value_long: None,
            }])
        }
        T::Date => match v {
            Value::String(s) if s.trim().is_empty() => Ok(vec![]),
            Value::String(s) => {
                let d = parse_date(s).ok_or_else(|| invalid("a date like 2026-03-31"))?;
                crate::input::date(&f, d)?;
                Ok(vec![CustomRow::num(d.to_julian_day() as i64)])
            }
            _ => Err(invalid("a date like 2026-03-31")),
        },
        T::DateTime => match v {
            Value::String(s) if s.trim().is_empty() => Ok(vec![]),
            Value::String(s) => {
                let ms = parse_instant_ms(s)
                    .ok_or_else(|| invalid("an RFC 3339 time like 2026-03-31T08:00:00Z"))?;
                let day = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                    .map(|t| t.date())
                    .map_err(|_| invalid("an RFC 3339 time like 2026-03-31T08:00:00Z"))?;
                crate::input::date(&f, day)?;
                Ok(vec![CustomRow::num(ms)])
            }
            _ => Err(invalid("an RFC 3339 time like 2026-03-31T08:00:00Z")),
        },
        T::SingleSelect => match v {
            Value::String(s) if s.trim().is_empty() => Ok(vec![]),
            Value::String(s) => Ok(vec![CustomRow::text(option(def, &f, s.trim())?)]),
            _ => Err(invalid("one of its options")),
        },
        T::MultiSelect => {
            let Value::Array(items) = v else {
                return Err(invalid("a list of its options"));
            };
            let mut chosen: Vec<&str> = Vec::new();
            for item in items {
                let Value::String(s) = item else {
                    return Err(invalid("a list of its options"));
                };
                let o = option(def, &f, s.trim())?;
                if !chosen.contains(&o) {
                    chosen.push(o);
                }
            }
            // In the options' order, as shown.
            Ok(def
                .options
                .iter()
                .filter(|o| chosen.contains(&o.value.as_str()))
                .map(|o| CustomRow::text(o.value.clone()))
                .collect())
        }
        T::Boolean => match v {
            Value::Bool(b) => Ok(vec![CustomRow::num(*b as i64)]),
            _ => Err(invalid("true or false")),
        },
        T::User => match integer(v) {
            Some(id) if id > 0 => Ok(vec![CustomRow::num(id)]),
            _ => Err(invalid("a user id")),
        },
    }
}

/// The canonical JSON of a stored value (rows not empty). `Err` describes rows that do not
/// fit the definition.
pub fn value_of(def: &CustomFieldDef, rows: &[CustomRow]) -> Result<Value, String> {
    use CustomFieldType as T;
    let first = rows.first().ok_or("no rows")?;
    let bad = || {
        format!(
            "custom field {} holds a value unfit for a {} field",
            def.key, def.field_type
        )
    };
    let text = || first.value_text.clone().ok_or_else(bad);
    let num = || first.value_num.ok_or_else(bad);
    Ok(match def.field_type {
        T::Text | T::Url | T::Phone | T::Email | T::SingleSelect => Value::String(text()?),
        T::LongText => Value::String(first.value_long.clone().ok_or_else(bad)?),
        T::Integer | T::User => json!(num()?),
        T::Decimal => Value::String(format_decimal(num()?, places(def))),
        T::Money => json!({ "amount_minor": num()?, "currency": text()? }),
        T::Date => {
            let day = i32::try_from(num()?).map_err(|_| bad())?;
            let d = Date::from_julian_day(day).map_err(|_| bad())?;
            Value::String(d.format(DATE_FORMAT).map_err(|_| bad())?)
        }
        T::DateTime => Value::String(format_instant_ms(num()?).ok_or_else(bad)?),
        T::Boolean => Value::Bool(num()? != 0),
        T::MultiSelect => {
            let mut values: Vec<&str> = rows
                .iter()
                .map(|r| r.value_text.as_deref().ok_or_else(bad))
                .collect::<Result<_, _>>()?;
            let rank = |v: &str| {
                def.options
                    .iter()
                    .position(|o| o.value == v)
                    .unwrap_or(usize::MAX)
            };
            values.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            values.dedup();
            json!(values)
        }
    })
}

/// A cell of a CSV export: texts as they are, a multi-select joined with `;`, money as
/// `12345.67 CNY`.
pub fn display_text(def: &CustomFieldDef, v: &Value) -> String {
    match (def.field_type, v) {
        (_, Value::Null) => String::new(),
        (_, Value::String(s)) => s.clone(),
        (CustomFieldType::Money, Value::Object(m)) => {
            let amount = m.get("amount_minor").and_then(Value::as_i64).unwrap_or(0);
            let currency = m.get("currency").and_then(Value::as_str).unwrap_or("");
            format!("{} {currency}", format_decimal(amount, 2))
        }
        (_, Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(";"),
        (_, other) => other.to_string(),
    }
}

/// A changed custom value of a record: what the store writes and the history records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomChange {
    pub field_id: Id,
    pub key: String,
    /// `null` when there was no value.
    pub old: Value,
    /// `null` when the value was cleared.
    pub new: Value,
    /// The rows that now store the value (none when cleared).
    pub rows: Vec<CustomRow>,
}

/// Applies the `custom` object of a create or update to a record's values `current`, with
/// the definitions `defs` (of any record kinds; those of `kind` apply). An unknown key is
/// refused; an archived field's value cannot change; `null` (or an empty value) clears, which
/// a required field refuses; a create must give every required field that is not archived.
/// A value equal to the stored one is no change. Nothing is changed on error.
pub fn apply_values(
    defs: &[CustomFieldDef],
    kind: RecordKind,
    current: &mut CustomValues,
    input: Option<CustomValues>,
    creating: bool,
) -> Result<Vec<CustomChange>, FieldError> {
    let mut next = current.clone();
    let mut changes = Vec::new();
    for (key, value) in input.unwrap_or_default() {
        let f = field_name(&key);
        let Some(def) = defs.iter().find(|d| d.record_kind == kind && d.key == key) else {
            return Err(fe(
                &f,
                "unknown_field",
                format!("there is no custom field `{key}` on {kind} records"),
            ));
        };
        let old = next.get(&key).cloned().unwrap_or(Value::Null);
        if value == old {
            continue;
        }
        if def.archived {
            return Err(fe(
                &f,
                "archived_field",
                format!("{f} is archived: its values can no longer change"),
            ));
        }
        let rows = match &value {
            Value::Null => vec![],
            v => check_value(def, v)?,
        };
        let new = if rows.is_empty() {
            Value::Null
        } else {
            value_of(def, &rows).map_err(|m| fe(&f, "invalid_custom_value", m))?
        };
        if new.is_null() && def.required {
            return Err(fe(&f, "required", format!("{f} is required")));
        }
        if new == old {
            continue;
        }
        if new.is_null() {
            next.remove(&key);
        } else {
            next.insert(key.clone(), new.clone());
        }
        changes.push(CustomChange {
            field_id: def.id,
            key,
            old,
            new,
            rows,
        });
    }
    if creating {
        let mut missing: Vec<&CustomFieldDef> = defs
            .iter()
            .filter(|d| d.record_kind == kind && d.required && !d.archived)
            .filter(|d| !next.contains_key(&d.key))
            .collect();
        missing.sort_by_key(|d| (d.position, d.id));
        if let Some(d) = missing.first() {
            let f = field_name(&d.key);
            return Err(fe(&f, "required", format!("{f} is required")));
        }
    }
    *current = next;
    Ok(changes)
}

// ---- Type changes ----

/// A stored value row with the record it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    pub record_id: Id,
    pub row: CustomRow,
}

/// What a definition change does to the stored values (besides option renames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMigration {
    /// They stay as they are.
    None,
    /// Text moves to the long-text column.
    TextToLong,
    /// Long text moves to the text column.
    LongToText,
    /// Numbers are multiplied (more decimal places).
    Multiply(i64),
    /// Numbers are divided exactly (fewer decimal places).
    Divide(i64),
}

/// Whether changing `before` into `after` (type or decimal places) keeps every stored value,
/// and how the values move. Allowed: text ↔ long text (the other way only if every value
/// fits), URL / phone / email / single select → text or long text, text → URL / phone /
/// email if every value already has that form, text → a select if every value is an option,
/// single → multi select, multi → single select if no record has two, integer ↔ decimal and
/// a change of decimal places if no digit is lost. Anything else only without values.
pub fn convert_values(
    before: &CustomFieldDef,
    after: &CustomFieldDef,
    stored: &[StoredValue],
) -> Result<ValueMigration, FieldError> {
    use CustomFieldType as T;
    use ValueMigration as M;
    let (from, to) = (before.field_type, after.field_type);
    let scale_of = |d: &CustomFieldDef| match d.field_type {
        T::Decimal => places(d),
        _ => 0,
    };
    if from == to && (from != T::Decimal || places(before) == places(after)) {
        return Ok(M::None);
    }
    if stored.is_empty() {
        return Ok(M::None);
    }
    let field = if from == to {
        "decimal_places"
    } else {
        "field_type"
    };
    let lose = |why: &str| {
        fe(
            field,
            "type_change_loses_data",
            format!(
                "changing `{}` from {from} to {to} would lose stored values: {why}",
                before.key
            ),
        )
    };
    let texts = || {
        stored
            .iter()
            .map(|s| s.row.value_text.as_deref().unwrap_or(""))
    };
    let one_per_record = || {
        let mut ids: Vec<Id> = stored.iter().map(|s| s.record_id).collect();
        ids.sort_unstable();
        ids.windows(2).all(|w| w[0] != w[1])
    };
    match (from, to) {
        (T::Integer | T::Decimal, T::Integer | T::Decimal) => {
            let (a, b) = (scale_of(before), scale_of(after));
            let nums = || stored.iter().map(|s| s.row.value_num.unwrap_or(0));
            if b >= a {
                let k = 10i64.pow(b - a);
                if nums().any(|n| n.checked_mul(k).is_none()) {
                    return Err(lose("a value would be too large"));
                }
                Ok(if k == 1 { M::None } else { M::Multiply(k) })
            } else {
                let k = 10i64.pow(a - b);
                if nums().any(|n| n % k != 0) {
                    return Err(lose("a value has more decimal places"));
                }
                Ok(M::Divide(k))
            }
        }
        (T::Text | T::Url | T::Phone | T::Email | T::SingleSelect, T::LongText) => {
            Ok(M::TextToLong)
        }
        (T::LongText, T::Text) => {
            let fits = stored.iter().all(|s| {
                s.row
                    .value_long
                    .as_deref()
                    .is_some_and(|v| v.chars().count() <= SHORT_TEXT)
            });
            if !fits {
                return Err(lose(&format!(
                    "a value is longer than {SHORT_TEXT} characters"
                )));
            }
            Ok(M::LongToText)
        }
        (T::Url | T::Phone | T::Email | T::SingleSelect, T::Text) => Ok(M::None),
        (T::Text, T::Url | T::Phone | T::Email) => {
            let shape = CustomFieldDef {
                validation: Validation::default(),
                ..after.clone()
            };
            let same = |v: &str| {
                check_value(&shape, &Value::String(v.to_string()))
                    .is_ok_and(|rows| rows.first().and_then(|r| r.value_text.as_deref()) == Some(v))
            };
            if !texts().all(same) {
                return Err(lose(&format!("a value is not a valid {to}")));
            }
            Ok(M::None)
        }
        (T::Text | T::SingleSelect, T::SingleSelect | T::MultiSelect) => {
            if !texts().all(|v| after.options.iter().any(|o| o.value == v)) {
                return Err(lose("a value is not one of the options"));
            }
            if to == T::SingleSelect && !one_per_record() {
                return Err(lose("a record has more than one option"));
            }
            Ok(M::None)
        }
        (T::MultiSelect, T::SingleSelect) => {
            if !one_per_record() {
                return Err(lose("a record has more than one option"));
            }
            Ok(M::None)
        }
        _ => Err(lose("the types are not compatible")),
    }
}

// ---- List filters ----

/// A filter value in the stored form: compared with the text or the number column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexValue {
    Text(String),
    Num(i64),
}

/// The value of a list filter `cf.<key>=raw` (equality; a multi-select contains that option)
/// or `cf.<key>_from` / `_to` (`range`: integer, decimal, money in minor units, date,
/// date_time). `Err` says what is wrong.
pub fn filter_value(def: &CustomFieldDef, raw: &str, range: bool) -> Result<IndexValue, String> {
    use CustomFieldType as T;
    let raw = raw.trim();
    let t = def.field_type;
    if range && !t.has_range() {
        return Err(format!("a {t} field has no range"));
    }
    let int = || {
        raw.parse::<i64>()
            .map(IndexValue::Num)
            .map_err(|_| "expected an integer".to_string())
    };
    match t {
        T::LongText => Err("long text fields cannot be filtered".into()),
        T::Text | T::Url => Ok(IndexValue::Text(raw.to_string())),
        T::Phone => Ok(IndexValue::Text(
            input::phone("", raw.to_string(), false)
                .ok()
                .flatten()
                .unwrap_or_else(|| raw.to_string()),
        )),
        T::Email => Ok(IndexValue::Text(raw.to_lowercase())),
        T::SingleSelect | T::MultiSelect => def
            .options
            .iter()
            .find(|o| o.value == raw)
            .map(|o| IndexValue::Text(o.value.clone()))
            .ok_or_else(|| format!("`{raw}` is not an option")),
        T::Integer | T::User | T::Money => int(),
        T::Decimal => parse_decimal(raw, places(def))
            .map(IndexValue::Num)
            .map_err(|_| {
                format!(
                    "expected a number with at most {} decimal places",
                    places(def)
                )
            }),
        T::Date => parse_date(raw)
            .map(|d| IndexValue::Num(d.to_julian_day() as i64))
            .ok_or_else(|| "expected a date like 2026-03-31".into()),
        T::DateTime => parse_instant_ms(raw)
            .map(IndexValue::Num)
            .ok_or_else(|| "expected an RFC 3339 time like 2026-03-31T08:00:00Z".into()),
        T::Boolean => match raw {
            "true" | "1" => Ok(IndexValue::Num(1)),
            "false" | "0" => Ok(IndexValue::Num(0)),
            _ => Err("expected true or false".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn def(key: &str, t: CustomFieldType) -> CustomFieldDef {
        CustomFieldDef {
            id: 1,
            record_kind: RecordKind::Opportunity,
            key: key.into(),
            label_zh: key.into(),
            label_en: key.into(),
            field_type: t,
            options: if t.is_select() {
                ["华东", "华南", "华北"]
                    .iter()
                    .map(|v| SelectOption {
                        value: v.to_string(),
                        label_en: None,
                        archived: *v == "华北",
                    })
                    .collect()
            } else {
                vec![]
            },
            decimal_places: (t == CustomFieldType::Decimal).then_some(2),
            ..blank_definition()
        }
    }

    fn body(v: Value) -> CustomFieldInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_key_left_empty_is_derived_from_the_labels_and_unique() {
        let existing = vec![
            def("region", CustomFieldType::Text),
            CustomFieldDef {
                id: 2,
                archived: true,
                ..def("budget", CustomFieldType::Text)
            },
        ];
        // (key sent, label_zh, label_en, record kind, key saved)
        let cases = [
            (json!(null), "采购预算", "Budget", "opportunity", "budget_2"),
            (json!(""), "区域", "Region", "opportunity", "region_2"),
            (json!("  "), "区域", "Region", "lead", "region"),
            (
                json!(null),
                "合同编号",
                "合同编号",
                "opportunity",
                "he_tong_bian_hao",
            ),
            (json!(null), "？", "!", "opportunity", "f_1"),
            (
                json!("contract_no"),
                "合同编号",
                "Contract",
                "opportunity",
                "contract_no",
            ),
        ];
        for (key, zh, en, kind, want) in cases {
            let v = json!({"record_kind": kind, "key": key, "label_zh": zh, "label_en": en, "field_type": "text"});
            let mut d = blank_definition();
            apply(&mut d, body(v), true, &existing).unwrap();
            assert_eq!(d.key, want, "{key} {zh} {en} {kind}");
        }
        // Absent altogether: derived too.
        let mut d = blank_definition();
        let v = json!({"record_kind": "account", "label_zh": "行业细分", "label_en": "Sub-industry", "field_type": "text"});
        apply(&mut d, body(v), true, &existing).unwrap();
        assert_eq!(d.key, "sub_industry");
        // The key stays on edit, whatever the labels become.
        let v = json!({"label_en": "Industry segment"});
        apply(&mut d, body(v), false, &existing).unwrap();
        assert_eq!(d.key, "sub_industry");
    }

    #[test]
    fn definitions_are_checked_whole() {
        let existing = vec![CustomFieldDef {
            id: 9,
            position: 4,
            ..def("region", CustomFieldType::SingleSelect)
        }];
        let ok = json!({"record_kind": "opportunity", "key": "budget", "label_zh": "预算", "label_en": "Budget", "field_type": "decimal"});
        let with = |extra: Value| {
            let mut v = ok.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        // (body, Ok(()) or Err((field, code)))
        type Case<'a> = (Value, Result<(), (&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            (ok.clone(), Ok(())),
            (
                json!({"key": "x", "label_zh": "x", "label_en": "x", "field_type": "text"}),
                Err(("record_kind", "required")),
            ),
            (with(json!({"key": "Budget"})), Err(("key", "invalid_key"))),
            (with(json!({"key": "9lives"})), Err(("key", "invalid_key"))),
            (with(json!({"key": "预算"})), Err(("key", "invalid_key"))),
            (
                with(json!({"key": "a".repeat(51)})),
                Err(("key", "invalid_key")),
            ),
            (with(json!({"key": "region"})), Err(("key", "duplicate"))),
            (
                with(json!({"key": "region", "record_kind": "lead"})),
                Ok(()),
            ),
            (
                with(json!({"label_en": " "})),
                Err(("label_en", "required")),
            ),
            (
                with(json!({"decimal_places": 7})),
                Err(("decimal_places", "out_of_range")),
            ),
            (with(json!({"decimal_places": 0})), Ok(())),
            (
                with(json!({"field_type": "integer", "decimal_places": 2})),
                Err(("decimal_places", "not_applicable")),
            ),
            (
                with(json!({"field_type": "single_select"})),
                Err(("options", "required")),
            ),
            (
                with(
                    json!({"field_type": "single_select", "options": [{"value": "A"}, {"value": " A "}]}),
                ),
                Err(("options[1].value", "duplicate_option")),
            ),
            (
                with(json!({"field_type": "single_select", "options": [{"value": ""}]})),
                Err(("options[0].value", "required")),
            ),
            (
                with(
                    json!({"field_type": "multi_select", "options": [{"value": "A"}, {"value": "B", "label_en": "Bee"}]}),
                ),
                Ok(()),
            ),
            (
                with(json!({"field_type": "text", "options": [{"value": "A"}]})),
                Err(("options", "not_applicable")),
            ),
            (
                with(
                    json!({"field_type": "text", "validation": {"min_length": 5, "max_length": 2}}),
                ),
                Err(("validation.min_length", "invalid_range")),
            ),
            (
                with(json!({"field_type": "text", "validation": {"max_length": 201}})),
                Err(("validation.max_length", "out_of_range")),
            ),
            (
                with(json!({"field_type": "long_text", "validation": {"max_length": 5000}})),
                Ok(()),
            ),
            (
                with(json!({"field_type": "text", "validation": {"min": 1}})),
                Err(("validation.min", "not_applicable")),
            ),
            (
                with(json!({"validation": {"min": 10, "max": 1}})),
                Err(("validation.min", "invalid_range")),
            ),
            (
                with(json!({"validation": {"pattern": "x"}})),
                Err(("validation.pattern", "not_applicable")),
            ),
            (
                with(json!({"field_type": "text", "validation": {"pattern": "([a-z"}})),
                Err(("validation.pattern", "invalid_pattern")),
            ),
            (
                with(json!({"field_type": "phone", "validation": {"pattern": "0[0-9]+"}})),
                Ok(()),
            ),
            (
                with(json!({"field_type": "integer", "validation": {"max_length": 3}})),
                Err(("validation.max_length", "not_applicable")),
            ),
            (
                with(json!({"field_type": "date", "validation": {"min": 3}})),
                Err(("validation.min", "not_applicable")),
            ),
            (
                with(json!({"rename_options": [{"from": "a", "to": "b"}]})),
                Err(("rename_options", "not_applicable")),
            ),
        ];
        for (b, want) in cases {
            let mut d = blank_definition();
            let got = apply(&mut d, body(b.clone()), true, &existing)
                .map(|_| ())
                .map_err(|e| (e.field, e.code));
            let want = want.map_err(|(f, c)| (f.to_string(), c.to_string()));
            assert_eq!(got, want, "{b}");
        }
        let mut d = blank_definition();
        apply(&mut d, body(ok), true, &existing).unwrap();
        assert_eq!(
            (d.decimal_places, d.position, d.key.as_str()),
            (Some(2), 5, "budget"),
            "defaults: 2 places, after the last field"
        );
    }

    #[test]
    fn updates_keep_key_and_kind_and_never_drop_options() {
        let before = def("region", CustomFieldType::SingleSelect);
        // (body, Ok(option values after, renames) or Err((field, code)))
        type Want<'a> = Result<(Vec<&'a str>, Vec<(&'a str, &'a str)>), (&'a str, &'a str)>;
        let cases: Vec<(Value, Want)> = vec![
            (
                json!({"label_en": "Region"}),
                Ok((vec!["华东", "华南", "华北"], vec![])),
            ),
            (
                json!({"key": "region"}),
                Ok((vec!["华东", "华南", "华北"], vec![])),
            ),
            (json!({"key": "area"}), Err(("key", "read_only"))),
            (
                json!({"record_kind": "lead"}),
                Err(("record_kind", "read_only")),
            ),
            (
                json!({"options": [{"value": "华东"}, {"value": "华南"}]}),
                Err(("options", "option_removed")),
            ),
            (
                json!({"options": [{"value": "华东"}, {"value": "华南"}, {"value": "华北", "archived": true}, {"value": "西南"}]}),
                Ok((vec!["华东", "华南", "华北", "西南"], vec![])),
            ),
            (
                json!({"rename_options": [{"from": "华东", "to": "华东区"}]}),
                Ok((vec!["华东区", "华南", "华北"], vec![("华东", "华东区")])),
            ),
            (
                json!({"rename_options": [{"from": "华东", "to": "华东区"}], "options": [{"value": "华东区"}, {"value": "华南"}, {"value": "华北"}, {"value": "东北"}]}),
                Ok((
                    vec!["华东区", "华南", "华北", "东北"],
                    vec![("华东", "华东区")],
                )),
            ),
            (
                json!({"rename_options": [{"from": "华东", "to": "华东区"}], "options": [{"value": "华东"}, {"value": "华南"}, {"value": "华北"}]}),
                Err(("options", "option_removed")),
            ),
            (
                json!({"rename_options": [{"from": "西北", "to": "x"}]}),
                Err(("rename_options[0].from", "unknown_option")),
            ),
            (
                json!({"rename_options": [{"from": "华东", "to": "华南"}]}),
                Err(("rename_options[0].to", "duplicate_option")),
            ),
            (
                json!({"field_type": "multi_select"}),
                Ok((vec!["华东", "华南", "华北"], vec![])),
            ),
            (json!({"field_type": "text"}), Ok((vec![], vec![]))),
            (
                json!({"field_type": "text", "rename_options": [{"from": "华东", "to": "x"}]}),
                Err(("rename_options", "not_applicable")),
            ),
            (json!({"position": null}), Err(("position", "required"))),
        ];
        for (b, want) in cases {
            let mut d = before.clone();
            let got = apply(
                &mut d,
                body(b.clone()),
                false,
                std::slice::from_ref(&before),
            );
            match (got, want) {
                (Ok(renames), Ok((options, want_renames))) => {
                    assert_eq!(
                        d.options
                            .iter()
                            .map(|o| o.value.as_str())
                            .collect::<Vec<_>>(),
                        options,
                        "{b}"
                    );
                    let renames: Vec<(&str, &str)> = renames
                        .iter()
                        .map(|r| (r.from.as_str(), r.to.as_str()))
                        .collect();
                    assert_eq!(renames, want_renames, "{b}");
                    assert_eq!(d.key, "region");
                }
                (Err(e), Err((field, code))) => {
                    assert_eq!((e.field.as_str(), e.code.as_str()), (field, code), "{b}")
                }
                (got, want) => panic!("{b}: got {got:?}, want {want:?}"),
            }
        }
        // A type change drops the rules that no longer apply.
        let mut d = CustomFieldDef {
            validation: Validation {
                max_length: Some(50),
                pattern: Some("[0-9]+".into()),
                ..Default::default()
            },
            ..def("code", CustomFieldType::Text)
        };
        apply(&mut d, body(json!({"field_type": "integer"})), false, &[]).unwrap();
        assert_eq!(d.validation, Validation::default());
    }

    /// (type, value in, Ok(canonical value out) or Err(code))
    type ValueCase = (CustomFieldType, Value, Result<Value, &'static str>);

    #[test]
    fn values_are_checked_and_made_canonical() {
        use CustomFieldType as T;
        let cases: Vec<ValueCase> = vec![
            (T::Text, json!("  阀门  "), Ok(json!("阀门"))),
            (T::Text, json!("   "), Ok(Value::Null)),
            (T::Text, json!(12), Err("invalid_custom_value")),
            (T::Text, json!("长".repeat(201)), Err("too_long")),
            (
                T::LongText,
                json!("长".repeat(5000)),
                Ok(json!("长".repeat(5000))),
            ),
            (T::LongText, json!("长".repeat(10_001)), Err("too_long")),
            (T::Integer, json!(42), Ok(json!(42))),
            (T::Integer, json!("-7"), Ok(json!(-7))),
            (T::Integer, json!(4.5), Err("invalid_custom_value")),
            (T::Integer, json!(true), Err("invalid_custom_value")),
            (T::Decimal, json!("12.34"), Ok(json!("12.34"))),
            (T::Decimal, json!("12.3"), Ok(json!("12.30"))),
            (T::Decimal, json!(12.5), Ok(json!("12.50"))),
            (T::Decimal, json!(7), Ok(json!("7.00"))),
            (T::Decimal, json!("-0.05"), Ok(json!("-0.05"))),
            (T::Decimal, json!("12.340"), Ok(json!("12.34"))),
            (T::Decimal, json!("12.345"), Err("too_many_decimals")),
            (T::Decimal, json!("1e3"), Err("invalid_custom_value")),
            (T::Decimal, json!("12."), Err("invalid_custom_value")),
            (T::Decimal, json!("abc"), Err("invalid_custom_value")),
            (
                T::Decimal,
                json!("99999999999999999999"),
                Err("out_of_range"),
            ),
            (
                T::Money,
                json!({"amount_minor": 12300, "currency": "cny"}),
                Ok(json!({"amount_minor": 12300, "currency": "CNY"})),
            ),
            (
                T::Money,
                json!({"amount_minor": 5}),
                Ok(json!({"amount_minor": 5, "currency": "CNY"})),
            ),
            (
                T::Money,
                json!({"amount_minor": -1}),
                Err("negative_amount"),
            ),
            (
                T::Money,
                json!({"amount_minor": 1, "currency": "RMBX"}),
                Err("invalid_currency"),
            ),
            (
                T::Money,
                json!({"amount_minor": 1.5}),
                Err("invalid_custom_value"),
            ),
            (T::Money, json!({"amount": 1}), Err("invalid_custom_value")),
            (T::Money, json!(100), Err("invalid_custom_value")),
            (T::Date, json!("2026-03-31"), Ok(json!("2026-03-31"))),
            (T::Date, json!("2026-02-30"), Err("invalid_custom_value")),
            (T::Date, json!("31/03/2026"), Err("invalid_custom_value")),
            (
                T::DateTime,
                json!("2026-03-31T16:00:00+08:00"),
                Ok(json!("2026-03-31T08:00:00Z")),
            ),
            (
                T::DateTime,
                json!("2026-03-31T08:00:00.250Z"),
                Ok(json!("2026-03-31T08:00:00.25Z")),
            ),
            (
                T::DateTime,
                json!("2026-03-31 08:00"),
                Err("invalid_custom_value"),
            ),
            (T::SingleSelect, json!("华南"), Ok(json!("华南"))),
            (T::SingleSelect, json!("西北"), Err("unknown_option")),
            (T::SingleSelect, json!("华北"), Err("unknown_option")),
            (
                T::MultiSelect,
                json!(["华南", "华东", "华南"]),
                Ok(json!(["华东", "华南"])),
            ),
            (T::MultiSelect, json!([]), Ok(Value::Null)),
            (T::MultiSelect, json!("华南"), Err("invalid_custom_value")),
            (
                T::MultiSelect,
                json!(["华南", "火星"]),
                Err("unknown_option"),
            ),
            (T::Boolean, json!(false), Ok(json!(false))),
            (T::Boolean, json!("yes"), Err("invalid_custom_value")),
            (T::User, json!(7), Ok(json!(7))),
            (T::User, json!(0), Err("invalid_custom_value")),
            (
                T::Url,
                json!("https://example.com/a?b=1"),
                Ok(json!("https://example.com/a?b=1")),
            ),
            (T::Url, json!("example.com"), Err("invalid_url")),
            (T::Url, json!("https:// example.com"), Err("invalid_url")),
            (T::Phone, json!("021-6888 1234"), Ok(json!("02168881234"))),
            (T::Phone, json!("call me"), Err("invalid_phone")),
            (
                T::Email,
                json!("Wang@Example.com"),
                Ok(json!("wang@example.com")),
            ),
            (T::Email, json!("wang@"), Err("invalid_email")),
        ];
        for (t, v, want) in cases {
            let d = def("f", t);
            let got = check_value(&d, &v).map(|rows| {
                if rows.is_empty() {
                    Value::Null
                } else {
                    value_of(&d, &rows).unwrap()
                }
            });
            match (&got, &want) {
                (Err(e), Err(code)) => {
                    assert_eq!(
                        (e.field.as_str(), e.code.as_str()),
                        ("custom.f", *code),
                        "{t} {v}"
                    )
                }
                _ => assert_eq!(
                    got.map_err(|e| e.code),
                    want.map_err(str::to_string),
                    "{t} {v}"
                ),
            }
        }
    }

    #[test]
    fn validation_rules_apply_to_values() {
        use CustomFieldType as T;
        let with = |t, rules: Value| CustomFieldDef {
            validation: serde_json::from_value(rules).unwrap(),
            ..def("f", t)
        };
        let cases: Vec<(CustomFieldDef, Value, Result<(), &str>)> = vec![
            (
                with(T::Text, json!({"max_length": 3})),
                json!("abcd"),
                Err("too_long"),
            ),
            (
                with(T::Text, json!({"max_length": 3})),
                json!("abc"),
                Ok(()),
            ),
            (
                with(T::Text, json!({"min_length": 2})),
                json!("a"),
                Err("too_short"),
            ),
            (
                with(T::Text, json!({"pattern": "[A-Z]{2}[0-9]{4}"})),
                json!("SH2026"),
                Ok(()),
            ),
            (
                with(T::Text, json!({"pattern": "[A-Z]{2}[0-9]{4}"})),
                json!("xSH2026"),
                Err("pattern_mismatch"),
            ),
            (
                with(T::Integer, json!({"min": 1, "max": 10})),
                json!(11),
                Err("out_of_range"),
            ),
            (
                with(T::Integer, json!({"min": 1, "max": 10})),
                json!(0),
                Err("out_of_range"),
            ),
            (
                with(T::Integer, json!({"min": 1, "max": 10})),
                json!(10),
                Ok(()),
            ),
            (
                with(T::Decimal, json!({"max": 10000})),
                json!("100.00"),
                Ok(()),
            ),
            (
                with(T::Decimal, json!({"max": 10000})),
                json!("100.01"),
                Err("out_of_range"),
            ),
            (
                with(T::Money, json!({"min": 100})),
                json!({"amount_minor": 99}),
                Err("out_of_range"),
            ),
        ];
        for (d, v, want) in cases {
            let got = check_value(&d, &v).map(|_| ()).map_err(|e| e.code);
            assert_eq!(got, want.map_err(str::to_string), "{:?} {v}", d.validation);
        }
    }

    fn defs() -> Vec<CustomFieldDef> {
        use CustomFieldType as T;
        vec![
            CustomFieldDef {
                id: 1,
                required: true,
                ..def("region", T::SingleSelect)
            },
            CustomFieldDef {
                id: 2,
                position: 1,
                ..def("budget", T::Decimal)
            },
            CustomFieldDef {
                id: 3,
                position: 2,
                archived: true,
                ..def("old_code", T::Text)
            },
            CustomFieldDef {
                id: 4,
                record_kind: RecordKind::Account,
                required: true,
                ..def("tier", T::Text)
            },
        ]
    }

    fn values(v: Value) -> CustomValues {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn applying_a_custom_object() {
        let kind = RecordKind::Opportunity;
        let stored = values(json!({"region": "华东", "old_code": "X1"}));
        // (current, input, creating, Ok((values after, changed keys)) or Err((field, code)))
        type Want<'a> = Result<(Value, Vec<&'a str>), (&'a str, &'a str)>;
        let cases: Vec<(CustomValues, Value, bool, Want)> = vec![
            (
                BTreeMap::new(),
                json!({"region": "华南", "budget": "10"}),
                true,
                Ok((
                    json!({"region": "华南", "budget": "10.00"}),
                    vec!["budget", "region"],
                )),
            ),
            (
                BTreeMap::new(),
                json!({"budget": "10"}),
                true,
                Err(("custom.region", "required")),
            ),
            (
                BTreeMap::new(),
                json!({"region": "华南", "tier": "A"}),
                true,
                Err(("custom.tier", "unknown_field")),
            ),
            (
                BTreeMap::new(),
                json!({"region": "华南", "colour": 1}),
                true,
                Err(("custom.colour", "unknown_field")),
            ),
            (
                BTreeMap::new(),
                json!({"region": "华南", "old_code": "X"}),
                true,
                Err(("custom.old_code", "archived_field")),
            ),
            (
                stored.clone(),
                json!({}),
                false,
                Ok((json!({"region": "华东", "old_code": "X1"}), vec![])),
            ),
            (
                stored.clone(),
                json!({"region": "华东", "old_code": "X1"}),
                false,
                Ok((json!({"region": "华东", "old_code": "X1"}), vec![])),
            ),
            (
                stored.clone(),
                json!({"old_code": "X2"}),
                false,
                Err(("custom.old_code", "archived_field")),
            ),
            (
                stored.clone(),
                json!({"old_code": null}),
                false,
                Err(("custom.old_code", "archived_field")),
            ),
            (
                stored.clone(),
                json!({"region": null}),
                false,
                Err(("custom.region", "required")),
            ),
            (
                stored.clone(),
                json!({"region": ""}),
                false,
                Err(("custom.region", "required")),
            ),
            (
                stored.clone(),
                json!({"budget": "1.5"}),
                false,
                Ok((
                    json!({"region": "华东", "old_code": "X1", "budget": "1.50"}),
                    vec!["budget"],
                )),
            ),
            (
                values(json!({"region": "华东", "budget": "1.50"})),
                json!({"budget": null}),
                false,
                Ok((json!({"region": "华东"}), vec!["budget"])),
            ),
            (
                values(json!({"region": "华东", "budget": "1.50"})),
                json!({"budget": "1.5"}),
                false,
                Ok((json!({"region": "华东", "budget": "1.50"}), vec![])),
            ),
            (
                stored.clone(),
                json!({"budget": "x"}),
                false,
                Err(("custom.budget", "invalid_custom_value")),
            ),
        ];
        for (current, input, creating, want) in cases {
            let mut got_values = current.clone();
            let got = apply_values(
                &defs(),
                kind,
                &mut got_values,
                Some(values(input.clone())),
                creating,
            );
            match (got, want) {
                (Ok(changes), Ok((after, keys))) => {
                    assert_eq!(json!(got_values), after, "{input}");
                    assert_eq!(
                        changes.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
                        keys,
                        "{input}"
                    );
                }
                (Err(e), Err((field, code))) => {
                    assert_eq!(
                        (e.field.as_str(), e.code.as_str()),
                        (field, code),
                        "{input}"
                    );
                    assert_eq!(got_values, current, "nothing changes on error: {input}");
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let mut v = stored.clone();
        let changes = apply_values(
            &defs(),
            kind,
            &mut v,
            Some(values(json!({"region": "华南"}))),
            false,
        )
        .unwrap();
        assert_eq!(
            changes,
            vec![CustomChange {
                field_id: 1,
                key: "region".into(),
                old: json!("华东"),
                new: json!("华南"),
                rows: vec![CustomRow::text("华南")],
            }]
        );
        // Accounts have their own fields.
        let mut v = BTreeMap::new();
        let err = apply_values(&defs(), RecordKind::Account, &mut v, None, true).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code.as_str()),
            ("custom.tier", "required")
        );
        assert!(
            apply_values(&defs(), RecordKind::Contact, &mut v, None, true)
                .unwrap()
                .is_empty()
        );
    }

    fn stored(rows: Vec<(Id, CustomRow)>) -> Vec<StoredValue> {
        rows.into_iter()
            .map(|(record_id, row)| StoredValue { record_id, row })
            .collect()
    }

    #[test]
    fn type_changes_keep_every_value_or_are_refused() {
        use CustomFieldType as T;
        use ValueMigration as M;
        let places = |n| CustomFieldDef {
            decimal_places: Some(n),
            ..def("f", T::Decimal)
        };
        let texts = |vs: &[&str]| {
            stored(
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| (i as Id, CustomRow::text(*v)))
                    .collect(),
            )
        };
        let nums = |vs: &[i64]| {
            stored(
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| (i as Id, CustomRow::num(*v)))
                    .collect(),
            )
        };
        type Case<'a> = (
            CustomFieldDef,
            CustomFieldDef,
            Vec<StoredValue>,
            Result<M, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                def("f", T::Text),
                def("f", T::LongText),
                texts(&["a"]),
                Ok(M::TextToLong),
            ),
            (
                def("f", T::LongText),
                def("f", T::Text),
                stored(vec![(1, CustomRow::long("短"))]),
                Ok(M::LongToText),
            ),
            (
                def("f", T::LongText),
                def("f", T::Text),
                stored(vec![(1, CustomRow::long("长".repeat(201)))]),
                Err("field_type"),
            ),
            (
                def("f", T::Integer),
                places(2),
                nums(&[12]),
                Ok(M::Multiply(100)),
            ),
            (def("f", T::Integer), places(0), nums(&[12]), Ok(M::None)),
            (
                def("f", T::Integer),
                places(6),
                nums(&[i64::MAX / 10]),
                Err("field_type"),
            ),
            (
                places(2),
                def("f", T::Integer),
                nums(&[1200, 300]),
                Ok(M::Divide(100)),
            ),
            (
                places(2),
                def("f", T::Integer),
                nums(&[1234]),
                Err("field_type"),
            ),
            (places(2), places(4), nums(&[1234]), Ok(M::Multiply(100))),
            (places(2), places(1), nums(&[1230]), Ok(M::Divide(10))),
            (places(2), places(1), nums(&[1234]), Err("decimal_places")),
            (
                def("f", T::Email),
                def("f", T::Text),
                texts(&["a@b.cn"]),
                Ok(M::None),
            ),
            (
                def("f", T::Text),
                def("f", T::Email),
                texts(&["a@b.cn"]),
                Ok(M::None),
            ),
            (
                def("f", T::Text),
                def("f", T::Email),
                texts(&["A@b.cn"]),
                Err("field_type"),
            ),
            (
                def("f", T::Text),
                def("f", T::Url),
                texts(&["not a url"]),
                Err("field_type"),
            ),
            (
                def("f", T::Text),
                def("f", T::SingleSelect),
                texts(&["华东", "华北"]),
                Ok(M::None),
            ),
            (
                def("f", T::Text),
                def("f", T::SingleSelect),
                texts(&["火星"]),
                Err("field_type"),
            ),
            (
                def("f", T::SingleSelect),
                def("f", T::MultiSelect),
                texts(&["华东"]),
                Ok(M::None),
            ),
            (
                def("f", T::SingleSelect),
                def("f", T::Text),
                texts(&["华东"]),
                Ok(M::None),
            ),
            (
                def("f", T::MultiSelect),
                def("f", T::SingleSelect),
                stored(vec![
                    (1, CustomRow::text("华东")),
                    (2, CustomRow::text("华南")),
                ]),
                Ok(M::None),
            ),
            (
                def("f", T::MultiSelect),
                def("f", T::SingleSelect),
                stored(vec![
                    (1, CustomRow::text("华东")),
                    (1, CustomRow::text("华南")),
                ]),
                Err("field_type"),
            ),
            (
                def("f", T::Text),
                def("f", T::Integer),
                texts(&["12"]),
                Err("field_type"),
            ),
            (
                def("f", T::Boolean),
                def("f", T::Integer),
                nums(&[1]),
                Err("field_type"),
            ),
            (
                def("f", T::Date),
                def("f", T::DateTime),
                nums(&[2461000]),
                Err("field_type"),
            ),
            (def("f", T::Text), def("f", T::Integer), vec![], Ok(M::None)),
            (
                def("f", T::Money),
                def("f", T::Boolean),
                vec![],
                Ok(M::None),
            ),
        ];
        for (before, after, values, want) in cases {
            let got = convert_values(&before, &after, &values);
            let label = format!("{} → {}", before.field_type, after.field_type);
            match (got, want) {
                (Ok(m), Ok(w)) => assert_eq!(m, w, "{label}"),
                (Err(e), Err(field)) => {
                    assert_eq!(
                        (e.field.as_str(), e.code.as_str()),
                        (field, "type_change_loses_data"),
                        "{label}"
                    )
                }
                (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn filters_are_parsed_against_the_definition() {
        use CustomFieldType as T;
        use IndexValue::*;
        let cases: Vec<(CustomFieldType, &str, bool, Result<IndexValue, ()>)> = vec![
            (T::Text, " 阀门 ", false, Ok(Text("阀门".into()))),
            (T::Text, "a", true, Err(())),
            (T::LongText, "a", false, Err(())),
            (T::Email, "A@B.cn", false, Ok(Text("a@b.cn".into()))),
            (
                T::Phone,
                "021-6888 1234",
                false,
                Ok(Text("02168881234".into())),
            ),
            (T::SingleSelect, "华北", false, Ok(Text("华北".into()))),
            (T::MultiSelect, "火星", false, Err(())),
            (T::Integer, "12", true, Ok(Num(12))),
            (T::Integer, "1.5", false, Err(())),
            (T::Decimal, "12.5", true, Ok(Num(1250))),
            (T::Money, "10000", true, Ok(Num(10000))),
            (T::Date, "1970-01-02", true, Ok(Num(2440589))),
            (T::Date, "tomorrow", true, Err(())),
            (T::DateTime, "1970-01-01T00:00:01Z", true, Ok(Num(1000))),
            (T::Boolean, "true", false, Ok(Num(1))),
            (T::Boolean, "false", false, Ok(Num(0))),
            (T::Boolean, "true", true, Err(())),
            (T::User, "7", false, Ok(Num(7))),
        ];
        for (t, raw, range, want) in cases {
            let got = filter_value(&def("f", t), raw, range).map_err(|_| ());
            assert_eq!(got, want, "{t} {raw} {range}");
        }
    }

    #[test]
    fn decimals_round_trip_without_floats() {
        for (text, places, n) in [
            ("0", 2, 0),
            ("0.01", 2, 1),
            ("-1.5", 1, -15),
            ("123456789.123456", 6, 123_456_789_123_456),
            ("42", 0, 42),
        ] {
            assert_eq!(parse_decimal(text, places), Ok(n), "{text}");
            assert_eq!(parse_decimal(&format_decimal(n, places), places), Ok(n));
        }
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(i64::MIN, 2), "-92233720368547758.08");
    }
}
