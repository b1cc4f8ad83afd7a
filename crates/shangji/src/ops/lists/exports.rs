//! Exports of a list as CSV and XLSX with the chosen columns.

use shangji_core::audit::AuditAction::Export;
use shangji_store::Db;

use crate::error::AppError;
use crate::i18n::{Tr, DISPLAY_OFFSET};
use crate::ops::export::csv_text;
use crate::ops::{list_query, Ctx};

use super::columns::{columns, Cell, ColumnDef, Listed};
use super::internal;
use super::table::{chosen, env, row, split_params, Row};

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// Every row of a list (its filters and sort, within the viewer's scope) with the chosen
/// columns, labelled in the user's language: CSV (UTF-8 with a byte-order mark, for Excel)
/// or XLSX (money as a number with a currency column beside it, dates and times as dates).
pub async fn export<T: Listed>(
    db: &Db,
    ctx: &Ctx,
    tr: Tr,
    params: &[(String, String)],
    format: Format,
) -> Result<Vec<u8>, AppError> {
    let p = split_params(params);
    let filters: Vec<(String, String)> = p
        .filters
        .into_iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let mut q = list_query::<T>(&filters, &ctx.dir)?;
    q.limit = 1000;
    let all = columns::<T>(tr, &ctx.dir);
    let columns = chosen(&all, &p.cols);
    let users = db.users().await?;
    let mut rows: Vec<Row> = Vec::new();
    loop {
        let page = db.list::<T>(&ctx.scope, &q).await?;
        let env = env(db, ctx, tr, &users, &page.items).await?;
        rows.extend(page.items.iter().map(|r| row(r, &columns, &env)));
        q.offset += q.limit;
        if page.items.len() < q.limit as usize {
            break;
        }
    }
    let (bytes, ext) = match format {
        Format::Csv => (csv_of(tr, &columns, &rows)?, "csv"),
        Format::Xlsx => (xlsx_of(tr, &columns, &rows)?, "xlsx"),
    };
    let detail = format!(
        "{} rows as {ext}, filters: {}",
        rows.len(),
        crate::ops::audit::filters_text(&filters)
    );
    crate::ops::audit::record(db, ctx, Export, T::KIND.path(), detail).await?;
    Ok(bytes)
}

/// The header: a money column is followed by its currency.
fn header(tr: Tr, columns: &[ColumnDef], rows: &[Row]) -> Vec<(String, bool)> {
    columns
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let money = rows.iter().any(|r| matches!(r.cells[i], Cell::Money(_)));
            let mut v = vec![(c.label.clone(), false)];
            if money {
                v.push((tr.t("lists.col.currency").to_string(), true));
            }
            v
        })
        .collect()
}

fn csv_of(tr: Tr, columns: &[ColumnDef], rows: &[Row]) -> Result<Vec<u8>, AppError> {
    let head = header(tr, columns, rows);
    let money_cols: Vec<bool> = (0..columns.len())
        .map(|i| rows.iter().any(|r| matches!(r.cells[i], Cell::Money(_))))
        .collect();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(head.iter().map(|(l, _)| csv_text(l)))
        .map_err(internal)?;
    for r in rows {
        let mut line = Vec::new();
        for (i, c) in r.cells.iter().enumerate() {
            match c {
                Cell::Money(m) => {
                    line.push(m.format_major().replace(',', ""));
                    line.push(m.currency.clone());
                }
                Cell::Time(t) => line.push(tr.datetime(*t)),
                Cell::Text(t) | Cell::Link(t, _) => {
                    line.push(csv_text(t));
                    if money_cols[i] {
                        line.push(String::new());
                    }
                }
                other => {
                    line.push(other.text(tr));
                    if money_cols[i] {
                        line.push(String::new());
                    }
                }
            }
        }
        out.write_record(&line).map_err(internal)?;
    }
    out.into_inner().map_err(internal)
}

/// A day as a spreadsheet date, when the spreadsheet can hold it (1900–9999).
fn excel_day(d: time::Date) -> Option<rust_xlsxwriter::ExcelDateTime> {
    let year = u16::try_from(d.year()).ok()?;
    rust_xlsxwriter::ExcelDateTime::from_ymd(year, d.month() as u8, d.day()).ok()
}

fn xlsx_of(tr: Tr, columns: &[ColumnDef], rows: &[Row]) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let head = header(tr, columns, rows);
    let money_cols: Vec<bool> = (0..columns.len())
        .map(|i| rows.iter().any(|r| matches!(r.cells[i], Cell::Money(_))))
        .collect();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = XFormat::new().set_bold();
    let date = XFormat::new().set_num_format("yyyy-mm-dd");
    let time = XFormat::new().set_num_format("yyyy-mm-dd hh:mm");
    let money = XFormat::new().set_num_format("#,##0.00");
    for (i, (label, _)) in head.iter().enumerate() {
        sheet
            .write_string_with_format(0, i as u16, label, &bold)
            .map_err(internal)?;
        sheet.set_column_width(i as u16, 16).map_err(internal)?;
    }
    for (n, r) in rows.iter().enumerate() {
        let y = n as u32 + 1;
        let mut x: u16 = 0;
        for (i, c) in r.cells.iter().enumerate() {
            match c {
                Cell::Empty => {}
                Cell::Text(t) | Cell::Link(t, _) => {
                    sheet.write_string(y, x, t).map_err(internal)?;
                }
                Cell::Int(v) => {
                    sheet.write_number(y, x, *v as f64).map_err(internal)?;
                }
                Cell::Money(m) => {
                    // A spreadsheet number is a double; the amount is exact to the fen up
                    // to 2^53 fen.
                    let major = m.amount_minor as f64 / 100.0;
                    sheet
                        .write_number_with_format(y, x, major, &money)
                        .map_err(internal)?;
                    sheet
                        .write_string(y, x + 1, &m.currency)
                        .map_err(internal)?;
                }
                // A day a spreadsheet cannot hold (before 1900, say, stored before dates
                // were bounded) is written as its text rather than failing the export.
                Cell::Date(d) => match excel_day(*d) {
                    Some(dt) => {
                        sheet
                            .write_datetime_with_format(y, x, &dt, &date)
                            .map_err(internal)?;
                    }
                    None => {
                        sheet.write_string(y, x, d.to_string()).map_err(internal)?;
                    }
                },
                Cell::Time(t) => {
                    let l = t.to_offset(DISPLAY_OFFSET);
                    let dt = excel_day(l.date())
                        .and_then(|d| d.and_hms(u16::from(l.hour()), l.minute(), l.second()).ok());
                    match dt {
                        Some(dt) => {
                            sheet
                                .write_datetime_with_format(y, x, &dt, &time)
                                .map_err(internal)?;
                        }
                        None => {
                            let text = format!("{} {:02}:{:02}", l.date(), l.hour(), l.minute());
                            sheet.write_string(y, x, text).map_err(internal)?;
                        }
                    }
                }
                Cell::Bool(b) => {
                    sheet.write_boolean(y, x, *b).map_err(internal)?;
                }
            }
            x += if money_cols[i] { 2 } else { 1 };
        }
    }
    book.save_to_buffer().map_err(internal)
}
