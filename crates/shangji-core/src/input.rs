//! Input checking shared by every path in (API, pages, import): one function per field kind,
//! each error naming its field.

use serde::{Deserialize, Deserializer};
use time::{Date, OffsetDateTime};

use crate::money::MAX_AMOUNT_MINOR;

use crate::error::FieldError;

/// A field of a create or partial-update body: absent (leave unchanged), `null` (clear) or a
/// value. On create, absent and `null` both mean "no value".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Field::Null,
            Some(v) => Field::Value(v),
        })
    }
}

/// Written as the value or `null`; an absent field is left out by
/// `skip_serializing_if = "Field::is_absent"` on the containing struct.
impl<T: serde::Serialize> serde::Serialize for Field<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Value(v) => v.serialize(s),
            Field::Absent | Field::Null => s.serialize_none(),
        }
    }
}

// In the OpenAPI document a field is shown as the optional value it carries.
impl<T: utoipa::__dev::ComposeSchema> utoipa::__dev::ComposeSchema for Field<T> {
    fn compose(
        generics: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Option<T> as utoipa::__dev::ComposeSchema>::compose(generics)
    }
}
impl<T: utoipa::ToSchema + utoipa::__dev::ComposeSchema> utoipa::ToSchema for Field<T> {}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// Applies the field to an optional target.
    pub fn apply_opt(self, target: &mut Option<T>) {
        match self {
            Field::Absent => {}
            Field::Null => *target = None,
            Field::Value(v) => *target = Some(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(f(v)),
        }
    }

    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Field<U>, E> {
        Ok(match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(f(v)?),
        })
    }

    /// Applies a field whose target may not be empty: `null` is refused.
    pub fn apply_required(self, target: &mut T, field: &str) -> Result<(), FieldError> {
        match self {
            Field::Absent => Ok(()),
            Field::Null => Err(FieldError::new(
                field,
                "required",
                format!("{field} is required"),
            )),
            Field::Value(v) => {
                *target = v;
                Ok(())
            }
        }
    }
}

pub const SHORT_TEXT: usize = 200;
pub const LONG_TEXT: usize = 10_000;

/// Trims a text; empty becomes `None`; longer than `max` characters is refused. Control
/// characters (NUL, escape…) are refused: a multi-line text (longer than [`SHORT_TEXT`] —
/// notes, a summary) keeps its line breaks and tabs, a one-line text (a name, a title) has
/// none.
pub fn text(field: &str, value: String, max: usize) -> Result<Option<String>, FieldError> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} must be at most {max} characters"),
        ));
    }
    let multi_line = max > SHORT_TEXT;
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(multi_line && matches!(c, '\n' | '\t' | '\r')))
    {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            format!("{field} contains control characters"),
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// A yes-or-no parameter of a query: `true`/`1` or `false`/`0`; anything else is
/// `invalid_parameter` naming it.
pub fn flag(field: &str, value: &str) -> Result<bool, FieldError> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(FieldError::new(
            field,
            "invalid_parameter",
            format!("{field}: expected true or false"),
        )),
    }
}

/// A parameter of a query (a search text, a filter's value): refused with
/// `invalid_characters` when it holds a control character, which no stored text has.
pub fn query_text<'a>(field: &str, value: &'a str) -> Result<&'a str, FieldError> {
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            format!("{field} contains control characters"),
        ));
    }
    Ok(value)
}

/// A place in an ordered list (a stage, a loss reason): 0 for the first, at most 10,000;
/// anything else is `out_of_range`.
pub fn position(field: &str, value: i32) -> Result<i32, FieldError> {
    if !(0..=10_000).contains(&value) {
        return Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be between 0 and 10000"),
        ));
    }
    Ok(value)
}

/// A text field that must not be empty.
pub fn required_text(field: &str, value: String, max: usize) -> Result<String, FieldError> {
    text(field, value, max)?
        .ok_or_else(|| FieldError::new(field, "required", format!("{field} is required")))
}

/// An optional text field of a body: empty text clears it.
pub fn opt_text(
    field: &str,
    value: Field<String>,
    max: usize,
) -> Result<Field<String>, FieldError> {
    Ok(match value {
        Field::Value(v) => match text(field, v, max)? {
            Some(t) => Field::Value(t),
            None => Field::Null,
        },
        other => other,
    })
}

pub fn email(field: &str, value: String) -> Result<Option<String>, FieldError> {
    let Some(v) = text(field, value, 254)? else {
        return Ok(None);
    };
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    };
    if !ok {
        return Err(FieldError::new(
            field,
            "invalid_email",
            format!("{field} is not a valid email address"),
        ));
    }
    Ok(Some(v.to_ascii_lowercase()))
}

/// A phone number: digits with optional `+`, spaces and dashes; a mainland mobile is 11
/// digits starting with 1. Stored without separators.
pub fn phone(field: &str, value: String, mobile: bool) -> Result<Option<String>, FieldError> {
    let Some(v) = text(field, value, 40)? else {
        return Ok(None);
    };
    let bad = || {
        FieldError::new(
            field,
            if mobile {
                "invalid_mobile"
            } else {
                "invalid_phone"
            },
            format!("{field} is not a valid phone number"),
        )
    };
    if !v.chars().all(|c| c.is_ascii_digit() || " -+()".contains(c)) {
        return Err(bad());
    }
    let digits: String = v
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let national = digits.strip_prefix("+86").unwrap_or(&digits);
    let count = national.chars().filter(char::is_ascii_digit).count();
    if !(5..=20).contains(&count) || national[1..].contains('+') {
        return Err(bad());
    }
    if mobile && !national.starts_with('+') && !(count == 11 && national.starts_with('1')) {
        return Err(bad());
    }
    Ok(Some(national.to_string()))
}

/// The first and last day any date of a record may be: the years people and spreadsheets
/// mean (a year 0 or 9999 is a typing mistake, and no spreadsheet writes it). The one range
/// every date input is bounded to — bodies, forms and imports alike.
pub const FIRST_DATE: Date = time::macros::date!(1900 - 01 - 01);
pub const LAST_DATE: Date = time::macros::date!(2200 - 12 - 31);

/// Whether a day is within [`FIRST_DATE`]..=[`LAST_DATE`].
pub fn date_in_range(d: Date) -> bool {
    (FIRST_DATE..=LAST_DATE).contains(&d)
}

/// A date within [`FIRST_DATE`]..=[`LAST_DATE`], else `out_of_range` on `field`.
pub fn date(field: &str, d: Date) -> Result<Date, FieldError> {
    if date_in_range(d) {
        Ok(d)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be between {FIRST_DATE} and {LAST_DATE}"),
        ))
    }
}

/// A date field of a body, bounded as [`date`].
pub fn opt_date(field: &str, value: Field<Date>) -> Result<Field<Date>, FieldError> {
    value.try_map(|d| date(field, d))
}

/// An instant whose day (in UTC) is within the range of [`date`].
pub fn instant(field: &str, t: OffsetDateTime) -> Result<OffsetDateTime, FieldError> {
    date(field, t.to_offset(time::UtcOffset::UTC).date()).map(|_| t)
}

/// An amount in minor units within ±[`MAX_AMOUNT_MINOR`] (the one bound of every money
/// input, which [`crate::money::Money::parse`] applies too), else `out_of_range` on `field`.
pub fn amount_minor(field: &str, amount: i64) -> Result<i64, FieldError> {
    if amount.checked_abs().is_some_and(|a| a <= MAX_AMOUNT_MINOR) {
        Ok(amount)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be at most {MAX_AMOUNT_MINOR} minor units either way"),
        ))
    }
}

/// Tags: trimmed, non-empty, unique (first spelling kept), at most 20 of 40 characters each.
pub fn tags(field: &str, value: Vec<String>) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for t in value {
        if let Some(t) = text(field, t, 40)? {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                out.push(t);
            }
        }
    }
    if out.len() > 20 {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("at most 20 {field}"),
        ));
    }
    Ok(out)
}

pub fn percent(field: &str, value: i32) -> Result<i32, FieldError> {
    if !(0..=100).contains(&value) {
        return Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be between 0 and 100"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_tells_absent_null_and_value_apart() {
        #[derive(Deserialize)]
        struct B {
            #[serde(default)]
            a: Field<String>,
            #[serde(default)]
            b: Field<String>,
            #[serde(default)]
            c: Field<String>,
        }
        let b: B = serde_json::from_str(r#"{"b": null, "c": "x"}"#).unwrap();
        assert_eq!(b.a, Field::Absent);
        assert_eq!(b.b, Field::Null);
        assert_eq!(b.c, Field::Value("x".into()));
    }

    #[test]
    fn texts() {
        assert_eq!(text("f", "  a ".into(), 5), Ok(Some("a".into())));
        assert_eq!(text("f", "   ".into(), 5), Ok(None));
        assert_eq!(
            text("f", "六个汉字六个".into(), 6)
                .unwrap()
                .unwrap()
                .chars()
                .count(),
            6
        );
        assert_eq!(
            text("f", "七个汉字七个字".into(), 6).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            text("f", "a\u{0}".into(), 6).unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(
            required_text("name", " ".into(), 6).unwrap_err().code,
            "required"
        );
    }

    type Case<'a> = (&'a str, bool, Result<Option<&'a str>, &'a str>);

    #[test]
    fn emails_and_phones() {
        let cases: &[(&str, Result<Option<&str>, &str>)] = &[
            ("Wang@Example.COM", Ok(Some("wang@example.com"))),
            ("", Ok(None)),
            ("wang@", Err("invalid_email")),
            ("wang@example", Err("invalid_email")),
            ("wa ng@example.com", Err("invalid_email")),
        ];
        for (v, want) in cases {
            let got = email("email", v.to_string());
            assert_eq!(
                got.as_ref()
                    .map(|o| o.as_deref())
                    .map_err(|e| e.code.as_str()),
                *want,
                "{v}"
            );
        }
        let phones: &[Case] = &[
            ("138 0013 8000", true, Ok(Some("13800138000"))),
            ("+86 138-0013-8000", true, Ok(Some("13800138000"))),
            ("1380013800", true, Err("invalid_mobile")),
            ("021-6888 1234", false, Ok(Some("02168881234"))),
            ("abc", false, Err("invalid_phone")),
        ];
        for (v, mobile, want) in phones {
            let got = phone("mobile", v.to_string(), *mobile);
            assert_eq!(
                got.as_ref()
                    .map(|o| o.as_deref())
                    .map_err(|e| e.code.as_str()),
                *want,
                "{v}"
            );
        }
    }

    #[test]
    fn tags_are_unique_and_bounded() {
        assert_eq!(
            tags(
                "tags",
                vec!["VIP".into(), " vip ".into(), "".into(), "华东".into()]
            )
            .unwrap(),
            vec!["VIP".to_string(), "华东".to_string()]
        );
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert_eq!(tags("tags", many).unwrap_err().code, "too_many");
    }
}
