//! Saved views: a list's query string under a name, mine or shared.

use serde::Deserialize;
use shangji_core::model::*;
use shangji_store::{Db, Directory, SavedView, StoreError};

use crate::error::AppError;
use crate::ops::{list_query, Ctx};

use super::table::split_params;
use super::ListKind;

/// A view to save: the list it belongs to, its name, and the list's query string.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewInput {
    /// opportunities, accounts, contacts, leads, activities or tasks.
    pub kind: String,
    pub name: String,
    /// The list's query string (filters, `sort`, `cols`), as in the list page's address.
    #[serde(default)]
    pub query: String,
}

/// A query string's pairs, decoded (`+` is a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// A query string of pairs, encoded.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Checks a list's parameters as the list would read them.
pub fn check_params(
    kind: ListKind,
    params: &[(String, String)],
    dir: &Directory,
) -> Result<(), AppError> {
    let p = split_params(params);
    match kind {
        ListKind::Opportunities => list_query::<Opportunity>(&p.filters, dir).map(|_| ()),
        ListKind::Accounts => list_query::<Account>(&p.filters, dir).map(|_| ()),
        ListKind::Contacts => list_query::<Contact>(&p.filters, dir).map(|_| ()),
        ListKind::Leads => list_query::<Lead>(&p.filters, dir).map(|_| ()),
        ListKind::Activities => list_query::<Activity>(&p.filters, dir).map(|_| ()),
        ListKind::Tasks => list_query::<Task>(&p.filters, dir).map(|_| ()),
    }
}

fn kind_of(word: &str) -> Result<ListKind, AppError> {
    ListKind::parse(word).ok_or_else(|| {
        AppError::invalid(
            "kind",
            "invalid_value",
            "kind is one of opportunities, accounts, contacts, leads, activities, tasks",
        )
    })
}

/// The caller's saved views, of one list or of all.
pub async fn views(db: &Db, ctx: &Ctx, kind: Option<&str>) -> Result<Vec<SavedView>, AppError> {
    if let Some(k) = kind {
        kind_of(k).map_err(|e| match e {
            AppError::Invalid(f) => AppError::BadRequest(f),
            e => e,
        })?;
    }
    Ok(db.saved_views(ctx.actor.user_id, kind).await?)
}

/// Saves the caller's view under a name of their own for that list. The query is read as
/// the list reads it, so a view that could not be opened is not saved; the page number is
/// not kept.
pub async fn create_view(db: &Db, ctx: &Ctx, input: ViewInput) -> Result<SavedView, AppError> {
    let kind = kind_of(input.kind.trim())?;
    let name = shangji_core::input::required_text("name", input.name, 60)?;
    if input.query.len() > 4000 {
        return Err(AppError::invalid(
            "query",
            "too_long",
            "the query has at most 4000 characters",
        ));
    }
    let pairs: Vec<(String, String)> = parse_query(&input.query)
        .into_iter()
        .filter(|(k, v)| !v.trim().is_empty() && !["page", "view", "csrf"].contains(&k.as_str()))
        .collect();
    check_params(kind, &pairs, &ctx.dir).map_err(|e| match e {
        AppError::BadRequest(f) | AppError::Invalid(f) => {
            AppError::invalid("query", &f.code, f.message)
        }
        e => e,
    })?;
    let mut view = SavedView {
        id: 0,
        user_id: ctx.actor.user_id,
        kind: kind.path().to_string(),
        name,
        query: encode_query(&pairs),
        created_at: ctx.now,
    };
    view.id = match db.insert_saved_view(&view).await {
        Ok(id) => id,
        Err(StoreError::Duplicate(_)) => {
            return Err(AppError::invalid(
                "name",
                "duplicate",
                "you already have a view of this name",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(view)
}

/// One of the caller's views; someone else's is not found.
pub async fn view(db: &Db, ctx: &Ctx, id: i64) -> Result<SavedView, AppError> {
    db.saved_view(ctx.actor.user_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete_view(db: &Db, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    if db.delete_saved_view(ctx.actor.user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_string_round_trips() {
        let pairs = vec![
            ("q".to_string(), "华为 云".to_string()),
            ("cf.region".to_string(), "a&b=c".to_string()),
        ];
        assert_eq!(parse_query(&encode_query(&pairs)), pairs);
        assert_eq!(
            parse_query("?a=1+2&b=%E5%8D%8E&c"),
            vec![
                ("a".to_string(), "1 2".to_string()),
                ("b".to_string(), "华".to_string()),
                ("c".to_string(), String::new())
            ]
        );
    }
}
