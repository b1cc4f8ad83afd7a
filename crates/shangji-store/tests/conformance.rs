//! One story through every store method. Runs on in-memory SQLite, and on PostgreSQL (in a
//! fresh schema) when `SHANGJI_TEST_DATABASE_URL` is set.

use shangji_core::approval::{ApprovalPolicy, ApprovalRequest, ApprovalStatus, Approver};
use shangji_core::custom_fields::{self, CustomFieldDef, IndexValue, ValueMigration};
use shangji_core::model::*;
use shangji_core::opportunity::NewEvent;
use shangji_core::opportunity::{self, EventKind, MoveInput, OpportunityInput};
use shangji_core::process::{b2b_template, transactional_template, LossReason};
use shangji_core::records::{apply_account, blank_account, AccountInput};
use shangji_core::visibility::{scope, Actor};
use shangji_core::{Field, Scope};
use std::sync::Arc;

use shangji_store::db::Pool;
use shangji_store::{
    Access, Compare, CustomFilter, Db, IdemKey, ListQuery, Save, StoreError, Write,
    APPROVAL_PENDING,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-05-06 08:30:00.123 UTC);

async fn test_db() -> Db {
    match std::env::var("SHANGJI_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let admin = Db::connect(&url).await.unwrap();
            let schema = format!("s_{}_{}", std::process::id(), rand::random::<u32>());
            if let Pool::Postgres(p) = admin.pool() {
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(p)
                    .await
                    .unwrap();
            }
            admin.close().await;
            let sep = if url.contains('?') { '&' } else { '?' };
            Db::connect_and_migrate(&format!("{url}{sep}options=-c%20search_path%3D{schema}"))
                .await
                .unwrap()
        }
        _ => Db::connect_and_migrate("sqlite::memory:").await.unwrap(),
    }
}

fn user(login: &str, role: Role, team: Option<TeamId>) -> User {
    User {
        id: 0,
        login: login.into(),
        display_name: login.into(),
        email: Some(format!("{login}@example.com")),
        mobile: None,
        role,
        team_id: team,
        active: true,
        leaves: vec![Leave {
            from: time::macros::date!(2026 - 10 - 01),
            to: time::macros::date!(2026 - 10 - 07),
        }],
        language: Some(Language::ZhCn),
        created_at: NOW,
    }
}

#[test]
fn migrations_exist_for_both_dialects_with_the_same_names() {
    let names = |d: &str| {
        let mut v: Vec<String> =
            std::fs::read_dir(format!("{}/migrations/{d}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        v.sort();
        v
    };
    assert!(!names("sqlite").is_empty());
    assert_eq!(names("sqlite"), names("postgres"));
}

#[tokio::test]
async fn every_store_method() {
    let db = test_db().await;
    db.migrate().await.expect("migrating twice is a no-op");

    // Teams and users.
    let root = db
        .insert_team(
            &Team {
                id: 0,
                name: "总公司".into(),
                parent_id: None,
                archived: false,
                regions: vec![],
            },
            NOW,
        )
        .await
        .unwrap();
    let east = db
        .insert_team(
            &Team {
                id: 0,
                name: "华东".into(),
                parent_id: Some(root),
                archived: false,
                regions: vec![],
            },
            NOW,
        )
        .await
        .unwrap();
    let south = db
        .insert_team(
            &Team {
                id: 0,
                name: "华南".into(),
                parent_id: Some(root),
                archived: false,
                regions: vec![],
            },
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(
        db.insert_team(
            &Team {
                id: 0,
                name: "华东".into(),
                parent_id: None,
                archived: false,
                regions: vec![],
            },
            NOW
        )
        .await,
        Err(StoreError::Duplicate(_))
    ));
    db.update_team(&Team {
        id: south,
        name: "华南大区".into(),
        parent_id: Some(root),
        archived: false,
        regions: vec![],
    })
    .await
    .unwrap();
    let teams = db.teams().await.unwrap();
    assert_eq!(
        teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["总公司", "华东", "华南大区"]
    );

    let rep = db
        .insert_user(&user("rep.a", Role::Rep, Some(east)), Some("hash-a"))
        .await
        .unwrap();
    let other = db
        .insert_user(&user("rep.b", Role::Rep, Some(south)), None)
        .await
        .unwrap();
    let mgr = db
        .insert_user(&user("mgr", Role::Manager, Some(east)), None)
        .await
        .unwrap();
    assert!(matches!(
        db.insert_user(&user("rep.a", Role::Rep, None), None).await,
        Err(StoreError::Duplicate(_))
    ));
    let mut u = db.user(rep).await.unwrap().unwrap();
    assert_eq!(
        (u.login.as_str(), u.leaves.len(), u.created_at),
        ("rep.a", 1, NOW)
    );
    u.display_name = "李娜".into();
    u.language = Some(Language::En);
    db.update_user(&u).await.unwrap();
    let (found, hash) = db.user_by_login(" REP.A ").await.unwrap().unwrap();
    assert_eq!(
        (found.display_name.as_str(), hash.as_deref()),
        ("李娜", Some("hash-a"))
    );
    assert_eq!(db.users().await.unwrap().len(), 3);

    // Sessions end at expiry, on deletion and on a new password.
    db.insert_session("s1", rep, "csrf1", NOW, NOW + Duration::days(1))
        .await
        .unwrap();
    let version = db.directory().await.unwrap().version;
    assert_eq!(
        db.session("s1", NOW)
            .await
            .unwrap()
            .map(|a| (a.user.id, a.csrf, a.directory_version)),
        Some((rep, Some("csrf1".into()), version))
    );
    assert!(db
        .session("s1", NOW + Duration::days(2))
        .await
        .unwrap()
        .is_none());
    db.set_password(rep, "hash-b").await.unwrap();
    assert!(db.session("s1", NOW).await.unwrap().is_none());
    assert!(db.directory().await.unwrap().version > version);
    db.insert_session("s2", rep, "csrf2", NOW, NOW + Duration::days(1))
        .await
        .unwrap();
    db.delete_session("s2").await.unwrap();
    assert!(db.session("s2", NOW).await.unwrap().is_none());

    // Tokens.
    let t = db.insert_token(rep, "sync", "digest-1", NOW).await.unwrap();
    assert_eq!(
        db.user_by_token("digest-1").await.unwrap().map(|a| (
            a.user.id,
            a.csrf,
            a.directory_version
        )),
        Some((rep, None, db.directory().await.unwrap().version))
    );
    assert!(
        db.revoke_token(other, t, NOW).await.is_err(),
        "only the owner revokes"
    );
    db.revoke_token(rep, t, NOW).await.unwrap();
    assert!(db.user_by_token("digest-1").await.unwrap().is_none());
    assert!(db.tokens(rep).await.unwrap()[0].revoked_at.is_some());
    db.insert_token(rep, "a", "digest-2", NOW).await.unwrap();
    db.insert_token(rep, "b", "digest-3", NOW).await.unwrap();
    assert_eq!(db.revoke_tokens_of(rep, NOW).await.unwrap(), 2);
    assert!(db.user_by_token("digest-3").await.unwrap().is_none());

    // The sign-in limiter's counters.
    let keys = shangji_store::ThrottleKeys::new(" Wang.Lei ", "203.0.113.1");
    assert_eq!(keys.account, "account:wang.lei");
    assert_eq!(
        db.sign_in_counters(&keys, NOW).await.unwrap().pair.failures,
        0
    );
    for n in 1..=3 {
        assert_eq!(
            db.count_sign_in_failure(&keys, NOW).await.unwrap(),
            [n, n, n]
        );
    }
    let other_addr = shangji_store::ThrottleKeys::new("wang.lei", "198.51.100.1");
    assert_eq!(
        db.count_sign_in_failure(&other_addr, NOW).await.unwrap(),
        [1, 4, 1]
    );
    db.hold_sign_in(&keys.pair, NOW + Duration::seconds(8))
        .await
        .unwrap();
    db.hold_sign_in(&keys.pair, NOW + Duration::seconds(2))
        .await
        .unwrap();
    let c = db.sign_in_counters(&keys, NOW).await.unwrap();
    assert_eq!(
        (c.pair.failures, c.account.failures, c.pair.blocked_until),
        (
            3,
            4,
            Some(NOW.replace_nanosecond(123_000_000).unwrap() + Duration::seconds(8))
        ),
        "a wait is never shortened"
    );
    let later = NOW + Duration::minutes(16);
    assert_eq!(
        db.sign_in_counters(&keys, later)
            .await
            .unwrap()
            .account
            .failures,
        0,
        "a window that has passed counts nothing"
    );
    assert_eq!(
        db.count_sign_in_failure(&keys, later).await.unwrap(),
        [1, 1, 1]
    );
    db.sign_in_succeeded(&keys, later).await.unwrap();
    let c = db.sign_in_counters(&keys, later).await.unwrap();
    assert_eq!((c.pair.failures, c.pair.blocked_until), (0, None));
    assert!(c.pair.succeeded_at.is_some() && c.account.failures == 1);

    // Pipelines.
    let t = b2b_template();
    let pipeline = db
        .insert_pipeline(t.name, true, &t.policy, &t.stages, NOW)
        .await
        .unwrap();
    assert_eq!(pipeline.stages.len(), 6);
    assert_eq!(pipeline.stages[2].name_zh, "方案报价");
    assert_eq!(pipeline.stages[2].gate, t.stages[2].gate);
    assert_eq!(pipeline.stages[2].actions, t.stages[2].actions);
    assert_eq!(pipeline.policy, t.policy);
    assert_eq!(db.pipelines().await.unwrap(), vec![pipeline.clone()]);

    // Pipeline configuration: a second pipeline, its policy, stages added, changed,
    // reordered, deleted; the loss-reason taxonomy.
    let tt = transactional_template();
    let mut second = db
        .insert_pipeline(tt.name, false, &tt.policy, &tt.stages, NOW)
        .await
        .unwrap();
    second.policy.allow_skip = false;
    second.name = "快速成交".into();
    db.update_pipeline(&second).await.unwrap();
    let added = db.insert_stage(second.id, 1, &t.stages[1]).await.unwrap();
    let mut again = db.pipeline(second.id).await.unwrap().unwrap();
    assert_eq!(again.name, "快速成交");
    assert!(!again.policy.allow_skip);
    let names: Vec<&str> = again.stages.iter().map(|s| s.name_zh.as_str()).collect();
    assert_eq!(names, ["询价", "需求分析", "报价跟进", "赢单", "输单"]);
    let mut stage = again.stage(added).unwrap().clone();
    stage.name_en = "Needs".into();
    stage.gate.requires_approval = true;
    stage.archived = true;
    db.update_stage(&stage).await.unwrap();
    let mut order: Vec<i64> = again.stages.iter().map(|s| s.id).collect();
    order.swap(0, 1);
    db.reorder_stages(second.id, &order).await.unwrap();
    again = db.pipeline(second.id).await.unwrap().unwrap();
    assert_eq!(
        again.stages[0],
        Stage {
            position: 0,
            ..stage
        }
    );
    assert!(!db.stage_in_use(added).await.unwrap());
    db.delete_stage(added).await.unwrap();
    assert_eq!(
        db.pipeline(second.id).await.unwrap().unwrap().stages.len(),
        4
    );
    assert!(matches!(
        db.delete_stage(added).await,
        Err(StoreError::NotFound)
    ));
    let reasons = db.loss_reasons().await.unwrap();
    assert_eq!(reasons, shangji_core::process::default_loss_reasons());
    let mut reason = LossReason {
        id: 0,
        key: "delivery".into(),
        name_zh: "交期".into(),
        name_en: "Delivery time".into(),
        position: 8,
        archived: false,
    };
    reason.id = db.insert_loss_reason(&reason).await.unwrap();
    assert!(
        db.insert_loss_reason(&reason).await.is_err(),
        "keys are unique"
    );
    reason.archived = true;
    db.update_loss_reason(&reason).await.unwrap();
    assert_eq!(db.loss_reasons().await.unwrap().last(), Some(&reason));
    assert_eq!(db.directory().await.unwrap().loss_reasons.len(), 9);

    // The directory: read once, reused while nothing changes, re-read after any change to
    // teams, users or pipelines.
    let dir = db.directory().await.unwrap();
    assert_eq!(dir.org.teams, teams);
    assert_eq!(
        dir.org.users,
        vec![(rep, Some(east)), (other, Some(south)), (mgr, Some(east))]
    );
    assert_eq!(dir.pipelines, db.pipelines().await.unwrap());
    assert_eq!(dir.pipelines[0], pipeline);
    assert!(Arc::ptr_eq(&dir, &db.directory().await.unwrap()));
    let west = db
        .insert_team(
            &Team {
                id: 0,
                name: "华西".into(),
                parent_id: Some(root),
                archived: false,
                regions: vec![],
            },
            NOW,
        )
        .await
        .unwrap();
    let after = db.directory().await.unwrap();
    assert!(after.version > dir.version);
    assert!(after.org.teams.iter().any(|t| t.id == west));
    let mut moved = db.user(other).await.unwrap().unwrap();
    moved.team_id = Some(west);
    db.update_user(&moved).await.unwrap();
    assert_eq!(db.directory().await.unwrap().org.members(west), vec![other]);
    moved.team_id = Some(south);
    db.update_user(&moved).await.unwrap();
    let dir = db.directory().await.unwrap();
    assert_eq!(dir.org.members(south), vec![other]);
    assert_eq!(dir.org.members(root), vec![rep, other, mgr]);

    // Records, scopes, events.
    let rep_actor = Actor {
        user_id: rep,
        role: Role::Rep,
        team_id: Some(east),
    };
    let rep_scope = scope(&rep_actor, &dir.org);
    let mgr_scope = scope(
        &Actor {
            user_id: mgr,
            role: Role::Manager,
            team_id: Some(east),
        },
        &dir.org,
    );
    let other_scope = Scope::Own {
        user_id: other,
        pool: Default::default(),
    };
    let mut account = blank_account(rep, NOW);
    apply_account(
        &mut account,
        AccountInput {
            name: Field::Value("苏州恒力精密机械有限公司".into()),
            tags: Field::Value(vec!["VIP".into()]),
            ..Default::default()
        },
        true,
    )
    .unwrap();
    let account_id = db
        .save(&account, Save::Insert { idem: None }, &[])
        .await
        .unwrap();
    let input: OpportunityInput = serde_json::from_value(serde_json::json!({
        "title": "压缩机改造", "account_id": account_id, "amount_minor": 88_000_000, "close_date": "2026-09-30"
    }))
    .unwrap();
    let (opp, events) = opportunity::create(input, &pipeline, &rep_actor, NOW).unwrap();
    let key = IdemKey {
        user_id: rep,
        key: "k1".into(),
        resource: "opportunities",
        request_hash: "h".into(),
        at: NOW,
    };
    let id = db
        .save(&opp, Save::Insert { idem: Some(&key) }, &events)
        .await
        .unwrap();
    assert!(matches!(
        db.save(&opp, Save::Insert { idem: Some(&key) }, &events)
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(
        db.count("opportunities").await.unwrap(),
        1,
        "the losing insert rolled back whole"
    );
    assert_eq!(
        db.idempotency(rep, "k1")
            .await
            .unwrap()
            .map(|r| r.record_id),
        Some(id)
    );
    assert!(db.idempotency(other, "k1").await.unwrap().is_none());
    // Records named in a follow-ups or tasks file: by title, without case or spaces around.
    let named = db
        .records_named(
            RecordKind::Opportunity,
            &[" 压缩机改造 ".into(), "nothing".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        named
            .iter()
            .map(|n| (n.id, n.account_id, n.names.clone()))
            .collect::<Vec<_>>(),
        [(id, Some(account_id), vec!["压缩机改造".to_string()])]
    );
    assert!(db
        .records_named(RecordKind::Contact, &["王强".into()])
        .await
        .unwrap()
        .is_empty());

    let stored: Opportunity = db
        .get(id, &rep_scope, Access::Write)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored,
        Opportunity { id, ..opp.clone() },
        "every field round-trips, to the millisecond"
    );
    assert!(db
        .get::<Opportunity>(id, &mgr_scope, Access::Write)
        .await
        .unwrap()
        .is_some());
    assert!(db
        .get::<Opportunity>(id, &other_scope, Access::Read)
        .await
        .unwrap()
        .is_none());
    assert!(db
        .get::<Account>(account_id, &other_scope, Access::Read)
        .await
        .unwrap()
        .is_none());

    let mut moved = stored.clone();
    let later = NOW + Duration::hours(3);
    let ctx = opportunity::MoveContext {
        actor: &rep_actor,
        now: later,
        loss_reasons: &reasons,
        tasks_done: &[],
        custom: &Default::default(),
        custom_labels: &[],
        policies: &[],
        approved: false,
        task_language: Language::ZhCn,
        calendar: &shangji_core::calendar::WorkCalendar::china_default(),
    };
    let input = MoveInput {
        stage_id: pipeline.stages[1].id,
        checklist: vec!["need_confirmed".into()],
        ..Default::default()
    };
    let moved_to = opportunity::move_to(&mut moved, &pipeline, input, &ctx).unwrap();
    assert_eq!(
        moved_to.tasks.len(),
        1,
        "entering Needs analysis creates a task"
    );
    let events = moved_to.events;
    let tasks_before = db.count("tasks").await.unwrap();
    db.save_move(&moved, 1, &events, &moved_to.tasks, &[])
        .await
        .unwrap();
    assert_eq!(db.count("tasks").await.unwrap(), tasks_before + 1);
    assert!(db.actions_done_by_tasks(id).await.unwrap().is_empty());
    assert!(db.stage_in_use(pipeline.stages[1].id).await.unwrap());

    // Approvals: a policy; a request with its event and notification in one transaction;
    // a decision; a failing batch leaves nothing behind; notifications read.
    let mut policy = ApprovalPolicy {
        id: 0,
        name: "大单".into(),
        active: true,
        pipeline_id: Some(pipeline.id),
        stage_id: Some(pipeline.stages[3].id),
        conditions: vec![],
        chain: vec![Approver::OwnerManager],
    };
    policy.id = db.save_approval_policy(&policy, later).await.unwrap();
    policy.active = false;
    db.save_approval_policy(&policy, later).await.unwrap();
    assert_eq!(
        db.directory().await.unwrap().approval_policies,
        vec![policy.clone()]
    );
    let mut req = ApprovalRequest {
        id: 0,
        opportunity_id: id,
        policy_id: Some(policy.id),
        requester_id: rep,
        from_stage_id: pipeline.stages[1].id,
        to_stage_id: pipeline.stages[3].id,
        move_input: serde_json::json!({"stage_id": pipeline.stages[3].id}),
        approver_ids: vec![mgr],
        step: 0,
        status: ApprovalStatus::Pending,
        decisions: vec![],
        version: 1,
        created_at: later,
        decided_at: None,
    };
    let note = Notification {
        id: 0,
        user_id: mgr,
        kind: "approval_requested".into(),
        record_kind: Some(RecordKind::Opportunity),
        record_id: Some(id),
        payload: serde_json::json!({"title": "x"}),
        read_at: None,
        archived: false,
        version: 1,
        created_at: later,
    };
    let requested = NewEvent {
        kind: EventKind::ApprovalRequested,
        actor_id: rep,
        at: later,
        from_stage_id: None,
        to_stage_id: None,
        old_value: None,
        new_value: None,
    };
    let events_before = db.events(id).await.unwrap().len();
    let ids = db
        .write_all(&[
            Write::NewApproval(&req),
            Write::Events {
                opportunity_id: id,
                events: std::slice::from_ref(&requested),
            },
            Write::Notify(std::slice::from_ref(&note)),
        ])
        .await
        .unwrap();
    req.id = ids[0];
    let all = Scope::All;
    assert_eq!(
        db.get::<ApprovalRequest>(req.id, &all, Access::Read)
            .await
            .unwrap(),
        Some(req.clone())
    );
    assert!(
        db.write_all(&[Write::NewApproval(&req)]).await.is_err(),
        "one pending request per opportunity"
    );
    let current = db
        .get::<Opportunity>(id, &all, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            db.save_move(&current, current.version, &[], &[], &[]).await,
            Err(StoreError::Duplicate(d)) if d == APPROVAL_PENDING
        ),
        "no move while one waits for approval"
    );
    assert_eq!(db.unread_count(mgr).await.unwrap(), 1);
    // A batch whose last write conflicts writes nothing.
    let mut decided = req.clone();
    decided.status = ApprovalStatus::Rejected;
    assert!(matches!(
        db.write_all(&[
            Write::Notify(std::slice::from_ref(&note)),
            Write::Events {
                opportunity_id: id,
                events: std::slice::from_ref(&requested),
            },
            Write::Approval {
                req: &decided,
                expected_version: 7,
            },
        ])
        .await,
        Err(StoreError::Conflict { current_version: 1 })
    ));
    assert_eq!(db.unread_count(mgr).await.unwrap(), 1);
    assert_eq!(db.events(id).await.unwrap().len(), events_before + 1);
    db.write_all(&[Write::Approval {
        req: &decided,
        expected_version: 1,
    }])
    .await
    .unwrap();
    let q = ListQuery {
        eq: vec![("current_approver_id", mgr.into())],
        sort: "created_at",
        ..Default::default()
    };
    assert!(db
        .list::<ApprovalRequest>(&all, &q)
        .await
        .unwrap()
        .items
        .is_empty());
    let notes = db
        .list::<Notification>(
            &all,
            &ListQuery {
                owner_id: Some(mgr),
                sort: "created_at",
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert!(db.mark_read(mgr, notes[0].id, later).await.unwrap());
    assert!(
        db.mark_read(mgr, notes[0].id, later + Duration::hours(1))
            .await
            .unwrap(),
        "read again: still theirs"
    );
    assert!(
        !db.mark_read(rep, notes[0].id, later).await.unwrap(),
        "not theirs"
    );
    assert_eq!(db.unread_count(mgr).await.unwrap(), 0);
    assert!(matches!(
        db.save(
            &moved,
            Save::Update {
                expected_version: 1
            },
            &events
        )
        .await,
        Err(StoreError::Conflict { current_version: 2 })
    ));
    assert!(matches!(
        db.save(
            &Opportunity {
                id: 9999,
                ..moved.clone()
            },
            Save::Update {
                expected_version: 1
            },
            &[]
        )
        .await,
        Err(StoreError::NotFound)
    ));
    let history = db.events(id).await.unwrap();
    assert_eq!(
        history.len(),
        1 + events.len() + 1,
        "created, the move, the approval request; the conflicting save wrote none"
    );
    assert_eq!(
        (history[1].kind, history[2].kind),
        (EventKind::ChecklistChanged, EventKind::StageChanged)
    );
    assert_eq!(history[2].from_stage_id, Some(pipeline.stages[0].id));
    assert_eq!(history[2].at, later);
    let window = db
        .events_between(
            &rep_scope,
            NOW + Duration::hours(1),
            NOW + Duration::days(1),
        )
        .await
        .unwrap();
    assert_eq!(window.len(), events.len() + 1);
    assert!(db
        .events_between(&other_scope, NOW, later + Duration::days(1))
        .await
        .unwrap()
        .is_empty());

    // The history is append-only in the database itself.
    let tamper = match db.pool() {
        Pool::Sqlite(p) => sqlx::query("UPDATE opportunity_events SET kind = 'won'")
            .execute(p)
            .await
            .map(|_| ()),
        Pool::Postgres(p) => sqlx::query("UPDATE opportunity_events SET kind = 'won'")
            .execute(p)
            .await
            .map(|_| ()),
    };
    assert!(tamper.is_err());

    // Lists: filters, search, stage kind, teams, paging.
    let q = ListQuery {
        q: Some("压缩机".into()),
        ..Default::default()
    };
    assert_eq!(
        db.list::<Opportunity>(&rep_scope, &q).await.unwrap().total,
        1
    );
    assert_eq!(
        db.list::<Opportunity>(&other_scope, &q)
            .await
            .unwrap()
            .total,
        0
    );
    let q = ListQuery {
        eq: vec![("status", "won".into())],
        ..Default::default()
    };
    assert_eq!(
        db.list::<Opportunity>(&Scope::All, &q).await.unwrap().total,
        0
    );
    let q = ListQuery {
        owner_ids: Some(dir.org.members(south)),
        ..Default::default()
    };
    assert_eq!(
        db.list::<Opportunity>(&Scope::All, &q).await.unwrap().total,
        0
    );
    let q = ListQuery {
        eq: vec![("stage_id", pipeline.stages[1].id.into())],
        ranges: vec![(
            "close_date",
            "<=",
            time::macros::date!(2026 - 09 - 30).into(),
        )],
        ..Default::default()
    };
    assert_eq!(
        db.list::<Opportunity>(&Scope::All, &q).await.unwrap().items[0].id,
        id
    );
    assert!(db.exists("opportunities", id).await.unwrap());
    assert!(!db.exists("opportunities", id + 1).await.unwrap());

    // Bulk loading with explicit ids, then sequences continue after them.
    let bulk: Vec<Account> = (0..700)
        .map(|i| Account {
            id: 1000 + i,
            name: format!("批量客户{i}"),
            ..account.clone()
        })
        .collect();
    db.bulk_insert(&bulk).await.unwrap();
    db.reset_sequences().await.unwrap();
    let next = db
        .save(&account, Save::Insert { idem: None }, &[])
        .await
        .unwrap();
    assert!(next > 1699, "new ids follow the bulk-loaded ones ({next})");
    assert_eq!(db.count("accounts").await.unwrap(), 702);
    let page = db
        .list::<Account>(
            &Scope::All,
            &ListQuery {
                limit: 50,
                offset: 50,
                sort: "name",
                desc: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.total), (50, 702));

    // Forecast adjustments: appended, read per period and target, newest first.
    let adjustment = |team_id, user_id, amount_minor, minutes| shangji_core::rollup::Adjustment {
        id: 0,
        team_id,
        user_id,
        period: "2026-Q1".into(),
        amount_minor,
        currency: "CNY".into(),
        reason: "大单推迟".into(),
        actor_id: mgr,
        at: NOW + time::Duration::minutes(minutes),
    };
    let first = db
        .insert_adjustment(&adjustment(Some(east), None, 100, 1))
        .await
        .unwrap();
    let second = db
        .insert_adjustment(&adjustment(Some(east), None, 200, 2))
        .await
        .unwrap();
    db.insert_adjustment(&adjustment(None, Some(rep), 5, 3))
        .await
        .unwrap();
    let on_east = db
        .adjustments(Some("2026-Q1"), Some(east), None)
        .await
        .unwrap();
    assert_eq!(
        on_east
            .iter()
            .map(|a| (a.id, a.amount_minor))
            .collect::<Vec<_>>(),
        vec![(second, 200), (first, 100)]
    );
    assert_eq!(
        on_east[0],
        shangji_core::rollup::Adjustment {
            id: second,
            ..adjustment(Some(east), None, 200, 2)
        }
    );
    assert_eq!(
        db.adjustments(Some("2026-Q1"), None, None)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(db
        .adjustments(Some("2026-02"), None, None)
        .await
        .unwrap()
        .is_empty());
    db.close().await;
}

/// Many creates at once (on SQLite they are committed together): each gets its own id and
/// its own events, and a create naming a missing account fails alone, leaving no trace.
#[tokio::test]
async fn concurrent_creates_each_get_their_own_answer() {
    let db = test_db().await;
    let rep = db
        .insert_user(&user("rep.c", Role::Rep, None), None)
        .await
        .unwrap();
    let t = b2b_template();
    let pipeline = Arc::new(
        db.insert_pipeline(t.name, true, &t.policy, &t.stages, NOW)
            .await
            .unwrap(),
    );
    let actor = Actor {
        user_id: rep,
        role: Role::Rep,
        team_id: None,
    };
    let mut account = blank_account(rep, NOW);
    apply_account(
        &mut account,
        AccountInput {
            name: Field::Value("并发客户".into()),
            ..Default::default()
        },
        true,
    )
    .unwrap();
    let account_id = db
        .save(&account, Save::Insert { idem: None }, &[])
        .await
        .unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40i64 {
        let (db, pipeline, actor) = (db.clone(), pipeline.clone(), actor.clone());
        // Every fifth names an account that does not exist.
        let account = if i % 5 == 4 { 999_999 } else { account_id };
        tasks.spawn(async move {
            let input: OpportunityInput = serde_json::from_value(serde_json::json!({
                "title": format!("并发商机{i}"), "account_id": account, "amount_minor": i * 100
            }))
            .unwrap();
            let (opp, events) = opportunity::create(input, &pipeline, &actor, NOW).unwrap();
            (i, db.save(&opp, Save::Insert { idem: None }, &events).await)
        });
    }
    let mut ids = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, saved) = done.unwrap();
        if i % 5 == 4 {
            assert!(
                matches!(saved, Err(StoreError::BrokenReference(_))),
                "{i}: {saved:?}"
            );
            continue;
        }
        let id = saved.unwrap_or_else(|e| panic!("{i}: {e}"));
        let stored = db
            .get::<Opportunity>(id, &Scope::All, Access::Read)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.title, stored.amount.amount_minor),
            (format!("并发商机{i}"), i * 100)
        );
        let events = db.events(id).await.unwrap();
        assert_eq!(events.len(), 1, "{i}");
        assert_eq!(
            (events[0].opportunity_id, events[0].kind),
            (id, EventKind::Created)
        );
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 32);
    assert_eq!(db.count("opportunities").await.unwrap(), 32);
    assert_eq!(db.count("opportunity_events").await.unwrap(), 32);
}

fn field(kind: RecordKind, key: &str, body: serde_json::Value) -> CustomFieldDef {
    let mut def = custom_fields::blank_definition();
    let mut input =
        serde_json::json!({"record_kind": kind, "key": key, "label_zh": key, "label_en": key});
    input
        .as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    custom_fields::apply(&mut def, serde_json::from_value(input).unwrap(), true, &[]).unwrap();
    def
}

fn values(v: serde_json::Value) -> Option<CustomValues> {
    Some(serde_json::from_value(v).unwrap())
}

/// Custom field definitions and values: stored with their record in one transaction on every
/// write path, read back on every get and list, filtered through their indexes, renamed and
/// migrated in place.
#[tokio::test]
async fn custom_fields_and_values() {
    let db = test_db().await;
    let rep = db
        .insert_user(&user("rep.d", Role::Rep, None), None)
        .await
        .unwrap();
    let t = b2b_template();
    let pipeline = Arc::new(
        db.insert_pipeline(t.name, true, &t.policy, &t.stages, NOW)
            .await
            .unwrap(),
    );
    let actor = Actor {
        user_id: rep,
        role: Role::Rep,
        team_id: None,
    };

    // Definitions: unique key per record kind; part of the directory.
    let version = db.directory().await.unwrap().version;
    let mut defs = Vec::new();
    for (kind, key, body) in [
        (
            RecordKind::Opportunity,
            "region",
            serde_json::json!({"field_type": "single_select", "options": [{"value": "华东"}, {"value": "华南"}]}),
        ),
        (
            RecordKind::Opportunity,
            "budget",
            serde_json::json!({"field_type": "decimal"}),
        ),
        (
            RecordKind::Opportunity,
            "lines",
            serde_json::json!({"field_type": "multi_select", "options": [{"value": "泵"}, {"value": "阀"}, {"value": "管"}]}),
        ),
        (
            RecordKind::Account,
            "tier",
            serde_json::json!({"field_type": "text"}),
        ),
        (
            RecordKind::Account,
            "region",
            serde_json::json!({"field_type": "text"}),
        ),
    ] {
        let mut def = field(kind, key, body);
        def.id = db.insert_custom_field(&def).await.unwrap();
        defs.push(def);
    }
    assert!(matches!(
        db.insert_custom_field(&defs[0]).await,
        Err(StoreError::Duplicate(_))
    ));
    let stored = db.custom_fields().await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|d| (d.record_kind, d.key.as_str()))
            .collect::<Vec<_>>(),
        [
            (RecordKind::Account, "tier"),
            (RecordKind::Account, "region"),
            (RecordKind::Opportunity, "region"),
            (RecordKind::Opportunity, "budget"),
            (RecordKind::Opportunity, "lines"),
        ]
    );
    assert_eq!(stored[2], defs[0], "a definition round-trips");
    let dir = db.directory().await.unwrap();
    assert!(dir.version > version);
    assert_eq!(dir.custom_fields, stored);

    // An account with values, created alone (SQLite: the group-commit path; PostgreSQL: one
    // statement).
    let mut account = blank_account(rep, NOW);
    account.name = "定制字段客户".into();
    let changes = custom_fields::apply_values(
        &stored,
        RecordKind::Account,
        &mut account.custom,
        values(serde_json::json!({"tier": "A", "region": "华东"})),
        true,
    )
    .unwrap();
    let account_id = db
        .save_with_custom(&account, Save::Insert { idem: None }, &[], &changes)
        .await
        .unwrap();
    let got: Account = db
        .get(account_id, &Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        Account {
            id: account_id,
            ..account.clone()
        }
    );

    // Opportunities created at once, in two waves: each gets its own values (and events). In
    // the first, some fail (on SQLite the batch is retried one by one) and one with an
    // idempotency key goes through a transaction; the second commits as one batch.
    let mut ids = std::collections::HashMap::new();
    for wave in [0..12i64, 12..16] {
        let mut tasks = tokio::task::JoinSet::new();
        for i in wave {
            let (db, pipeline, actor, defs) =
                (db.clone(), pipeline.clone(), actor.clone(), stored.clone());
            tasks.spawn(async move {
            let input: OpportunityInput = serde_json::from_value(serde_json::json!({
                // Every fourth from the second names a missing account and fails alone.
                "title": format!("定制{i}"), "account_id": if i % 4 == 1 && i < 12 { 999_999 } else { account_id }
            }))
            .unwrap();
            let (mut opp, events) = opportunity::create(input, &pipeline, &actor, NOW).unwrap();
            let region = if i % 2 == 0 { "华东" } else { "华南" };
            let lines = if i % 3 == 0 { vec!["阀", "泵"] } else { vec!["管"] };
            let changes = custom_fields::apply_values(
                &defs,
                RecordKind::Opportunity,
                &mut opp.custom,
                values(serde_json::json!({"region": region, "budget": format!("{i}.5"), "lines": lines})),
                true,
            )
            .unwrap();
            let key = IdemKey {
                user_id: actor.user_id,
                key: "cf-1".into(),
                resource: "opportunities",
                request_hash: "h".into(),
                at: NOW,
            };
            let how = if i == 11 {
                Save::Insert { idem: Some(&key) }
            } else {
                Save::Insert { idem: None }
            };
            let saved = db.save_with_custom(&opp, how, &events, &changes).await;
            (i, saved, opp)
        });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, saved, opp) = done.unwrap();
            if i % 4 == 1 && i < 12 {
                assert!(
                    matches!(saved, Err(StoreError::BrokenReference(_))),
                    "{i}: {saved:?}"
                );
                continue;
            }
            let id = saved.unwrap_or_else(|e| panic!("{i}: {e}"));
            let got: Opportunity = db
                .get(id, &Scope::All, Access::Read)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.custom, opp.custom, "{i}");
            assert_eq!(
                got.custom["budget"],
                serde_json::json!(format!("{i}.50")),
                "{i}"
            );
            assert_eq!(db.events(id).await.unwrap().len(), 1, "{i}");
            ids.insert(i, id);
        }
    }
    // 13 opportunities of 3 values, 5 of them with a second option; nothing of the failed ones.
    assert_eq!(db.count("custom_values").await.unwrap(), 2 + 13 * 3 + 5);
    assert_eq!(db.count("opportunities").await.unwrap(), 13);
    assert_eq!(db.count("opportunity_events").await.unwrap(), 13);

    // Lists fill the values of their page and filter through the value indexes.
    let titles = |page: shangji_store::Page<Opportunity>| {
        let mut t: Vec<String> = page.items.iter().map(|o| o.title.clone()).collect();
        t.sort();
        t
    };
    let by = |filters: Vec<CustomFilter>| ListQuery {
        custom: filters,
        limit: 100,
        ..Default::default()
    };
    let eq_text = |d: &CustomFieldDef, v: &str| CustomFilter {
        field_id: d.id,
        compare: Compare::Eq,
        value: IndexValue::Text(v.into()),
    };
    let page = db
        .list::<Opportunity>(&Scope::All, &by(vec![eq_text(&defs[2], "阀")]))
        .await
        .unwrap();
    assert_eq!(page.total, 5);
    assert!(page
        .items
        .iter()
        .all(|o| o.custom["lines"] == serde_json::json!(["泵", "阀"])));
    let range = |compare, n| CustomFilter {
        field_id: defs[1].id,
        compare,
        value: IndexValue::Num(n),
    };
    let page = db
        .list::<Opportunity>(
            &Scope::All,
            &by(vec![
                eq_text(&defs[0], "华东"),
                range(Compare::AtLeast, 250),
                range(Compare::AtMost, 650),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(titles(page), ["定制2", "定制4", "定制6"]);
    let accounts = db
        .list::<Account>(&Scope::All, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(accounts.items[0].custom, account.custom);

    // An update replaces the changed fields' rows in the record's transaction; a stale one
    // writes nothing.
    let mut opp: Opportunity = db
        .get(ids[&3], &Scope::All, Access::Write)
        .await
        .unwrap()
        .unwrap();
    let before = opp.clone();
    let changes = custom_fields::apply_values(
        &stored,
        RecordKind::Opportunity,
        &mut opp.custom,
        values(serde_json::json!({"lines": ["管"], "budget": null})),
        false,
    )
    .unwrap();
    let events = opportunity::custom_field_events(&changes, &actor, NOW);
    assert!(matches!(
        db.save_with_custom(
            &opp,
            Save::Update {
                expected_version: 7
            },
            &events,
            &changes
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        db.get::<Opportunity>(opp.id, &Scope::All, Access::Read)
            .await
            .unwrap()
            .unwrap(),
        before
    );
    db.save_with_custom(
        &opp,
        Save::Update {
            expected_version: 1,
        },
        &events,
        &changes,
    )
    .await
    .unwrap();
    let got: Opportunity = db
        .get(opp.id, &Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.custom,
        custom_fields_values(serde_json::json!({"region": "华南", "lines": ["管"]}))
    );
    assert_eq!(db.events(opp.id).await.unwrap().len(), 3);
    assert!(matches!(
        db.save_with_custom(
            &Activity {
                id: 1,
                kind: ActivityType::Note,
                occurred_at: NOW,
                summary: "x".into(),
                outcome: None,
                next_step: None,
                account_id: Some(account_id),
                contact_id: None,
                opportunity_id: None,
                lead_id: None,
                author_id: rep,
                customer_facing: false,
                archived: false,
                version: 1,
                created_at: NOW,
                updated_at: NOW,
            },
            Save::Insert { idem: None },
            &[],
            &changes
        )
        .await,
        Err(StoreError::Config(_))
    ));

    // A rename moves every stored value in one statement; migrations move them between
    // columns or scale them; archiving keeps them.
    let mut region = defs[0].clone();
    let renames = custom_fields::apply(
        &mut region,
        serde_json::from_value(
            serde_json::json!({"rename_options": [{"from": "华东", "to": "华东区"}]}),
        )
        .unwrap(),
        false,
        &stored,
    )
    .unwrap();
    db.update_custom_field(&region, &renames, ValueMigration::None)
        .await
        .unwrap();
    let page = db
        .list::<Opportunity>(&Scope::All, &by(vec![eq_text(&region, "华东区")]))
        .await
        .unwrap();
    assert_eq!(page.total, 8);
    assert!(page.items.iter().all(|o| o.custom["region"] == "华东区"));
    assert_eq!(
        db.list::<Opportunity>(&Scope::All, &by(vec![eq_text(&region, "华东")]))
            .await
            .unwrap()
            .total,
        0
    );

    let mut budget = defs[1].clone();
    budget.decimal_places = Some(3);
    let values_before = db.custom_values_of(budget.id).await.unwrap();
    assert_eq!(values_before.len(), 12);
    assert_eq!(
        custom_fields::convert_values(&defs[1], &budget, &values_before),
        Ok(ValueMigration::Multiply(10))
    );
    db.update_custom_field(&budget, &[], ValueMigration::Multiply(10))
        .await
        .unwrap();
    let got: Opportunity = db
        .get(ids[&4], &Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.custom["budget"], "4.500");

    let mut tier = defs[3].clone();
    tier.field_type = custom_fields::CustomFieldType::LongText;
    tier.archived = true;
    db.update_custom_field(&tier, &[], ValueMigration::TextToLong)
        .await
        .unwrap();
    let got: Account = db
        .get(account_id, &Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.custom, account.custom,
        "archived, and moved to long text, kept"
    );
    assert_eq!(
        db.custom_values_of(tier.id).await.unwrap()[0]
            .row
            .value_long
            .as_deref(),
        Some("A")
    );
    tier.field_type = custom_fields::CustomFieldType::Text;
    db.update_custom_field(&tier, &[], ValueMigration::LongToText)
        .await
        .unwrap();
    assert_eq!(
        db.custom_values_of(tier.id).await.unwrap()[0]
            .row
            .value_text
            .as_deref(),
        Some("A")
    );
    assert!(matches!(
        db.update_custom_field(
            &CustomFieldDef {
                id: 9999,
                ..tier.clone()
            },
            &[],
            ValueMigration::None
        )
        .await,
        Err(StoreError::NotFound)
    ));
    db.reset_sequences().await.unwrap();
    db.close().await;
}

fn custom_fields_values(v: serde_json::Value) -> CustomValues {
    serde_json::from_value(v).unwrap()
}

/// Forecast snapshots: written with their rows at once, read back whole, one weekly snapshot
/// per week, rows of a period found with their snapshot's time.
#[tokio::test]
async fn forecast_snapshots() {
    use shangji_store::{Snapshot, SnapshotRow};
    use time::macros::date;
    let db = test_db().await;
    let t = b2b_template();
    let pipeline = db
        .insert_pipeline(t.name, true, &t.policy, &t.stages, NOW)
        .await
        .unwrap();
    let head = |kind: &str, week: Option<&str>, at: OffsetDateTime| Snapshot {
        id: 0,
        kind: kind.into(),
        week: week.map(str::to_string),
        taken_at: at,
        taken_by: None,
        runs: 10_000,
        seed: 1,
    };
    let row = |grain: &str, from, to, p50| SnapshotRow {
        pipeline_id: pipeline.id,
        level: "company".into(),
        team_id: None,
        owner_id: None,
        grain: grain.into(),
        period_from: from,
        period_to: to,
        won: 100,
        configured: 500,
        empirical: 400,
        blended: 450,
        p10: 200,
        p50,
        p90: 900,
    };
    let rows = vec![
        row("month", date!(2026 - 05 - 01), date!(2026 - 05 - 31), 410),
        row("month", date!(2026 - 06 - 01), date!(2026 - 06 - 30), 420),
        row("quarter", date!(2026 - 04 - 01), date!(2026 - 06 - 30), 430),
    ];
    let id = db
        .insert_snapshot(&head("weekly", Some("2026-W19"), NOW), &rows)
        .await
        .unwrap();
    let (s, got) = db.snapshot(id).await.unwrap().unwrap();
    assert_eq!(
        (s.kind.as_str(), s.week.as_deref(), s.taken_at),
        ("weekly", Some("2026-W19"), NOW)
    );
    assert_eq!(got.len(), 3);
    assert!(got.contains(&rows[1]));
    assert!(db.snapshot_of_week("weekly", "2026-W19").await.unwrap());
    assert!(!db.snapshot_of_week("weekly", "2026-W20").await.unwrap());
    // The same week again: refused, nothing of it stored.
    assert!(matches!(
        db.insert_snapshot(
            &head("weekly", Some("2026-W19"), NOW + Duration::hours(1)),
            &rows
        )
        .await,
        Err(StoreError::Duplicate(_))
    ));
    // Manual snapshots have no week and may be many.
    let later = db
        .insert_snapshot(&head("manual", None, NOW + Duration::days(1)), &rows[1..2])
        .await
        .unwrap();
    db.insert_snapshot(&head("manual", None, NOW + Duration::days(2)), &[])
        .await
        .unwrap();
    let list = db.snapshots(10).await.unwrap();
    assert_eq!(list.len(), 3, "the refused one is not there");
    assert_eq!(list[1].id, later, "newest first");
    let june = db
        .snapshot_rows_for(
            pipeline.id,
            "month",
            date!(2026 - 06 - 01),
            date!(2026 - 06 - 30),
        )
        .await
        .unwrap();
    assert_eq!(
        june.iter()
            .map(|t| (t.snapshot_id, t.row.p50))
            .collect::<Vec<_>>(),
        vec![(id, 420), (later, 420)],
        "oldest snapshot first"
    );
    assert_eq!(june[1].taken_at, NOW + Duration::days(1));
    assert!(db.snapshot(999_999).await.unwrap().is_none());
    db.close().await;
}

#[tokio::test]
async fn notification_channels_settings_and_deliveries() {
    use shangji_core::model::ChannelKind;
    use shangji_store::{Attempt, Channel, NewDelivery, NotificationPrefs};
    let db = test_db().await;
    let rep = db
        .insert_user(&user("rep.n", Role::Rep, None), None)
        .await
        .unwrap();

    // Channels: insert, update with its version, archive.
    let mut c = Channel {
        id: 0,
        name: "销售群".into(),
        kind: ChannelKind::DingTalk,
        url: "https://oapi.dingtalk.com/robot/send?access_token=x".into(),
        secret: Some("SEC123".into()),
        language: Language::ZhCn,
        enabled: true,
        events: "all".into(),
        team_id: None,
        version: 1,
        created_at: NOW,
        updated_at: NOW,
    };
    c.id = db.insert_channel(&c).await.unwrap();
    assert_eq!(db.channels().await.unwrap(), vec![c.clone()]);
    c.name = "销售二群".into();
    assert_eq!(db.update_channel(&c).await.unwrap(), 2);
    assert!(matches!(
        db.update_channel(&c).await,
        Err(StoreError::Conflict { current_version: 2 })
    ));

    // Settings, and claiming a once-a-day value.
    assert_eq!(db.setting("k").await.unwrap(), None);
    db.set_setting("k", "[\"a\"]", NOW).await.unwrap();
    db.set_setting("k", "[\"b\"]", NOW).await.unwrap();
    assert_eq!(db.setting("k").await.unwrap().as_deref(), Some("[\"b\"]"));
    assert!(db.claim_setting("day", "2026-05-06", NOW).await.unwrap());
    assert!(!db.claim_setting("day", "2026-05-06", NOW).await.unwrap());
    assert!(db.claim_setting("day", "2026-05-07", NOW).await.unwrap());

    // Preferences.
    let prefs = NotificationPrefs {
        user_id: rep,
        email_enabled: true,
        daily_digest: false,
        email: Some("rep@example.com".into()),
    };
    db.set_notification_prefs(&prefs, NOW).await.unwrap();
    assert_eq!(
        db.notification_prefs(&[rep, 999]).await.unwrap(),
        vec![prefs]
    );

    // Deliveries: queued, claimed once while leased, an attempt recorded, retried.
    let new = |channel: Option<i64>, email: Option<&str>, status: &str| NewDelivery {
        channel_id: channel,
        email: email.map(str::to_string),
        user_id: Some(rep),
        event: "test".into(),
        message: "{}".into(),
        status: status.into(),
        created_at: NOW,
    };
    let ids = db
        .insert_deliveries(&[
            new(Some(c.id), None, "pending"),
            new(None, Some("rep@example.com"), "held"),
        ])
        .await
        .unwrap();
    let claimed = db
        .claim_deliveries(NOW, NOW + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[0]]);
    assert!(db
        .claim_deliveries(NOW, NOW + Duration::minutes(1), 10)
        .await
        .unwrap()
        .is_empty());
    db.record_attempt(
        ids[0],
        &Attempt {
            status: "retrying",
            next_attempt_at: Some(NOW + Duration::minutes(1)),
            error: Some(("http_503".into(), "HTTP 503".into())),
            http_status: Some(503),
            at: NOW,
        },
    )
    .await
    .unwrap();
    let d = db.delivery(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (
            d.status.as_str(),
            d.attempts,
            d.last_status,
            d.last_error_code.as_deref()
        ),
        ("retrying", 1, Some(503), Some("http_503"))
    );
    assert!(db.retry_delivery(ids[0], NOW).await.unwrap());
    assert_eq!(
        db.deliveries(Some("pending"), Some(c.id), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The daily digest takes the held email once.
    assert_eq!(db.held_deliveries().await.unwrap().len(), 1);
    let digest = new(None, Some("rep@example.com"), "pending");
    assert!(db.save_digest(&digest, &[ids[1]]).await.unwrap().is_some());
    assert!(db.save_digest(&digest, &[ids[1]]).await.unwrap().is_none());
    assert_eq!(
        db.deliveries(Some("digested"), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // An archived channel is gone from the list, and what waited for it fails.
    assert!(db.archive_channel(c.id, NOW).await.unwrap());
    assert!(db.channels().await.unwrap().is_empty());
    assert_eq!(db.delivery(ids[0]).await.unwrap().unwrap().status, "failed");
}

/// Automation: rules, firings once per (rule, record, episode), settings documents,
/// notification preferences and the scheduler's reads.
#[tokio::test]
async fn automation_rules_firings_and_settings() {
    use shangji_core::rules::{Action, Condition, Recipient, RecordType, Rule, Trigger};
    let db = test_db().await;
    let u = db
        .insert_user(&user("auto.rep", Role::Rep, None), None)
        .await
        .unwrap();
    let rule = Rule {
        id: 0,
        name: "提醒".into(),
        enabled: true,
        record_type: RecordType::Opportunity,
        trigger: Trigger::Schedule,
        conditions: Condition::default(),
        actions: vec![Action::Notify {
            to: Recipient::Owner,
            message: None,
        }],
        template_key: Some("t".into()),
        episode_anchors: vec!["stage_entered_at".into()],
    };
    assert!(db
        .seed_rules_once("seeded", std::slice::from_ref(&rule), NOW)
        .await
        .unwrap());
    assert!(!db
        .seed_rules_once("seeded", std::slice::from_ref(&rule), NOW)
        .await
        .unwrap());
    let id = db.insert_rule(&rule, NOW).await.unwrap();
    let rules = db.rules().await.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].rule, Rule { id, ..rule.clone() });
    let changed = Rule {
        id,
        enabled: false,
        ..rule.clone()
    };
    assert_eq!(db.update_rule(&changed, 1, NOW).await.unwrap(), 2);
    assert!(matches!(
        db.update_rule(&changed, 1, NOW).await,
        Err(StoreError::Conflict { current_version: 2 })
    ));
    assert!(!db.rule(id).await.unwrap().unwrap().rule.enabled);

    let reasons = serde_json::json!([]);
    let first = db
        .insert_firing(id, "opportunity", 7, "once", NOW, &reasons)
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        db.insert_firing(id, "opportunity", 7, "once", NOW, &reasons)
            .await
            .unwrap(),
        None
    );
    db.set_firing_outcome(first.unwrap(), &serde_json::json!([{"kind": "notify"}]))
        .await
        .unwrap();
    let log = db.firings_of(id, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome[0]["kind"], "notify");
    assert!(db
        .fired_keys(&[id])
        .await
        .unwrap()
        .contains(&(id, 7, "once".to_string())));
    assert_eq!(
        db.last_fired().await.unwrap().get(&id),
        Some(&NOW.replace_nanosecond(123_000_000).unwrap())
    );
    assert!(db.delete_rule(id).await.unwrap());
    assert!(db.firings_of(id, 10).await.unwrap().is_empty());

    assert_eq!(db.setting("work_calendar").await.unwrap(), None);
    db.set_setting("work_calendar", "{}", NOW).await.unwrap();
    db.set_setting("work_calendar", "{\"a\":1}", NOW)
        .await
        .unwrap();
    assert_eq!(
        db.setting("work_calendar").await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );

    let prefs = shangji_store::RulePrefs {
        muted_rules: vec![3],
    };
    assert_eq!(db.rule_prefs(u).await.unwrap(), Default::default());
    db.save_rule_prefs(u, &prefs, NOW).await.unwrap();
    assert_eq!(db.rule_prefs(u).await.unwrap(), prefs);
    assert_eq!(db.muted_rules().await.unwrap().get(&u), Some(&vec![3]));
    assert_eq!(db.mark_all_read(u, NOW).await.unwrap(), 0);

    assert!(db.open_opportunities_after(0, 10).await.unwrap().is_empty());
    let facts = db.rule_facts(&[1, 2], &["call"], NOW).await.unwrap();
    assert!(facts.last_follow_up.is_empty());
    db.close().await;
}

#[tokio::test]
async fn web_forms_lead_scores_and_merges() {
    use shangji_core::merge::Merge;
    use shangji_core::records::{blank_contact, blank_lead};
    use shangji_core::scoring::{FactorKind, Scored};
    use shangji_core::web_forms::{
        Refusal, Submission, SubmissionOutcome, SubmissionVia, WebForm, WebFormInput,
    };
    use shangji_store::scoring::NewScore;
    use std::collections::BTreeMap;

    let db = test_db().await;
    let u = db
        .insert_user(&user("intake.rep", Role::Rep, None), None)
        .await
        .unwrap();

    // Forms: a slug is unique, a stale version is a conflict.
    let input: WebFormInput = serde_json::from_value(serde_json::json!({
        "name": "官网", "fields": [{"label_zh": "手机", "target": "mobile", "name": "mobile"}]
    }))
    .unwrap();
    let form = WebForm::new("site".into(), "digest".into(), input, NOW);
    let id = db.insert_web_form(&form).await.unwrap();
    assert!(matches!(
        db.insert_web_form(&form).await,
        Err(StoreError::Duplicate(_))
    ));
    let stored = db.web_form_by_slug("site").await.unwrap().unwrap();
    assert_eq!(
        (stored.id, stored.name.as_str(), stored.secret.as_str()),
        (id, "官网", "digest")
    );
    assert_eq!(db.web_form(id).await.unwrap().unwrap().fields, form.fields);
    assert_eq!(db.web_forms().await.unwrap().len(), 1);
    let mut changed = stored.clone();
    changed.archived = true;
    assert_eq!(db.update_web_form(&changed, 1).await.unwrap(), 2);
    assert!(matches!(
        db.update_web_form(&changed, 1).await,
        Err(StoreError::Conflict { current_version: 2 })
    ));
    assert!(db.web_form(id).await.unwrap().unwrap().archived);

    // Leads, a follow-up on one, the submission that made it.
    let mut a = blank_lead(NOW);
    a.id = 1;
    a.owner_id = Some(u);
    a.company_name = Some("甲".into());
    let mut b = blank_lead(NOW);
    b.id = 2;
    b.status = LeadStatus::Qualified;
    db.bulk_insert(&[a, b]).await.unwrap();
    db.reset_sequences().await.unwrap();
    let (load, latest) = db.open_lead_load(&[u, 999]).await.unwrap();
    assert_eq!(
        (load.get(&u), latest.get(&u)),
        (
            Some(&1),
            Some(&NOW.replace_nanosecond(123_000_000).unwrap())
        )
    );
    // The load follows a lead as it moves to another rep, closes, reopens and is archived; the
    // newest creation time stays with whoever got a lead.
    let v = db
        .insert_user(&user("intake.rep2", Role::Rep, None), None)
        .await
        .unwrap();
    let loads = async |db: &Db| {
        let (load, _) = db.open_lead_load(&[u, v]).await.unwrap();
        (
            load.get(&u).copied().unwrap_or(0),
            load.get(&v).copied().unwrap_or(0),
        )
    };
    let mut lead = db.leads_after(0, 1).await.unwrap().remove(0);
    let first = lead.version;
    for (n, (change, expected)) in [
        (
            &(|l: &mut Lead| l.owner_id = Some(v)) as &dyn Fn(&mut Lead),
            (0, 1),
        ),
        (&|l: &mut Lead| l.status = LeadStatus::Working, (0, 1)),
        (&|l: &mut Lead| l.status = LeadStatus::Disqualified, (0, 0)),
        (&|l: &mut Lead| l.status = LeadStatus::New, (0, 1)),
        (&|l: &mut Lead| l.archived = true, (0, 0)),
        (&|l: &mut Lead| l.owner_id = Some(u), (0, 0)),
        (&|l: &mut Lead| l.archived = false, (1, 0)),
    ]
    .into_iter()
    .enumerate()
    {
        change(&mut lead);
        db.save_with_custom(
            &lead,
            Save::Update {
                expected_version: first + n as i64,
            },
            &[],
            &[],
        )
        .await
        .unwrap();
        assert_eq!(loads(&db).await, expected, "{lead:?}");
    }
    let mut extra = blank_lead(NOW + Duration::hours(1));
    extra.id = 3;
    extra.owner_id = Some(v);
    db.bulk_insert(&[extra]).await.unwrap();
    assert_eq!(loads(&db).await, (1, 1));
    assert_eq!(
        db.open_lead_load(&[v]).await.unwrap().1[&v],
        NOW + Duration::hours(1)
    );

    let sub = Submission {
        id: 0,
        form_id: id,
        at: NOW,
        via: SubmissionVia::Form,
        outcome: SubmissionOutcome::Accepted,
        refusal: None,
        address: "10.0.0.1".into(),
        lead_id: Some(1),
        utm: BTreeMap::from([("utm_source".to_string(), "baidu".to_string())]),
        values: BTreeMap::from([("mobile".to_string(), "13800000000".to_string())]),
    };
    db.log_submission(&sub).await.unwrap();
    db.log_submission(&Submission {
        outcome: SubmissionOutcome::Refused,
        refusal: Some(Refusal::Honeypot),
        lead_id: None,
        ..sub.clone()
    })
    .await
    .unwrap();
    let since = NOW - Duration::minutes(1);
    assert_eq!(
        db.recent_submissions((id, since, 10), ("10.0.0.1", since, 10))
            .await
            .unwrap(),
        (2, 2)
    );
    // Counted up to the limit only.
    assert_eq!(
        db.recent_submissions((id, since, 1), ("10.0.0.1", since, 2))
            .await
            .unwrap(),
        (1, 2)
    );
    // Of the minute the window begins in, its share inside (rounded up); before it, nothing.
    for before in [40, 90] {
        db.log_submission(&Submission {
            at: NOW - Duration::seconds(before),
            outcome: SubmissionOutcome::Refused,
            refusal: Some(Refusal::TooFast),
            lead_id: None,
            ..sub.clone()
        })
        .await
        .unwrap();
    }
    assert_eq!(
        db.recent_submissions((id, since, 10), ("10.0.0.1", since, 10))
            .await
            .unwrap(),
        (3, 3)
    );
    // The counts leave with their minutes: three minutes, per form and per address.
    assert_eq!(
        db.prune_submission_rates(NOW + Duration::minutes(1))
            .await
            .unwrap(),
        6
    );
    assert_eq!(
        db.recent_submissions((id, since, 10), ("10.0.0.1", since, 10))
            .await
            .unwrap(),
        (0, 0)
    );
    assert_eq!(
        db.submissions(id, 10).await.unwrap()[0].refusal,
        Some(Refusal::Honeypot)
    );
    assert_eq!(
        db.submission_of_lead(1).await.unwrap().unwrap().utm["utm_source"],
        "baidu"
    );
    assert_eq!(db.submission_counts().await.unwrap()[&id], (1, 3));

    // Scores: saved in a batch, a change is a history row, touches and details by id range.
    let touches = db.lead_touches(1, 2).await.unwrap();
    assert_eq!(touches[&1].len(), 1);
    assert_eq!(db.leads_after(0, 10).await.unwrap().len(), 3);
    assert_eq!(
        db.closed_leads_after(0, 10).await.unwrap(),
        vec![(db.leads_after(1, 1).await.unwrap()[0].clone(), true)]
    );
    let scored = Scored {
        score: 62,
        grade: LeadGrade::B,
        fit_points: 62,
        engagement_points: 0,
        model_percent: None,
        factors: vec![],
    };
    let detail = serde_json::to_string(&scored).unwrap();
    let new = NewScore {
        lead_id: 1,
        scored: scored.clone(),
        detail: detail.clone(),
        previous: (None, None),
    };
    db.save_lead_scores(std::slice::from_ref(&new), NOW)
        .await
        .unwrap();
    // Saved again unchanged: no new history row.
    db.save_lead_scores(
        &[NewScore {
            previous: (Some(62), Some(LeadGrade::B)),
            ..new
        }],
        NOW,
    )
    .await
    .unwrap();
    let s = db.lead_score(1).await.unwrap().unwrap();
    assert_eq!((s.score, s.grade), (Some(62), Some(LeadGrade::B)));
    assert_eq!(
        s.detail
            .unwrap()
            .factors
            .iter()
            .filter(|f| f.kind == FactorKind::Fit)
            .count(),
        0
    );
    assert_eq!(db.lead_score_events(1).await.unwrap().len(), 1);
    assert_eq!(db.lead_score_details(1, 2).await.unwrap()[&1], detail);

    // A merge: the survivor's values, references moved, the merged archived, logged on both.
    let mut c1 = blank_contact(u, NOW);
    c1.id = 1;
    c1.name = "留下".into();
    let mut c2 = blank_contact(u, NOW);
    c2.id = 2;
    c2.name = "并入".into();
    db.bulk_insert(&[c1.clone(), c2]).await.unwrap();
    let log = Merge {
        id: 0,
        record_kind: RecordKind::Contact,
        survivor_id: 1,
        merged_id: 2,
        actor_id: u,
        at: NOW,
        taken: vec!["name".into()],
        merged: serde_json::json!({"name": "并入"}),
    };
    let mut survivor = c1.clone();
    survivor.name = "并入".into();
    assert!(matches!(
        db.merge_records(&survivor, 7, &log).await,
        Err(StoreError::Conflict { .. })
    ));
    db.merge_records(&survivor, 1, &log).await.unwrap();
    let all = db
        .get::<Contact>(2, &Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert!(all.archived);
    assert_eq!(
        db.merges_of(RecordKind::Contact, 2).await.unwrap()[0].survivor_id,
        1
    );
    assert_eq!(db.merges_of(RecordKind::Contact, 1).await.unwrap().len(), 1);
    assert_eq!(
        db.merges(10).await.unwrap()[0].taken,
        vec!["name".to_string()]
    );

    db.set_setting("scoring_model", "{}", NOW).await.unwrap();
    db.delete_setting("scoring_model").await.unwrap();
    assert_eq!(db.setting("scoring_model").await.unwrap(), None);
    db.close().await;
}

#[tokio::test]
async fn handovers_move_what_the_leaver_holds() {
    use shangji_core::handover::{HandoverKind, HandoverMethod, HandoverSettings, HandoverStatus};
    use shangji_core::records::{blank_contact, blank_lead, blank_task};

    let db = test_db().await;
    let leaver = db
        .insert_user(&user("hand.leaver", Role::Rep, None), None)
        .await
        .unwrap();
    let to = db
        .insert_user(&user("hand.receiver", Role::Rep, None), None)
        .await
        .unwrap();
    let mut accounts = Vec::new();
    for i in 1..=3 {
        let mut a = blank_account(leaver, NOW);
        a.id = i;
        a.name = format!("交接 {i}");
        accounts.push(a);
    }
    db.bulk_insert(&accounts).await.unwrap();
    let mut c = blank_contact(leaver, NOW);
    c.id = 1;
    c.name = "联系人".into();
    c.account_id = Some(2);
    db.bulk_insert(&[c]).await.unwrap();
    let mut open = blank_lead(NOW);
    open.id = 1;
    open.owner_id = Some(leaver);
    open.pool_since = None;
    let mut closed = open.clone();
    closed.id = 2;
    closed.status = LeadStatus::Disqualified;
    db.bulk_insert(&[open, closed]).await.unwrap();
    let mut t = blank_task(leaver, NOW);
    t.id = 1;
    t.title = "回访".into();
    t.record_kind = Some(RecordKind::Contact);
    t.record_id = Some(1);
    let mut done = t.clone();
    done.id = 2;
    done.done = true;
    db.bulk_insert(&[t, done]).await.unwrap();

    // What the leaver holds, each with its account: closed leads and done tasks stay.
    let held = db.handover_holdings(leaver).await.unwrap();
    let of = |k: HandoverKind| {
        held.iter()
            .filter(|h| h.kind == k)
            .map(|h| (h.id, h.account_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of(HandoverKind::Account),
        vec![(1, Some(1)), (2, Some(2)), (3, Some(3))]
    );
    assert_eq!(of(HandoverKind::Contact), vec![(1, Some(2))]);
    assert_eq!(of(HandoverKind::Lead), vec![(1, None)]);
    assert_eq!(of(HandoverKind::Task), vec![(1, Some(2))]);
    assert_eq!(db.owner_loads(&[leaver, to]).await.unwrap()[&leaver], 4);
    assert_eq!(db.account_owners(&[1]).await.unwrap()[&1], Some(leaver));

    let settings = HandoverSettings {
        receivers: vec![to],
        method: HandoverMethod::One,
        deactivate: false,
    };
    let id = db
        .insert_handover(leaver, to, &settings, NOW)
        .await
        .unwrap();
    // Moves only what the leaver still holds: a second move of the same ids moves nothing.
    for _ in 0..2 {
        db.move_for_handover(id, HandoverKind::Account, leaver, to, &[1, 2], to, NOW)
            .await
            .unwrap();
    }
    db.move_for_handover(id, HandoverKind::Task, leaver, to, &[1, 2], to, NOW)
        .await
        .unwrap();
    let counts = db.handover_move_counts(id).await.unwrap();
    assert_eq!(
        counts.iter().map(|c| (c.kind, c.count)).collect::<Vec<_>>(),
        vec![(HandoverKind::Account, 2), (HandoverKind::Task, 1)]
    );
    assert_eq!(db.account_owners(&[1, 3]).await.unwrap()[&1], Some(to));
    let history = db.ownership_events(RecordKind::Account, 1).await.unwrap();
    assert_eq!(
        (history.len(), history[0].handover_id, history[0].owner_id),
        (1, Some(id), Some(to))
    );
    assert_eq!(
        db.handovers_of(HandoverKind::Task, 1).await.unwrap(),
        vec![(id, to)]
    );
    db.save_handover_progress(id, &counts, Some(NOW))
        .await
        .unwrap();
    let h = db.handover(id).await.unwrap().unwrap();
    assert_eq!(
        (h.status, h.counts.clone(), h.settings.clone()),
        (HandoverStatus::Done, counts, settings.clone())
    );
    assert_eq!(db.handovers(Some(leaver), 10).await.unwrap().len(), 1);
    assert!(db.handovers(Some(to), 10).await.unwrap().is_empty());
    assert!(db.inherited_deals(&h).await.unwrap().is_empty());
    assert!(db.pending_chains_of(leaver).await.unwrap().is_empty());

    // An open deal handed over: its trail names the move, the latest owner change, when its
    // latest follow-up was logged and each user's latest change.
    let t = b2b_template();
    let pipeline = db
        .insert_pipeline(t.name, true, &t.policy, &t.stages, NOW)
        .await
        .unwrap();
    let actor = Actor {
        user_id: leaver,
        role: Role::Rep,
        team_id: None,
    };
    let input: OpportunityInput = serde_json::from_value(
        serde_json::json!({"title": "交接的商机", "account_id": 3, "amount_minor": 10_000_000}),
    )
    .unwrap();
    let (deal, events) = opportunity::create(input, &pipeline, &actor, NOW).unwrap();
    let deal = db
        .save(&deal, Save::Insert { idem: None }, &events)
        .await
        .unwrap();
    assert!(db.deal_trails(&[deal]).await.unwrap().is_empty());
    let moved_at = NOW + Duration::hours(1);
    let admin = db
        .insert_user(&user("hand.admin", Role::Admin, None), None)
        .await
        .unwrap();
    let second = db
        .insert_handover(leaver, admin, &settings, moved_at)
        .await
        .unwrap();
    db.move_for_handover(
        second,
        HandoverKind::Opportunity,
        leaver,
        to,
        &[deal],
        admin,
        moved_at,
    )
    .await
    .unwrap();
    let logged_at = moved_at + Duration::hours(2);
    let mut call = shangji_core::records::blank_activity(to, logged_at);
    call.kind = ActivityType::Call;
    call.summary = "接手后首次电话".into();
    call.opportunity_id = Some(deal);
    db.save(&call, Save::Insert { idem: None }, &[])
        .await
        .unwrap();
    let trails = db.deal_trails(&[deal, 999]).await.unwrap();
    assert_eq!(trails.len(), 1);
    let trail = &trails[&deal];
    assert_eq!(
        trail.handovers,
        vec![shangji_core::handover::HandedOver {
            handover_id: second,
            at: moved_at,
            to,
        }]
    );
    assert_eq!(trail.owner_changed_at, Some(moved_at));
    assert_eq!(trail.activity_logged_at, Some(logged_at));
    assert_eq!(
        trail.changed_by.clone().into_iter().collect::<Vec<_>>(),
        vec![(leaver, NOW), (admin, moved_at)]
    );
    let h = db.handover(second).await.unwrap().unwrap();
    let deals = db.inherited_deals(&h).await.unwrap();
    assert_eq!(
        deals
            .iter()
            .map(|d| (d.to_user_id, d.opportunity_id, d.owner_id))
            .collect::<Vec<_>>(),
        vec![(to, deal, to)]
    );
    db.close().await;
}

#[tokio::test]
async fn records_an_import_creates_are_marked_with_its_row_as_they_are_saved() {
    use shangji_core::import::{
        ImportBatch, ImportKind, ImportOptions, ImportStatus, ImportSummary, ImportedKind, Mapping,
    };
    use shangji_store::ImportMark;
    let db = test_db().await;
    let admin = db
        .insert_user(&user("admin.i", Role::Admin, None), None)
        .await
        .unwrap();
    let batch = ImportBatch {
        id: 0,
        kind: ImportKind::Accounts,
        file_name: "客户.csv".into(),
        created_by: admin,
        created_at: NOW,
        status: ImportStatus::Running,
        mapping: Mapping::default(),
        options: ImportOptions::default(),
        total_rows: 12,
        done_rows: 0,
        summary: ImportSummary::default(),
        error: None,
        finished_at: None,
        rolled_back_at: None,
        history_name: None,
        mapping_from: None,
    };
    let import_id = db.insert_import(&batch, "客户名称", b"x").await.unwrap();
    // Saved side by side (on SQLite the writer batches them into one transaction), each
    // with its row's mark.
    let mut tasks = tokio::task::JoinSet::new();
    for row in 2..14i64 {
        let db = db.clone();
        tasks.spawn(async move {
            let mut a = blank_account(admin, NOW);
            a.name = format!("导入客户{row}");
            let mark = ImportMark {
                import_id,
                row,
                kind: ImportedKind::Account,
            };
            let id = db
                .save_with_custom(&a, Save::Imported(mark), &[], &[])
                .await
                .unwrap();
            (row, id)
        });
    }
    let mut saved = tasks.join_all().await;
    saved.sort();
    let mut marked: Vec<(i64, i64)> = db
        .imported(import_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.record_kind, ImportedKind::Account);
            assert_eq!((r.before, r.version_after), (None, 1));
            (r.row as i64, r.record_id)
        })
        .collect();
    marked.sort();
    assert_eq!(marked, saved);
    // Each mark names the account of its row.
    for (row, id) in saved {
        let a: Account = db
            .get(id, &Scope::All, Access::Read)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.name, format!("导入客户{row}"));
    }
}
