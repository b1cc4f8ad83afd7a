use super::*;
use crate::custom_fields::{CustomFieldType, SelectOption};
use time::OffsetDateTime;

fn user(id: UserId, login: &str, name: &str, mobile: &str, active: bool) -> User {
    User {
        id,
        login: login.into(),
        display_name: name.into(),
        email: None,
        mobile: Some(mobile.into()),
        role: Role::Rep,
        team_id: None,
        active,
        leaves: vec![],
        language: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn custom(key: &str, label: &str, t: CustomFieldType, options: &[&str]) -> CustomFieldDef {
    let mut d: CustomFieldDef = serde_json::from_value(serde_json::json!({
        "id": 1, "record_kind": "account", "key": key, "label_zh": label, "label_en": key,
        "field_type": t.as_str(), "required": false, "options": [], "validation": {},
        "decimal_places": null, "help_zh": null, "help_en": null, "position": 0, "archived": false
    }))
    .unwrap();
    d.options = options
        .iter()
        .map(|o| SelectOption {
            value: o.to_string(),
            label_en: None,
            archived: false,
        })
        .collect();
    d
}

fn headers(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

fn text(s: &str) -> Cell {
    Cell::Text(s.into())
}

#[test]
fn headers_are_recognised_in_chinese_and_english_with_their_synonyms() {
    let defs = [custom("budget", "预算", CustomFieldType::Money, &[])];
    let h = headers(&[
        "公司名称*",
        "联系人",
        "手机号",
        "所属行业",
        "大区",
        "负责人（必填）",
        "Email",
        "预算",
        "内部编号",
        "客户名称",
    ]);
    let m = auto_map(ImportKind::Accounts, &h, &defs);
    let keys: Vec<Option<&str>> = m.columns.iter().map(|c| c.as_deref()).collect();
    assert_eq!(
        keys,
        [
            Some("name"),
            Some("contact.name"),
            Some("contact.mobile"),
            Some("industry"),
            Some("region"),
            Some("owner_id"),
            Some("contact.email"),
            Some("custom.budget"),
            None,
            // The name was taken by the first column.
            None,
        ]
    );
    assert!(check_mapping(ImportKind::Accounts, &h, &m).is_empty());
    let english = auto_map(
        ImportKind::Leads,
        &headers(&[
            "Company Name",
            "Full name",
            "Mobile Phone",
            "Lead Source",
            "Status",
        ]),
        &[],
    );
    assert_eq!(
        english.columns,
        [
            Some("company_name".to_string()),
            Some("contact_name".to_string()),
            Some("mobile".to_string()),
            Some("source".to_string()),
            Some("status".to_string())
        ]
    );
}

#[test]
fn a_mapping_without_the_required_column_or_with_a_field_twice_is_refused() {
    let h = headers(&["联系人", "手机", "电话"]);
    let m = auto_map(ImportKind::Accounts, &h, &[]);
    let codes: Vec<String> = check_mapping(ImportKind::Accounts, &h, &m)
        .into_iter()
        .map(|p| p.code)
        .collect();
    assert_eq!(codes, ["missing_column"]);
    let twice = Mapping {
        columns: vec![Some("name".into()), Some("name".into())],
        values: BTreeMap::new(),
    };
    let problems = check_mapping(ImportKind::Accounts, &headers(&["a", "b"]), &twice);
    assert_eq!(problems[0].code, "duplicate_column");
    assert_eq!(problems[0].column, "b");
}

#[test]
fn a_row_becomes_the_inputs_the_api_takes_and_every_problem_has_its_row_and_column() {
    let users = [
        user(7, "rep.east1", "张伟", "13800000001", true),
        user(8, "rep.old", "李娜", "13800000002", false),
    ];
    let regions = ["华东".to_string(), "华南".to_string()];
    let mut choices = Choices::new();
    choices.insert(
        "source",
        vec![("exhibition", vec!["展会".into(), "Exhibition".into()])],
    );
    choices.insert("size", vec![("large", vec!["大型".into()])]);
    let defs = [
        custom("budget", "预算", CustomFieldType::Money, &[]),
        custom(
            "level",
            "等级",
            CustomFieldType::SingleSelect,
            &["重点", "普通"],
        ),
    ];
    let lookups = Lookups {
        users: &users,
        regions: &regions,
        choices,
        custom: &defs,
        ..Default::default()
    };
    let h = headers(&[
        "客户名称",
        "地区",
        "来源",
        "规模",
        "负责人",
        "标签",
        "联系人",
        "手机",
        "预算",
        "等级",
    ]);
    let m = auto_map(ImportKind::Accounts, &h, &defs);
    let row = [
        text("  明川机械有限公司 "),
        text("华东区"),
        text("展会"),
        text("large"),
        text("13800000001"),
        text("重点客户，华东、 制造"),
        text("王强"),
        Cell::Number(13912345678.0),
        text("¥1,250,000.5"),
        text("重点"),
    ];
    let r = read_row(ImportKind::Accounts, &h, &m, &lookups, 2, &row);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(
        Value::Object(r.account.unwrap()),
        serde_json::json!({
            "name": "明川机械有限公司", "region": "华东", "source": "exhibition", "size": "large",
            "owner_id": 7, "tags": ["重点客户", "华东", "制造"],
            "custom": {"budget": {"amount_minor": 125000050, "currency": "CNY"}, "level": "重点"}
        })
    );
    assert_eq!(
        Value::Object(r.contact.unwrap()),
        serde_json::json!({"name": "王强", "mobile": "13912345678"})
    );
    assert_eq!(r.columns["contact.mobile"], "手机");

    // Unknown owner, region, choice and a bad amount: each where it is; the name missing.
    let bad = [
        Cell::Empty,
        text("火星"),
        text("路边"),
        Cell::Empty,
        text("王五"),
        Cell::Empty,
        text("王强"),
        Cell::Empty,
        text("很多"),
        text("特级"),
    ];
    let r = read_row(ImportKind::Accounts, &h, &m, &lookups, 9, &bad);
    let found: Vec<(usize, &str, &str)> = r
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str(), p.code.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (9, "地区", "unknown_region"),
            (9, "来源", "unknown_choice"),
            (9, "负责人", "unknown_owner"),
            (9, "预算", "invalid_value"),
            (9, "等级", "invalid_value"),
            (9, "客户名称", "required"),
        ]
    );
    // An empty row is nothing at all.
    let empty = vec![Cell::Empty; h.len()];
    assert_eq!(
        read_row(ImportKind::Accounts, &h, &m, &lookups, 10, &empty),
        RowInputs {
            row: 10,
            ..Default::default()
        }
    );
    // The mapping's own value choices win; an inactive user is found when no active one is.
    let mut m2 = m.clone();
    m2.values.insert(
        "region".into(),
        BTreeMap::from([("火星".to_string(), "华南".to_string())]),
    );
    let mut row2 = bad.clone();
    row2[0] = text("某公司");
    row2[4] = text("李娜");
    let r = read_row(ImportKind::Accounts, &h, &m2, &lookups, 11, &row2);
    let account = r.account.unwrap();
    assert_eq!(account["region"], "华南");
    assert_eq!(account["owner_id"], 8);
}

#[test]
fn a_contacts_file_names_the_account_and_a_leads_file_says_where_leads_came_from() {
    let lookups = Lookups::default();
    let h = headers(&["姓名", "公司名称", "手机"]);
    let m = auto_map(ImportKind::Contacts, &h, &[]);
    let r = read_row(
        ImportKind::Contacts,
        &h,
        &m,
        &lookups,
        2,
        &[text("王强"), text("明川机械"), text("13912345678")],
    );
    assert_eq!(r.account_ref.as_deref(), Some("明川机械"));
    assert_eq!(r.contact.unwrap()["name"], "王强");
    let h = headers(&["公司", "联系人"]);
    let m = auto_map(ImportKind::Leads, &h, &[]);
    let r = read_row(
        ImportKind::Leads,
        &h,
        &m,
        &lookups,
        2,
        &[text("甲"), text("乙")],
    );
    assert_eq!(r.lead.unwrap()["source"], "other");
}

#[test]
fn amounts_and_dates_are_read_as_people_write_them() {
    for (t, minor) in [
        ("1234.5", Some(123450)),
        ("¥1,234.50", Some(123450)),
        ("1234元", Some(123400)),
        ("12.5万", Some(12_500_000)),
        ("1.2亿", Some(12_000_000_000)),
        ("RMB 100", Some(10000)),
        ("1.234", None),
        ("abc", None),
        ("", None),
    ] {
        assert_eq!(amount_minor(t), minor, "{t}");
    }
    let d = |y, m, d| Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).ok();
    for (t, date) in [
        ("2026-03-05", d(2026, 3, 5)),
        ("2026/3/5", d(2026, 3, 5)),
        ("2026.03.05", d(2026, 3, 5)),
        ("2026年3月5日", d(2026, 3, 5)),
        ("2026-03-05 14:30", d(2026, 3, 5)),
        ("2026-02-30", None),
        ("0000-01-01", None),
        ("5/3/2026", None),
    ] {
        assert_eq!(parse_date(t), date, "{t}");
    }
    assert_eq!(Cell::Number(13912345678.0).text(), "13912345678");
    assert_eq!(Cell::Number(12.5).text(), "12.5");
}

#[test]
fn texts_that_name_no_choice_or_region_are_asked_for_once_each_until_mapped() {
    let regions = ["华东".to_string(), "华南".to_string()];
    let mut choices = Choices::new();
    choices.insert("size", vec![("large", vec!["大型".into()])]);
    let lookups = Lookups {
        users: &[],
        regions: &regions,
        choices,
        custom: &[],
        ..Default::default()
    };
    let sheet = Sheet {
        headers: headers(&["客户名称", "地区", "规模", "行业"]),
        rows: [
            ["甲", "华东区", "大型", "制造"],
            ["乙", "东北", "特大", "化工"],
            ["丙", "东北", "大型", "零售"],
            ["丁", "", "中小", "零售"],
        ]
        .iter()
        .map(|r| r.iter().map(|c| text(c)).collect())
        .collect(),
    };
    let mut m = auto_map(ImportKind::Accounts, &sheet.headers, &[]);
    let asked = unknown_values(ImportKind::Accounts, &sheet, &m, &lookups);
    assert_eq!(
        asked,
        [
            UnknownValues {
                key: "region".into(),
                column: "地区".into(),
                values: vec!["东北".into()],
            },
            UnknownValues {
                key: "size".into(),
                column: "规模".into(),
                values: vec!["特大".into(), "中小".into()],
            },
        ]
    );
    m.values
        .entry("size".into())
        .or_default()
        .insert("特大".into(), "large".into());
    m.values
        .entry("region".into())
        .or_default()
        .insert("东北".into(), "华南".into());
    let asked = unknown_values(ImportKind::Accounts, &sheet, &m, &lookups);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].values, ["中小"]);
    let r = read_row(
        ImportKind::Accounts,
        &sheet.headers,
        &m,
        &lookups,
        3,
        &sheet.rows[1],
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let account = r.account.unwrap();
    assert_eq!(account["size"], "large");
    assert_eq!(account["region"], "华南");
}
