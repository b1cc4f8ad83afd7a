//! Duplicates and 撞单: the keys records are matched on, and how alike two company names are.
//!
//! Mobiles and emails are matched exactly on their stored form (`input::phone` strips `+86`
//! and separators; `input::email` lowercases), credit codes exactly. A company name is
//! matched on its key: full-width characters made half-width, letters lowercased, a region in
//! brackets or at the start and the legal-form suffixes (有限公司, 股份有限公司, 集团, 分公司…)
//! removed, spaces and punctuation dropped — so that 「北京字节跳动科技有限公司」 and
//! 「字节跳动（北京）科技有限公司」 both become `字节跳动科技`. Keys that are not equal are
//! compared by the Dice coefficient of their character bigrams ([`name_similarity`]); at or
//! above [`NAME_THRESHOLD`] they match. Candidates are found by the key's first two characters
//! ([`name_stem`]), which the store indexes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{text_enum, RecordKind};

/// Two name keys at least this alike are the same company.
pub const NAME_THRESHOLD: f64 = 0.8;

/// Regions a company name may start with or carry in brackets: provinces, autonomous regions,
/// municipalities and the larger cities, each also with 省 / 市 / 自治区 after it.
const REGIONS: &[&str] = &[
    "北京",
    "上海",
    "天津",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
    "深圳",
    "广州",
    "杭州",
    "南京",
    "苏州",
    "武汉",
    "成都",
    "西安",
    "厦门",
    "青岛",
    "宁波",
    "大连",
    "沈阳",
    "长沙",
    "郑州",
    "济南",
    "合肥",
    "福州",
    "无锡",
    "东莞",
    "佛山",
    "珠海",
    "昆明",
    "南昌",
    "哈尔滨",
    "长春",
    "石家庄",
    "太原",
    "南宁",
    "贵阳",
    "兰州",
    "常州",
    "温州",
    "绍兴",
    "嘉兴",
    "烟台",
    "中国",
];

/// Legal forms and branch words a name may end with, longest first.
const SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "集团股份有限公司",
    "有限公司",
    "分公司",
    "总公司",
    "集团",
    "公司",
    "co.,ltd.",
    "co.,ltd",
    "co.ltd",
    "ltd.",
    "ltd",
    "inc.",
    "inc",
];

/// The region suffixes a region name may carry.
const REGION_TAILS: &[&str] = &["自治区", "省", "市"];

/// `c` as a half-width character where it has one (Ａ → A, （ → (, the ideographic space).
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '【' | '〔' => '(',
        '】' | '〕' => ')',
        _ => c,
    }
}

/// A region at the start of `s` with its tail (省 / 市 / 自治区), as the length to cut.
fn region_prefix(s: &str) -> Option<usize> {
    REGIONS.iter().find_map(|r| {
        let rest = s.strip_prefix(r)?;
        let tail = REGION_TAILS
            .iter()
            .find(|t| rest.starts_with(*t))
            .map_or(0, |t| t.len());
        Some(r.len() + tail)
    })
}

/// Whether `s` is only a region (with its tail): what a bracket may hold that is dropped.
fn is_region(s: &str) -> bool {
    region_prefix(s).is_some_and(|n| n == s.len())
}

/// The key a company name is matched on (see the module's description). Empty for a name made
/// only of what is removed.
pub fn company_key(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(half_width)
        .flat_map(char::to_lowercase)
        .collect();
    // Brackets: a region inside is dropped, anything else keeps its words.
    while let Some(open) = s.find('(') {
        let Some(close) = s[open..].find(')').map(|c| open + c) else {
            break;
        };
        let inner = s[open + 1..close].trim().to_string();
        let keep = if is_region(&inner) {
            String::new()
        } else {
            inner
        };
        s.replace_range(open..=close, &keep);
    }
    s.retain(|c| c.is_alphanumeric());
    // Suffixes and regions at either end, until none is left (上海市…集团有限公司苏州分公司):
    // never the whole key.
    loop {
        let before = s.len();
        if let Some(suf) = SUFFIXES
            .iter()
            .map(|suf| {
                suf.chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
            })
            .find(|bare| s.len() > bare.len() && s.ends_with(bare.as_str()))
        {
            s.truncate(s.len() - suf.len());
        }
        if let Some(n) = region_prefix(&s).filter(|n| *n < s.len()) {
            s.replace_range(..n, "");
        }
        if let Some(r) = REGIONS
            .iter()
            .find(|r| s.len() > r.len() + 3 && s.ends_with(*r))
        {
            s.truncate(s.len() - r.len());
        }
        if s.len() == before {
            break;
        }
    }
    s
}

/// The first two characters of a key: what candidates are looked up by.
pub fn name_stem(key: &str) -> String {
    key.chars().take(2).collect()
}

fn bigrams(s: &str) -> Vec<(char, char)> {
    let c: Vec<char> = s.chars().collect();
    let mut out: Vec<(char, char)> = c.windows(2).map(|w| (w[0], w[1])).collect();
    out.sort_unstable();
    out
}

/// How alike two name keys are, 0 to 1: the Dice coefficient of their character bigrams (1
/// for equal keys; single characters compare whole).
pub fn name_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return if a.is_empty() { 0.0 } else { 1.0 };
    }
    // Names with different numbers are different companies (101 厂 is not 102 厂).
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    if digits(a) != digits(b) {
        return 0.0;
    }
    let (x, y) = (bigrams(a), bigrams(b));
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    2.0 * common as f64 / (x.len() + y.len()) as f64
}

text_enum!(
    /// What two records were matched on.
    MatchedOn {
        CreditCode => "credit_code",
        Mobile => "mobile",
        Email => "email",
        Name => "name",
    }
);

text_enum!(
    /// What happens when a record being saved matches another: refused, saved once the user
    /// says so (the default: a warning the user confirms), or saved once the user says so and
    /// sent to their manager, who keeps both, merges them or archives the new one (送经理裁决).
    DuplicatePolicy {
        Block => "block",
        Warn => "warn",
        Review => "review",
    }
);

text_enum!(
    /// Where a duplicate sent to the manager stands.
    ReviewStatus {
        Pending => "pending",
        Kept => "kept",
        Merged => "merged",
        Archived => "archived",
    }
);

/// A record saved over its duplicates under the `review` policy, waiting for (or decided by)
/// the manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DuplicateReview {
    pub id: i64,
    pub record_kind: RecordKind,
    pub record_id: i64,
    /// What it matched: (kind, id, matched on), as the company holds them.
    pub matched: Vec<MatchedRecord>,
    pub requested_by: crate::model::UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: time::OffsetDateTime,
    pub status: ReviewStatus,
    pub decided_by: Option<crate::model::UserId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<time::OffsetDateTime>,
    pub note: Option<String>,
}

/// One record a reviewed record matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatchedRecord {
    pub record_kind: RecordKind,
    pub id: i64,
    pub matched_on: MatchedOn,
}

/// The duplicate settings: per record kind, and for a credit code already in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateSettings {
    #[serde(default = "warn")]
    pub account: DuplicatePolicy,
    #[serde(default = "warn")]
    pub contact: DuplicatePolicy,
    #[serde(default = "warn")]
    pub lead: DuplicatePolicy,
    /// A credit code already used by another account.
    #[serde(default = "block")]
    pub credit_code: DuplicatePolicy,
}

fn warn() -> DuplicatePolicy {
    DuplicatePolicy::Warn
}

fn block() -> DuplicatePolicy {
    DuplicatePolicy::Block
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        DuplicateSettings {
            account: warn(),
            contact: warn(),
            lead: warn(),
            credit_code: block(),
        }
    }
}

/// Another record that a record being saved matches. One the caller cannot read is told only
/// by its kind, what matched and who owns it — never its id, name or any other data.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DuplicateMatch {
    pub record_kind: RecordKind,
    pub matched_on: MatchedOn,
    /// Whether the caller can read the matching record.
    pub visible: bool,
    /// The record's id, when the caller can read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The record's name, when the caller can read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who owns it (display name), if anyone.
    pub owner_name: Option<String>,
    /// The owner's team.
    pub owner_team: Option<String>,
}

impl DuplicateSettings {
    /// The policy of a record kind (opportunities are not matched: warn).
    pub fn policy(&self, kind: RecordKind) -> DuplicatePolicy {
        match kind {
            RecordKind::Account => self.account,
            RecordKind::Contact => self.contact,
            RecordKind::Lead => self.lead,
            RecordKind::Opportunity => DuplicatePolicy::Warn,
        }
    }

    /// Whether a record of `kind` saved over its duplicates goes to the manager.
    pub fn reviews(&self, kind: RecordKind) -> bool {
        self.policy(kind) == DuplicatePolicy::Review
    }

    /// Whether a record of `kind` matching records on `matched` (what each matched on) is
    /// refused whatever the caller says: its kind's policy blocks, or it shares a credit code
    /// and credit codes block.
    pub fn blocks(&self, kind: RecordKind, matched: &[MatchedOn]) -> bool {
        let policy = self.policy(kind);
        policy == DuplicatePolicy::Block
            || (self.credit_code == DuplicatePolicy::Block
                && matched.contains(&MatchedOn::CreditCode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_keys() {
        let cases = [
            ("北京字节跳动科技有限公司", "字节跳动科技"),
            ("字节跳动（北京）科技有限公司", "字节跳动科技"),
            ("字节跳动(北京)科技有限公司", "字节跳动科技"),
            ("上海市明川机械股份有限公司", "明川机械"),
            ("明川机械集团有限公司", "明川机械"),
            ("明川机械有限公司苏州分公司", "明川机械"),
            ("ＡＢＣ 贸易（深圳）有限公司", "abc贸易"),
            ("华为技术有限公司", "华为技术"),
            ("浙江省杭州市云帆科技有限公司", "云帆科技"),
            ("腾讯（中国）有限公司", "腾讯"),
            ("Acme Co., Ltd.", "acme"),
            ("有限公司", "有限"),
            ("", ""),
        ];
        for (name, key) in cases {
            assert_eq!(company_key(name), key, "{name}");
        }
    }

    #[test]
    fn similar_names_match_and_different_ones_do_not() {
        let cases = [
            (
                "北京字节跳动科技有限公司",
                "字节跳动（北京）科技有限公司",
                true,
            ),
            ("明川机械有限公司", "明川机械设备有限公司", false),
            ("明川精密机械有限公司", "明川精密机械制造有限公司", true),
            ("华为技术有限公司", "华为终端有限公司", false),
            ("杭州云帆科技有限公司", "云帆科技（杭州）有限公司", true),
            ("中国银行", "中国建设银行", false),
            ("明川机械一0一厂", "明川机械一0二厂", false),
            ("rep_sh 100000 客户", "rep_sh 200000 客户", false),
        ];
        for (a, b, same) in cases {
            let s = name_similarity(&company_key(a), &company_key(b));
            assert_eq!(s >= NAME_THRESHOLD, same, "{a} / {b}: {s}");
        }
        assert_eq!(name_similarity("", ""), 0.0);
        assert_eq!(name_similarity("ab", "ab"), 1.0);
        assert_eq!(name_stem("字节跳动科技"), "字节");
    }

    #[test]
    fn settings_default_to_warn_and_block_credit_codes() {
        let s: DuplicateSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, DuplicateSettings::default());
        assert_eq!(s.credit_code, DuplicatePolicy::Block);
        assert!(serde_json::from_str::<DuplicateSettings>(r#"{"account":"never"}"#).is_err());
        // Sent to the manager: saved when confirmed (never blocked), reviewed.
        let review: DuplicateSettings = serde_json::from_str(r#"{"lead":"review"}"#).unwrap();
        assert!(review.reviews(RecordKind::Lead) && !review.reviews(RecordKind::Account));
        assert!(!review.blocks(RecordKind::Lead, &[]));
    }

    #[test]
    fn what_blocks() {
        let warn = DuplicateSettings::default();
        let block_contacts = DuplicateSettings {
            contact: DuplicatePolicy::Block,
            ..DuplicateSettings::default()
        };
        let cases = [
            (&warn, RecordKind::Account, MatchedOn::Name, false),
            (&warn, RecordKind::Account, MatchedOn::CreditCode, true),
            (&warn, RecordKind::Contact, MatchedOn::Mobile, false),
            (
                &block_contacts,
                RecordKind::Contact,
                MatchedOn::Mobile,
                true,
            ),
            (&block_contacts, RecordKind::Lead, MatchedOn::Mobile, false),
        ];
        for (settings, kind, matched, blocked) in cases {
            assert_eq!(
                settings.blocks(kind, &[matched]),
                blocked,
                "{kind} {matched}"
            );
        }
    }
}
