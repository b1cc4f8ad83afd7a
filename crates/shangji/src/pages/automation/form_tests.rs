//! The rule form read as a rule, and a rule shown as the form.

use serde_json::json;
use shangji_core::model::{Language, Role};
use shangji_core::rules::{
    handover_templates, shipped_templates, Action, Comparison, Condition, FieldCatalog, Op,
    Recipient, RecordType, RuleInput, TemplateStages, Trigger,
};

use super::*;

fn zh() -> Tr {
    Tr::new(Language::ZhCn)
}

fn en() -> Tr {
    Tr::new(Language::En)
}

fn cat() -> FieldCatalog {
    FieldCatalog::opportunity(&[], &[], &[])
}

/// The fields the page posts for `form`, as the template names them.
fn pairs(form: &RuleForm) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: String, v: &str| out.push((k, v.to_string()));
    put("name".into(), &form.name);
    if form.enabled {
        put("enabled".into(), "on");
    }
    put("template_key".into(), &form.template_key);
    put("version".into(), &form.version.to_string());
    put("trigger_kind".into(), &form.trigger_kind);
    put("trigger_field".into(), &form.trigger_field);
    put("trigger_stage".into(), &form.trigger_stage);
    if form.conditions_as_json {
        put("conditions_mode".into(), "json");
        put("conditions".into(), &form.conditions_text);
    } else {
        put("conditions_mode".into(), "rows");
        put("match".into(), if form.match_any { "any" } else { "all" });
        for (i, c) in form.conditions.iter().enumerate() {
            put(format!("c{i}_field"), &c.field);
            put(format!("c{i}_op"), &c.op);
            for v in &c.values {
                put(format!("c{i}_value"), v);
            }
        }
    }
    if form.actions_as_json {
        put("actions_mode".into(), "json");
        put("actions".into(), &form.actions_text);
    } else {
        put("actions_mode".into(), "rows");
        for (i, a) in form.actions.iter().enumerate() {
            for (k, v) in [
                ("kind", &a.kind),
                ("who", &a.who),
                ("role", &a.role),
                ("user", &a.user),
                ("message", &a.message),
                ("title", &a.title),
                ("due", &a.due),
                ("field", &a.field),
                ("value", &a.value),
                ("assignment_rule", &a.assignment_rule),
                ("policy", &a.policy),
            ] {
                put(format!("a{i}_{k}"), v);
            }
        }
    }
    out
}

fn posted(list: &[(&str, &str)]) -> RuleForm {
    RuleForm::read(&FormData(
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    ))
}

fn cmp(field: &str, op: Op, value: serde_json::Value) -> Condition {
    Condition::Compare(Comparison {
        field: field.into(),
        op,
        value,
    })
}

fn rule(trigger: Trigger, conditions: Condition, actions: Vec<Action>) -> RuleInput {
    RuleInput {
        name: "规则".into(),
        enabled: true,
        record_type: RecordType::Opportunity,
        trigger,
        conditions,
        actions,
        template_key: None,
        version: None,
    }
}

/// Posted names and values.
type Pairs = Vec<(&'static str, &'static str)>;

/// The head of every posted form: a name, and a scheduled trigger unless the case says.
const HEAD: [(&str, &str); 3] = [
    ("name", "规则"),
    ("enabled", "on"),
    ("trigger_kind", "schedule"),
];

#[test]
fn the_posted_form_reads_as_a_rule() {
    let notify_owner = [("a0_kind", "notify"), ("a0_who", "owner")];
    let cases: Vec<(&str, Pairs, RuleInput)> = vec![
        (
            "amount in yuan, an enum, a boolean",
            vec![
                ("c0_field", "amount"),
                ("c0_op", "ge"),
                ("c0_value", "100,000"),
                ("c1_field", "stage_kind"),
                ("c1_op", "eq"),
                ("c1_value", "open"),
                ("c2_field", "proposal_sent"),
                ("c2_op", "eq"),
                ("c2_value", "false"),
            ],
            rule(
                Trigger::Schedule,
                Condition::All {
                    all: vec![
                        cmp("amount", Op::Ge, json!(10_000_000)),
                        cmp("stage_kind", Op::Eq, json!("open")),
                        cmp("proposal_sent", Op::Eq, json!(false)),
                    ],
                },
                vec![Action::Notify {
                    to: Recipient::Owner,
                    message: None,
                }],
            ),
        ),
        (
            "any of; a list typed with commas, chosen stages, no value; a blank row is dropped",
            vec![
                ("match", "any"),
                ("c0_field", "next_step"),
                ("c0_op", "in"),
                ("c0_value", "电话，拜访, 方案"),
                ("c1_field", ""),
                ("c1_op", "eq"),
                ("c1_value", ""),
                ("c2_field", "stage"),
                ("c2_op", "not_in"),
                ("c2_value", "3"),
                ("c2_value", "4"),
                ("c3_field", "close_date"),
                ("c3_op", "is_unset"),
                ("c3_value", "ignored"),
                ("c4_field", "probability"),
                ("c4_op", "lt"),
                ("c4_value", "12.5"),
            ],
            rule(
                Trigger::Schedule,
                Condition::Any {
                    any: vec![
                        cmp("next_step", Op::In, json!(["电话", "拜访", "方案"])),
                        cmp("stage", Op::NotIn, json!([3, 4])),
                        cmp("close_date", Op::IsUnset, json!(null)),
                        cmp("probability", Op::Lt, json!(12.5)),
                    ],
                },
                vec![Action::Notify {
                    to: Recipient::Owner,
                    message: None,
                }],
            ),
        ),
        (
            "a field change trigger; rows in the order of their numbers",
            vec![
                ("trigger_kind", "field_changed"),
                ("trigger_field", "grade"),
                ("c10_field", "grade"),
                ("c10_op", "eq"),
                ("c10_value", "c"),
                ("c2_field", "owner"),
                ("c2_op", "eq"),
                ("c2_value", "7"),
            ],
            rule(
                Trigger::FieldChanged {
                    field: "grade".into(),
                },
                Condition::All {
                    all: vec![
                        cmp("owner", Op::Eq, json!(7)),
                        cmp("grade", Op::Eq, json!("c")),
                    ],
                },
                vec![Action::Notify {
                    to: Recipient::Owner,
                    message: None,
                }],
            ),
        ),
        (
            "stage entered: any stage, and one stage",
            vec![("trigger_kind", "stage_entered"), ("trigger_stage", "")],
            rule(
                Trigger::StageEntered { stage: None },
                Condition::All { all: vec![] },
                vec![Action::Notify {
                    to: Recipient::Owner,
                    message: None,
                }],
            ),
        ),
        (
            "every action kind",
            vec![
                ("trigger_kind", "stage_left"),
                ("trigger_stage", "5"),
                ("a1_kind", "notify"),
                ("a1_who", "user"),
                ("a1_user", "9"),
                ("a1_message", "请关注"),
                ("a2_kind", "create_task"),
                ("a2_who", "role"),
                ("a2_role", "manager"),
                ("a2_title", "回访客户"),
                ("a2_due", "2"),
                ("a3_kind", "set_field"),
                ("a3_field", "next_step_date"),
                ("a3_value", ""),
                ("a4_kind", "assign"),
                ("a4_assignment_rule", "3"),
                ("a5_kind", "return_to_pool"),
                ("a6_kind", "request_approval"),
                ("a6_policy", "2"),
                ("a7_kind", ""),
            ],
            rule(
                Trigger::StageLeft { stage: Some(5) },
                Condition::All { all: vec![] },
                vec![
                    Action::Notify {
                        to: Recipient::Owner,
                        message: None,
                    },
                    Action::Notify {
                        to: Recipient::User { user_id: 9 },
                        message: Some("请关注".into()),
                    },
                    Action::CreateTask {
                        title: "回访客户".into(),
                        assignee: Recipient::Role {
                            role: Role::Manager,
                        },
                        due_working_days: 2,
                    },
                    Action::SetField {
                        field: "next_step_date".into(),
                        value: json!(null),
                    },
                    Action::Assign {
                        assignment_rule_id: Some(3),
                    },
                    Action::ReturnToPool,
                    Action::RequestApproval { policy_id: 2 },
                ],
            ),
        ),
    ];
    for (what, list, want) in cases {
        // The first of a name counts: the case's own trigger before the head's.
        let mut all = list;
        all.extend(HEAD);
        all.extend(notify_owner);
        let form = posted(&all);
        assert_eq!(input_of(zh(), &cat(), &form), Ok(want), "{what}");
    }
}

#[test]
fn unreadable_values_name_their_row_and_field_in_the_page_language() {
    let cases: Vec<(Tr, Pairs, Vec<&str>)> = vec![
        (
            zh(),
            vec![
                ("c0_field", "stage_kind"),
                ("c0_op", "eq"),
                ("c0_value", "open"),
                ("c1_field", "days_in_stage"),
                ("c1_op", "ge"),
                ("c1_value", "七"),
            ],
            vec!["条件 2：值不是数字"],
        ),
        (
            en(),
            vec![
                ("c0_field", "days_in_stage"),
                ("c0_op", "ge"),
                ("c0_value", "seven"),
            ],
            vec!["Condition 1: the value is not a number"],
        ),
        (
            zh(),
            vec![
                ("c0_field", "amount"),
                ("c0_op", "gt"),
                ("c0_value", "1.005"),
                ("c1_field", "stage_kind"),
                ("c1_op", "in"),
                ("c2_value", "x"),
            ],
            vec![
                "条件 1：值不是金额（元，最多两位小数）",
                "条件 2：请填写值",
                "条件 3：请选择字段",
            ],
        ),
        (
            en(),
            vec![
                ("a0_kind", "create_task"),
                ("a0_who", "owner"),
                ("a0_title", "Call"),
                ("a0_due", "two"),
                ("a1_kind", "notify"),
                ("a1_who", "user"),
                ("a2_kind", "request_approval"),
                ("trigger_kind", "field_changed"),
            ],
            vec![
                "Trigger: choose a field",
                "Action 1: the due date is not a whole number of working days",
                "Action 2: choose a user",
                "Action 3: choose an approval policy",
            ],
        ),
        (
            zh(),
            vec![
                ("conditions_mode", "json"),
                ("conditions", "{\"all\": ["),
                ("a0_kind", "notify"),
                ("a0_who", "owner"),
            ],
            vec!["条件：不是有效的 JSON"],
        ),
    ];
    for (tr, list, want) in cases {
        let mut all = list;
        all.extend(HEAD);
        let got = input_of(tr, &cat(), &posted(&all)).unwrap_err();
        let got: Vec<&str> = got.iter().map(|e| e.split(" (").next().unwrap()).collect();
        assert_eq!(got, want);
    }
}

/// `input` shown as the form, posted as the page posts it and read back.
fn round_trip(input: &RuleInput) -> (RuleForm, RuleInput) {
    let form = form_of(zh(), &cat(), input, 0);
    let list = pairs(&form);
    let read = RuleForm::read(&FormData(list));
    (form, input_of(zh(), &cat(), &read).expect("reads back"))
}

#[test]
fn every_shipped_template_shows_as_rows_and_reads_back_unchanged() {
    let stages = TemplateStages {
        proposal: vec![3, 13],
        negotiation: vec![4],
    };
    let templates = shipped_templates(&stages);
    assert_eq!(templates.len(), 7);
    for t in &templates {
        let (form, back) = round_trip(t);
        assert!(
            !form.conditions_as_json && !form.actions_as_json,
            "{:?} shows as rows",
            t.template_key
        );
        assert_eq!(form.conditions.len(), t.conditions.comparisons().len());
        assert_eq!(&back, t, "{:?}", t.template_key);
    }
    // The days in stage read as typed.
    let stuck = &templates[2];
    let (form, _) = round_trip(stuck);
    assert_eq!(
        form.conditions[1],
        CondRow {
            field: "days_in_stage".into(),
            op: "ge".into(),
            values: vec!["7".into()],
        }
    );
    // Stages chosen from a list, one value each.
    let (form, _) = round_trip(&templates[5]);
    assert_eq!(form.conditions[0].values, vec!["3", "13"]);
    // The inherited-deal template: yes / no choices and the days as typed.
    let inherited = &handover_templates(7)[0];
    let (form, back) = round_trip(inherited);
    assert!(!form.conditions_as_json && !form.actions_as_json);
    assert_eq!(&back, inherited);
    assert_eq!(
        form.conditions[3],
        CondRow {
            field: "days_since_handover".into(),
            op: "ge".into(),
            values: vec!["7".into()],
        }
    );
}

#[test]
fn a_rule_with_every_action_kind_and_value_type_reads_back_unchanged() {
    let input = RuleInput {
        template_key: Some("mine".into()),
        ..rule(
            Trigger::StageEntered { stage: Some(4) },
            Condition::Any {
                any: vec![
                    cmp("amount", Op::Lt, json!(12_345)),
                    cmp("amount", Op::In, json!([100, 20_050])),
                    cmp("close_date", Op::Le, json!("2026-03-31")),
                    cmp("created_at", Op::Ge, json!("2026-01-01T00:00:00+08:00")),
                    cmp("tags", Op::Contains, json!("重点")),
                    cmp("source", Op::In, json!(["website", "wechat"])),
                    cmp("industry", Op::NotIn, json!(["制造", "医疗"])),
                    cmp("archived", Op::Eq, json!(true)),
                    cmp("owner", Op::IsSet, json!(null)),
                    cmp("probability", Op::Ge, json!(0.5)),
                ],
            },
            vec![
                Action::Notify {
                    to: Recipient::Director,
                    message: Some("大单".into()),
                },
                Action::Notify {
                    to: Recipient::Role { role: Role::Admin },
                    message: None,
                },
                Action::CreateTask {
                    title: "回访".into(),
                    assignee: Recipient::User { user_id: 12 },
                    due_working_days: 0,
                },
                Action::SetField {
                    field: "grade".into(),
                    value: json!("a"),
                },
                Action::SetField {
                    field: "probability".into(),
                    value: json!(60),
                },
                Action::Assign {
                    assignment_rule_id: None,
                },
                Action::ReturnToPool,
                Action::RequestApproval { policy_id: 8 },
            ],
        )
    };
    let (form, back) = round_trip(&input);
    assert!(!form.conditions_as_json && !form.actions_as_json);
    assert_eq!(back, input);
    assert_eq!(form.conditions[0].values, vec!["123.45"]);
    assert_eq!(form.conditions[1].values, vec!["1, 200.5"]);
    let version = RuleInput {
        version: Some(3),
        ..input.clone()
    };
    let form = form_of(zh(), &cat(), &version, 3);
    let back = input_of(zh(), &cat(), &RuleForm::read(&FormData(pairs(&form)))).unwrap();
    assert_eq!(back, version, "the version read goes back");
}

#[test]
fn what_rows_cannot_show_is_shown_as_json_and_reads_back_unchanged() {
    let nested = Condition::All {
        all: vec![
            cmp("stage_kind", Op::Eq, json!("open")),
            Condition::Not {
                not: Box::new(cmp("grade", Op::Eq, json!("a"))),
            },
        ],
    };
    let texts = Condition::All {
        all: vec![cmp("industry", Op::In, json!(["a,b"]))],
    };
    let money = Condition::All {
        all: vec![cmp(
            "amount",
            Op::Ge,
            json!({"amount_minor": 100, "currency": "USD"}),
        )],
    };
    for c in [nested, texts, money] {
        let input = rule(Trigger::Created, c, vec![Action::ReturnToPool]);
        let (form, back) = round_trip(&input);
        assert!(form.conditions_as_json, "{:?}", input.conditions);
        assert!(!form.actions_as_json);
        assert_eq!(back, input);
    }
    let blank_message = rule(
        Trigger::Created,
        Condition::default(),
        vec![Action::Notify {
            to: Recipient::Owner,
            message: Some(String::new()),
        }],
    );
    let (form, back) = round_trip(&blank_message);
    assert!(form.actions_as_json);
    assert_eq!(back, blank_message);
    // A lone comparison shows as one row.
    let lone = rule(
        Trigger::Created,
        cmp("grade", Op::Eq, json!("a")),
        vec![Action::ReturnToPool],
    );
    let (form, back) = round_trip(&lone);
    assert_eq!(form.conditions.len(), 1);
    assert_eq!(
        back.conditions,
        Condition::All {
            all: vec![cmp("grade", Op::Eq, json!("a"))]
        }
    );
}

#[test]
fn the_checks_places_read_as_rows() {
    for (tr, path, words, spot) in [
        (
            zh(),
            "conditions.all[1].value",
            "条件 2",
            Spot::Condition(1),
        ),
        (
            en(),
            "conditions.any[0].op",
            "Condition 1",
            Spot::Condition(0),
        ),
        (
            zh(),
            "conditions.all[2].value[1]",
            "条件 3",
            Spot::Condition(2),
        ),
        (
            zh(),
            "conditions.all[0].not.field",
            "条件（conditions.all[0].not.field）",
            Spot::Other,
        ),
        (
            zh(),
            "actions[0].assignment_rule_id",
            "动作 1",
            Spot::Action(0),
        ),
        (en(), "actions[2].to.user_id", "Action 3", Spot::Action(2)),
        (en(), "actions", "Actions", Spot::Other),
        (zh(), "conditions", "条件", Spot::Other),
        (zh(), "trigger.field", "触发方式", Spot::Trigger),
        (en(), "name", "Name", Spot::Other),
    ] {
        assert_eq!(place_of(tr, path), (words.to_string(), spot), "{path}");
    }
}

#[test]
fn amounts_read_in_yuan() {
    for (typed, fen) in [
        ("100000", Some(10_000_000)),
        ("1,234.5", Some(123_450)),
        ("¥99.99", Some(9_999)),
        ("-3", Some(-300)),
        ("0.05", Some(5)),
        ("1.005", None),
        ("1e5", None),
        ("", None),
        (".5", None),
    ] {
        assert_eq!(parse_yuan(typed), fen, "{typed}");
    }
    for (fen, text) in [
        (10_000_000, "100000"),
        (123_450, "1234.5"),
        (5, "0.05"),
        (-300, "-3"),
    ] {
        assert_eq!(yuan_text(fen), text);
        assert_eq!(parse_yuan(text), Some(fen));
    }
}
