//! A page of a list as a table: the page's parameters split from the list's, the chosen
//! columns, and the rows.

use shangji_core::custom_fields;
use shangji_core::model::*;
use shangji_store::Db;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{list_query, Ctx};

use super::columns::{columns, Cell, ColumnDef, Env, Listed};

/// The parameters of a list page, split: the list's filters, sort and page (for
/// [`list_query`]) and the chosen columns. Empty values (a filter left blank) are dropped.
pub struct PageParams {
    pub filters: Vec<(String, String)>,
    pub cols: Vec<String>,
}

pub fn split_params(params: &[(String, String)]) -> PageParams {
    let mut filters = Vec::new();
    let mut cols = Vec::new();
    for (k, v) in params {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "cols" => cols.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            ),
            "view" | "format" | "csrf" => {}
            _ => filters.push((k.clone(), v.to_string())),
        }
    }
    PageParams { filters, cols }
}

/// The columns to show: those chosen that exist, in the table's order; the defaults when
/// none is chosen.
pub fn chosen(all: &[ColumnDef], cols: &[String]) -> Vec<ColumnDef> {
    let picked: Vec<ColumnDef> = all
        .iter()
        .filter(|c| cols.contains(&c.key))
        .cloned()
        .collect();
    if picked.is_empty() {
        all.iter().filter(|c| c.default).cloned().collect()
    } else {
        picked
    }
}

/// A row of a list.
pub struct Row {
    pub id: i64,
    pub cells: Vec<Cell>,
}

/// A page of a list as a table.
pub struct Table {
    pub all: Vec<ColumnDef>,
    pub columns: Vec<ColumnDef>,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// The sort column and direction in force.
    pub sort: &'static str,
    pub desc: bool,
}

pub(super) async fn env<'a, T: Listed>(
    db: &Db,
    ctx: &'a Ctx,
    tr: Tr,
    users: &'a [User],
    items: &[T],
) -> Result<Env<'a>, AppError> {
    let mut ids: Vec<i64> = items.iter().filter_map(T::account_ref).collect();
    ids.sort_unstable();
    ids.dedup();
    let accounts = db
        .names_in_scope::<Account>(&ctx.scope, "name", &ids)
        .await?
        .into_iter()
        .collect();
    let mut ids: Vec<i64> = items.iter().filter_map(T::opportunity_ref).collect();
    ids.sort_unstable();
    ids.dedup();
    let opportunities = db
        .names_in_scope::<Opportunity>(&ctx.scope, "title", &ids)
        .await?
        .into_iter()
        .collect();
    Ok(Env {
        tr,
        dir: &ctx.dir,
        users,
        accounts,
        opportunities,
    })
}

pub(super) fn row<T: Listed>(r: &T, columns: &[ColumnDef], env: &Env) -> Row {
    Row {
        id: r.id(),
        cells: columns
            .iter()
            .map(|c| match &c.custom {
                Some(d) => {
                    let v = r
                        .custom_values()
                        .and_then(|m| m.get(&d.key))
                        .cloned()
                        .unwrap_or(serde_json::Value::Null);
                    match custom_fields::display_text(d, &v) {
                        t if t.is_empty() => Cell::Empty,
                        t => Cell::Text(t),
                    }
                }
                None => r.cell(&c.key, env),
            })
            .collect(),
    }
}

/// A page of a list, within the viewer's scope, as a table of the chosen columns.
pub async fn table<T: Listed>(
    db: &Db,
    ctx: &Ctx,
    tr: Tr,
    params: &[(String, String)],
) -> Result<Table, AppError> {
    let p = split_params(params);
    let q = list_query::<T>(&p.filters, &ctx.dir)?;
    let all = columns::<T>(tr, &ctx.dir);
    let columns = chosen(&all, &p.cols);
    let page = db.list::<T>(&ctx.scope, &q).await?;
    let users = db.users().await?;
    let env = env(db, ctx, tr, &users, &page.items).await?;
    let rows = page.items.iter().map(|r| row(r, &columns, &env)).collect();
    Ok(Table {
        all,
        columns,
        rows,
        total: page.total,
        page: q.offset / q.limit.max(1) + 1,
        per_page: q.limit,
        sort: q.sort,
        desc: q.desc,
    })
}
