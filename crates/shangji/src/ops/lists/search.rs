//! The search box: what the text looks like (a mobile number, an email, a credit code, a
//! name) and the records it finds in each kind.

use serde::Serialize;
use shangji_core::model::*;
use shangji_store::{Db, Match};

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::Ctx;

use super::columns::Listed;

/// A record found by the search box.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: i64,
    pub title: String,
    /// What else identifies it (mobile, email, credit code, amount…).
    pub detail: String,
    pub url: String,
}

/// What the search box found, by kind (at most 10 of each).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub q: String,
    pub accounts: Vec<Hit>,
    pub contacts: Vec<Hit>,
    pub opportunities: Vec<Hit>,
    pub leads: Vec<Hit>,
}

impl SearchResults {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.contacts.is_empty()
            && self.opportunities.is_empty()
            && self.leads.is_empty()
    }
}

/// How the box's text is looked up: a number is a mobile (prefix, on its index); text with
/// `@` an email (equality, on its index); 18 letters and digits a credit code (equality, on
/// its index); anything else a part of a name or title (a scan, fine at tens of thousands
/// of records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Mobile(String),
    Email(String),
    CreditCode(String),
    Name(String),
}

pub fn lookup(q: &str) -> Lookup {
    let q = q.trim();
    let digits: String = q
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect::<String>()
        .trim_start_matches("+86")
        .to_string();
    if digits.len() >= 3 && digits.chars().all(|c| c.is_ascii_digit()) {
        return Lookup::Mobile(digits);
    }
    if q.contains('@') && !q.contains(' ') {
        return Lookup::Email(q.to_string());
    }
    if q.len() == 18
        && q.chars().all(|c| c.is_ascii_alphanumeric())
        && q.chars().any(|c| c.is_ascii_digit())
    {
        return Lookup::CreditCode(q.to_ascii_uppercase());
    }
    Lookup::Name(q.to_string())
}

/// `[prefix, the next prefix of as many digits or fewer)`: every text that starts with the
/// digits (`138` → `[138, 139)`, `139` → `[139, 14)`). Only digits are compared, which sort
/// the same in every collation.
fn digit_range(col: &'static str, prefix: &str) -> Match {
    let mut upper: Vec<u8> = prefix.bytes().collect();
    while upper.last() == Some(&b'9') {
        upper.pop();
    }
    let upper = match upper.last_mut() {
        Some(d) => {
            *d += 1;
            String::from_utf8(upper).unwrap_or_default()
        }
        // All nines: nothing starts higher.
        None => "9".repeat(40),
    };
    Match::Range(col, prefix.to_string(), upper)
}

/// Finds accounts, contacts, opportunities and leads within the caller's scope.
pub async fn search(db: &Db, ctx: &Ctx, tr: Tr, q: &str) -> Result<SearchResults, AppError> {
    let q = shangji_core::input::query_text("q", q.trim()).map_err(AppError::BadRequest)?;
    let mut out = SearchResults {
        q: q.to_string(),
        ..Default::default()
    };
    if q.is_empty() {
        return Ok(out);
    }
    if q.chars().count() > 100 {
        return Err(AppError::bad_request(
            "q",
            "too_long",
            "at most 100 characters",
        ));
    }
    let (accounts, contacts, opps, leads) = match lookup(q) {
        Lookup::Mobile(m) => (
            vec![],
            vec![digit_range("mobile", &m)],
            vec![],
            vec![digit_range("mobile", &m)],
        ),
        Lookup::Email(e) => {
            let mut eq = vec![Match::Eq("email", e.clone())];
            if e.to_lowercase() != e {
                eq.push(Match::Eq("email", e.to_lowercase()));
            }
            (vec![], eq.clone(), vec![], eq)
        }
        Lookup::CreditCode(c) => (vec![Match::Eq("credit_code", c)], vec![], vec![], vec![]),
        Lookup::Name(n) => (
            vec![Match::Contains("name", n.clone())],
            vec![Match::Contains("name", n.clone())],
            vec![Match::Contains("title", n.clone())],
            vec![
                Match::Contains("company_name", n.clone()),
                Match::Contains("contact_name", n),
            ],
        ),
    };
    const LIMIT: i64 = 10;
    let join = |parts: Vec<Option<String>>| {
        parts
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
    };
    for a in db.search::<Account>(&ctx.scope, &accounts, LIMIT).await? {
        out.accounts.push(Hit {
            id: a.id,
            url: a.href(),
            detail: join(vec![
                a.credit_code.clone(),
                a.region.clone(),
                a.industry.clone(),
            ]),
            title: a.name,
        });
    }
    for c in db.search::<Contact>(&ctx.scope, &contacts, LIMIT).await? {
        out.contacts.push(Hit {
            id: c.id,
            url: c.href(),
            detail: join(vec![c.mobile.clone(), c.email.clone(), c.title.clone()]),
            title: c.name,
        });
    }
    for o in db.search::<Opportunity>(&ctx.scope, &opps, LIMIT).await? {
        let stage = ctx
            .dir
            .pipelines
            .iter()
            .find_map(|p| p.stage(o.stage_id))
            .map(|s| s.name(tr.lang).to_string());
        out.opportunities.push(Hit {
            id: o.id,
            url: o.href(),
            detail: join(vec![Some(tr.money(&o.amount)), stage]),
            title: o.title,
        });
    }
    for l in db.search::<Lead>(&ctx.scope, &leads, LIMIT).await? {
        let status = tr
            .get(&format!("lists.lead.{}", l.status.as_str()))
            .map(str::to_string);
        out.leads.push(Hit {
            id: l.id,
            url: l.href(),
            detail: join(vec![
                l.contact_name.clone(),
                l.mobile.clone(),
                l.email.clone(),
                status,
            ]),
            title: l.title(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_text_chooses_the_lookup() {
        assert_eq!(lookup(" 138 1234 "), Lookup::Mobile("1381234".into()));
        assert_eq!(
            lookup("+8613812345678"),
            Lookup::Mobile("13812345678".into())
        );
        assert_eq!(lookup("a@b.cn"), Lookup::Email("a@b.cn".into()));
        assert_eq!(
            lookup("91110000802100433b"),
            Lookup::CreditCode("91110000802100433B".into())
        );
        assert_eq!(lookup("华为"), Lookup::Name("华为".into()));
        assert_eq!(lookup("12"), Lookup::Name("12".into()));
    }

    #[test]
    fn a_digit_prefix_is_a_range_of_digits() {
        let bounds = |p: &str| match digit_range("mobile", p) {
            Match::Range(_, from, to) => (from, to),
            other => panic!("{other:?}"),
        };
        assert_eq!(bounds("138"), ("138".into(), "139".into()));
        assert_eq!(bounds("1399"), ("1399".into(), "14".into()));
        assert_eq!(bounds("999").1, "9".repeat(40));
    }
}
