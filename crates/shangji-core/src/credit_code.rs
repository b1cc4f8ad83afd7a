//! 统一社会信用代码 (unified social credit code, GB 32100-2015): 18 characters from a
//! 31-letter alphabet, the last one a check character over the first 17.

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditCodeError {
    Length,
    Character(usize),
    Checksum,
}

impl CreditCodeError {
    /// The stable code of what is wrong: the length, a character, or the check character.
    pub fn code(self) -> &'static str {
        match self {
            CreditCodeError::Length => "credit_code_length",
            CreditCodeError::Character(_) => "credit_code_character",
            CreditCodeError::Checksum => "credit_code_check",
        }
    }

    pub fn message(self) -> String {
        match self {
            CreditCodeError::Length => "a unified social credit code has 18 characters".into(),
            CreditCodeError::Character(i) => {
                format!(
                    "character {} is not allowed in a unified social credit code",
                    i + 1
                )
            }
            CreditCodeError::Checksum => "the check character does not match".into(),
        }
    }
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character for the first 17 characters.
pub fn check_char(first17: &[u8]) -> Option<char> {
    let mut sum = 0;
    for (i, &c) in first17.iter().enumerate().take(17) {
        sum += value(c)? * WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize] as char)
}

/// Normalizes (trims, upper-cases) and validates a code.
pub fn validate(code: &str) -> Result<String, CreditCodeError> {
    let code = code.trim().to_ascii_uppercase();
    let bytes = code.as_bytes();
    if bytes.len() != 18 {
        return Err(CreditCodeError::Length);
    }
    if let Some(i) = bytes.iter().position(|&c| value(c).is_none()) {
        return Err(CreditCodeError::Character(i));
    }
    if check_char(&bytes[..17]) != Some(bytes[17] as char) {
        return Err(CreditCodeError::Checksum);
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_codes() {
        let cases: &[(&str, Result<&str, CreditCodeError>)] = &[
            // Published codes of well-known companies.
            ("91350100M000100Y43", Ok("91350100M000100Y43")),
            ("91110000802100433B", Ok("91110000802100433B")),
            (" 91110000802100433b ", Ok("91110000802100433B")),
            ("91110000802100433C", Err(CreditCodeError::Checksum)),
            ("9111000080210043", Err(CreditCodeError::Length)),
            ("91110000802100I33B", Err(CreditCodeError::Character(14))),
        ];
        for (code, want) in cases {
            assert_eq!(validate(code).as_deref(), want.as_deref(), "{code}");
        }
    }
}
