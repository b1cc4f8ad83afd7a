//! Follow-ups (跟进记录) and tasks (任务) from a spreadsheet, one per row: what was done or is to
//! be done, when, by whom, and the records it is about — an account (by name or credit code),
//! a contact (by name, within that account when the row names one), an opportunity (by
//! external id, else by title, within the account) and, for follow-ups, a lead (by company or
//! contact name). The cells are read here into the inputs the API takes (`ActivityInput`,
//! `TaskInput`); the records they name are looked up by the caller, once per distinct name,
//! and told apart by [`find`]; the records' own rules then check the inputs as they check any
//! other create.
//!
//! A follow-up's author is the importer unless the file names one (`author_id`, which the
//! API's input does not take: the caller sets it on the record after checking that the
//! importer may give records to that user, as for an owner). A follow-up without a type is a
//! note (记录): a file that does not say is not taken as a customer contact. Neither kind has
//! duplicates: every row creates.

use serde_json::{Map, Value};

use super::{f, normalise, FieldSpec, Kind, Part, ACCOUNT_NAME, CONTACT_NAME};
use crate::model::*;

const A: Part = Part::Activity;
const T: Part = Part::Task;

const OPPORTUNITY: &[&str] = &[
    "商机",
    "opportunity",
    "商机名称",
    "商机编号",
    "外部编号",
    "项目名称",
    "opportunity name",
    "deal",
    "deal name",
    "external id",
];

/// The columns of a follow-ups file.
pub const FOLLOW_UPS: &[FieldSpec] = &[
    f(
        "kind",
        A,
        Kind::Choice,
        false,
        &[
            "跟进方式",
            "type",
            "类型",
            "跟进类型",
            "联系方式",
            "沟通方式",
            "activity type",
            "follow-up type",
        ],
    ),
    f(
        "occurred_at",
        A,
        Kind::Time,
        false,
        &[
            "跟进时间",
            "time",
            "时间",
            "日期",
            "跟进日期",
            "沟通时间",
            "occurred at",
            "date",
        ],
    ),
    f(
        "summary",
        A,
        Kind::Text,
        true,
        &[
            "跟进内容",
            "summary",
            "内容",
            "摘要",
            "沟通内容",
            "跟进记录",
            "description",
            "content",
        ],
    ),
    f(
        "outcome",
        A,
        Kind::Text,
        false,
        &["跟进结果", "outcome", "结果", "沟通结果", "result"],
    ),
    f(
        "next_step",
        A,
        Kind::Text,
        false,
        &["下一步", "next step", "下一步计划", "后续计划"],
    ),
    f(
        "author_id",
        A,
        Kind::Owner,
        false,
        &[
            "跟进人",
            "author",
            "记录人",
            "负责人",
            "销售",
            "业务员",
            "owner",
            "logged by",
            "sales rep",
        ],
    ),
    f("account", A, Kind::Account, false, ACCOUNT_NAME),
    f("contact", A, Kind::Reference, false, CONTACT_NAME),
    f("opportunity", A, Kind::Reference, false, OPPORTUNITY),
    f(
        "lead",
        A,
        Kind::Reference,
        false,
        &["线索", "lead", "线索名称", "线索公司", "lead name"],
    ),
];

/// The columns of a tasks file.
pub const TASKS: &[FieldSpec] = &[
    f(
        "title",
        T,
        Kind::Text,
        true,
        &[
            "任务",
            "title",
            "任务名称",
            "任务标题",
            "事项",
            "待办",
            "task",
            "task name",
            "subject",
        ],
    ),
    f(
        "due_date",
        T,
        Kind::Date,
        false,
        &["截止日期", "due date", "到期日", "截止时间", "期限", "due"],
    ),
    f(
        "assignee_id",
        T,
        Kind::Owner,
        false,
        &[
            "执行人",
            "assignee",
            "负责人",
            "经办人",
            "跟进人",
            "owner",
            "assigned to",
        ],
    ),
    f(
        "done",
        T,
        Kind::YesNo,
        false,
        &[
            "已完成",
            "done",
            "完成",
            "是否完成",
            "状态",
            "completed",
            "status",
        ],
    ),
    f("account", T, Kind::Account, false, ACCOUNT_NAME),
    f("opportunity", T, Kind::Reference, false, OPPORTUNITY),
];

/// Completes a follow-up's input: a note when the file does not say what it was.
pub(super) fn settle(activity: &mut Map<String, Value>) {
    activity
        .entry("kind")
        .or_insert_with(|| Value::String(ActivityType::Note.as_str().into()));
}

/// Takes the author a follow-up's row names out of its input (the API's input has none).
pub fn take_author(activity: &mut Map<String, Value>) -> Option<UserId> {
    activity.remove("author_id").and_then(|v| v.as_i64())
}

/// A stored record a row may name: its id, the texts it is known by (a contact's name, a
/// deal's title, a lead's company and contact names), a deal's external id, and the account
/// it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    pub id: Id,
    pub names: Vec<String>,
    pub external_id: Option<String>,
    pub account_id: Option<AccountId>,
}

/// What a name found among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// One record: its id and account.
    One(Id, Option<AccountId>),
    /// None (within the account, when one is given).
    Nothing,
    /// Several: the name does not tell which.
    Several(usize),
    /// The external id names a deal of another account than the row's.
    Elsewhere,
}

/// The record `text` names among `named`: an external id first (as written, case aside), else a name
/// (compared as headers are: case, spaces and marks aside), within the account `within`
/// when the row names one.
pub fn find(named: &[Named], text: &str, within: Option<AccountId>) -> Found {
    let exact = text.trim();
    if let Some(n) = named.iter().find(|n| {
        n.external_id
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(exact))
    }) {
        return match within {
            Some(a) if n.account_id != Some(a) => Found::Elsewhere,
            _ => Found::One(n.id, n.account_id),
        };
    }
    let t = normalise(text);
    let hits: Vec<&Named> = named
        .iter()
        .filter(|n| n.names.iter().any(|m| normalise(m) == t))
        .filter(|n| within.is_none_or(|a| n.account_id == Some(a)))
        .collect();
    match hits.as_slice() {
        [] => Found::Nothing,
        [one] => Found::One(one.id, one.account_id),
        many => Found::Several(many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{auto_map, read_row, Cell, ImportKind, Lookups, Mapping};
    use super::*;
    use time::macros::datetime;
    use time::OffsetDateTime;

    /// The clock of these tests.
    const NOW: OffsetDateTime = datetime!(2026-03-20 10:00 UTC);

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn users() -> Vec<User> {
        let u = |id: UserId, login: &str, name: &str| User {
            id,
            login: login.into(),
            display_name: name.into(),
            email: None,
            mobile: Some(format!("1380000000{id}")),
            role: Role::Rep,
            team_id: None,
            active: true,
            leaves: vec![],
            language: None,
            created_at: NOW,
        };
        vec![u(1, "admin", "管理员"), u(7, "rep.east1", "李娜")]
    }

    fn choices() -> super::super::Choices {
        let mut c = super::super::Choices::new();
        c.insert(
            "kind",
            vec![
                ("call", vec!["电话".into(), "Call".into()]),
                ("visit", vec!["拜访".into(), "Visit".into()]),
            ],
        );
        c
    }

    #[test]
    fn follow_up_and_task_headers_are_recognised_in_chinese_and_english() {
        type Case<'a> = (ImportKind, &'a [&'a str], &'a [Option<&'a str>]);
        let cases: [Case; 4] = [
            (
                ImportKind::Activities,
                &[
                    "跟进方式",
                    "跟进时间",
                    "跟进内容*",
                    "结果",
                    "下一步",
                    "跟进人",
                    "客户名称",
                    "联系人",
                    "商机",
                    "线索",
                    "备注",
                ],
                &[
                    Some("kind"),
                    Some("occurred_at"),
                    Some("summary"),
                    Some("outcome"),
                    Some("next_step"),
                    Some("author_id"),
                    Some("account"),
                    Some("contact"),
                    Some("opportunity"),
                    Some("lead"),
                    None,
                ],
            ),
            (
                ImportKind::Activities,
                &[
                    "Type",
                    "Time",
                    "Summary",
                    "Outcome",
                    "Next step",
                    "Author",
                    "Company",
                    "Contact",
                    "External ID",
                    "Lead",
                ],
                &[
                    Some("kind"),
                    Some("occurred_at"),
                    Some("summary"),
                    Some("outcome"),
                    Some("next_step"),
                    Some("author_id"),
                    Some("account"),
                    Some("contact"),
                    Some("opportunity"),
                    Some("lead"),
                ],
            ),
            (
                ImportKind::Tasks,
                &[
                    "任务名称",
                    "截止日期",
                    "执行人",
                    "是否完成",
                    "客户",
                    "商机名称",
                ],
                &[
                    Some("title"),
                    Some("due_date"),
                    Some("assignee_id"),
                    Some("done"),
                    Some("account"),
                    Some("opportunity"),
                ],
            ),
            (
                ImportKind::Tasks,
                &[
                    "Title",
                    "Due date",
                    "Assignee",
                    "Done",
                    "Account",
                    "Opportunity",
                ],
                &[
                    Some("title"),
                    Some("due_date"),
                    Some("assignee_id"),
                    Some("done"),
                    Some("account"),
                    Some("opportunity"),
                ],
            ),
        ];
        for (kind, h, want) in cases {
            let m = auto_map(kind, &headers(h), &[]);
            let got: Vec<Option<&str>> = m.columns.iter().map(|c| c.as_deref()).collect();
            assert_eq!(got, want, "{kind} {h:?}");
        }
    }

    fn read(kind: ImportKind, h: &[&str], cells: &[&str]) -> super::super::RowInputs {
        let users = users();
        let lookups = Lookups {
            users: &users,
            choices: choices(),
            ..Default::default()
        };
        let h = headers(h);
        let mut mapping: Mapping = auto_map(kind, &h, &[]);
        mapping
            .values
            .insert("kind".into(), [("上门".into(), "visit".into())].into());
        let cells: Vec<Cell> = cells
            .iter()
            .map(|c| match *c {
                "" => Cell::Empty,
                c => Cell::Text(c.into()),
            })
            .collect();
        read_row(kind, &h, &mapping, &lookups, 5, &cells)
    }

    #[test]
    fn a_follow_up_row_becomes_an_activity_input_with_its_problems_placed() {
        const H: &[&str] = &[
            "跟进方式",
            "跟进时间",
            "跟进内容",
            "跟进人",
            "客户名称",
            "联系人",
            "商机",
        ];
        // (cells, the input read, the references, the problems: (column, code)).
        type Case<'a> = (
            [&'a str; 7],
            Option<Value>,
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
        );
        let cases: [Case; 6] = [
            (
                [
                    "电话",
                    "2026-03-02 14:30",
                    "报价沟通",
                    "李娜",
                    "明川机械",
                    "王强",
                    "CRM-1",
                ],
                Some(serde_json::json!({
                    "kind": "call", "occurred_at": "2026-03-02T14:30:00+08:00",
                    "summary": "报价沟通", "author_id": 7
                })),
                &[("contact", "王强"), ("opportunity", "CRM-1")],
                &[],
            ),
            // A value the importer mapped; no type: a note; English label.
            (
                ["上门", "", "现场演示", "", "明川机械", "", ""],
                Some(serde_json::json!({"kind": "visit", "summary": "现场演示"})),
                &[],
                &[],
            ),
            (
                ["", "", "记一笔", "", "", "", "CRM-2"],
                Some(serde_json::json!({"kind": "note", "summary": "记一笔"})),
                &[("opportunity", "CRM-2")],
                &[],
            ),
            // Every problem at its row and column.
            (
                ["飞鸽传书", "下周", "", "张三", "明川机械", "", ""],
                Some(serde_json::json!({"kind": "note"})),
                &[],
                &[
                    ("跟进方式", "unknown_choice"),
                    ("跟进时间", "invalid_value"),
                    ("跟进人", "unknown_owner"),
                    ("跟进内容", "required"),
                ],
            ),
            (
                ["Call", "", "Phoned", "", "", "", ""],
                Some(serde_json::json!({"kind": "call", "summary": "Phoned"})),
                &[],
                &[],
            ),
            // An empty row: nothing.
            (["", "", "", "", "", "", ""], None, &[], &[]),
        ];
        for (cells, want, refs, problems) in cases {
            let r = read(ImportKind::Activities, H, &cells);
            assert_eq!(r.activity.clone().map(Value::Object), want, "{cells:?}");
            let got: Vec<(&str, &str)> = r
                .refs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(got, refs, "{cells:?}");
            let placed: Vec<(&str, &str)> = r
                .problems
                .iter()
                .map(|p| (p.column.as_str(), p.code.as_str()))
                .collect();
            assert_eq!(placed, problems, "{cells:?}");
            assert!(r.problems.iter().all(|p| p.row == 5));
            assert_eq!(r.account_ref.is_some(), !cells[4].is_empty(), "{cells:?}");
        }
        let mut a = read(
            ImportKind::Activities,
            H,
            &["电话", "", "x", "李娜", "", "", "y"],
        )
        .activity
        .unwrap();
        assert_eq!(take_author(&mut a), Some(7));
        assert!(!a.contains_key("author_id"));
    }

    #[test]
    fn a_task_row_becomes_a_task_input_with_its_problems_placed() {
        const H: &[&str] = &["任务", "截止日期", "执行人", "已完成", "客户", "商机"];
        type Case<'a> = ([&'a str; 6], Value, &'a [(&'a str, &'a str)]);
        let cases: [Case; 4] = [
            (
                ["回访报价", "2026/4/1", "rep.east1", "否", "明川机械", ""],
                serde_json::json!({"title": "回访报价", "due_date": "2026-04-01", "assignee_id": 7, "done": false}),
                &[],
            ),
            (
                ["寄样品", "", "", "是", "", "CRM-1"],
                serde_json::json!({"title": "寄样品", "done": true}),
                &[],
            ),
            (
                ["", "明天", "", "也许", "", ""],
                serde_json::json!({}),
                &[
                    ("截止日期", "invalid_value"),
                    ("已完成", "invalid_value"),
                    ("任务", "required"),
                ],
            ),
            (
                ["打电话", "", "13800000007", "Done", "", ""],
                serde_json::json!({"title": "打电话", "assignee_id": 7, "done": true}),
                &[],
            ),
        ];
        for (cells, want, problems) in cases {
            let r = read(ImportKind::Tasks, H, &cells);
            assert_eq!(r.task.clone().map(Value::Object), Some(want), "{cells:?}");
            let placed: Vec<(&str, &str)> = r
                .problems
                .iter()
                .map(|p| (p.column.as_str(), p.code.as_str()))
                .collect();
            assert_eq!(placed, problems, "{cells:?}");
        }
    }

    #[test]
    fn a_name_finds_one_record_within_the_rows_account() {
        let named = [
            Named {
                id: 1,
                names: vec!["王强".into()],
                account_id: Some(10),
                ..Default::default()
            },
            Named {
                id: 2,
                names: vec!["王强".into()],
                account_id: Some(20),
                ..Default::default()
            },
            Named {
                id: 3,
                names: vec!["Automation Line".into()],
                external_id: Some("CRM-1".into()),
                account_id: Some(10),
            },
        ];
        let cases: [(&str, Option<AccountId>, Found); 7] = [
            ("王强", Some(10), Found::One(1, Some(10))),
            ("王强", Some(20), Found::One(2, Some(20))),
            ("王强", None, Found::Several(2)),
            ("王强", Some(30), Found::Nothing),
            (" automation  line ", None, Found::One(3, Some(10))),
            ("CRM-1", Some(10), Found::One(3, Some(10))),
            ("CRM-1", Some(20), Found::Elsewhere),
        ];
        for (text, within, want) in cases {
            assert_eq!(find(&named, text, within), want, "{text} {within:?}");
        }
    }
}
