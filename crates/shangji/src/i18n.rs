//! User-visible texts in zh-CN and English. Both catalogues have the same keys (tested);
//! the instance falls back to zh-CN.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use shangji_core::model::Language;

static ZH: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../locales/zh-CN.json")).expect("zh-CN.json is valid")
});
static EN: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../locales/en.json")).expect("en.json is valid")
});

pub const LANG_COOKIE: &str = "sj_lang";

/// The offset times are shown in: China Standard Time, where the teams using shangji work.
pub const DISPLAY_OFFSET: time::UtcOffset = time::macros::offset!(+8);

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
            Language::ZhCn => &ZH,
            Language::En => &EN,
        };
        match catalogue.get(key) {
            Some(v) => v.as_str(),
            None => key,
        }
    }

    /// The text for `key`, if the catalogue has it (for keys made from codes).
    pub fn get(&self, key: &str) -> Option<&'static str> {
        let catalogue: &'static HashMap<String, String> = match self.lang {
            Language::ZhCn => &ZH,
            Language::En => &EN,
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
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut sources: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        sources.push(include_str!("pages.rs").to_string());
        sources.push(include_str!("pages/admin.rs").to_string());
        sources.push(include_str!("pages/opportunity.rs").to_string());
        sources.push(include_str!("pages/approvals.rs").to_string());
        sources.push(include_str!("pages/custom_fields.rs").to_string());
        sources.push(include_str!("pages/policies.rs").to_string());
        let mut used = 0;
        for text in &sources {
            for (i, _) in text.match_indices("t(\"") {
                let rest = &text[i + 3..];
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
    fn money_format() {
        let tr = Tr::new(Language::ZhCn);
        assert_eq!(
            tr.money(&shangji_core::Money::cny(123_456_700)),
            "¥1,234,567.00"
        );
    }
}
