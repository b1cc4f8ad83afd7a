//! Money is an integer count of minor units (fen for CNY) with a currency code. Never a float.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// The largest amount accepted: 10^15 minor units (10 trillion yuan). Anything larger is
/// surely a typing mistake, and sums of many such amounts still fit in an `i64`.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Integer minor units (fen for CNY).
    pub amount_minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Money {
    pub fn cny(amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: "CNY".into(),
        }
    }

    /// Checks an amount and currency coming from outside; `field` names them in the error.
    pub fn parse(amount_minor: i64, currency: &str, field: &str) -> Result<Money, FieldError> {
        if amount_minor < 0 {
            return Err(FieldError::new(
                field,
                "negative_amount",
                "amount must not be negative",
            ));
        }
        if amount_minor > MAX_AMOUNT_MINOR {
            return Err(FieldError::new(
                field,
                "amount_too_large",
                format!("amount must be at most {MAX_AMOUNT_MINOR} minor units"),
            ));
        }
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(FieldError::new(
                "currency",
                "invalid_currency",
                "currency must be a three-letter ISO 4217 code such as CNY",
            ));
        }
        Ok(Money {
            amount_minor,
            currency,
        })
    }

    /// `1234567` fen → `"12,345.67"`.
    pub fn format_major(&self) -> String {
        let major = self.amount_minor / 100;
        let minor = (self.amount_minor % 100).abs();
        let digits = major.abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        format!("{sign}{grouped}.{minor:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_sign_size_and_currency() {
        let cases: &[(i64, &str, Result<&str, &str>)] = &[
            (0, "CNY", Ok("CNY")),
            (123, "usd", Ok("USD")),
            (-1, "CNY", Err("negative_amount")),
            (MAX_AMOUNT_MINOR, "CNY", Ok("CNY")),
            (MAX_AMOUNT_MINOR + 1, "CNY", Err("amount_too_large")),
            (1, "RMBX", Err("invalid_currency")),
            (1, "C1Y", Err("invalid_currency")),
        ];
        for (amount, cur, want) in cases {
            let got = Money::parse(*amount, cur, "amount")
                .map(|m| m.currency)
                .map_err(|e| e.code);
            assert_eq!(
                got.as_deref().map_err(|e| e.as_str()),
                *want,
                "{amount} {cur}"
            );
        }
    }

    #[test]
    fn formats_with_grouping() {
        for (minor, want) in [
            (0, "0.00"),
            (5, "0.05"),
            (123_456_700, "1,234,567.00"),
            (100_000, "1,000.00"),
            (-150, "-1.50"),
        ] {
            assert_eq!(Money::cny(minor).format_major(), want);
        }
    }
}
