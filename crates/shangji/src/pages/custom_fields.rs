//! Settings for admins: the custom fields of accounts, contacts, leads and opportunities —
//! list, add, edit (labels, required, help, options with renames and archiving, validation,
//! type), archive and restore. Each post is one `ops` call; what it refuses is shown beside
//! the field it names, in the admin's language, with what the admin typed kept.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use shangji_core::custom_fields::{
    self as cf, CustomFieldDef, CustomFieldInput, CustomFieldType, OptionRename, SelectOption,
    Validation,
};
use shangji_core::model::{RecordKind, User};
use shangji_core::{Field, Money};
use time::OffsetDateTime;

use super::opportunity::yuan_to_fen;
use super::{field_text, render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops;
use crate::state::AppState;

const FIELDS: &str = "/admin/custom-fields";

/// The fields of the form, in the order errors are looked for.
const FORM_FIELDS: &[&str] = &[
    "key",
    "label_zh",
    "label_en",
    "field_type",
    "required",
    "help_zh",
    "help_en",
    "options",
    "min_length",
    "max_length",
    "min",
    "max",
    "pattern",
    "decimal_places",
];

pub(super) fn type_label(tr: Tr, t: CustomFieldType) -> &'static str {
    use CustomFieldType as T;
    tr.t(match t {
        T::Text => "cf.type.text",
        T::LongText => "cf.type.long_text",
        T::Integer => "cf.type.integer",
        T::Decimal => "cf.type.decimal",
        T::Money => "cf.type.money",
        T::Date => "cf.type.date",
        T::DateTime => "cf.type.date_time",
        T::SingleSelect => "cf.type.single_select",
        T::MultiSelect => "cf.type.multi_select",
        T::Boolean => "cf.type.boolean",
        T::User => "cf.type.user",
        T::Url => "cf.type.url",
        T::Phone => "cf.type.phone",
        T::Email => "cf.type.email",
    })
}

fn kind_label(tr: Tr, k: RecordKind) -> &'static str {
    tr.t(match k {
        RecordKind::Account => "cf.kind.account",
        RecordKind::Contact => "cf.kind.contact",
        RecordKind::Lead => "cf.kind.lead",
        RecordKind::Opportunity => "cf.kind.opportunity",
    })
}

/// A field's label in the user's language.
pub(super) fn label(tr: Tr, def: &CustomFieldDef) -> String {
    if tr.is_zh() {
        def.label_zh.clone()
    } else {
        def.label_en.clone()
    }
}

/// An option's label in the user's language (its value, or its English label).
pub(super) fn option_label(tr: Tr, def: &CustomFieldDef, value: &str) -> String {
    def.options
        .iter()
        .find(|o| o.value == value)
        .and_then(|o| o.label_en.clone().filter(|_| !tr.is_zh()))
        .unwrap_or_else(|| value.to_string())
}

/// A custom value as an input holds it.
pub(super) fn raw(def: &CustomFieldDef, v: Option<&Value>) -> String {
    match (def.field_type, v) {
        (_, None) | (_, Some(Value::Null)) => String::new(),
        (CustomFieldType::Money, Some(m)) => m
            .get("amount_minor")
            .and_then(Value::as_i64)
            .map(|f| format!("{}.{:02}", f / 100, f % 100))
            .unwrap_or_default(),
        (CustomFieldType::DateTime, Some(Value::String(t))) => {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|t| {
                    let l = t.to_offset(crate::i18n::DISPLAY_OFFSET);
                    format!("{}T{:02}:{:02}", l.date(), l.hour(), l.minute())
                })
                .unwrap_or_default()
        }
        (CustomFieldType::MultiSelect, Some(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// The input that edits a value of `def` ("text", "textarea", "amount", "date", "datetime",
/// "bool", "select", "multi"), with its options; `value` is what the input holds (`raw`).
pub(super) fn input_of(
    tr: Tr,
    def: &CustomFieldDef,
    value: &str,
    users: &[User],
) -> (&'static str, Vec<Choice>) {
    let mut options = Vec::new();
    let input = match def.field_type {
        CustomFieldType::LongText => "textarea",
        CustomFieldType::Money => "amount",
        CustomFieldType::Date => "date",
        CustomFieldType::DateTime => "datetime",
        CustomFieldType::Boolean => "bool",
        t @ (CustomFieldType::SingleSelect | CustomFieldType::MultiSelect) => {
            let chosen: Vec<&str> = value.lines().collect();
            if t == CustomFieldType::SingleSelect {
                options.push(Choice::new("", tr.t("value.none"), value.is_empty()));
            }
            options.extend(def.options.iter().filter(|o| !o.archived).map(|o| {
                Choice::new(
                    o.value.clone(),
                    option_label(tr, def, &o.value),
                    chosen.contains(&o.value.as_str()),
                )
            }));
            if t == CustomFieldType::SingleSelect {
                "select"
            } else {
                "multi"
            }
        }
        CustomFieldType::User => {
            options.push(Choice::new("", tr.t("value.none"), value.is_empty()));
            options.extend(users.iter().filter(|u| u.active).map(|u| {
                let id = u.id.to_string();
                let checked = id == value;
                Choice::new(id, u.display_name.clone(), checked)
            }));
            "select"
        }
        _ => "text",
    };
    (input, options)
}

/// The value of `def` that its input posted (every value of the input's name, in order): its
/// JSON form for the operation, or the code of what is wrong with it.
pub(super) fn value_of(def: &CustomFieldDef, posted: &[&str]) -> Result<Value, &'static str> {
    let v = posted.first().map_or("", |s| s.trim());
    Ok(match def.field_type {
        CustomFieldType::MultiSelect => {
            let all: Vec<Value> = posted
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(*s))
                .collect();
            if all.is_empty() {
                Value::Null
            } else {
                Value::Array(all)
            }
        }
        CustomFieldType::Boolean => Value::Bool(v == "true"),
        _ if v.is_empty() => Value::Null,
        CustomFieldType::Money => match yuan_to_fen(v) {
            Some(fen) => serde_json::json!({ "amount_minor": fen, "currency": "CNY" }),
            None => return Err("invalid_amount"),
        },
        CustomFieldType::DateTime if v.len() == 16 => Value::from(format!("{v}:00+08:00")),
        CustomFieldType::Integer | CustomFieldType::User => match v.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => return Err("not_a_number"),
        },
        _ => Value::from(v),
    })
}

/// A value as people read it: money with its symbol, options by their labels and joined,
/// booleans as yes / no, users by name, times in China Standard Time.
pub(super) fn display_value(tr: Tr, def: &CustomFieldDef, v: &Value, users: &[User]) -> String {
    use CustomFieldType as T;
    let none = || tr.t("value.none").to_string();
    match (def.field_type, v) {
        (_, Value::Null) => none(),
        (T::Money, Value::Object(m)) => match (
            m.get("amount_minor").and_then(Value::as_i64),
            m.get("currency").and_then(Value::as_str),
        ) {
            (Some(amount_minor), Some(currency)) => tr.money(&Money {
                amount_minor,
                currency: currency.to_string(),
            }),
            _ => v.to_string(),
        },
        (T::Boolean, Value::Bool(b)) => tr.t(if *b { "value.yes" } else { "value.no" }).into(),
        (T::User, v) => v
            .as_i64()
            .map_or_else(none, |id| super::opportunity::user_name(users, id)),
        (T::SingleSelect, Value::String(s)) => option_label(tr, def, s),
        (_, Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => option_label(tr, def, s),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(tr.t("list.sep")),
        (T::DateTime, Value::String(s)) => {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_or_else(|_| s.clone(), |t| tr.datetime(t))
        }
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// A stored limit as the admin types it: decimals with their places, money in yuan.
fn limit_text(def: &CustomFieldDef, n: Option<i64>) -> String {
    let Some(n) = n else {
        return String::new();
    };
    match def.field_type {
        CustomFieldType::Decimal => cf::format_decimal(
            n,
            def.decimal_places.unwrap_or(cf::DEFAULT_DECIMAL_PLACES) as u32,
        ),
        CustomFieldType::Money => cf::format_decimal(n, 2),
        _ => n.to_string(),
    }
}

/// Yuan with an optional minus sign to fen, without floats.
fn signed_fen(typed: &str) -> Option<i64> {
    match typed.trim().strip_prefix('-') {
        Some(rest) => yuan_to_fen(rest).map(|n| -n),
        None => yuan_to_fen(typed),
    }
}

/// An existing option of a select field in the edit form.
struct OptionRow {
    /// Its value as stored (a changed value renames it).
    from: String,
    value: String,
    label_en: String,
    archived: bool,
}

/// The form as shown: from a definition, or as the admin posted it.
#[derive(Default)]
struct FieldForm {
    key: String,
    label_zh: String,
    label_en: String,
    field_type: String,
    required: bool,
    help_zh: String,
    help_en: String,
    options: Vec<OptionRow>,
    /// New options, one per line: `value` or `value | English label`.
    new_options: String,
    min_length: String,
    max_length: String,
    min: String,
    max: String,
    pattern: String,
    decimal_places: String,
}

impl FieldForm {
    fn blank() -> FieldForm {
        FieldForm {
            field_type: "text".into(),
            ..Default::default()
        }
    }

    fn of(def: &CustomFieldDef) -> FieldForm {
        let v = &def.validation;
        let n = |x: Option<i64>| x.map(|n| n.to_string()).unwrap_or_default();
        FieldForm {
            key: def.key.clone(),
            label_zh: def.label_zh.clone(),
            label_en: def.label_en.clone(),
            field_type: def.field_type.as_str().into(),
            required: def.required,
            help_zh: def.help_zh.clone().unwrap_or_default(),
            help_en: def.help_en.clone().unwrap_or_default(),
            options: def
                .options
                .iter()
                .map(|o| OptionRow {
                    from: o.value.clone(),
                    value: o.value.clone(),
                    label_en: o.label_en.clone().unwrap_or_default(),
                    archived: o.archived,
                })
                .collect(),
            new_options: String::new(),
            min_length: n(v.min_length),
            max_length: n(v.max_length),
            min: limit_text(def, v.min),
            max: limit_text(def, v.max),
            pattern: v.pattern.clone().unwrap_or_default(),
            decimal_places: def
                .decimal_places
                .map(|p| p.to_string())
                .unwrap_or_default(),
        }
    }

    fn posted(f: &FormData) -> FieldForm {
        let (from, value, en) = (f.all("opt_from"), f.all("opt_value"), f.all("opt_en"));
        let at = |v: &[&str], i: usize| v.get(i).map_or(String::new(), |s| s.to_string());
        FieldForm {
            key: f.get("key").to_string(),
            label_zh: f.get("label_zh").to_string(),
            label_en: f.get("label_en").to_string(),
            field_type: f.text("field_type"),
            required: f.has("required", "1"),
            help_zh: f.get("help_zh").to_string(),
            help_en: f.get("help_en").to_string(),
            options: (0..from.len())
                .map(|i| OptionRow {
                    from: at(&from, i),
                    value: at(&value, i),
                    label_en: at(&en, i),
                    archived: f.has("opt_archived", &i.to_string()),
                })
                .collect(),
            new_options: f.get("new_options").to_string(),
            min_length: f.get("min_length").to_string(),
            max_length: f.get("max_length").to_string(),
            min: f.get("min").to_string(),
            max: f.get("max").to_string(),
            pattern: f.get("pattern").to_string(),
            decimal_places: f.get("decimal_places").to_string(),
        }
    }

    /// The options typed as new lines.
    fn new_lines(&self) -> Vec<SelectOption> {
        self.new_options
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (value, en) = match l.split_once('|') {
                    Some((v, e)) => (v.trim(), e.trim()),
                    None => (l, ""),
                };
                SelectOption {
                    value: value.to_string(),
                    label_en: Some(en.to_string()).filter(|e| !e.is_empty()),
                    archived: false,
                }
            })
            .collect()
    }

    /// The change the form asks for, or its own errors (a number that is not a number), by
    /// the field they belong to. `before` is the definition being edited.
    fn input(
        &self,
        tr: Tr,
        kind: RecordKind,
        before: Option<&CustomFieldDef>,
    ) -> Result<CustomFieldInput, Errors> {
        let mut errors = Errors::default();
        let t = self.field_type.parse::<CustomFieldType>().ok();
        if t.is_none() {
            errors.add("field_type", field_text(tr, "field_type", "unknown_choice"));
        }
        let whole = |name: &str, v: &str, errors: &mut Errors| -> Option<i64> {
            match v.trim() {
                "" => None,
                v => v
                    .parse()
                    .map_err(|_| errors.add(name, field_text(tr, name, "not_a_number")))
                    .ok(),
            }
        };
        let decimal_places = whole("decimal_places", &self.decimal_places, &mut errors);
        let places = decimal_places
            .or_else(|| before.and_then(|b| b.decimal_places).map(i64::from))
            .unwrap_or(cf::DEFAULT_DECIMAL_PLACES.into())
            .clamp(0, cf::MAX_DECIMAL_PLACES.into()) as u32;
        let limit = |name: &str, v: &str, errors: &mut Errors| -> Option<i64> {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            let parsed = match t {
                Some(CustomFieldType::Decimal) => {
                    cf::parse_decimal(v, places).map_err(|code| match code {
                        "too_many_decimals" | "out_of_range" => code,
                        _ => "not_a_decimal",
                    })
                }
                Some(CustomFieldType::Money) => signed_fen(v).ok_or("invalid_amount"),
                _ => v.parse::<i64>().map_err(|_| "not_a_number"),
            };
            parsed
                .map_err(|code| errors.add(name, field_text(tr, name, code)))
                .ok()
        };
        let validation = Validation {
            min_length: whole("min_length", &self.min_length, &mut errors),
            max_length: whole("max_length", &self.max_length, &mut errors),
            min: limit("min", &self.min, &mut errors),
            max: limit("max", &self.max, &mut errors),
            pattern: Some(self.pattern.trim().to_string()).filter(|p| !p.is_empty()),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let t = t.expect("checked above");
        let mut options: Vec<SelectOption> = self
            .options
            .iter()
            .map(|r| SelectOption {
                value: r.value.trim().to_string(),
                label_en: Some(r.label_en.trim().to_string()).filter(|e| !e.is_empty()),
                archived: r.archived,
            })
            .collect();
        let added = self.new_lines();
        let typed_new = !added.is_empty();
        options.extend(added);
        let renames: Vec<OptionRename> = self
            .options
            .iter()
            .filter(|r| !r.from.is_empty() && r.value.trim() != r.from)
            .map(|r| OptionRename {
                from: r.from.clone(),
                to: r.value.trim().to_string(),
            })
            .collect();
        let creating = before.is_none();
        let text = |v: &str| Field::Value(v.trim().to_string());
        Ok(CustomFieldInput {
            record_kind: if creating {
                Field::Value(kind)
            } else {
                Field::Absent
            },
            key: if creating {
                text(&self.key)
            } else {
                Field::Absent
            },
            label_zh: text(&self.label_zh),
            label_en: text(&self.label_en),
            field_type: Field::Value(t),
            required: Field::Value(self.required),
            // Options go with a select; new lines typed for another type are sent so that
            // the refusal says options do not apply.
            options: if t.is_select() || typed_new {
                Field::Value(options)
            } else {
                Field::Absent
            },
            validation: Field::Value(validation),
            decimal_places: decimal_places.map_or(Field::Absent, |p| {
                Field::Value(i32::try_from(p).unwrap_or(i32::MAX))
            }),
            help_zh: text(&self.help_zh),
            help_en: text(&self.help_en),
            position: Field::Absent,
            archived: Field::Absent,
            rename_options: if renames.is_empty() {
                Field::Absent
            } else {
                Field::Value(renames)
            },
        })
    }
}

/// Where an error of `create_custom_field` / `update_custom_field` is shown, and its text.
fn place(errors: &mut Errors, tr: Tr, e: &AppError) {
    let (field, code) = match e {
        AppError::Invalid(f) | AppError::BadRequest(f) => (f.field.as_str(), f.code.as_str()),
        _ => ("", ""),
    };
    let at = match field {
        f if f.starts_with("options") || f.starts_with("rename_options") => "options",
        f => f.strip_prefix("validation.").unwrap_or(f),
    };
    // One option (`options[2].value`, `rename_options[0].to`) or the list as a whole.
    let about = if field.contains('[') {
        "option_value"
    } else {
        at
    };
    if FORM_FIELDS.contains(&at) {
        errors.add(at, field_text(tr, about, code));
    } else {
        errors.add("form", super::error_text(tr, e).1);
    }
}

/// The form ready for the template.
struct FormView {
    editing: bool,
    key: String,
    label_zh: String,
    label_en: String,
    types: Vec<Choice>,
    required: bool,
    help_zh: String,
    help_en: String,
    options: Vec<OptionRow>,
    new_options: String,
    min_length: String,
    max_length: String,
    min: String,
    max: String,
    pattern: String,
    decimal_places: String,
}

impl FormView {
    fn new(tr: Tr, f: FieldForm, editing: bool) -> FormView {
        FormView {
            editing,
            types: CustomFieldType::ALL
                .iter()
                .map(|t| Choice::new(t.as_str(), type_label(tr, *t), t.as_str() == f.field_type))
                .collect(),
            key: f.key,
            label_zh: f.label_zh,
            label_en: f.label_en,
            required: f.required,
            help_zh: f.help_zh,
            help_en: f.help_en,
            options: f.options,
            new_options: f.new_options,
            min_length: f.min_length,
            max_length: f.max_length,
            min: f.min,
            max: f.max,
            pattern: f.pattern,
            decimal_places: f.decimal_places,
        }
    }
}

// ---- The list of a record kind's fields, and adding one. ----

struct KindTab {
    value: &'static str,
    label: &'static str,
    current: bool,
    count: usize,
}

struct FieldRow {
    id: i64,
    label: String,
    key: String,
    type_label: &'static str,
    required: bool,
    archived: bool,
    saved: bool,
}

#[derive(Template)]
#[template(path = "admin_custom_fields.html")]
struct FieldsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    kinds: Vec<KindTab>,
    kind: &'static str,
    kind_label: &'static str,
    rows: Vec<FieldRow>,
    form: FormView,
    errors: Errors,
}

fn fields_page(
    v: &Viewer,
    kind: RecordKind,
    saved: Option<i64>,
    form: FieldForm,
    errors: Errors,
) -> FieldsPage {
    let tr = v.tr;
    let dir = &v.ctx.dir;
    let kinds = RecordKind::ALL
        .iter()
        .map(|k| KindTab {
            value: k.as_str(),
            label: kind_label(tr, *k),
            current: *k == kind,
            count: dir.custom_fields_of(*k).filter(|d| !d.archived).count(),
        })
        .collect();
    let mut defs: Vec<&CustomFieldDef> = dir.custom_fields_of(kind).collect();
    defs.sort_by_key(|d| (d.archived, d.position, d.id));
    let rows = defs
        .iter()
        .map(|d| FieldRow {
            id: d.id,
            label: label(tr, d),
            key: d.key.clone(),
            type_label: type_label(tr, d.field_type),
            required: d.required,
            archived: d.archived,
            saved: saved == Some(d.id),
        })
        .collect();
    FieldsPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{FIELDS}?kind={kind}"),
        nav: v.nav("settings"),
        tab: "custom_fields",
        kinds,
        kind: kind.as_str(),
        kind_label: kind_label(tr, kind),
        rows,
        form: FormView::new(tr, form, false),
        errors,
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    kind: Option<String>,
    saved: Option<i64>,
}

fn kind_of(q: Option<&str>) -> RecordKind {
    q.and_then(|k| k.parse().ok())
        .unwrap_or(RecordKind::Opportunity)
}

async fn fields(v: Viewer, Query(q): Query<ListQuery>) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(FIELDS, e);
    }
    let kind = kind_of(q.kind.as_deref());
    render(fields_page(
        &v,
        kind,
        q.saved,
        FieldForm::blank(),
        Errors::default(),
    ))
}

async fn create_field(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(FIELDS, e);
    }
    let kind = kind_of(Some(f.get("record_kind")));
    let form = FieldForm::posted(&f);
    let result = match form.input(v.tr, kind, None) {
        Ok(input) => ops::create_custom_field(&s.db, &v.ctx, input)
            .await
            .map_err(|e| (e, Errors::default())),
        Err(errors) => Err((
            AppError::invalid("", "invalid_value", "see the fields"),
            errors,
        )),
    };
    match result {
        Ok(def) => Redirect::to(&format!(
            "{FIELDS}?kind={kind}&saved={}#field-{}",
            def.id, def.id
        ))
        .into_response(),
        Err((e, mut errors)) if shown_in_form(&e) => {
            if errors.is_empty() {
                place(&mut errors, v.tr, &e);
            }
            let page = fields_page(&v, kind, None, form, errors);
            (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
        }
        Err((e, _)) => v.error(FIELDS, e),
    }
}

// ---- One field: edit, archive, restore. ----

#[derive(Template)]
#[template(path = "admin_custom_field.html")]
struct FieldPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    id: i64,
    kind: &'static str,
    kind_label: &'static str,
    key: String,
    label: String,
    type_label: &'static str,
    archived: bool,
    saved: bool,
    form: FormView,
    errors: Errors,
}

fn field_page(
    v: &Viewer,
    def: &CustomFieldDef,
    saved: bool,
    form: FieldForm,
    errors: Errors,
) -> FieldPage {
    let tr = v.tr;
    FieldPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{FIELDS}/{}", def.id),
        nav: v.nav("settings"),
        tab: "custom_fields",
        id: def.id,
        kind: def.record_kind.as_str(),
        kind_label: kind_label(tr, def.record_kind),
        key: def.key.clone(),
        label: label(tr, def),
        type_label: type_label(tr, def.field_type),
        archived: def.archived,
        saved,
        form: FormView::new(tr, form, true),
        errors,
    }
}

/// A definition for an admin's eyes (archived ones included).
fn admin_field(v: &Viewer, id: i64) -> Result<CustomFieldDef, AppError> {
    v.ctx.require_admin()?;
    ops::custom_field(&v.ctx, id)
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn field(v: Viewer, Path(id): Path<i64>, Query(q): Query<SavedQuery>) -> Response {
    let here = format!("{FIELDS}/{id}");
    match admin_field(&v, id) {
        Ok(def) => render(field_page(
            &v,
            &def,
            q.saved.is_some(),
            FieldForm::of(&def),
            Errors::default(),
        )),
        Err(e) => v.error(&here, e),
    }
}

async fn save_field(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{FIELDS}/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let def = match admin_field(&v, id) {
        Ok(def) => def,
        Err(e) => return v.error(&here, e),
    };
    let mut form = FieldForm::posted(&f);
    form.key = def.key.clone();
    let result = match form.input(v.tr, def.record_kind, Some(&def)) {
        Ok(input) => ops::update_custom_field(&s.db, &v.ctx, id, input)
            .await
            .map_err(|e| (e, Errors::default())),
        Err(errors) => Err((
            AppError::invalid("", "invalid_value", "see the fields"),
            errors,
        )),
    };
    match result {
        Ok(_) => Redirect::to(&format!("{here}?saved=1")).into_response(),
        Err((e, mut errors)) if shown_in_form(&e) => {
            if errors.is_empty() {
                place(&mut errors, v.tr, &e);
            }
            let page = field_page(&v, &def, false, form, errors);
            (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
        }
        Err((e, _)) => v.error(&here, e),
    }
}

async fn archive_field(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{FIELDS}/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let def = match admin_field(&v, id) {
        Ok(def) => def,
        Err(e) => return v.error(&here, e),
    };
    let input = CustomFieldInput {
        archived: Field::Value(f.get("archived") == "1"),
        ..Default::default()
    };
    match ops::update_custom_field(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!(
            "{FIELDS}?kind={}&saved={id}#field-{id}",
            def.record_kind
        ))
        .into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            place(&mut errors, v.tr, &e);
            let page = field_page(&v, &def, false, FieldForm::of(&def), errors);
            (e.status(), render(page)).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/custom-fields", get(fields).post(create_field))
        .route("/admin/custom-fields/{id}", get(field).post(save_field))
        .route("/admin/custom-fields/{id}/archive", post(archive_field))
}
