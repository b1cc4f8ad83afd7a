use std::collections::BTreeSet;

use serde_json::{json, Value};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

use super::*;
use crate::calendar::{HolidayData, MakeUpData, WorkCalendar};
use crate::custom_fields::{blank_definition, CustomFieldDef, CustomFieldType, SelectOption};
use crate::model::{
    Activity, ActivityType, ForecastCategory, Opportunity, RecordKind, Role, StageKind, Task, Team,
};
use crate::money::Money;
use crate::process::{b2b_template, build_pipeline};
use crate::visibility::Org;

// ---- A working calendar: weekends, a holiday list and make-up working days. ----

fn calendar(holidays: &[&str], make_up: &[&str]) -> WorkCalendar {
    let mut data = WorkCalendar::china_default().data();
    data.holidays = holidays
        .iter()
        .map(|d| HolidayData {
            name_zh: "劳动节".into(),
            name_en: "Labour Day".into(),
            from: d.to_string(),
            to: d.to_string(),
        })
        .collect();
    data.make_up_days = make_up
        .iter()
        .map(|d| MakeUpData {
            date: d.to_string(),
            name_zh: "调休".into(),
            name_en: "Make-up day".into(),
        })
        .collect();
    WorkCalendar::from_data(&data).expect("a valid calendar")
}

/// Labour Day 2026 as these tests have it: Friday 1 May and Monday 4 – Tuesday 5 May off,
/// Saturday 9 May worked (调休).
fn cal() -> WorkCalendar {
    calendar(&["2026-05-01", "2026-05-04", "2026-05-05"], &["2026-05-09"])
}

// ---- Fixtures. ----

const PROPOSAL: i64 = 3;
const NEGOTIATION: i64 = 4;

fn pipeline() -> crate::model::Pipeline {
    build_pipeline(&b2b_template(), 1, 1)
}

fn defs() -> Vec<CustomFieldDef> {
    let def = |id, key: &str, t: CustomFieldType| CustomFieldDef {
        id,
        record_kind: RecordKind::Opportunity,
        key: key.into(),
        label_zh: key.into(),
        label_en: key.into(),
        field_type: t,
        decimal_places: (t == CustomFieldType::Decimal).then_some(2),
        ..blank_definition()
    };
    let mut region = def(1, "region", CustomFieldType::SingleSelect);
    region.options = ["华东", "华北"]
        .iter()
        .map(|v| SelectOption {
            value: v.to_string(),
            label_en: None,
            archived: false,
        })
        .collect();
    let mut required = def(5, "contract_no", CustomFieldType::Text);
    required.required = true;
    let mut lead_field = def(6, "lead_only", CustomFieldType::Text);
    lead_field.record_kind = RecordKind::Lead;
    vec![
        region,
        def(2, "budget", CustomFieldType::Money),
        def(3, "decision_date", CustomFieldType::Date),
        def(4, "discount", CustomFieldType::Decimal),
        required,
        lead_field,
    ]
}

fn catalog() -> FieldCatalog {
    FieldCatalog::opportunity(&defs(), &[pipeline()], &[1, 2, 3, 4])
        .with_assignment_rules(&[7])
        .with_approval_policies(&[8])
}

fn opp(created: OffsetDateTime) -> Opportunity {
    Opportunity {
        id: 1,
        title: "华东电网 SCADA 升级".into(),
        account_id: 1,
        primary_contact_id: None,
        pipeline_id: 1,
        stage_id: 2,
        status: StageKind::Open,
        amount: Money::cny(50_000_000),
        close_date: None,
        probability: 25,
        probability_overridden: false,
        forecast_category: ForecastCategory::Pipeline,
        grade: None,
        source: None,
        owner_id: 1,
        next_step: None,
        next_step_date: None,
        tags: vec!["电力".into()],
        loss_reason: None,
        loss_note: None,
        competitor: None,
        checklist: vec![],
        actions_done: vec![],
        custom: Default::default(),
        archived: false,
        version: 1,
        created_at: created,
        updated_at: created,
        closed_at: None,
        stage_entered_at: created,
        pool_since: None,
    }
}

fn activity(id: i64, kind: ActivityType, at: OffsetDateTime) -> Activity {
    Activity {
        id,
        kind,
        occurred_at: at,
        summary: kind.as_str().into(),
        outcome: None,
        next_step: None,
        account_id: Some(1),
        contact_id: None,
        opportunity_id: Some(1),
        lead_id: None,
        author_id: 1,
        customer_facing: kind.is_customer_facing(),
        archived: false,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

fn task(id: i64, due: Option<Date>, done: bool, action_key: Option<&str>) -> Task {
    let at = datetime!(2026-04-01 09:00 +8);
    Task {
        id,
        title: "跟进".into(),
        due_date: due,
        assignee_id: 1,
        done,
        done_at: None,
        record_kind: Some(RecordKind::Opportunity),
        record_id: Some(1),
        action_key: action_key.map(str::to_string),
        archived: false,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

fn facts(
    o: &Opportunity,
    activities: &[Activity],
    tasks: &[Task],
    now: OffsetDateTime,
) -> RecordFacts {
    static DEFS: std::sync::OnceLock<Vec<CustomFieldDef>> = std::sync::OnceLock::new();
    let defs = DEFS.get_or_init(defs);
    RecordFacts::opportunity(o, activities, tasks, defs, &FactsConfig::default(), now)
}

/// The shipped templates, checked, with ids 1, 2, …
fn shipped() -> Vec<Rule> {
    let stages = TemplateStages::find(&[pipeline()]);
    shipped_templates(&stages)
        .iter()
        .enumerate()
        .map(|(n, input)| validate_rule(n as i64 + 1, input, &catalog(), &[]).unwrap())
        .collect()
}

fn template(key: &str) -> Rule {
    shipped()
        .into_iter()
        .find(|r| r.template_key.as_deref() == Some(key))
        .unwrap()
}

fn rule_json(v: Value) -> RuleInput {
    serde_json::from_value(v).unwrap()
}

/// The scheduler as the store makes it behave: scans every `step` from `from` to `to`
/// (inclusive) and keeps a firing only if its (rule, record, episode) is new.
fn scan(
    rules: &[Rule],
    facts_at: impl Fn(OffsetDateTime) -> RecordFacts,
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
    cal: &WorkCalendar,
) -> Vec<(OffsetDateTime, String, String)> {
    let mut fired: BTreeSet<(RuleId, i64, String)> = BTreeSet::new();
    let mut out = Vec::new();
    let mut now = from;
    while now <= to {
        let f = facts_at(now);
        for r in rules {
            if let Some(firing) = evaluate(r, &f, None, now, cal) {
                if fired.insert((firing.rule_id, firing.record.id, firing.episode.clone())) {
                    out.push((
                        now,
                        r.template_key.clone().unwrap_or_default(),
                        firing.episode,
                    ));
                }
            }
        }
        now += step;
    }
    out
}

fn fired(at: OffsetDateTime, key: &str, episode: &str) -> (OffsetDateTime, String, String) {
    (at, key.into(), episode.into())
}

// ---- The working calendar's contract. ----

#[test]
fn working_days_count_only_working_time() {
    let c = cal();
    let cases = [
        // Thursday 10:00 before the holiday: Fri 1, Sat, Sun, Mon 4, Tue 5 are off.
        (
            datetime!(2026-04-30 10:00 +8),
            datetime!(2026-05-06 10:00 +8),
            1,
        ),
        (
            datetime!(2026-04-30 10:00 +8),
            datetime!(2026-05-08 09:59 +8),
            2,
        ),
        (
            datetime!(2026-04-30 10:00 +8),
            datetime!(2026-05-08 10:00 +8),
            3,
        ),
        // The make-up Saturday counts; the Sunday does not.
        (
            datetime!(2026-05-08 15:00 +8),
            datetime!(2026-05-11 15:00 +8),
            2,
        ),
        (
            datetime!(2026-05-08 15:00 +8),
            datetime!(2026-05-12 15:00 +8),
            3,
        ),
        // A touch on a holiday counts from the next working day's midnight.
        (
            datetime!(2026-05-01 11:00 +8),
            datetime!(2026-05-07 00:00 +8),
            1,
        ),
        // Instants in other offsets are placed in the calendar's.
        (
            datetime!(2026-04-30 02:00 UTC),
            datetime!(2026-05-08 02:00 UTC),
            3,
        ),
        // Backwards counts back.
        (
            datetime!(2026-05-08 10:00 +8),
            datetime!(2026-04-30 10:00 +8),
            -3,
        ),
        (
            datetime!(2026-05-08 10:00 +8),
            datetime!(2026-05-08 10:00 +8),
            0,
        ),
    ];
    for (from, to, want) in cases {
        assert_eq!(c.working_days_between(from, to), want, "{from} → {to}");
    }
    assert_eq!(
        c.local_date(datetime!(2026-05-05 16:30 UTC)),
        date!(2026 - 05 - 06)
    );
}

// ---- Templates. ----

#[test]
fn shipped_templates_are_valid_and_anchored() {
    let rules = shipped();
    let got: Vec<(String, bool, Vec<String>)> = rules
        .iter()
        .map(|r| {
            (
                r.template_key.clone().unwrap(),
                r.enabled,
                r.episode_anchors.clone(),
            )
        })
        .collect();
    let want: Vec<(String, bool, Vec<String>)> = [
        ("unassigned_48h", vec!["unassigned_since"]),
        ("no_follow_up_3_working_days", vec!["last_follow_up_at"]),
        ("stuck_in_stage_7", vec!["stage_entered_at"]),
        ("stuck_in_stage_10", vec!["stage_entered_at"]),
        ("stuck_in_stage_14", vec!["stage_entered_at"]),
        ("proposal_not_sent_3_working_days", vec!["stage_entered_at"]),
        (
            "negotiation_past_close",
            vec!["close_date", "stage_entered_at"],
        ),
    ]
    .into_iter()
    .map(|(k, a)| {
        (
            k.to_string(),
            true,
            a.into_iter().map(String::from).collect(),
        )
    })
    .collect();
    assert_eq!(got, want);
    let stages = TemplateStages::find(&[pipeline()]);
    assert_eq!(
        (stages.proposal, stages.negotiation),
        (vec![PROPOSAL], vec![NEGOTIATION])
    );
    // Without such stages the two stage templates are left out; the others stay valid.
    let none = shipped_templates(&TemplateStages::default());
    assert_eq!(none.len(), 5);
    for t in &none {
        validate_rule(0, t, &catalog(), &[]).unwrap();
    }
    // Installed together they form no loop.
    let mut saved: Vec<Rule> = Vec::new();
    for (n, t) in shipped_templates(&TemplateStages::find(&[pipeline()]))
        .iter()
        .enumerate()
    {
        saved.push(validate_rule(n as i64 + 1, t, &catalog(), &saved).unwrap());
    }
}

#[test]
fn no_follow_up_fires_at_three_working_days_across_the_holiday() {
    let rules = vec![template("no_follow_up_3_working_days")];
    let o = opp(datetime!(2026-04-28 09:00 +8));
    let activities = vec![
        activity(1, ActivityType::Call, datetime!(2026-04-30 10:00 +8)),
        // A note is no follow-up: it does not restart the clock.
        activity(2, ActivityType::Note, datetime!(2026-05-06 11:00 +8)),
        activity(3, ActivityType::Internal, datetime!(2026-05-07 11:00 +8)),
        // A call does; three working days later counts the make-up Saturday.
        activity(4, ActivityType::Call, datetime!(2026-05-08 15:00 +8)),
    ];
    let got = scan(
        &rules,
        |now| facts(&o, &activities, &[], now),
        datetime!(2026-04-28 09:00 +8),
        datetime!(2026-05-14 00:00 +8),
        Duration::minutes(1),
        &cal(),
    );
    assert_eq!(
        got,
        vec![
            fired(
                datetime!(2026-05-08 10:00 +8),
                "no_follow_up_3_working_days",
                "last_follow_up_at=2026-04-30T02:00:00Z"
            ),
            fired(
                datetime!(2026-05-12 15:00 +8),
                "no_follow_up_3_working_days",
                "last_follow_up_at=2026-05-08T07:00:00Z"
            ),
        ]
    );
    // Without the make-up Saturday the second one comes a day later.
    let got = scan(
        &rules,
        |now| facts(&o, &activities, &[], now),
        datetime!(2026-05-08 15:00 +8),
        datetime!(2026-05-14 00:00 +8),
        Duration::minutes(1),
        &calendar(&["2026-05-01", "2026-05-04", "2026-05-05"], &[]),
    );
    assert_eq!(got[0].0, datetime!(2026-05-13 15:00 +8));
}

#[test]
fn a_committed_next_step_suppresses_no_follow_up_until_it_is_overdue() {
    let rules = vec![template("no_follow_up_3_working_days")];
    let o = opp(datetime!(2026-04-28 09:00 +8));
    let calls = vec![activity(
        1,
        ActivityType::Call,
        datetime!(2026-04-30 10:00 +8),
    )];
    let episode = "last_follow_up_at=2026-04-30T02:00:00Z";
    let from = datetime!(2026-04-30 10:00 +8);
    let to = datetime!(2026-05-12 00:00 +8);
    // Every five minutes: the boundaries are on the hour (the previous test scans by the
    // minute).
    let step = Duration::minutes(5);
    type Case = (
        &'static str,
        Vec<Task>,
        Option<Date>,
        Option<OffsetDateTime>,
    );
    let cases: Vec<Case> = vec![
        (
            "nothing committed",
            vec![],
            None,
            Some(datetime!(2026-05-08 10:00 +8)),
        ),
        (
            // Due Friday: open all Friday, overdue from Saturday's first minute.
            "a task due Friday",
            vec![task(1, Some(date!(2026 - 05 - 08)), false, None)],
            None,
            Some(datetime!(2026-05-09 00:00 +8)),
        ),
        (
            "the deal's next-step date",
            vec![],
            Some(date!(2026 - 05 - 08)),
            Some(datetime!(2026-05-09 00:00 +8)),
        ),
        (
            "a task due after the scan",
            vec![task(1, Some(date!(2026 - 05 - 20)), false, None)],
            None,
            None,
        ),
        (
            "a done task commits nothing",
            vec![task(1, Some(date!(2026 - 05 - 20)), true, None)],
            None,
            Some(datetime!(2026-05-08 10:00 +8)),
        ),
        (
            "a task without a due date commits nothing",
            vec![task(1, None, false, None)],
            None,
            Some(datetime!(2026-05-08 10:00 +8)),
        ),
    ];
    for (name, tasks, next_step_date, want) in cases {
        let mut o = o.clone();
        o.next_step_date = next_step_date;
        let got = scan(
            &rules,
            |now| facts(&o, &calls, &tasks, now),
            from,
            to,
            step,
            &cal(),
        );
        let want: Vec<_> = want
            .map(|t| fired(t, "no_follow_up_3_working_days", episode))
            .into_iter()
            .collect();
        assert_eq!(got, want, "{name}");
    }
    // Suppression is configurable: without the condition, the commitment does not matter.
    let mut input = template("no_follow_up_3_working_days").to_input();
    input.conditions = Condition::All {
        all: vec![
            serde_json::from_value(json!({"field": "stage_kind", "op": "eq", "value": "open"}))
                .unwrap(),
            serde_json::from_value(
                json!({"field": "working_days_since_follow_up", "op": "ge", "value": 3}),
            )
            .unwrap(),
        ],
    };
    let strict = vec![validate_rule(9, &input, &catalog(), &[]).unwrap()];
    let tasks = vec![task(1, Some(date!(2026 - 05 - 20)), false, None)];
    let got = scan(
        &strict,
        |now| facts(&o, &calls, &tasks, now),
        from,
        to,
        step,
        &cal(),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, datetime!(2026-05-08 10:00 +8));
}

#[test]
fn the_escalation_ladder_fires_each_step_once_per_stay() {
    let rules: Vec<Rule> = ["stuck_in_stage_7", "stuck_in_stage_10", "stuck_in_stage_14"]
        .iter()
        .map(|k| template(k))
        .collect();
    let entered = datetime!(2026-05-01 09:00 +8);
    let moved = datetime!(2026-05-16 09:00 +8);
    let base = opp(entered);
    let facts_at = |now: OffsetDateTime| {
        let mut o = base.clone();
        if now >= moved {
            o.stage_id = PROPOSAL;
            o.stage_entered_at = moved;
        }
        facts(&o, &[], &[], now)
    };
    let got = scan(
        &rules,
        facts_at,
        entered,
        datetime!(2026-05-24 09:00 +8),
        Duration::minutes(30),
        &cal(),
    );
    let first = "stage_entered_at=2026-05-01T01:00:00Z";
    let second = "stage_entered_at=2026-05-16T01:00:00Z";
    assert_eq!(
        got,
        vec![
            fired(datetime!(2026-05-08 09:00 +8), "stuck_in_stage_7", first),
            fired(datetime!(2026-05-11 09:00 +8), "stuck_in_stage_10", first),
            fired(datetime!(2026-05-15 09:00 +8), "stuck_in_stage_14", first),
            fired(datetime!(2026-05-23 09:00 +8), "stuck_in_stage_7", second),
        ]
    );
    // Each step notifies its rung, with the days in data form.
    let f = evaluate(
        &rules[1],
        &facts_at(datetime!(2026-05-12 09:00 +8)),
        None,
        datetime!(2026-05-12 09:00 +8),
        &cal(),
    )
    .unwrap();
    assert_eq!(
        f.actions,
        vec![Action::Notify {
            to: Recipient::Manager,
            message: None
        }]
    );
    let days = f
        .reasons
        .iter()
        .find(|r| r.field == "days_in_stage")
        .unwrap();
    assert_eq!(
        (days.op, &days.value, &days.actual, days.held),
        (Op::Ge, &json!(10), &json!(11), true)
    );
    assert_eq!(days.path, "conditions.all[1]");
}

#[test]
fn unassigned_records_reach_the_manager_after_48_hours() {
    let rules = vec![template("unassigned_48h")];
    let since = datetime!(2026-05-01 09:30 +8);
    let o = opp(datetime!(2026-05-01 09:00 +8));
    let pooled = |now| RecordFacts {
        unassigned_since: Some(since),
        ..facts(&o, &[], &[], now)
    };
    let got = scan(
        &rules,
        pooled,
        since,
        since + Duration::days(5),
        Duration::minutes(1),
        &cal(),
    );
    assert_eq!(
        got,
        vec![fired(
            since + Duration::hours(48),
            "unassigned_48h",
            "unassigned_since=2026-05-01T01:30:00Z"
        )]
    );
    let f = evaluate(
        &rules[0],
        &pooled(since + Duration::hours(50)),
        None,
        since + Duration::hours(50),
        &cal(),
    )
    .unwrap();
    assert!(!f.assigned);
    assert_eq!(f.owner_id, 1);
    assert!(f.actions.contains(&Action::Assign {
        assignment_rule_id: None
    }));
    let owned = scan(
        &rules,
        |now| facts(&o, &[], &[], now),
        since,
        since + Duration::days(5),
        Duration::hours(1),
        &cal(),
    );
    assert!(owned.is_empty());
}

#[test]
fn proposal_not_sent_within_three_working_days() {
    let rules = vec![template("proposal_not_sent_3_working_days")];
    let entered = datetime!(2026-04-30 10:00 +8);
    let mut o = opp(datetime!(2026-04-20 09:00 +8));
    o.stage_id = PROPOSAL;
    o.stage_entered_at = entered;
    let to = datetime!(2026-05-14 00:00 +8);
    let got = scan(
        &rules,
        |now| facts(&o, &[], &[], now),
        entered,
        to,
        Duration::minutes(1),
        &cal(),
    );
    assert_eq!(
        got,
        vec![fired(
            datetime!(2026-05-08 10:00 +8),
            "proposal_not_sent_3_working_days",
            "stage_entered_at=2026-04-30T02:00:00Z"
        )]
    );
    // Sent: through its standard action's task, or ticked on the deal.
    let done = vec![task(
        1,
        Some(date!(2026 - 05 - 06)),
        true,
        Some("send_proposal"),
    )];
    assert!(scan(
        &rules,
        |now| facts(&o, &[], &done, now),
        entered,
        to,
        Duration::hours(1),
        &cal()
    )
    .is_empty());
    let mut ticked = o.clone();
    ticked.actions_done = vec!["send_proposal".into()];
    assert!(scan(
        &rules,
        |now| facts(&ticked, &[], &[], now),
        entered,
        to,
        Duration::hours(1),
        &cal()
    )
    .is_empty());
    // Another stage: not this rule's business.
    let mut other = o.clone();
    other.stage_id = 2;
    assert!(scan(
        &rules,
        |now| facts(&other, &[], &[], now),
        entered,
        to,
        Duration::hours(1),
        &cal()
    )
    .is_empty());
}

#[test]
fn negotiation_past_its_close_date_fires_once_per_close_date() {
    let rules = vec![template("negotiation_past_close")];
    let entered = datetime!(2026-05-01 09:00 +8);
    let rescheduled = datetime!(2026-05-07 12:00 +8);
    let mut o = opp(datetime!(2026-04-20 09:00 +8));
    o.stage_id = NEGOTIATION;
    o.stage_entered_at = entered;
    let facts_at = |now: OffsetDateTime| {
        let mut o = o.clone();
        o.close_date = Some(if now < rescheduled {
            date!(2026 - 05 - 05)
        } else {
            date!(2026 - 05 - 10)
        });
        facts(&o, &[], &[], now)
    };
    let got = scan(
        &rules,
        facts_at,
        entered,
        datetime!(2026-05-14 00:00 +8),
        Duration::minutes(1),
        &cal(),
    );
    assert_eq!(
        got,
        vec![
            // The close date is a local calendar day: past from the next local midnight.
            fired(
                datetime!(2026-05-06 00:00 +8),
                "negotiation_past_close",
                "close_date=2026-05-05;stage_entered_at=2026-05-01T01:00:00Z"
            ),
            fired(
                datetime!(2026-05-11 00:00 +8),
                "negotiation_past_close",
                "close_date=2026-05-10;stage_entered_at=2026-05-01T01:00:00Z"
            ),
        ]
    );
    let f = evaluate(
        &rules[0],
        &facts_at(datetime!(2026-05-06 08:00 +8)),
        None,
        datetime!(2026-05-06 08:00 +8),
        &cal(),
    )
    .unwrap();
    let recipients: Vec<&Action> = f.actions.iter().collect();
    assert_eq!(recipients.len(), 2);
}

#[test]
fn closed_and_archived_records_do_not_fire() {
    let rules = shipped();
    let now = datetime!(2026-06-30 09:00 +8);
    let mut o = opp(datetime!(2026-04-01 09:00 +8));
    o.close_date = Some(date!(2026 - 05 - 01));
    o.stage_id = NEGOTIATION;
    let open = facts(&o, &[], &[], now);
    assert!(!dry_run(&rules, std::slice::from_ref(&open), now, &cal()).is_empty());
    let mut won = o.clone();
    won.status = StageKind::Won;
    won.stage_id = 5;
    assert!(dry_run(&rules, &[facts(&won, &[], &[], now)], now, &cal()).is_empty());
    let mut archived = o.clone();
    archived.archived = true;
    assert!(dry_run(&rules, &[facts(&archived, &[], &[], now)], now, &cal()).is_empty());
    let mut disabled = rules.clone();
    for r in &mut disabled {
        r.enabled = false;
    }
    assert!(dry_run(&disabled, &[open], now, &cal()).is_empty());
}

// ---- Derived values. ----

#[test]
fn derived_values_by_hand() {
    let now = datetime!(2026-05-08 10:00 +8);
    let mut o = opp(datetime!(2026-04-27 09:00 +8));
    o.stage_entered_at = datetime!(2026-04-30 10:00 +8);
    o.close_date = Some(date!(2026 - 05 - 06));
    o.custom.insert("region".into(), json!("华东"));
    o.custom.insert("discount".into(), json!("12.50"));
    o.custom.insert(
        "budget".into(),
        json!({"amount_minor": 100, "currency": "USD"}),
    );
    o.custom.insert("decision_date".into(), json!("2026-06-01"));
    o.custom.insert("unknown".into(), json!("ignored"));
    let activities = vec![
        activity(1, ActivityType::Visit, datetime!(2026-05-06 09:00 +8)),
        activity(2, ActivityType::Note, datetime!(2026-05-07 09:00 +8)),
        // Logged ahead of time: not yet a follow-up.
        activity(3, ActivityType::Call, datetime!(2026-05-09 09:00 +8)),
    ];
    let mut f = facts(
        &o,
        &activities,
        &[task(1, Some(date!(2026 - 05 - 07)), false, None)],
        now,
    );
    f.industry = Some("电力".into());
    let v = derive(&f, now, &cal());
    let cases: Vec<(&str, Value)> = vec![
        ("days_in_stage", json!(8)),
        ("working_days_in_stage", json!(3)),
        ("last_follow_up_at", json!("2026-05-06T01:00:00Z")),
        ("days_since_follow_up", json!(2)),
        ("working_days_since_follow_up", json!(2)),
        ("hours_unassigned", Value::Null),
        ("unassigned_since", Value::Null),
        ("days_to_close", json!(-2)),
        ("days_past_close", json!(2)),
        ("has_open_next_step", json!(false)),
        ("proposal_sent", json!(false)),
        ("owner", json!(1)),
        ("stage", json!(2)),
        ("stage_kind", json!("open")),
        (
            "amount",
            json!({"amount_minor": 50_000_000, "currency": "CNY"}),
        ),
        ("industry", json!("电力")),
        ("tags", json!(["电力"])),
        ("grade", Value::Null),
        ("custom.region", json!("华东")),
        ("custom.discount", json!("12.5")),
        (
            "custom.budget",
            json!({"amount_minor": 100, "currency": "USD"}),
        ),
        ("custom.decision_date", json!("2026-06-01")),
        ("custom.unknown", Value::Null),
        ("custom.lead_only", Value::Null),
    ];
    for (field, want) in cases {
        assert_eq!(v.get(field).to_json(), want, "{field}");
    }
    // Never followed up: the clock runs from creation.
    let fresh = facts(&o, &[], &[], now);
    let v = derive(&fresh, now, &cal());
    assert_eq!(v.get("last_follow_up_at"), &FieldValue::Unset);
    assert_eq!(v.get("days_since_follow_up").to_json(), json!(11));
    // Days since last touch and days in stage are separate signals.
    assert_ne!(v.get("days_since_follow_up"), v.get("days_in_stage"));
    // Before the close date.
    let v = derive(&fresh, datetime!(2026-05-04 10:00 +8), &cal());
    assert_eq!(
        (
            v.get("days_to_close").to_json(),
            v.get("days_past_close").to_json()
        ),
        (json!(2), json!(0))
    );
}

#[test]
fn meaningful_follow_up_types_are_configurable() {
    let now = datetime!(2026-05-08 10:00 +8);
    let activities = vec![
        activity(1, ActivityType::Email, datetime!(2026-05-06 09:00 +8)),
        activity(2, ActivityType::Call, datetime!(2026-05-05 09:00 +8)),
        activity(3, ActivityType::Note, datetime!(2026-05-07 09:00 +8)),
    ];
    let mut archived = activity(4, ActivityType::Visit, datetime!(2026-05-07 10:00 +8));
    archived.archived = true;
    let mut all = activities.clone();
    all.push(archived);
    let calls_only = FactsConfig {
        meaningful: vec![ActivityType::Call],
        ..Default::default()
    };
    let cases = [
        (FactsConfig::default(), Some(datetime!(2026-05-06 09:00 +8))),
        (calls_only, Some(datetime!(2026-05-05 09:00 +8))),
        (
            FactsConfig {
                meaningful: vec![],
                ..Default::default()
            },
            None,
        ),
    ];
    for (config, want) in cases {
        assert_eq!(
            last_meaningful_follow_up(&all, &config, now),
            want,
            "{config:?}"
        );
    }
    assert!(!FactsConfig::default()
        .meaningful
        .contains(&ActivityType::Note));
    assert!(!FactsConfig::default()
        .meaningful
        .contains(&ActivityType::Internal));
}

// ---- Comparisons. ----

#[test]
fn comparisons_by_type_and_unset_values() {
    let now = datetime!(2026-05-08 10:00 +8);
    let mut o = opp(datetime!(2026-05-01 09:00 +8));
    o.custom.insert("discount".into(), json!("12.50"));
    o.custom.insert(
        "budget".into(),
        json!({"amount_minor": 100, "currency": "USD"}),
    );
    o.close_date = Some(date!(2026 - 05 - 20));
    let f = facts(&o, &[], &[], now);
    let cases: Vec<(Value, bool)> = vec![
        (
            json!({"field": "amount", "op": "ge", "value": 50_000_000}),
            true,
        ),
        (
            json!({"field": "amount", "op": "gt", "value": {"amount_minor": 1, "currency": "CNY"}}),
            true,
        ),
        (
            json!({"field": "amount", "op": "gt", "value": {"amount_minor": 1, "currency": "USD"}}),
            false,
        ),
        (
            json!({"field": "amount", "op": "ne", "value": {"amount_minor": 1, "currency": "USD"}}),
            true,
        ),
        (
            json!({"field": "custom.discount", "op": "eq", "value": 12.5}),
            true,
        ),
        (
            json!({"field": "custom.discount", "op": "eq", "value": "12.500"}),
            true,
        ),
        (
            json!({"field": "custom.discount", "op": "lt", "value": "12.51"}),
            true,
        ),
        (
            json!({"field": "custom.budget", "op": "lt", "value": 101}),
            true,
        ),
        (
            json!({"field": "close_date", "op": "lt", "value": "2026-05-21"}),
            true,
        ),
        (
            json!({"field": "close_date", "op": "gt", "value": "2026-05-20"}),
            false,
        ),
        (
            json!({"field": "created_at", "op": "lt", "value": "2026-05-01T02:00:00Z"}),
            true,
        ),
        (json!({"field": "stage", "op": "in", "value": [2, 3]}), true),
        (
            json!({"field": "stage", "op": "not_in", "value": [2, 3]}),
            false,
        ),
        (
            json!({"field": "title", "op": "contains", "value": "scada"}),
            true,
        ),
        (
            json!({"field": "tags", "op": "contains", "value": "电力"}),
            true,
        ),
        (
            json!({"field": "tags", "op": "contains", "value": "电"}),
            false,
        ),
        (
            json!({"field": "has_open_next_step", "op": "eq", "value": false}),
            true,
        ),
        (json!({"field": "owner", "op": "eq", "value": 1}), true),
        // An unset value: only ne, not_in and is_unset hold.
        (json!({"field": "grade", "op": "eq", "value": "a"}), false),
        (json!({"field": "grade", "op": "ne", "value": "a"}), true),
        (json!({"field": "grade", "op": "in", "value": ["a"]}), false),
        (
            json!({"field": "grade", "op": "not_in", "value": ["a"]}),
            true,
        ),
        (json!({"field": "grade", "op": "is_set"}), false),
        (json!({"field": "grade", "op": "is_unset"}), true),
        (
            json!({"field": "hours_unassigned", "op": "ge", "value": 0}),
            false,
        ),
        (
            json!({"field": "hours_unassigned", "op": "lt", "value": 1_000_000}),
            false,
        ),
        (
            json!({"any": [{"field": "grade", "op": "is_set"}, {"field": "probability", "op": "eq", "value": 25}]}),
            true,
        ),
        (
            json!({"not": {"field": "probability", "op": "eq", "value": 25}}),
            false,
        ),
        (json!({"all": []}), true),
    ];
    for (condition, want) in cases {
        let input = rule_json(json!({
            "name": "t",
            "trigger": {"kind": "updated"},
            "conditions": condition,
            "actions": [{"kind": "notify", "to": {"kind": "owner"}}],
        }));
        let rule = validate_rule(1, &input, &catalog(), &[])
            .unwrap_or_else(|e| panic!("{condition}: {e:?}"));
        let event = TriggerEvent {
            id: "v2".into(),
            kind: EventType::Updated,
            changed: vec!["probability".into()],
            from_stage: None,
        };
        let got = evaluate(&rule, &f, Some(&event), now, &cal()).is_some();
        assert_eq!(got, want, "{condition}");
    }
}

#[test]
fn reasons_say_which_comparisons_decided() {
    let now = datetime!(2026-05-08 10:00 +8);
    let f = facts(&opp(datetime!(2026-05-01 09:00 +8)), &[], &[], now);
    let input = rule_json(json!({
        "name": "t",
        "trigger": {"kind": "schedule"},
        "conditions": {"all": [
            {"field": "days_in_stage", "op": "ge", "value": 7},
            {"any": [
                {"field": "grade", "op": "eq", "value": "a"},
                {"field": "probability", "op": "le", "value": 50},
            ]},
            {"not": {"field": "stage_kind", "op": "eq", "value": "won"}},
        ]},
        "actions": [{"kind": "notify", "to": {"kind": "owner"}}],
    }));
    let rule = validate_rule(1, &input, &catalog(), &[]).unwrap();
    let f = evaluate(&rule, &f, None, now, &cal()).unwrap();
    let got: Vec<(&str, &str, Value, bool)> = f
        .reasons
        .iter()
        .map(|r| (r.path.as_str(), r.field.as_str(), r.actual.clone(), r.held))
        .collect();
    assert_eq!(
        got,
        vec![
            ("conditions.all[0]", "days_in_stage", json!(7), true),
            ("conditions.all[1].any[1]", "probability", json!(25), true),
            ("conditions.all[2].not", "stage_kind", json!("open"), false),
        ]
    );
    assert_eq!(f.episode, "stage_entered_at=2026-05-01T01:00:00Z");
}

#[test]
fn numbers_are_exact() {
    let n = |s: &str| Number::parse(s);
    assert_eq!(n("12.50"), n("12.5"));
    assert_eq!(
        n("-0.000001").map(|x| x.to_json()),
        Some(json!("-0.000001"))
    );
    assert_eq!(n("3").map(|x| x.to_json()), Some(json!(3)));
    assert_eq!(n("1e3"), None);
    assert_eq!(n("0.0000001"), None);
    assert_eq!(n("abc"), None);
    assert!(n("2").unwrap() > n("1.99").unwrap());
    assert!(n("-2").unwrap() < n("-1.99").unwrap());
    assert_eq!(Number::from_json(&json!(0.25)), n("0.25"));
    assert_eq!(Number::scaled(1200, 2), Number::int(12));
}

// ---- Events. ----

#[test]
fn event_triggers_fire_once_per_event() {
    let now = datetime!(2026-05-08 10:00 +8);
    let before = opp(datetime!(2026-05-01 09:00 +8));
    let rule = |trigger: Value| {
        validate_rule(
            1,
            &rule_json(json!({
                "name": "t",
                "trigger": trigger,
                "actions": [{"kind": "notify", "to": {"kind": "owner"}}],
            })),
            &catalog(),
            &[],
        )
        .unwrap()
    };
    let mut amount = before.clone();
    amount.amount = Money::cny(1);
    let mut moved = before.clone();
    moved.stage_id = PROPOSAL;
    moved.stage_entered_at = now;
    let mut custom = before.clone();
    custom.custom.insert("region".into(), json!("华北"));
    let created = TriggerEvent::created("v1");
    let amount_changed = TriggerEvent::updated("v2", &before, &amount);
    let stage_changed = TriggerEvent::updated("v3", &before, &moved);
    let custom_changed = TriggerEvent::updated("v4", &before, &custom);
    assert_eq!(amount_changed.changed, vec!["amount"]);
    assert_eq!(
        (stage_changed.changed.clone(), stage_changed.from_stage),
        (vec!["stage".to_string()], Some(2))
    );
    assert_eq!(custom_changed.changed, vec!["custom.region"]);
    type Case<'a> = (
        Value,
        &'a Opportunity,
        Option<&'a TriggerEvent>,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            json!({"kind": "created"}),
            &before,
            Some(&created),
            Some("event:v1"),
        ),
        (
            json!({"kind": "created"}),
            &amount,
            Some(&amount_changed),
            None,
        ),
        (
            json!({"kind": "updated"}),
            &amount,
            Some(&amount_changed),
            Some("event:v2"),
        ),
        (json!({"kind": "updated"}), &before, Some(&created), None),
        (
            json!({"kind": "field_changed", "field": "amount"}),
            &amount,
            Some(&amount_changed),
            Some("event:v2"),
        ),
        (
            json!({"kind": "field_changed", "field": "amount"}),
            &moved,
            Some(&stage_changed),
            None,
        ),
        (
            json!({"kind": "field_changed", "field": "custom.region"}),
            &custom,
            Some(&custom_changed),
            Some("event:v4"),
        ),
        (
            json!({"kind": "stage_entered", "stage": PROPOSAL}),
            &moved,
            Some(&stage_changed),
            Some("event:v3"),
        ),
        (
            json!({"kind": "stage_entered"}),
            &moved,
            Some(&stage_changed),
            Some("event:v3"),
        ),
        (
            json!({"kind": "stage_entered", "stage": NEGOTIATION}),
            &moved,
            Some(&stage_changed),
            None,
        ),
        // Created in a stage is entering it.
        (
            json!({"kind": "stage_entered", "stage": 2}),
            &before,
            Some(&created),
            Some("event:v1"),
        ),
        (
            json!({"kind": "stage_left", "stage": 2}),
            &moved,
            Some(&stage_changed),
            Some("event:v3"),
        ),
        (
            json!({"kind": "stage_left", "stage": PROPOSAL}),
            &moved,
            Some(&stage_changed),
            None,
        ),
        (
            json!({"kind": "stage_left"}),
            &amount,
            Some(&amount_changed),
            None,
        ),
        // Event rules ignore the scan; scheduled rules ignore events.
        (json!({"kind": "updated"}), &amount, None, None),
    ];
    for (trigger, o, event, want) in cases {
        let got = evaluate(
            &rule(trigger.clone()),
            &facts(o, &[], &[], now),
            event,
            now,
            &cal(),
        );
        assert_eq!(
            got.map(|f| f.episode),
            want.map(String::from),
            "{trigger} {event:?}"
        );
    }
    let scheduled = template("stuck_in_stage_7");
    let f = facts(&before, &[], &[], datetime!(2026-05-20 10:00 +8));
    assert!(evaluate(
        &scheduled,
        &f,
        Some(&amount_changed),
        datetime!(2026-05-20 10:00 +8),
        &cal()
    )
    .is_none());
    assert!(evaluate(&scheduled, &f, None, datetime!(2026-05-20 10:00 +8), &cal()).is_some());
}

// ---- Dry run. ----

#[test]
fn dry_run_is_evaluation() {
    let now = datetime!(2026-05-20 10:00 +8);
    let mut records = Vec::new();
    for (id, stage, days_ago, close) in [
        (1, 2, 8, None),
        (2, PROPOSAL, 6, None),
        (3, NEGOTIATION, 15, Some(date!(2026 - 05 - 10))),
        (4, 2, 1, None),
        (5, NEGOTIATION, 2, Some(date!(2026 - 06 - 10))),
    ] {
        let mut o = opp(now - Duration::days(30));
        o.id = id;
        o.stage_id = stage;
        o.stage_entered_at = now - Duration::days(days_ago);
        o.close_date = close;
        let calls = vec![Activity {
            opportunity_id: Some(id),
            ..activity(
                id,
                ActivityType::Call,
                now - Duration::days(days_ago.min(2)),
            )
        }];
        records.push(facts(&o, &calls, &[], now));
    }
    let mut rules = shipped();
    let on_amount = rule_json(json!({
        "name": "大单金额变化",
        "trigger": {"kind": "field_changed", "field": "amount"},
        "conditions": {"all": [{"field": "amount", "op": "ge", "value": 10_000_000}]},
        "actions": [{"kind": "notify", "to": {"kind": "director"}}],
    }));
    rules.push(validate_rule(20, &on_amount, &catalog(), &rules).unwrap());
    let dry = dry_run(&rules, &records, now, &cal());
    let mut by_hand = Vec::new();
    for rule in &rules {
        let event = (!rule.trigger.is_schedule()).then(|| TriggerEvent {
            id: "dry_run".into(),
            kind: EventType::Updated,
            changed: vec!["amount".into()],
            from_stage: None,
        });
        for f in &records {
            by_hand.extend(evaluate(rule, f, event.as_ref(), now, &cal()));
        }
    }
    assert_eq!(dry, by_hand);
    let keys: Vec<(String, i64)> = dry
        .iter()
        .map(|f| {
            (
                f.template_key
                    .clone()
                    .unwrap_or_else(|| f.rule_name.clone()),
                f.record.id,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("stuck_in_stage_7", 1),
            ("stuck_in_stage_7", 3),
            ("stuck_in_stage_10", 3),
            ("stuck_in_stage_14", 3),
            ("proposal_not_sent_3_working_days", 2),
            ("negotiation_past_close", 3),
            ("大单金额变化", 1),
            ("大单金额变化", 2),
            ("大单金额变化", 3),
            ("大单金额变化", 4),
            ("大单金额变化", 5),
        ]
        .iter()
        .map(|(k, id)| (k.to_string(), *id))
        .collect::<Vec<_>>()
    );
    assert!(dry
        .iter()
        .filter(|f| f.rule_id == 20)
        .all(|f| f.episode == "event:dry_run"));
}

// ---- Validation. ----

fn errors_of(v: Value, others: &[Rule]) -> Vec<(String, String)> {
    let input: RuleInput = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
    match validate_rule(1, &input, &catalog(), others) {
        Ok(_) => vec![],
        Err(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

fn with_condition(c: Value) -> Value {
    json!({
        "name": "t",
        "trigger": {"kind": "schedule"},
        "conditions": {"all": [{"field": "stage_kind", "op": "eq", "value": "open"}, c]},
        "actions": [{"kind": "notify", "to": {"kind": "owner"}}],
    })
}

fn with_action(a: Value) -> Value {
    json!({
        "name": "t",
        "trigger": {"kind": "created"},
        "actions": [a],
    })
}

#[test]
fn bad_rules_are_refused_with_the_place() {
    let e = |f: &str, c: &str| vec![(f.to_string(), c.to_string())];
    let v1 = "conditions.all[1].value";
    let cases: Vec<(Value, Vec<(String, String)>)> = vec![
        (
            with_condition(json!({"field": "days_in_stage", "op": "ge", "value": 7})),
            vec![],
        ),
        (
            with_condition(json!({"field": "amout", "op": "gt", "value": 1})),
            e("conditions.all[1].field", "unknown_field"),
        ),
        (
            with_condition(json!({"field": "custom.nope", "op": "is_set"})),
            e("conditions.all[1].field", "unknown_field"),
        ),
        (
            with_condition(json!({"field": "custom.lead_only", "op": "is_set"})),
            e("conditions.all[1].field", "unknown_field"),
        ),
        (
            with_condition(json!({"field": "amount", "op": "gt", "value": "abc"})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(
                json!({"field": "amount", "op": "gt", "value": {"amount_minor": 1, "currency": "yuan"}}),
            ),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"field": "close_date", "op": "gt", "value": 5})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"field": "days_in_stage", "op": "gt", "value": "2026-05-01"})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"field": "days_in_stage", "op": "contains", "value": 3})),
            e("conditions.all[1].op", "op_not_applicable"),
        ),
        (
            with_condition(json!({"field": "tags", "op": "gt", "value": "x"})),
            e("conditions.all[1].op", "op_not_applicable"),
        ),
        (
            with_condition(json!({"field": "stage_kind", "op": "eq", "value": "pending"})),
            e(v1, "unknown_option"),
        ),
        (
            with_condition(
                json!({"field": "custom.region", "op": "in", "value": ["华东", "西南"]}),
            ),
            e("conditions.all[1].value[1]", "unknown_option"),
        ),
        (
            with_condition(json!({"field": "owner", "op": "eq", "value": 99})),
            e(v1, "unknown_user"),
        ),
        (
            with_condition(json!({"field": "owner", "op": "eq", "value": "1"})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"field": "stage", "op": "eq", "value": 99})),
            e(v1, "unknown_stage"),
        ),
        (
            with_condition(json!({"field": "stage", "op": "in", "value": []})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"field": "grade", "op": "is_set", "value": "a"})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"field": "has_open_next_step", "op": "eq", "value": "no"})),
            e(v1, "invalid_value"),
        ),
        (
            with_condition(json!({"any": []})),
            e("conditions.all[1].any", "empty"),
        ),
        (
            with_condition(
                json!({"any": [{"not": {"field": "amount", "op": "gt", "value": "abc"}}]}),
            ),
            e("conditions.all[1].any[0].not.value", "invalid_value"),
        ),
        (
            json!({"name": "t", "trigger": {"kind": "schedule"}, "actions": [{"kind": "notify", "to": {"kind": "owner"}}]}),
            e("conditions", "required"),
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "actions": []}),
            e("actions", "required"),
        ),
        (
            json!({"name": " ", "trigger": {"kind": "created"}, "actions": [{"kind": "return_to_pool"}]}),
            e("name", "required"),
        ),
        (
            json!({"name": "t", "template_key": "Bad Key", "trigger": {"kind": "created"}, "actions": [{"kind": "return_to_pool"}]}),
            e("template_key", "invalid_key"),
        ),
        (
            json!({"name": "t", "trigger": {"kind": "field_changed", "field": "days_in_stage"}, "actions": [{"kind": "return_to_pool"}]}),
            e("trigger.field", "not_stored"),
        ),
        (
            json!({"name": "t", "trigger": {"kind": "field_changed", "field": "nope"}, "actions": [{"kind": "return_to_pool"}]}),
            e("trigger.field", "unknown_field"),
        ),
        (
            json!({"name": "t", "trigger": {"kind": "stage_entered", "stage": 99}, "actions": [{"kind": "return_to_pool"}]}),
            e("trigger.stage", "unknown_stage"),
        ),
        (
            with_action(json!({"kind": "notify", "to": {"kind": "user", "user_id": 99}})),
            e("actions[0].to.user_id", "unknown_user"),
        ),
        (
            with_action(json!({"kind": "notify", "to": {"kind": "role", "role": "manager"}})),
            vec![],
        ),
        (
            with_action(json!({"kind": "create_task", "title": "", "due_working_days": 2})),
            e("actions[0].title", "required"),
        ),
        (
            with_action(json!({"kind": "create_task", "title": "x", "due_working_days": -1})),
            e("actions[0].due_working_days", "out_of_range"),
        ),
        (
            with_action(
                json!({"kind": "create_task", "title": "x", "assignee": {"kind": "user", "user_id": 99}}),
            ),
            e("actions[0].assignee.user_id", "unknown_user"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "stage", "value": 3})),
            e("actions[0].field", "not_settable"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "days_in_stage", "value": 3})),
            e("actions[0].field", "not_settable"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "nope", "value": 3})),
            e("actions[0].field", "unknown_field"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "probability", "value": 150})),
            e("actions[0].value", "out_of_range"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "probability", "value": null})),
            e("actions[0].value", "required"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "grade", "value": "z"})),
            e("actions[0].value", "unknown_option"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "grade", "value": null})),
            vec![],
        ),
        (
            with_action(
                json!({"kind": "set_field", "field": "next_step_date", "value": "2026-13-01"}),
            ),
            e("actions[0].value", "invalid_value"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "custom.region", "value": "西南"})),
            e("actions[0].value", "unknown_option"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "custom.discount", "value": "1.234"})),
            e("actions[0].value", "too_many_decimals"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "custom.contract_no", "value": null})),
            e("actions[0].value", "required"),
        ),
        (
            with_action(json!({"kind": "set_field", "field": "custom.region", "value": "华北"})),
            vec![],
        ),
        (
            with_action(json!({"kind": "assign", "assignment_rule_id": 5})),
            e("actions[0].assignment_rule_id", "unknown_assignment_rule"),
        ),
        (
            with_action(json!({"kind": "assign", "assignment_rule_id": 7})),
            vec![],
        ),
        (
            with_action(json!({"kind": "request_approval", "policy_id": 9})),
            e("actions[0].policy_id", "unknown_approval_policy"),
        ),
        (
            with_action(json!({"kind": "request_approval", "policy_id": 8})),
            vec![],
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "actions": [{"kind": "assign"}, {"kind": "return_to_pool"}]}),
            e("actions", "conflicting_actions"),
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "actions": [
                {"kind": "set_field", "field": "grade", "value": "a"},
                {"kind": "set_field", "field": "grade", "value": "b"},
            ]}),
            e("actions[1].field", "conflicting_actions"),
        ),
        // Every mistake at once.
        (
            json!({"name": "", "trigger": {"kind": "schedule"},
                "conditions": {"all": [{"field": "nope", "op": "eq", "value": 1}, {"field": "amount", "op": "lt", "value": "x"}]},
                "actions": [{"kind": "notify", "to": {"kind": "user", "user_id": 42}}]}),
            vec![
                ("name".into(), "required".into()),
                ("conditions.all[0].field".into(), "unknown_field".into()),
                ("conditions.all[1].value".into(), "invalid_value".into()),
                ("actions[0].to.user_id".into(), "unknown_user".into()),
            ],
        ),
    ];
    for (input, want) in cases {
        assert_eq!(errors_of(input.clone(), &[]), want, "{input}");
    }
}

#[test]
fn limits_on_size_and_depth() {
    let mut deep = json!({"field": "probability", "op": "eq", "value": 1});
    for _ in 0..MAX_DEPTH + 1 {
        deep = json!({"not": deep});
    }
    assert_eq!(
        errors_of(with_condition(deep), &[]),
        vec![("conditions".into(), "too_deep".into())]
    );
    let many: Vec<Value> = (0..MAX_COMPARISONS)
        .map(|_| json!({"field": "probability", "op": "eq", "value": 1}))
        .collect();
    assert_eq!(
        errors_of(with_condition(json!({"all": many})), &[]),
        vec![("conditions".into(), "too_many".into())]
    );
}

fn saved(id: RuleId, v: Value, others: &[Rule]) -> Rule {
    validate_rule(id, &rule_json(v), &catalog(), others).unwrap()
}

fn setter(name: &str, on: &str, sets: &str, value: Value) -> Value {
    json!({
        "name": name,
        "trigger": {"kind": "field_changed", "field": on},
        "actions": [{"kind": "set_field", "field": sets, "value": value}],
    })
}

#[test]
fn loops_are_refused_with_their_path() {
    let loop_of = |v: Value, others: &[Rule]| -> Option<(String, String)> {
        let input = rule_json(v);
        match validate_rule(1, &input, &catalog(), others) {
            Ok(_) => None,
            Err(errors) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].code, "rule_loop");
                Some((errors[0].field.clone(), errors[0].message.clone()))
            }
        }
    };
    // Itself.
    let (field, message) =
        loop_of(setter("a", "probability", "probability", json!(50)), &[]).unwrap();
    assert_eq!(field, "actions[0]");
    assert_eq!(
        message,
        "a loop: this rule sets `probability` → which triggers this rule again (runs when `probability` changes)"
    );
    let on_update = json!({"name": "a", "trigger": {"kind": "updated"},
        "actions": [{"kind": "notify", "to": {"kind": "owner"}}, {"kind": "set_field", "field": "grade", "value": "a"}]});
    assert_eq!(loop_of(on_update, &[]).unwrap().0, "actions[1]");
    let assign_on_owner = json!({"name": "a", "trigger": {"kind": "field_changed", "field": "owner"}, "actions": [{"kind": "assign"}]});
    assert!(loop_of(assign_on_owner, &[]).is_some());
    // Two rules: B sets probability when grade changes; A sets grade when probability changes.
    let b = saved(2, setter("B", "grade", "probability", json!(60)), &[]);
    let (_, message) = loop_of(
        setter("A", "probability", "grade", json!("a")),
        std::slice::from_ref(&b),
    )
    .unwrap();
    assert_eq!(
        message,
        "a loop: this rule sets `grade` → rule “B” (#2) runs when `grade` changes and sets `probability` → this rule runs when `probability` changes"
    );
    // Three rules.
    let c = saved(
        3,
        setter("C", "competitor", "next_step", json!("回访")),
        &[],
    );
    let d = saved(
        4,
        setter("D", "next_step", "close_date", json!("2026-06-30")),
        &[],
    );
    let (_, message) = loop_of(
        setter("A", "close_date", "competitor", json!("x")),
        &[c.clone(), d.clone()],
    )
    .unwrap();
    assert!(
        message.contains("rule “C” (#3)") && message.contains("rule “D” (#4)"),
        "{message}"
    );
    // No loop: a chain that ends, a disabled rule, or the rule's own old version.
    assert!(loop_of(
        setter("A", "probability", "grade", json!("a")),
        std::slice::from_ref(&c)
    )
    .is_none());
    let mut b_off = b.clone();
    b_off.enabled = false;
    assert!(loop_of(setter("A", "probability", "grade", json!("a")), &[b_off]).is_none());
    let mut old = b.clone();
    old.id = 1;
    assert!(loop_of(setter("A", "probability", "grade", json!("a")), &[old]).is_none());
    // Scheduled and created rules are never retriggered.
    assert!(loop_of(json!({"name": "a", "trigger": {"kind": "created"}, "actions": [{"kind": "set_field", "field": "grade", "value": "a"}]}), std::slice::from_ref(&b)).is_none());
}

// ---- Serde. ----

#[test]
fn rules_round_trip_through_json() {
    let input = json!({
        "name": "大单进入谈判",
        "enabled": false,
        "record_type": "opportunity",
        "trigger": {"kind": "stage_entered", "stage": NEGOTIATION},
        "conditions": {"all": [
            {"field": "amount", "op": "ge", "value": {"amount_minor": 100_000_000, "currency": "CNY"}},
            {"any": [{"field": "custom.region", "op": "in", "value": ["华东"]}, {"not": {"field": "grade", "op": "is_set", "value": null}}]},
        ]},
        "actions": [
            {"kind": "notify", "to": {"kind": "director"}, "message": "大单请关注"},
            {"kind": "notify", "to": {"kind": "role", "role": "manager"}, "message": null},
            {"kind": "create_task", "title": "准备合同草稿", "assignee": {"kind": "owner"}, "due_working_days": 2},
            {"kind": "set_field", "field": "forecast_category", "value": "commit"},
            {"kind": "assign", "assignment_rule_id": 7},
            {"kind": "request_approval", "policy_id": 8},
        ],
        "template_key": null,
    });
    let parsed: RuleInput = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), input);
    let rule = validate_rule(5, &parsed, &catalog(), &[]).unwrap();
    let back: Rule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
    assert_eq!(back, rule);
    assert_eq!(rule.to_input(), parsed);
    // Defaults: enabled, opportunity, no conditions, the owner as assignee.
    let minimal: RuleInput = serde_json::from_value(json!({
        "name": "t", "trigger": {"kind": "created"},
        "actions": [{"kind": "create_task", "title": "x"}],
    }))
    .unwrap();
    assert!(minimal.enabled);
    assert_eq!(minimal.conditions, Condition::All { all: vec![] });
    assert_eq!(
        minimal.actions,
        vec![Action::CreateTask {
            title: "x".into(),
            assignee: Recipient::Owner,
            due_working_days: 0
        }]
    );
    // Firings too (the store may keep them as JSON).
    let now = datetime!(2026-05-20 10:00 +8);
    let f = evaluate(
        &template("stuck_in_stage_7"),
        &facts(&opp(datetime!(2026-05-01 09:00 +8)), &[], &[], now),
        None,
        now,
        &cal(),
    )
    .unwrap();
    let back: Firing = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    let config: FactsConfig =
        serde_json::from_value(json!({"meaningful": ["call", "visit"]})).unwrap();
    assert_eq!(
        config.proposal_actions,
        FactsConfig::default().proposal_actions
    );
}

#[test]
fn malformed_rules_are_refused_when_read() {
    let cases = [
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "actions": [], "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "sometimes"}, "actions": []}),
            "unknown variant `sometimes`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "field_changed", "field": "x", "extra": 1}, "actions": []}),
            "unknown field `extra`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "actions": [{"kind": "explode"}]}),
            "unknown variant `explode`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "actions": [{"kind": "notify", "to": {"kind": "owner"}, "cc": 1}]}),
            "unknown field `cc`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "conditions": {"field": "a", "op": "like", "value": 1}, "actions": []}),
            "unknown variant `like`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "conditions": {"field": "a", "op": "eq", "valeu": 1}, "actions": []}),
            "unknown field `valeu`",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "conditions": {"all": [], "field": "a"}, "actions": []}),
            "`all` stands alone",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "conditions": {"any": {}}, "actions": []}),
            "`any` takes a list",
        ),
        (
            json!({"name": "t", "trigger": {"kind": "created"}, "conditions": [1], "actions": []}),
            "a condition is an object",
        ),
    ];
    for (v, want) in cases {
        let err = serde_json::from_value::<RuleInput>(v.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{v}: {err}");
    }
}

#[test]
fn the_schemas_are_documented() {
    #[derive(utoipa::OpenApi)]
    #[openapi(components(schemas(
        Rule,
        RuleInput,
        Firing,
        Batch,
        FieldInfo,
        FactsConfig,
        TriggerEvent
    )))]
    struct Doc;
    use utoipa::OpenApi;
    let doc = Doc::openapi().to_json().unwrap();
    for name in [
        "\"Condition\"",
        "\"Comparison\"",
        "\"Action\"",
        "\"Recipient\"",
        "\"Reason\"",
    ] {
        assert!(doc.contains(name), "{name}");
    }
}

// ---- Delivery. ----

type Users = Vec<(i64, Role, Option<i64>, bool)>;

fn org() -> (Org, Users) {
    let team = |id, parent| Team {
        id,
        name: format!("t{id}"),
        parent_id: parent,
        archived: false,
        regions: vec![],
    };
    let org = Org {
        teams: vec![team(1, None), team(2, Some(1)), team(3, Some(1))],
        users: vec![
            (1, Some(2)),
            (2, Some(2)),
            (3, Some(1)),
            (4, None),
            (5, Some(2)),
            (6, Some(3)),
        ],
    };
    let users = vec![
        (1, Role::Rep, Some(2), true),
        (2, Role::Manager, Some(2), true),
        (3, Role::Director, Some(1), true),
        (4, Role::Admin, None, true),
        (5, Role::Rep, Some(2), false),
        (6, Role::Manager, Some(3), true),
    ];
    (org, users)
}

fn firing(record: i64, owner: i64, assigned: bool, to: &[Recipient]) -> Firing {
    Firing {
        rule_id: 1,
        rule_name: "t".into(),
        template_key: None,
        record: RecordRef {
            record_type: RecordType::Opportunity,
            id: record,
        },
        owner_id: owner,
        assigned,
        episode: "once".into(),
        at: datetime!(2026-05-20 10:00 +8),
        reasons: vec![],
        actions: to
            .iter()
            .map(|r| Action::Notify {
                to: r.clone(),
                message: None,
            })
            .collect(),
    }
}

#[test]
fn recipients_follow_the_team_line() {
    let (org, users) = org();
    let f = firing(1, 1, true, &[]);
    let cases = [
        (Recipient::Owner, vec![1]),
        (Recipient::Manager, vec![2]),
        (Recipient::Director, vec![3]),
        (
            Recipient::Role {
                role: Role::Manager,
            },
            vec![2],
        ),
        (Recipient::Role { role: Role::Admin }, vec![4]),
        (Recipient::User { user_id: 6 }, vec![6]),
        (Recipient::User { user_id: 5 }, vec![]),
    ];
    for (to, want) in cases {
        assert_eq!(resolve_recipient(&to, &f, &org, &users), want, "{to:?}");
    }
    // In the public pool: no owner, but the last owner's manager.
    let pooled = firing(1, 1, false, &[]);
    assert_eq!(
        resolve_recipient(&Recipient::Owner, &pooled, &org, &users),
        Vec::<i64>::new()
    );
    assert_eq!(
        resolve_recipient(&Recipient::Manager, &pooled, &org, &users),
        vec![2]
    );
}

#[test]
fn a_backlog_becomes_one_digest_per_recipient() {
    let (org, users) = org();
    // After a downtime: 5 deals of rep 1 past their close date (owner and manager), and one
    // that notifies the owner twice (once as owner, once by name).
    let mut firings: Vec<Firing> = (1..=5)
        .map(|id| firing(id, 1, true, &[Recipient::Owner, Recipient::Manager]))
        .collect();
    firings.push(firing(
        6,
        1,
        true,
        &[Recipient::Owner, Recipient::User { user_id: 1 }],
    ));
    firings.push(firing(7, 6, true, &[Recipient::Owner]));
    let batches = batch_for_delivery(&firings, |f, to| resolve_recipient(to, f, &org, &users), 3);
    let got: Vec<(i64, &str, Vec<i64>)> = batches
        .iter()
        .map(|b| match &b.delivery {
            Delivery::Individual(l) => (
                b.user_id,
                "individual",
                l.iter().map(|f| f.record.id).collect(),
            ),
            Delivery::Digest(l) => (b.user_id, "digest", l.iter().map(|f| f.record.id).collect()),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "digest", vec![1, 2, 3, 4, 5, 6]),
            (2, "digest", vec![1, 2, 3, 4, 5]),
            (6, "individual", vec![7]),
        ]
    );
    // Within the limit, one by one.
    let few = batch_for_delivery(
        &firings[..2],
        |f, to| resolve_recipient(to, f, &org, &users),
        3,
    );
    assert!(few
        .iter()
        .all(|b| matches!(b.delivery, Delivery::Individual(_))));
    let json = serde_json::to_value(&few[0]).unwrap();
    assert_eq!(json["delivery"]["kind"], json!("individual"));
}

#[test]
fn changed_fields_name_catalog_fields() {
    let a = opp(datetime!(2026-05-01 09:00 +8));
    let mut b = a.clone();
    b.status = StageKind::Won;
    b.stage_id = 5;
    b.grade = Some(crate::model::Grade::A);
    b.custom.insert("region".into(), json!("华东"));
    b.custom.insert("budget".into(), Value::Null);
    assert_eq!(
        changed_fields(&a, &b),
        vec!["stage", "stage_kind", "grade", "custom.region"]
    );
    assert!(changed_fields(&a, &a).is_empty());
    // Every name is in the catalog, so a trigger can be written for it.
    let all = changed_fields(&a, &b);
    assert!(all.iter().all(|n| catalog().field(n).is_some()));
}

// ---- Rules on leads and accounts. ----

fn lead_rules() -> Vec<Rule> {
    let cat = FieldCatalog::lead(&[], &[1, 2, 3]);
    let acc = FieldCatalog::account(&[], &[1, 2, 3]);
    pool_templates(48)
        .into_iter()
        .enumerate()
        .map(|(n, t)| {
            let c = if t.record_type == RecordType::Lead {
                &cat
            } else {
                &acc
            };
            let mut r = validate_rule(n as i64 + 100, &t, c, &[]).expect("a valid template");
            r.enabled = true;
            r
        })
        .collect()
}

fn lead_at(created: OffsetDateTime, owner: Option<i64>) -> LeadFacts {
    let mut l = crate::records::blank_lead(created);
    l.id = 9;
    l.company_name = Some("无锡精工".into());
    l.owner_id = owner;
    l.pool_since = owner.is_none().then_some(created);
    LeadFacts::new(&l, &[])
}

#[test]
fn the_lead_sla_fires_once_when_the_first_follow_up_is_late() {
    let rules = lead_rules();
    let sla = rules
        .iter()
        .find(|r| r.template_key.as_deref() == Some("lead_sla_first_follow_up"))
        .unwrap();
    assert_eq!(
        sla.episode_anchors,
        vec!["created_at", "first_follow_up_at"]
    );
    let created = datetime!(2026-05-06 09:00 UTC);
    let cal = cal();
    let mut f = lead_at(created, Some(2));
    // 47 hours: not yet; 48: the owner's team line hears, once.
    assert!(evaluate(sla, &f, None, created + Duration::hours(47), &cal).is_none());
    let fired = evaluate(sla, &f, None, created + Duration::hours(48), &cal).expect("fires");
    assert_eq!(
        (
            fired.record.record_type,
            fired.record.id,
            fired.owner_id,
            fired.assigned
        ),
        (RecordType::Lead, 9, 2, true)
    );
    let later = evaluate(sla, &f, None, created + Duration::hours(90), &cal).unwrap();
    assert_eq!(later.episode, fired.episode);
    // Followed up in time: never.
    f.first_follow_up = Some(created + Duration::hours(20));
    f.last_follow_up = f.first_follow_up;
    assert!(evaluate(sla, &f, None, created + Duration::hours(90), &cal).is_none());
    // In the pool: the region team's manager is the line; nobody owns it.
    let mut pooled = lead_at(created, None);
    pooled.pool_line = Some(3);
    let fired = evaluate(sla, &pooled, None, created + Duration::hours(49), &cal).unwrap();
    assert_eq!((fired.owner_id, fired.assigned), (3, false));
    // Closed leads never fire; nor do opportunity rules on leads.
    pooled.lead.status = crate::model::LeadStatus::Qualified;
    assert!(evaluate(sla, &pooled, None, created + Duration::hours(49), &cal).is_none());
    let opp_rule = template("stuck_in_stage_7");
    assert!(evaluate(&opp_rule, &f, None, created + Duration::days(30), &cal).is_none());
    assert!(dry_run(&[opp_rule], &[f], created + Duration::days(30), &cal).is_empty());
}

#[test]
fn leads_and_accounts_not_followed_up_return_to_the_pool() {
    let rules = lead_rules();
    let lead_return = &rules[1];
    let account_return = &rules[2];
    assert!(!pool_templates(48)[1].enabled && !pool_templates(48)[2].enabled);
    let created = datetime!(2026-04-01 09:00 UTC);
    let cal = cal();
    let mut f = lead_at(created, Some(2));
    f.last_follow_up = Some(created + Duration::days(3));
    let at = |d: i64| created + Duration::days(3) + Duration::days(d) + Duration::minutes(1);
    assert!(evaluate(lead_return, &f, None, at(6), &cal).is_none());
    let fired = evaluate(lead_return, &f, None, at(7), &cal).expect("returns");
    assert_eq!(fired.actions.last(), Some(&Action::ReturnToPool));
    // Already in the pool: nothing to return.
    assert!(evaluate(lead_return, &lead_at(created, None), None, at(30), &cal).is_none());

    let mut account = crate::records::blank_account(2, created);
    account.id = 5;
    account.name = "苏州华瑞".into();
    let mut a = AccountFacts::new(&account, &[]);
    let values = a.values(created + Duration::days(31), &cal);
    assert_eq!(
        values.get("days_since_follow_up"),
        &FieldValue::Number(Number::int(31))
    );
    assert!(evaluate(account_return, &a, None, created + Duration::days(31), &cal).is_some());
    a.open_opportunities = 1;
    assert!(evaluate(account_return, &a, None, created + Duration::days(31), &cal).is_none());
}

#[test]
fn lead_and_account_rules_refuse_what_they_cannot_do() {
    let lead = FieldCatalog::lead(&[], &[1]);
    let account = FieldCatalog::account(&[], &[1]);
    let errors = |c: &FieldCatalog, v: Value| -> Vec<String> {
        let input: RuleInput = serde_json::from_value(v).unwrap();
        validate_rule(0, &input, c, &[])
            .unwrap_err()
            .into_iter()
            .map(|e| e.code)
            .collect()
    };
    let rule = |kind: &str, trigger: Value, action: Value| json!({"name": "x", "record_type": kind, "trigger": trigger, "actions": [action]});
    let notify = json!({"kind": "notify", "to": {"kind": "owner"}});
    let cases = [
        (
            &lead,
            rule("lead", json!({"kind": "stage_entered"}), notify.clone()),
            "no_stages",
        ),
        (
            &lead,
            rule(
                "lead",
                json!({"kind": "schedule"}),
                json!({"kind": "request_approval", "policy_id": 1}),
            ),
            "unsupported_action",
        ),
        (
            &account,
            rule(
                "account",
                json!({"kind": "schedule"}),
                json!({"kind": "assign"}),
            ),
            "unsupported_action",
        ),
        (
            &lead,
            rule(
                "lead",
                json!({"kind": "field_changed", "field": "amount"}),
                notify.clone(),
            ),
            "unknown_field",
        ),
        (
            &lead,
            rule("opportunity", json!({"kind": "created"}), notify.clone()),
            "unsupported",
        ),
    ];
    for (cat, v, want) in cases {
        let got = errors(cat, v.clone());
        assert!(got.iter().any(|c| c == want), "{v}: {got:?}");
    }
}

// ---- Inherited deals (handover). ----

/// The inherited-deal template, checked, with id 50.
fn inherited_rule() -> Rule {
    let t = &handover_templates(INHERITED_UNTOUCHED_DAYS)[0];
    validate_rule(50, t, &catalog(), &shipped()).expect("a valid template")
}

/// Deal 1 (owner 1) created 30 days before `handed_at`, handed over to user 1 then, with
/// `touch` as the trail's touch (a follow-up logged, or a change of the receiver's).
fn inherited_facts(
    handed_at: OffsetDateTime,
    touch: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> RecordFacts {
    use crate::handover::{DealTrail, HandedOver};
    let o = opp(handed_at - Duration::days(30));
    let trail = DealTrail {
        handovers: vec![HandedOver {
            handover_id: 3,
            at: handed_at,
            to: 1,
        }],
        owner_changed_at: Some(handed_at),
        activity_logged_at: touch.filter(|t| *t <= now),
        ..Default::default()
    };
    let mut f = facts(&o, &[], &[], now);
    f.inherited = crate::handover::inherited(&f.opportunity, &trail);
    f
}

#[test]
fn the_inherited_template_is_valid_and_fires_once_per_handover() {
    let rule = inherited_rule();
    assert_eq!(rule.template_key.as_deref(), Some("inherited_untouched_7d"));
    assert_eq!(rule.episode_anchors, vec!["handed_over_at"]);
    assert_eq!(
        rule.actions,
        vec![
            Action::Notify {
                to: Recipient::Owner,
                message: None
            },
            Action::Notify {
                to: Recipient::Manager,
                message: None
            },
        ]
    );
    // The test's clock: the handover at `t0`, every instant counted from it.
    let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::hours(2);
    let episode = format!(
        "handed_over_at={}",
        t0.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    // (case, the touch, the first firing — `None`: never in the scan of 12 days).
    let cases: Vec<(&str, Option<OffsetDateTime>, Option<OffsetDateTime>)> = vec![
        (
            "untouched: at 7 days to the minute",
            None,
            Some(t0 + Duration::days(7)),
        ),
        (
            "followed up on day 2: never",
            Some(t0 + Duration::days(2)),
            None,
        ),
        (
            "followed up on day 8: already fired on day 7",
            Some(t0 + Duration::days(8)),
            Some(t0 + Duration::days(7)),
        ),
        (
            "the leaver's follow-up before the handover does not count",
            Some(t0 - Duration::hours(1)),
            Some(t0 + Duration::days(7)),
        ),
    ];
    for (case, touch, want) in cases {
        let got = scan(
            std::slice::from_ref(&rule),
            |now| inherited_facts(t0, touch, now),
            t0,
            t0 + Duration::days(12),
            Duration::minutes(30),
            &cal(),
        );
        let want: Vec<_> = want
            .into_iter()
            .map(|at| fired(at, "inherited_untouched_7d", &episode))
            .collect();
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn inherited_facts_as_rules_see_them() {
    let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
    let cal = cal();
    let rule = inherited_rule();
    let now = t0 + Duration::days(9);
    let num = |n| FieldValue::Number(Number::int(n));
    // Untouched for 9 days.
    let f = inherited_facts(t0, None, now);
    let v = f.values(now, &cal);
    for (field, want) in [
        ("inherited", FieldValue::Bool(true)),
        ("handed_over_at", FieldValue::Instant(t0)),
        ("days_since_handover", num(9)),
        ("touched_since_handover", FieldValue::Bool(false)),
        ("days_untouched_since_handover", num(9)),
    ] {
        assert_eq!(v.get(field), &want, "{field}");
    }
    let fired = evaluate(&rule, &f, None, now, &cal).expect("fires");
    assert!(fired
        .reasons
        .iter()
        .any(|r| r.field == "days_since_handover" && r.actual == json!(9)));
    // Touched on day 4: five days untouched since.
    let f = inherited_facts(t0, Some(t0 + Duration::days(4)), now);
    let v = f.values(now, &cal);
    assert_eq!(v.get("touched_since_handover"), &FieldValue::Bool(true));
    assert_eq!(v.get("days_untouched_since_handover"), &num(5));
    assert!(evaluate(&rule, &f, None, now, &cal).is_none());
    // Not inherited: `inherited` is false, the rest unset, and nothing fires.
    let plain = facts(&opp(t0), &[], &[], now);
    let v = plain.values(now, &cal);
    assert_eq!(v.get("inherited"), &FieldValue::Bool(false));
    for field in [
        "handed_over_at",
        "days_since_handover",
        "touched_since_handover",
        "days_untouched_since_handover",
    ] {
        assert_eq!(v.get(field), &FieldValue::Unset, "{field}");
    }
    assert!(evaluate(&rule, &plain, None, now, &cal).is_none());
    // A closed deal is no longer inherited.
    let mut won = inherited_facts(t0, None, now);
    won.opportunity.status = StageKind::Won;
    let trail = crate::handover::DealTrail {
        handovers: vec![crate::handover::HandedOver {
            handover_id: 3,
            at: t0,
            to: 1,
        }],
        ..Default::default()
    };
    won.inherited = crate::handover::inherited(&won.opportunity, &trail);
    assert_eq!(won.inherited, None);
    assert!(evaluate(&rule, &won, None, now, &cal).is_none());
    // Every field is in the catalog, derived, anchored on the handover.
    for field in [
        "inherited",
        "handed_over_at",
        "days_since_handover",
        "touched_since_handover",
        "days_untouched_since_handover",
    ] {
        let info = catalog().field(field).cloned().unwrap();
        assert_eq!(
            (info.origin, info.settable, info.anchor.as_deref()),
            (FieldOrigin::Derived, false, Some("handed_over_at")),
            "{field}"
        );
    }
}
