//! CSV export of any record kind, as the API serves it.

use shangji_core::audit::AuditAction;
use shangji_core::custom_fields::{self, CustomFieldDef};
use shangji_store::Db;

use super::*;

/// A text cell as written to CSV: text a spreadsheet would read as a formula — starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return, or their full-width forms, which
/// spreadsheets in Chinese take for the same — gets a leading `'`, so that it stays text
/// (CSV formula injection). Only text goes through here: numbers of numeric columns (a
/// negative amount) are written as they are. XLSX stores text as text and needs none of it.
pub fn csv_text(s: &str) -> String {
    const FORMULA: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];
    if s.starts_with(FORMULA) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Flattens a record into CSV cells: nested objects become `parent.child` columns, arrays
/// are joined with `;`. Text is neutralised for spreadsheets ([`csv_text`]); numbers are not.
pub(crate) fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            let cells: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), csv_text(&cells.join(";"))));
        }
        Value::String(s) => out.push((prefix.to_string(), csv_text(s))),
        Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// The rows a list would show (same filters, same visibility, every page) as CSV with a
/// byte-order mark, so that Excel reads the Chinese text.
pub async fn export_csv<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Vec<u8>, AppError> {
    let filters: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .cloned()
        .collect();
    let mut q = list_query::<T>(&filters, &ctx.dir)?;
    q.limit = 1000;
    // One column per custom field that is not archived, after the built-in ones.
    let fields: Vec<&CustomFieldDef> = T::CUSTOM
        .map(|kind| {
            ctx.dir
                .custom_fields_of(kind)
                .filter(|d| !d.archived)
                .collect()
        })
        .unwrap_or_default();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header: Option<Vec<String>> = None;
    let mut rows = 0;
    loop {
        let page = db.list::<T>(&ctx.scope, &q).await?;
        for record in &page.items {
            let mut json =
                serde_json::to_value(record).map_err(|e| AppError::Internal(e.to_string()))?;
            let custom = match json.as_object_mut().and_then(|m| m.remove("custom")) {
                Some(serde_json::Value::Object(m)) => m,
                _ => Default::default(),
            };
            let mut cells = Vec::new();
            flatten("", &json, &mut cells);
            let builtin = cells.len();
            for d in &fields {
                let value = custom.get(&d.key).unwrap_or(&serde_json::Value::Null);
                let text = custom_fields::display_text(d, value);
                let cell = match value {
                    serde_json::Value::Number(_) => text,
                    _ => csv_text(&text),
                };
                cells.push((d.key.clone(), cell));
            }
            if header.is_none() {
                let mut names: Vec<String> =
                    cells[..builtin].iter().map(|(k, _)| k.clone()).collect();
                for d in &fields {
                    // The English label, or the key where the label is empty or taken.
                    let name = [d.label_en.trim(), d.key.as_str()]
                        .into_iter()
                        .map(str::to_string)
                        .find(|n| !n.is_empty() && !names.contains(n))
                        .unwrap_or_else(|| custom_fields::field_name(&d.key));
                    names.push(name);
                }
                out.write_record(names.iter().map(|n| csv_text(n)))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                header = Some(names);
            }
            rows += 1;
            out.write_record(cells.iter().map(|(_, v)| v))
                .map_err(|e| AppError::Internal(e.to_string()))?;
        }
        q.offset += q.limit;
        if page.items.len() < q.limit as usize {
            break;
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let detail = format!(
        "{rows} rows as csv, filters: {}",
        super::audit::filters_text(&filters)
    );
    super::audit::record(db, ctx, AuditAction::Export, T::RESOURCE, detail).await?;
    Ok(bytes)
}
