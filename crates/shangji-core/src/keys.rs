//! Keys derived from labels. Custom fields, checklist items and standard actions have a key
//! (lower-case ASCII, digits and `_`, starting with a letter) that records and the API carry;
//! an admin may leave it empty and get one from the labels: the English label, else the
//! Chinese label in pinyin (without tones), else `<prefix>_<n>` — never one already taken.

use pinyin::ToPinyin;

/// Room left for a `_<n>` suffix that makes a key unique.
const SUFFIX_ROOM: usize = 4;

/// A label as a key: ASCII letters and digits in lower case, each Chinese character as its
/// pinyin, one `_` between words; at most `max` characters, cut at a word's end where
/// possible. Empty when the label has nothing to take.
pub fn slug(label: &str, max: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
            continue;
        }
        if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if let Some(p) = c.to_pinyin() {
            words.push(p.plain().to_string());
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = String::new();
    for w in words {
        let extra = if out.is_empty() { w.len() } else { w.len() + 1 };
        if out.len() + extra > max {
            if out.is_empty() {
                out = w[..max].to_string();
            }
            break;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&w);
    }
    out
}

/// A key for something labelled `labels` (tried in order), at most `max` long, for which
/// `taken` is false: the first label that gives a key (prefixed with `<prefix>_` when it
/// starts with a digit), made unique with `_2`, `_3`…; `<prefix>_1`, `<prefix>_2`… when no
/// label gives one.
pub fn derive(labels: &[&str], prefix: &str, max: usize, taken: impl Fn(&str) -> bool) -> String {
    let room = max.saturating_sub(SUFFIX_ROOM).max(1);
    let base = labels
        .iter()
        .map(|l| slug(l, room))
        .find(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with(|c: char| c.is_ascii_lowercase()) {
                s
            } else {
                slug(&format!("{prefix} {s}"), room)
            }
        });
    match base {
        Some(base) if !taken(&base) => base,
        Some(base) => (2..)
            .map(|n| format!("{base}_{n}"))
            .find(|k| !taken(k))
            .expect("some suffix is free"),
        None => (1..)
            .map(|n| format!("{prefix}_{n}"))
            .find(|k| !taken(k))
            .expect("some number is free"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_keys() {
        let cases: &[(&[&str], &[&str], &str)] = &[
            // (labels, keys taken, key)
            (&["Budget confirmed", "预算已确认"], &[], "budget_confirmed"),
            (
                &["  Decision-maker: met!  ", "见到决策人"],
                &[],
                "decision_maker_met",
            ),
            (&["CRM System 2", ""], &[], "crm_system_2"),
            // No usable English label: the Chinese one in pinyin.
            (&["", "预算已确认"], &[], "yu_suan_yi_que_ren"),
            (&["？？", "客户CRM系统"], &[], "ke_hu_crm_xi_tong"),
            // Starting with a digit: prefixed.
            (&["2024 target", ""], &[], "f_2024_target"),
            // Taken: numbered.
            (&["Budget", ""], &["budget"], "budget_2"),
            (&["Budget", ""], &["budget", "budget_2"], "budget_3"),
            // Nothing to take: numbered by the prefix.
            (&["", "？！"], &[], "f_1"),
            (&["", ""], &["f_1"], "f_2"),
        ];
        for (labels, taken, want) in cases {
            let got = derive(labels, "f", 50, |k| taken.contains(&k));
            assert_eq!(got, *want, "{labels:?} with {taken:?} taken");
        }
    }

    #[test]
    fn long_labels_are_cut_at_a_word_and_leave_room_to_number() {
        let label = "a very long label for a custom field that nobody would want to type as a key";
        let key = derive(&[label], "f", 50, |_| false);
        assert!(key.len() <= 46, "{key}");
        assert_eq!(key, "a_very_long_label_for_a_custom_field_that");
        let numbered = derive(&[label], "f", 50, |k| k == key);
        assert!(
            numbered.len() <= 50 && numbered.ends_with("_2"),
            "{numbered}"
        );
        let one_word = "x".repeat(80);
        assert_eq!(derive(&[&one_word], "f", 50, |_| false).len(), 46);
        let chinese = "这是一个非常非常非常非常非常长的自定义字段名称";
        let key = derive(&["", chinese], "f", 50, |_| false);
        assert!(key.len() <= 46 && key.starts_with("zhe_shi_yi_ge"), "{key}");
    }
}
