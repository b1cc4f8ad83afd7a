//! Assignment decided by hand-worked tables: which rule matches, who each method picks,
//! who is skipped and why, the claim limit and the SLA.

use serde_json::json;
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::calendar::WorkCalendar;
use crate::model::{Leave, Opportunity, Source, StageKind};
use crate::money::Money;
use crate::process::{b2b_template, build_pipeline};
use crate::rules::{derive, FactsConfig, RecordFacts, RecordType};

const EAST: TeamId = 10;
const EAST_SH: TeamId = 11;
const NORTH: TeamId = 20;
const NOW: OffsetDateTime = datetime!(2026-05-06 09:00 UTC);
const TODAY: Date = date!(2026 - 05 - 06);

fn teams() -> Vec<Team> {
    let t = |id, parent| Team {
        id,
        name: format!("team {id}"),
        parent_id: parent,
        archived: false,
        regions: vec![],
    };
    vec![t(EAST, None), t(EAST_SH, Some(EAST)), t(NORTH, None)]
}

fn user(id: UserId, role: Role, team: TeamId) -> User {
    User {
        id,
        login: format!("u{id}"),
        display_name: format!("User {id}"),
        email: None,
        mobile: None,
        role,
        team_id: Some(team),
        active: true,
        leaves: vec![],
        language: None,
        created_at: NOW,
    }
}

/// East: manager 1, reps 2 and 3, and rep 4 on the Shanghai sub-team; North: rep 5.
fn users() -> Vec<User> {
    vec![
        user(1, Role::Manager, EAST),
        user(2, Role::Rep, EAST),
        user(3, Role::Rep, EAST),
        user(4, Role::Rep, EAST_SH),
        user(5, Role::Rep, NORTH),
    ]
}

fn catalog() -> FieldCatalog {
    FieldCatalog::opportunity(
        &[],
        &[build_pipeline(&b2b_template(), 1, 1)],
        &[1, 2, 3, 4, 5],
    )
}

fn rule(id: Id, position: i64, method: Method, conditions: serde_json::Value) -> AssignmentRule {
    let input: AssignmentRuleInput = serde_json::from_value(json!({
        "name": format!("rule {id}"),
        "team_id": EAST,
        "method": method,
        "conditions": conditions,
    }))
    .expect("input");
    validate_assignment_rule(id, position, &input, &catalog(), &teams(), &users()).expect("valid")
}

fn picks(rule: &AssignmentRule, users: &[User], stats: &mut RepStats, n: usize) -> Vec<UserId> {
    (0..n)
        .map(|i| {
            let at = NOW + Duration::minutes(i as i64);
            let p = pick(rule, &teams(), users, stats, TODAY).expect("someone");
            stats.record(p.user_id, at);
            p.user_id
        })
        .collect()
}

#[test]
fn members_are_the_reps_of_the_team_and_below_unless_named() {
    let r = rule(1, 1, Method::RoundRobin, json!({"all": []}));
    // The manager is not a member; the Shanghai sub-team's rep is; North's is not.
    assert_eq!(members(&r, &teams(), &users()), vec![2, 3, 4]);
    let named = AssignmentRule {
        members: vec![4, 2],
        ..r
    };
    assert_eq!(members(&named, &teams(), &users()), vec![2, 4]);
}

#[test]
fn round_robin_takes_turns_and_skips_absent_reps() {
    let r = rule(1, 1, Method::RoundRobin, json!({"all": []}));
    let mut stats = RepStats::default();
    assert_eq!(picks(&r, &users(), &mut stats, 5), vec![2, 3, 4, 2, 3]);

    // Rep 3 is on leave today and rep 4 has left: 2 takes every turn, and the skips say why.
    let mut away = users();
    away[2].leaves = vec![Leave {
        from: date!(2026 - 05 - 01),
        to: date!(2026 - 05 - 07),
    }];
    away[3].active = false;
    let p = pick(&r, &teams(), &away, &RepStats::default(), TODAY).unwrap();
    assert_eq!(p.user_id, 2);
    assert_eq!(
        p.skipped,
        vec![
            Skipped {
                user_id: 3,
                why: Skip::OnLeave
            },
            Skipped {
                user_id: 4,
                why: Skip::Inactive
            },
        ]
    );
    // The day after the leave rep 3 is back, and next in turn (never assigned by this rule).
    let mut stats = RepStats::default();
    stats.record(2, NOW);
    let back = pick(&r, &teams(), &away, &stats, date!(2026 - 05 - 08)).unwrap();
    assert_eq!(back.user_id, 3);
}

#[test]
fn capacity_splits_a_day_in_proportion_and_stops_at_capacity() {
    // Capacities 4 : 2 : 0 — rep 4 takes nothing.
    let mut r = rule(1, 1, Method::Capacity, json!({"all": []}));
    r.capacities = vec![
        MemberCapacity {
            user_id: 2,
            per_day: 4,
        },
        MemberCapacity {
            user_id: 3,
            per_day: 2,
        },
        MemberCapacity {
            user_id: 4,
            per_day: 0,
        },
    ];
    let mut stats = RepStats::default();
    let got = picks(&r, &users(), &mut stats, 6);
    let count = |u| got.iter().filter(|x| **x == u).count();
    assert_eq!((count(2), count(3), count(4)), (4, 2, 0), "{got:?}");
    // Used shares (2 | 3): 0/4 = 0/2, neither assigned yet → 2; 1/4 > 0/2 → 3;
    // 1/4 < 1/2 → 2; 2/4 = 1/2, 3 waited longer → 3; 2/4 < 2/2 → 2; 3/4 < 2/2 → 2.
    assert_eq!(got, vec![2, 3, 2, 3, 2, 2]);
    // Everyone is full now: nobody, and each skip says at capacity.
    let none = pick(&r, &teams(), &users(), &stats, TODAY).unwrap_err();
    assert!(none.iter().all(|s| s.why == Skip::AtCapacity), "{none:?}");
    assert_eq!(none.len(), 3);
    // Assignments made earlier today by hand or claim count against the capacity too.
    let mut busy = RepStats::default();
    busy.assigned_today.insert(2, 4);
    assert_eq!(
        pick(&r, &teams(), &users(), &busy, TODAY).unwrap().user_id,
        3
    );
}

#[test]
fn least_loaded_picks_the_fewest_open_deals() {
    let r = rule(1, 1, Method::LeastLoaded, json!({"all": []}));
    let mut stats = RepStats::default();
    stats.open_load.insert(2, 5);
    stats.open_load.insert(3, 2);
    stats.open_load.insert(4, 3);
    // 3 (2 open) → 3 again (3 open, ties with 4; 4 was never assigned) → …
    assert_eq!(picks(&r, &users(), &mut stats, 4), vec![3, 4, 3, 4]);
}

#[test]
fn a_rule_without_members_assigns_nobody() {
    let mut r = rule(1, 1, Method::RoundRobin, json!({"all": []}));
    r.team_id = NORTH;
    r.members = vec![];
    let only_manager = vec![user(1, Role::Manager, NORTH)];
    assert_eq!(
        pick(&r, &teams(), &only_manager, &RepStats::default(), TODAY),
        Err(vec![])
    );
}

fn values(source: Option<Source>, amount: i64) -> Values {
    let opp = Opportunity {
        source,
        amount: Money::cny(amount),
        ..crate::opportunity::create(
            serde_json::from_value(json!({"title": "x", "account_id": 1})).unwrap(),
            &build_pipeline(&b2b_template(), 1, 1),
            &crate::visibility::Actor {
                user_id: 2,
                role: Role::Rep,
                team_id: Some(EAST),
            },
            NOW,
        )
        .unwrap()
        .0
    };
    let f = RecordFacts::opportunity(&opp, &[], &[], &[], &FactsConfig::default(), NOW);
    derive(&f, NOW, &WorkCalendar::china_default())
}

#[test]
fn the_first_matching_rule_by_position_wins() {
    let website = rule(
        1,
        2,
        Method::RoundRobin,
        json!({"field": "source", "op": "eq", "value": "website"}),
    );
    let big = rule(
        2,
        1,
        Method::RoundRobin,
        json!({"field": "amount", "op": "ge", "value": 100_000_000}),
    );
    let mut fallback = rule(3, 3, Method::RoundRobin, json!({"all": []}));
    let rules = vec![website.clone(), big.clone(), fallback.clone()];
    let cases: &[(Option<Source>, i64, Id)] = &[
        (Some(Source::Website), 1_000_000, 1),
        // Big and from the website: position 1 comes first.
        (Some(Source::Website), 200_000_000, 2),
        (Some(Source::Referral), 1_000_000, 3),
        (None, 0, 3),
    ];
    for (source, amount, want) in cases {
        let (got, reasons) =
            matching_rule(&rules, RecordType::Opportunity, &values(*source, *amount))
                .expect("a rule");
        assert_eq!(got.id, *want, "{source:?} {amount}");
        if *want == 1 {
            assert_eq!(reasons[0].field, "source");
        }
    }
    // A disabled rule is passed over; with none left, no rule matches.
    fallback.enabled = false;
    assert!(matching_rule(
        &[website, fallback],
        RecordType::Opportunity,
        &values(None, 0)
    )
    .is_none());
}

#[test]
fn bad_rules_are_refused_with_their_places() {
    let bad: AssignmentRuleInput = serde_json::from_value(json!({
        "name": " ",
        "team_id": EAST,
        "members": [2, 5, 99, 2],
        "capacities": [{"user_id": 3, "per_day": 5000}],
        "conditions": {"field": "no_such_field", "op": "eq", "value": 1},
    }))
    .unwrap();
    let errors = validate_assignment_rule(0, 1, &bad, &catalog(), &teams(), &users()).unwrap_err();
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    for want in [
        ("name", "required"),
        ("members[1]", "not_on_team"),
        ("members[2]", "unknown_user"),
        ("members[3]", "duplicate"),
        ("capacities[0].user_id", "not_a_member"),
        ("capacities[0].per_day", "out_of_range"),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
    assert!(
        got.iter().any(|(f, _)| f.starts_with("conditions")),
        "{got:?}"
    );
    let unknown_team: AssignmentRuleInput =
        serde_json::from_value(json!({"name": "x", "team_id": 99})).unwrap();
    let errors =
        validate_assignment_rule(0, 1, &unknown_team, &catalog(), &teams(), &users()).unwrap_err();
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code.as_str()),
        ("team_id", "unknown_team")
    );
    // Unknown keys and methods are refused when the JSON is read.
    assert!(serde_json::from_value::<AssignmentRuleInput>(
        json!({"name": "x", "team_id": 1, "method": "random"})
    )
    .is_err());
    assert!(serde_json::from_value::<AssignmentRuleInput>(
        json!({"name": "x", "team_id": 1, "teams": 1})
    )
    .is_err());
}

#[test]
fn claims_stop_at_the_daily_limit() {
    let s = PoolSettings {
        claim_limit_per_day: 2,
        lead_claim_limit_per_day: 3,
        account_claim_limit_per_day: 0,
        ..PoolSettings::default()
    };
    let cases = [
        (RecordKind::Opportunity, 0, None),
        (RecordKind::Opportunity, 1, None),
        (RecordKind::Opportunity, 2, Some("claim_limit")),
        (RecordKind::Lead, 2, None),
        (RecordKind::Lead, 3, Some("claim_limit")),
        (RecordKind::Account, 0, Some("claiming_off")),
    ];
    for (kind, claimed, want) in cases {
        let got = check_claim(claimed, s.claim_limit(kind))
            .err()
            .map(|e| e.code);
        assert_eq!(got.as_deref(), want, "{kind:?} after {claimed}");
    }
    assert!(PoolSettings {
        lead_sla_hours: 24 * 91,
        ..PoolSettings::default()
    }
    .validate()
    .is_err());
    assert!(PoolSettings {
        sla_hours: 0,
        ..PoolSettings::default()
    }
    .validate()
    .is_err());
    assert!(PoolSettings::default().validate().is_ok());
}

#[test]
fn the_sla_counts_each_stay_against_its_limit() {
    let h = |n: i64| Duration::hours(n);
    let t0 = datetime!(2026-05-01 00:00 UTC);
    // Waits of 1 h, 47 h, exactly 48 h (within) and 49 h, 100 h (breached).
    let done: Vec<(OffsetDateTime, OffsetDateTime)> = [1, 47, 48, 49, 100]
        .iter()
        .map(|n| (t0, t0 + h(*n)))
        .collect();
    // In the pool now: for 10 h and for 50 h.
    let now = datetime!(2026-05-10 00:00 UTC);
    let s = sla_summary(&done, &[now - h(10), now - h(50)], 48, now);
    assert_eq!(
        (s.assigned, s.within_sla, s.breached, s.within_sla_permille),
        (5, 3, 2, Some(600))
    );
    // Nearest rank: the 3rd of 5 (48 h) and the 5th (100 h).
    assert_eq!(
        (s.median_wait_minutes, s.p90_wait_minutes),
        (Some(48 * 60), Some(100 * 60))
    );
    assert_eq!(
        (s.waiting, s.waiting_past_sla, s.oldest_wait_minutes),
        (2, 1, Some(50 * 60))
    );
    let empty = sla_summary(&[], &[], 48, now);
    assert_eq!(
        (
            empty.assigned,
            empty.within_sla_permille,
            empty.median_wait_minutes
        ),
        (0, None, None)
    );
}

#[test]
fn pool_transitions_record_events() {
    use crate::opportunity::{self, EventKind};
    let pipeline = build_pipeline(&b2b_template(), 1, 1);
    let actor = crate::visibility::Actor {
        user_id: 1,
        role: Role::Manager,
        team_id: Some(EAST),
    };
    // Created with `"owner_id": null`: in the pool, the creator standing in as last owner.
    let (mut opp, events) = opportunity::create(
        serde_json::from_value(json!({"title": "x", "account_id": 1, "owner_id": null})).unwrap(),
        &pipeline,
        &actor,
        NOW,
    )
    .unwrap();
    assert_eq!((opp.pool_since, opp.owner_id), (Some(NOW), 1));
    assert_eq!(events.last().unwrap().kind, EventKind::Pooled);
    // Assigned a day later: owner changed, and how long it waited.
    let later = NOW + Duration::hours(30);
    let events = opportunity::assign(&mut opp, 3, AssignHow::Rule, Some(7), &actor, later);
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::OwnerChanged, EventKind::Assigned]);
    assert_eq!(
        events[1].new_value,
        Some(
            json!({"owner_id": 3, "how": "rule", "rule_id": 7, "waited_since": "2026-05-06T09:00:00Z"})
        )
    );
    assert_eq!((opp.owner_id, opp.pool_since), (3, None));
    // Released with a reason; a second release, or a closed deal, is refused.
    let events =
        opportunity::release(&mut opp, Some("客户暂无预算".into()), &actor, later).unwrap();
    assert_eq!(events[0].new_value, Some(json!({"reason": "客户暂无预算"})));
    assert_eq!(
        opportunity::release(&mut opp, None, &actor, later)
            .unwrap_err()
            .code,
        "already_in_pool"
    );
    // Naming an owner in an update takes it out of the pool, by hand.
    let input = serde_json::from_value(json!({"owner_id": 2})).unwrap();
    let events = opportunity::apply(&mut opp, input, &pipeline, &actor, later).unwrap();
    assert_eq!(opp.pool_since, None);
    let assigned = events
        .iter()
        .find(|e| e.kind == EventKind::Assigned)
        .unwrap();
    assert_eq!(assigned.new_value.as_ref().unwrap()["how"], "manual");
    let mut closed = opp.clone();
    closed.status = StageKind::Won;
    assert_eq!(
        opportunity::release(&mut closed, None, &actor, later)
            .unwrap_err()
            .code,
        "not_open"
    );
}

fn pool_lead(now: OffsetDateTime) -> Lead {
    let mut l = crate::records::blank_lead(now);
    l.id = 7;
    l.region = Some("华东".into());
    l
}

fn actor(user_id: UserId) -> Actor {
    Actor {
        user_id,
        role: Role::Rep,
        team_id: Some(EAST),
    }
}

#[test]
fn leads_and_accounts_go_in_and_out_of_the_pool_with_their_history() {
    let created = NOW - Duration::hours(30);
    let mut lead = pool_lead(created);
    assert_eq!((lead.owner_id, lead.pool_since), (None, Some(created)));
    // Claimed: the owner is set, the wait is kept in the event.
    let e = take(&mut lead, 7, 101, AssignHow::Claim, None, &actor(101), NOW).unwrap();
    assert_eq!((lead.owner_id, lead.pool_since), (Some(101), None));
    assert_eq!(e.kind, OwnershipChange::Assigned);
    assert_eq!(
        (e.owner_id, e.how, e.waited_since),
        (Some(101), Some(AssignHow::Claim), Some(created))
    );
    // Given back with a reason: in the pool from now.
    let later = NOW + Duration::days(3);
    let e = give_back(
        &mut lead,
        7,
        Some(" 客户没有预算 ".into()),
        &actor(101),
        later,
    )
    .unwrap();
    assert_eq!((lead.owner_id, lead.pool_since), (None, Some(later)));
    assert_eq!(
        (e.kind, e.owner_id, e.reason.as_deref()),
        (OwnershipChange::Released, Some(101), Some("客户没有预算"))
    );
    assert_eq!(
        give_back(&mut lead, 7, None, &actor(101), later)
            .unwrap_err()
            .code,
        "already_in_pool"
    );
    // A form that sets or clears the owner keeps pool_since true.
    lead.owner_id = Some(102);
    let e = settle(None, &mut lead, 7, &actor(1), later).unwrap();
    assert_eq!(
        (lead.pool_since, e.how, e.waited_since),
        (None, Some(AssignHow::Manual), Some(later))
    );
    assert_eq!(settle(Some(102), &mut lead, 7, &actor(1), later), None);
    lead.owner_id = None;
    let e = settle(Some(102), &mut lead, 7, &actor(1), NOW + Duration::days(4)).unwrap();
    assert_eq!(
        (lead.pool_since, e.kind),
        (Some(NOW + Duration::days(4)), OwnershipChange::Released)
    );
    // Archived records are not handed out.
    lead.archived = true;
    assert_eq!(
        take(&mut lead, 7, 101, AssignHow::Manual, None, &actor(1), NOW)
            .unwrap_err()
            .code,
        "archived"
    );
    // Accounts alike.
    let mut account = crate::records::blank_account(101, NOW);
    assert_eq!(account.pool_since, None);
    let e = give_back(&mut account, 3, None, &actor(101), NOW).unwrap();
    assert_eq!(
        (e.record_kind, account.owner_id, account.pool_since),
        (RecordKind::Account, None, Some(NOW))
    );
}

#[test]
fn lead_rules_match_leads_only_on_lead_fields() {
    use crate::rules::{LeadFacts, Subject};
    let lead_catalog = FieldCatalog::lead(&[], &[1, 2, 3, 4, 5]);
    let input: AssignmentRuleInput = serde_json::from_value(json!({
        "name": "A-grade leads of 华东",
        "record_type": "lead",
        "team_id": EAST,
        "method": "least_loaded",
        "conditions": {"all": [
            {"field": "region", "op": "eq", "value": "华东"},
            {"field": "grade", "op": "in", "value": ["a", "b"]},
        ]},
    }))
    .unwrap();
    let lead_rule =
        validate_assignment_rule(3, 1, &input, &lead_catalog, &teams(), &users()).expect("valid");
    // Checked against the lead's fields: an opportunity field is unknown there, and a lead
    // rule is not checked against the opportunity catalog.
    let mut wrong = input.clone();
    wrong.conditions =
        serde_json::from_value(json!({"field": "amount", "op": "gt", "value": 1})).unwrap();
    let errors =
        validate_assignment_rule(3, 1, &wrong, &lead_catalog, &teams(), &users()).unwrap_err();
    assert!(errors[0].field.starts_with("conditions"), "{errors:?}");
    let errors =
        validate_assignment_rule(3, 1, &input, &catalog(), &teams(), &users()).unwrap_err();
    assert_eq!(errors[0].code, "mismatch");
    let mut account = input.clone();
    account.record_type = RecordType::Account;
    let errors =
        validate_assignment_rule(3, 1, &account, &lead_catalog, &teams(), &users()).unwrap_err();
    assert_eq!(errors[0].code, "unsupported");

    let opp_rule = rule(1, 0, Method::RoundRobin, json!({"all": []}));
    let rules = [opp_rule, lead_rule];
    let mut lead = pool_lead(NOW);
    lead.grade = Some(crate::model::LeadGrade::A);
    let cal = WorkCalendar::china_default();
    let values = LeadFacts::new(&lead, &[]).values(NOW, &cal);
    let (got, reasons) = matching_rule(&rules, RecordType::Lead, &values).expect("the lead rule");
    assert_eq!((got.id, reasons.len()), (3, 2));
    lead.region = Some("华南".into());
    let values = LeadFacts::new(&lead, &[]).values(NOW, &cal);
    assert!(matching_rule(&rules, RecordType::Lead, &values).is_none());
}
