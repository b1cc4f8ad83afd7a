//! The template of each kind of file, in the user's language: a header the import recognises
//! (required columns marked `*`), a filled example row, and a second sheet saying what each
//! column takes.

use rust_xlsxwriter::{Format as XFormat, Workbook};
use shangji_core::import::{self as core, FieldSpec, ImportKind, Kind};

use super::{value_options, Ctx};
use crate::error::AppError;
use crate::i18n::Tr;

fn internal(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(e.to_string())
}

/// A field's name in the user's language: its header in a template, its label on the page
/// (which says which fields are the contact's).
pub fn field_name(tr: Tr, spec: &FieldSpec) -> &'static str {
    if tr.is_zh() {
        spec.names[0]
    } else {
        spec.names[1]
    }
}

/// A column of a template: its header, whether it is required, the example, what it takes.
struct Column {
    header: String,
    required: bool,
    example: String,
    takes: String,
}

fn example(ctx: &Ctx, tr: Tr, spec: &FieldSpec) -> String {
    let zh = tr.is_zh();
    let pick = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
    let first_option = || {
        value_options(ctx, tr, spec.key)
            .into_iter()
            .next()
            .map(|(_, label)| label)
            .unwrap_or_default()
    };
    let day = shangji_core::calendar::china_date(ctx.now);
    match spec.kind {
        Kind::Choice | Kind::Region | Kind::Pipeline | Kind::Stage => return first_option(),
        Kind::Date => return (day + time::Duration::days(30)).to_string(),
        Kind::Time if spec.key == "created_at" => return format!("{day} 09:30"),
        Kind::Time => return format!("{day} 14:30"),
        Kind::YesNo => return pick("否", "no"),
        Kind::Owner => {
            return ctx
                .dir
                .user(ctx.actor.user_id)
                .map(|u| u.login.clone())
                .unwrap_or_default()
        }
        _ => {}
    }
    match spec.key.trim_start_matches("contact.") {
        "name" if spec.part == core::Part::Contact => pick("王强", "Wang Qiang"),
        "name" | "company_name" | "account" => {
            pick("明川机械有限公司", "Mingchuan Machinery Co., Ltd.")
        }
        "contact_name" => pick("王强", "Wang Qiang"),
        "credit_code" => "91350100M000100Y43".into(),
        "industry" => pick("制造业", "Manufacturing"),
        "tags" => pick("重点客户、华东", "key account, east"),
        "address" => pick(
            "上海市浦东新区张江路 88 号",
            "88 Zhangjiang Rd, Pudong, Shanghai",
        ),
        "notes" => pick("展会上认识，关注自动化产线", "Met at the trade fair"),
        "mobile" => "13800138000".into(),
        "phone" => "021-58881234".into(),
        "email" => "wang.qiang@example.com".into(),
        "wechat" => "wangqiang_88".into(),
        "title" if spec.part == core::Part::Deal => {
            pick("自动化产线改造", "Automation line retrofit")
        }
        "title" if spec.part == core::Part::Task => pick("寄送报价单", "Send the quotation"),
        "title" => pick("采购经理", "Purchasing manager"),
        "external_id" => "CRM-000123".into(),
        "amount_minor" => pick("12.5万", "125000"),
        "competitor" => pick("某德企", "A German vendor"),
        "next_step" => pick("约技术交流", "Book a technical meeting"),
        "summary" => pick(
            "电话沟通报价，客户希望下周看方案",
            "Called about the quote; they want the proposal next week",
        ),
        "outcome" => pick("同意安排技术交流", "Agreed to a technical meeting"),
        "contact" => pick("王强", "Wang Qiang"),
        "opportunity" => "CRM-000123".into(),
        "lead" => pick("明川机械", "Mingchuan Machinery"),
        _ => String::new(),
    }
}

fn takes(ctx: &Ctx, tr: Tr, spec: &FieldSpec) -> String {
    match spec.kind {
        Kind::Choice | Kind::Region | Kind::Pipeline | Kind::Stage | Kind::LossReason => {
            value_options(ctx, tr, spec.key)
                .into_iter()
                .map(|(_, label)| label)
                .collect::<Vec<_>>()
                .join(" / ")
        }
        Kind::Amount => tr.t("import.takes.amount").into(),
        Kind::Date => tr.t("import.takes.date").into(),
        Kind::Time => tr.t("import.takes.time").into(),
        Kind::Owner => tr.t("import.takes.owner").into(),
        Kind::Tags => tr.t("import.takes.tags").into(),
        Kind::Account => tr.t("import.takes.account").into(),
        Kind::YesNo => tr.t("import.takes.yes_no").into(),
        Kind::Reference => tr.t(&format!("import.takes.{}", spec.key)).into(),
        Kind::Text => String::new(),
    }
}

/// The template of `kind` as an XLSX workbook.
pub fn template(ctx: &Ctx, tr: Tr, kind: ImportKind) -> Result<Vec<u8>, AppError> {
    let mut columns: Vec<Column> = core::fields(kind)
        .iter()
        .map(|spec| Column {
            header: field_name(tr, spec).to_string(),
            required: spec.required,
            example: example(ctx, tr, spec),
            takes: takes(ctx, tr, spec),
        })
        .collect();
    for d in core::custom_defs(kind, &ctx.dir.custom_fields) {
        columns.push(Column {
            header: if tr.is_zh() {
                d.label_zh.clone()
            } else {
                d.label_en.clone()
            },
            required: d.required,
            example: String::new(),
            takes: d
                .options
                .iter()
                .filter(|o| !o.archived)
                .map(|o| o.value.clone())
                .collect::<Vec<_>>()
                .join(" / "),
        });
    }
    let mut book = Workbook::new();
    let bold = XFormat::new().set_bold();
    let sheet = book.add_worksheet();
    sheet
        .set_name(tr.t(&format!("import.kind.{kind}")))
        .map_err(internal)?;
    for (i, c) in columns.iter().enumerate() {
        let x = i as u16;
        let header = if c.required {
            format!("{}*", c.header)
        } else {
            c.header.clone()
        };
        sheet
            .write_string_with_format(0, x, &header, &bold)
            .map_err(internal)?;
        sheet.write_string(1, x, &c.example).map_err(internal)?;
        sheet.set_column_width(x, 18).map_err(internal)?;
    }
    let notes = book.add_worksheet();
    notes
        .set_name(tr.t("import.template.notes"))
        .map_err(internal)?;
    for (x, key) in [
        "import.template.column",
        "import.template.required",
        "import.template.takes",
    ]
    .iter()
    .enumerate()
    {
        notes
            .write_string_with_format(0, x as u16, tr.t(key), &bold)
            .map_err(internal)?;
    }
    notes.set_column_width(0, 20).map_err(internal)?;
    notes.set_column_width(2, 60).map_err(internal)?;
    for (y, c) in columns.iter().enumerate() {
        let y = y as u32 + 1;
        notes.write_string(y, 0, &c.header).map_err(internal)?;
        if c.required {
            notes
                .write_string(y, 1, tr.t("import.template.yes"))
                .map_err(internal)?;
        }
        notes.write_string(y, 2, &c.takes).map_err(internal)?;
    }
    book.save_to_buffer().map_err(internal)
}
