//! User-visible texts in zh-CN and English. Both catalogues have the same keys (tested);
//! the instance falls back to zh-CN.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use shangji_core::model::Language;

/// The catalogues, one pair per area of the product (`locales/<area>.<lang>.json`; the core
/// texts are `locales/zh-CN.json` and `locales/en.json`). A key lives in exactly one area
/// (tested), so areas can grow without touching each other.
const CATALOGUES: &[(&str, &str, &str)] = &[
    (
        "automation",
        include_str!("../locales/automation.zh-CN.json"),
        include_str!("../locales/automation.en.json"),
    ),
    (
        "core",
        include_str!("../locales/zh-CN.json"),
        include_str!("../locales/en.json"),
    ),
    (
        "handover",
        include_str!("../locales/handover.zh-CN.json"),
        include_str!("../locales/handover.en.json"),
    ),
    (
        "records",
        include_str!("../locales/records.zh-CN.json"),
        include_str!("../locales/records.en.json"),
    ),
    (
        "pools",
        include_str!("../locales/pools.zh-CN.json"),
        include_str!("../locales/pools.en.json"),
    ),
    (
        "dupes",
        include_str!("../locales/dupes.zh-CN.json"),
        include_str!("../locales/dupes.en.json"),
    ),
    (
        "lists",
        include_str!("../locales/lists.zh-CN.json"),
        include_str!("../locales/lists.en.json"),
    ),
    (
        "backups",
        include_str!("../locales/backups.zh-CN.json"),
        include_str!("../locales/backups.en.json"),
    ),
    (
        "board",
        include_str!("../locales/board.zh-CN.json"),
        include_str!("../locales/board.en.json"),
    ),
    (
        "delivery",
        include_str!("../locales/delivery.zh-CN.json"),
        include_str!("../locales/delivery.en.json"),
    ),
    (
        "analytics",
        include_str!("../locales/analytics.zh-CN.json"),
        include_str!("../locales/analytics.en.json"),
    ),
    (
        "forecast",
        include_str!("../locales/forecast.zh-CN.json"),
        include_str!("../locales/forecast.en.json"),
    ),
    (
        "horizon",
        include_str!("../locales/horizon.zh-CN.json"),
        include_str!("../locales/horizon.en.json"),
    ),
    (
        "review",
        include_str!("../locales/review.zh-CN.json"),
        include_str!("../locales/review.en.json"),
    ),
    (
        "merge",
        include_str!("../locales/merge.zh-CN.json"),
        include_str!("../locales/merge.en.json"),
    ),
    (
        "scoring",
        include_str!("../locales/scoring.zh-CN.json"),
        include_str!("../locales/scoring.en.json"),
    ),
    (
        "webform",
        include_str!("../locales/webform.zh-CN.json"),
        include_str!("../locales/webform.en.json"),
    ),
    (
        "audit",
        include_str!("../locales/audit.zh-CN.json"),
        include_str!("../locales/audit.en.json"),
    ),
    (
        "import",
        include_str!("../locales/import.zh-CN.json"),
        include_str!("../locales/import.en.json"),
    ),
    (
        "ux",
        include_str!("../locales/ux.zh-CN.json"),
        include_str!("../locales/ux.en.json"),
    ),
];

/// Every area's texts of one language, merged; keys found in two areas are listed apart.
fn load(pick: fn(&(&str, &'static str, &'static str)) -> &'static str) -> Catalogue {
    let mut texts = HashMap::new();
    let mut duplicates = Vec::new();
    for entry in CATALOGUES {
        let area: HashMap<String, String> = serde_json::from_str(pick(entry))
            .unwrap_or_else(|e| panic!("locales of {} are not valid JSON: {e}", entry.0));
        for (k, v) in area {
            if let Some(_old) = texts.insert(k.clone(), v) {
                duplicates.push(k);
            }
        }
    }
    Catalogue { texts, duplicates }
}

struct Catalogue {
    texts: HashMap<String, String>,
    /// Read by the test that keeps each key in one area.
    #[cfg_attr(not(test), allow(dead_code))]
    duplicates: Vec<String>,
}

static ZH_ALL: LazyLock<Catalogue> = LazyLock::new(|| load(|e| e.1));
static EN_ALL: LazyLock<Catalogue> = LazyLock::new(|| load(|e| e.2));
static ZH: LazyLock<&'static HashMap<String, String>> = LazyLock::new(|| &ZH_ALL.texts);
static EN: LazyLock<&'static HashMap<String, String>> = LazyLock::new(|| &EN_ALL.texts);

pub const LANG_COOKIE: &str = "sj_lang";

/// The offset times are shown in: China Standard Time, where the teams using shangji work.
pub const DISPLAY_OFFSET: time::UtcOffset = shangji_core::calendar::CHINA;

/// Translations for one language, as handed to templates.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Language,
}

impl Tr {
    pub fn new(lang: Language) -> Tr {
        Tr { lang }
    }

    /// The text for `key`; the key itself if missing (a test keeps that from happening).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let catalogue: &'static HashMap<String, String> = match self.lang {
            Language::ZhCn => *ZH,
            Language::En => *EN,
        };
        match catalogue.get(key) {
            Some(v) => v.as_str(),
            None => key,
        }
    }

    /// The text for `key`, if the catalogue has it (for keys made from codes).
    pub fn get(&self, key: &str) -> Option<&'static str> {
        let catalogue: &'static HashMap<String, String> = match self.lang {
            Language::ZhCn => *ZH,
            Language::En => *EN,
        };
        catalogue.get(key).map(String::as_str)
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn fmt(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.t(key).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// An instant as people here read it: `2026-03-02 17:05`, in China Standard Time.
    pub fn datetime(&self, at: time::OffsetDateTime) -> String {
        let local = at.to_offset(DISPLAY_OFFSET);
        format!("{} {:02}:{:02}", local.date(), local.hour(), local.minute())
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Language::ZhCn
    }

    pub fn html_lang(&self) -> &'static str {
        self.lang.as_str()
    }

    /// Money on summaries (column totals, tiles), rounded the way readers count: in Chinese
    /// by 万 and 亿 (`¥123.46万`), in English by K and M (`¥1.23M`); small amounts in full
    /// yuan. Integer arithmetic only.
    pub fn money_short(&self, m: &shangji_core::Money) -> String {
        let symbol = match m.currency.as_str() {
            "CNY" => "¥".to_string(),
            "USD" => "US$".to_string(),
            other => format!("{other} "),
        };
        let sign = if m.amount_minor < 0 { "-" } else { "" };
        let minor = m.amount_minor.unsigned_abs();
        let units: &[(u64, &str)] = match self.lang {
            Language::ZhCn => &[(100_000_000, "亿"), (10_000, "万")],
            Language::En => &[(1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")],
        };
        for (unit, name) in units {
            let unit_minor = unit * 100;
            if minor >= unit_minor {
                // Two decimals, rounded half up.
                let hundredths = (minor * 100 + unit_minor / 2) / unit_minor;
                let (whole, frac) = (hundredths / 100, hundredths % 100);
                let frac = format!("{frac:02}");
                let frac = frac.trim_end_matches('0');
                let dot = if frac.is_empty() { "" } else { "." };
                return format!("{sign}{symbol}{whole}{dot}{frac}{name}");
            }
        }
        let yuan = (minor + 50) / 100;
        format!("{sign}{symbol}{yuan}")
    }

    /// Money for people: `¥1,234,567.00`, or `US$…`/`EUR …` for other currencies.
    pub fn money(&self, m: &shangji_core::Money) -> String {
        let symbol = match m.currency.as_str() {
            "CNY" => "¥".to_string(),
            "USD" => "US$".to_string(),
            other => format!("{other} "),
        };
        format!("{symbol}{}", m.format_major())
    }
}

/// The language for a request: the user's choice, then the language cookie, then the
/// browser's Accept-Language, then zh-CN.
pub fn choose(user_pref: Option<Language>, headers: &HeaderMap) -> Language {
    if let Some(l) = user_pref {
        return l;
    }
    let cookie = axum_extra::extract::CookieJar::from_headers(headers)
        .get(LANG_COOKIE)
        .and_then(|c| c.value().parse::<Language>().ok());
    if let Some(l) = cookie {
        return l;
    }
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag.starts_with("zh") {
            return Language::ZhCn;
        }
        if tag.starts_with("en") {
            return Language::En;
        }
    }
    Language::ZhCn
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogues_have_the_same_keys_and_no_empty_text() {
        let zh: BTreeSet<_> = ZH.keys().collect();
        let en: BTreeSet<_> = EN.keys().collect();
        assert_eq!(
            zh.difference(&en).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "missing in en"
        );
        assert_eq!(
            en.difference(&zh).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "missing in zh-CN"
        );
        assert!(ZH.values().chain(EN.values()).all(|v| !v.trim().is_empty()));
        assert_eq!(ZH_ALL.duplicates, Vec::<String>::new(), "keys in two areas");
        assert_eq!(EN_ALL.duplicates, Vec::<String>::new(), "keys in two areas");
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut sources: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        for dir in [src.to_string(), format!("{src}/pages")] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                // This file's own tests name keys that must not exist.
                if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs") {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut used = 0;
        for text in &sources {
            for (i, _) in text.match_indices(".t(\"") {
                let rest = &text[i + 4..];
                let key = &rest[..rest.find('"').unwrap()];
                if !key.contains('.') {
                    continue;
                }
                used += 1;
                assert!(ZH.contains_key(key), "key `{key}` is used but missing");
            }
            for (i, _) in text.match_indices("key: \"") {
                let rest = &text[i + 6..];
                let key = &rest[..rest.find('"').unwrap()];
                assert!(ZH.contains_key(key), "key `{key}` is used but missing");
            }
        }
        assert!(used > 20, "the scan found the keys ({used})");
    }

    #[test]
    fn language_choice() {
        let mut h = HeaderMap::new();
        assert_eq!(choose(None, &h), Language::ZhCn);
        h.insert(
            "accept-language",
            "en-US,en;q=0.9,zh;q=0.5".parse().unwrap(),
        );
        assert_eq!(choose(None, &h), Language::En);
        h.insert("cookie", "sj_lang=zh-CN".parse().unwrap());
        assert_eq!(choose(None, &h), Language::ZhCn);
        assert_eq!(choose(Some(Language::En), &h), Language::En);
    }

    #[test]
    fn formatting_with_values_and_times() {
        let tr = Tr::new(Language::En);
        assert_eq!(
            tr.fmt("event.stage_changed", &[("from", "A"), ("to", "B")]),
            "Stage: A → B"
        );
        let at = time::macros::datetime!(2026-03-02 09:05 UTC);
        assert_eq!(tr.datetime(at), "2026-03-02 17:05");
        assert_eq!(tr.get("no.such.key"), None);
    }

    #[test]
    fn short_money_on_summaries() {
        let zh = Tr::new(Language::ZhCn);
        let en = Tr::new(Language::En);
        let cases: &[(i64, &str, &str)] = &[
            (0, "¥0", "¥0"),
            (999_949, "¥9999", "¥10K"),
            (1_000_000, "¥1万", "¥10K"),
            (123_456_700, "¥123.46万", "¥1.23M"),
            (15_000_000_000, "¥1.5亿", "¥150M"),
            (-5_000_000, "-¥5万", "-¥50K"),
        ];
        for (minor, in_zh, in_en) in cases {
            let m = shangji_core::Money::cny(*minor);
            assert_eq!(zh.money_short(&m), *in_zh, "{minor}");
            assert_eq!(en.money_short(&m), *in_en, "{minor}");
        }
    }

    #[test]
    fn money_format() {
        let tr = Tr::new(Language::ZhCn);
        assert_eq!(
            tr.money(&shangji_core::Money::cny(123_456_700)),
            "¥1,234,567.00"
        );
    }
}
