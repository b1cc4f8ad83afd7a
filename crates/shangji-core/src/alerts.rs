//! What needs a rep's attention on an opportunity: it rots in its stage, its close date has
//! passed while it is still open, or nobody has followed it up meaningfully for too long.
//! Decided here, once, for the today page, the board, the funnel review and the rules.
//!
//! **Days without a follow-up** ([`days_without_follow_up`]) are working days of the working
//! calendar (法定节假日 off, 调休 Saturdays on) since the latest meaningful follow-up — an
//! activity of a type the admin counts (`FactsConfig::meaningful`, the customer-facing types
//! by default) —, or since the opportunity was created when it has none. The alert, the
//! rule field `working_days_since_follow_up` (and so the shipped rule
//! `no_follow_up_3_working_days`) and the board's card all read this one number; the alert
//! is raised at [`NO_FOLLOW_UP_WORKING_DAYS`].

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::calendar::WorkCalendar;
use crate::model::{text_enum, Opportunity, Stage, StageKind};

text_enum!(
    /// Why an opportunity needs attention.
    AlertKind {
        Rotting => "rotting",
        CloseDatePassed => "close_date_passed",
        NoFollowUp => "no_follow_up",
    }
);

/// One reason an opportunity needs attention, and by how many days it is over the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// Rotting: days in the stage; close date passed: days since the close date; no
    /// follow-up: [`days_without_follow_up`] (working days).
    pub days: i64,
}

/// When the alerts are computed, in which working calendar, and the follow-up threshold.
#[derive(Debug, Clone, Copy)]
pub struct AlertClock<'a> {
    pub now: OffsetDateTime,
    /// Today in the team's time zone (close dates are calendar days).
    pub today: Date,
    pub calendar: &'a WorkCalendar,
    /// An opportunity without a meaningful follow-up for this many working days needs one.
    pub no_follow_up_days: i64,
}

/// The follow-up threshold: 3 working days (the seeds' "3 天未跟进", counted as the shipped
/// rule counts them).
pub const NO_FOLLOW_UP_WORKING_DAYS: i64 = 3;

/// Working days without a meaningful follow-up at `now`: since `last_follow_up`, else since
/// `created_at` (see the module documentation).
pub fn days_without_follow_up(
    last_follow_up: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    now: OffsetDateTime,
    calendar: &WorkCalendar,
) -> i64 {
    calendar
        .working_days_between(last_follow_up.unwrap_or(created_at), now)
        .max(0)
}

/// The alerts of an open, unarchived opportunity (none for closed or archived ones).
/// `stage` is its current stage; `last_follow_up` the time of its latest customer-facing
/// activity (see `ActivityType::is_customer_facing`).
pub fn opportunity_alerts(
    opp: &Opportunity,
    stage: Option<&Stage>,
    last_follow_up: Option<OffsetDateTime>,
    clock: &AlertClock,
) -> Vec<Alert> {
    let mut out = Vec::new();
    if opp.status != StageKind::Open || opp.archived {
        return out;
    }
    if is_rotting(opp, stage, clock.now) {
        out.push(Alert {
            kind: AlertKind::Rotting,
            days: days_in_stage(opp, clock.now),
        });
    }
    if let Some(close) = opp.close_date {
        if close < clock.today {
            out.push(Alert {
                kind: AlertKind::CloseDatePassed,
                days: (clock.today - close).whole_days(),
            });
        }
    }
    let days = days_without_follow_up(last_follow_up, opp.created_at, clock.now, clock.calendar);
    if days >= clock.no_follow_up_days {
        out.push(Alert {
            kind: AlertKind::NoFollowUp,
            days,
        });
    }
    out
}

/// Whole days the opportunity has been in its current stage.
pub fn days_in_stage(opp: &Opportunity, now: OffsetDateTime) -> i64 {
    (now - opp.stage_entered_at).whole_days().max(0)
}

/// Whether the opportunity has been in its stage longer than the stage's rotting days (a
/// stage without them never rots).
pub fn is_rotting(opp: &Opportunity, stage: Option<&Stage>, now: OffsetDateTime) -> bool {
    stage
        .and_then(|s| s.rotting_days)
        .is_some_and(|limit| days_in_stage(opp, now) > i64::from(limit))
}

/// Whether an open opportunity's next step is due: its date is today or earlier.
pub fn next_step_due(opp: &Opportunity, today: Date) -> bool {
    opp.status == StageKind::Open && !opp.archived && opp.next_step_date.is_some_and(|d| d <= today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ForecastCategory, Stage};
    use crate::money::Money;
    use time::macros::{date, datetime};

    fn opp() -> Opportunity {
        let created = datetime!(2026-03-01 09:00 UTC);
        Opportunity {
            id: 1,
            title: "t".into(),
            account_id: 1,
            primary_contact_id: None,
            pipeline_id: 1,
            stage_id: 1,
            status: StageKind::Open,
            amount: Money::cny(100),
            close_date: None,
            probability: 10,
            probability_overridden: false,
            forecast_category: ForecastCategory::Pipeline,
            grade: None,
            source: None,
            owner_id: 1,
            next_step: None,
            next_step_date: None,
            tags: vec![],
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

    fn stage(rotting: Option<i32>) -> Stage {
        Stage {
            id: 1,
            pipeline_id: 1,
            position: 1,
            name_zh: "需求分析".into(),
            name_en: "Needs analysis".into(),
            kind: StageKind::Open,
            probability: 25,
            forecast_category: ForecastCategory::Pipeline,
            rotting_days: rotting,
            guidance: None,
            gate: Default::default(),
            actions: vec![],
            archived: false,
        }
    }

    #[test]
    fn alerts_by_hand_computed_dates() {
        // Created and entered its stage 2026-03-01 09:00 UTC, a Sunday (17:00 in China): its
        // follow-up clock starts counting on Monday 2026-03-02.
        let cal = WorkCalendar::china_default();
        let clock = |now: OffsetDateTime, today: Date| AlertClock {
            now,
            today,
            calendar: &cal,
            no_follow_up_days: NO_FOLLOW_UP_WORKING_DAYS,
        };
        type Case<'a> = (
            &'static str,
            fn(&mut Opportunity),
            Option<i32>,
            Option<OffsetDateTime>,
            AlertClock<'a>,
            Vec<(AlertKind, i64)>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "fresh: nothing",
                |_| {},
                Some(7),
                None,
                clock(datetime!(2026-03-02 09:00 UTC), date!(2026 - 03 - 02)),
                vec![],
            ),
            (
                // Monday and Tuesday counted, Wednesday not yet over.
                "2 working days: nothing",
                |_| {},
                None,
                None,
                clock(datetime!(2026-03-04 08:00 UTC), date!(2026 - 03 - 04)),
                vec![],
            ),
            (
                "3 working days after creation, never followed up",
                |_| {},
                None,
                None,
                clock(datetime!(2026-03-05 08:00 UTC), date!(2026 - 03 - 05)),
                vec![(AlertKind::NoFollowUp, 3)],
            ),
            (
                // A call on Friday 2026-02-13 10:00 in China; 春节 2026-02-15 … 02-23 is off,
                // Saturday 02-14 is a make-up working day: the 3rd working day ends
                // Wednesday 02-25 10:00.
                "春节 does not count: the day before the 3rd working day, nothing",
                |o| o.created_at = datetime!(2026-02-01 02:00 UTC),
                None,
                Some(datetime!(2026-02-13 02:00 UTC)),
                clock(datetime!(2026-02-25 01:59 UTC), date!(2026 - 02 - 25)),
                vec![],
            ),
            (
                "春节 does not count: 3 working days at Wednesday 10:00",
                |o| o.created_at = datetime!(2026-02-01 02:00 UTC),
                None,
                Some(datetime!(2026-02-13 02:00 UTC)),
                clock(datetime!(2026-02-25 02:00 UTC), date!(2026 - 02 - 25)),
                vec![(AlertKind::NoFollowUp, 3)],
            ),
            (
                "a call 2 days ago resets the clock",
                |_| {},
                None,
                Some(datetime!(2026-03-08 10:00 UTC)),
                clock(datetime!(2026-03-10 10:00 UTC), date!(2026 - 03 - 10)),
                vec![],
            ),
            (
                "8 days in a stage that rots after 7, followed up yesterday",
                |_| {},
                Some(7),
                Some(datetime!(2026-03-08 09:00 UTC)),
                clock(datetime!(2026-03-09 09:00 UTC), date!(2026 - 03 - 09)),
                vec![(AlertKind::Rotting, 8)],
            ),
            (
                "7 days in a stage that rots after 7: not yet",
                |_| {},
                Some(7),
                Some(datetime!(2026-03-08 09:00 UTC)),
                clock(datetime!(2026-03-08 09:00 UTC), date!(2026 - 03 - 08)),
                vec![],
            ),
            (
                "close date yesterday, still open",
                |o| o.close_date = Some(date!(2026 - 03 - 03)),
                None,
                Some(datetime!(2026-03-04 01:00 UTC)),
                clock(datetime!(2026-03-04 02:00 UTC), date!(2026 - 03 - 04)),
                vec![(AlertKind::CloseDatePassed, 1)],
            ),
            (
                "close date today is not passed",
                |o| o.close_date = Some(date!(2026 - 03 - 04)),
                None,
                Some(datetime!(2026-03-04 01:00 UTC)),
                clock(datetime!(2026-03-04 02:00 UTC), date!(2026 - 03 - 04)),
                vec![],
            ),
            (
                "all three at once",
                |o| o.close_date = Some(date!(2026 - 03 - 10)),
                Some(14),
                Some(datetime!(2026-03-02 09:00 UTC)),
                clock(datetime!(2026-03-20 09:00 UTC), date!(2026 - 03 - 20)),
                vec![
                    (AlertKind::Rotting, 19),
                    (AlertKind::CloseDatePassed, 10),
                    // Monday 03-02 17:00 to Friday 03-20 17:00 in China: three weeks less a day.
                    (AlertKind::NoFollowUp, 14),
                ],
            ),
            (
                "won deals need nothing",
                |o| {
                    o.status = StageKind::Won;
                    o.close_date = Some(date!(2026 - 03 - 03));
                },
                Some(1),
                None,
                clock(datetime!(2026-04-01 09:00 UTC), date!(2026 - 04 - 01)),
                vec![],
            ),
            (
                "archived deals need nothing",
                |o| o.archived = true,
                Some(1),
                None,
                clock(datetime!(2026-04-01 09:00 UTC), date!(2026 - 04 - 01)),
                vec![],
            ),
            (
                "re-entering the stage restarts rotting",
                |o| o.stage_entered_at = datetime!(2026-03-15 09:00 UTC),
                Some(7),
                Some(datetime!(2026-03-19 09:00 UTC)),
                clock(datetime!(2026-03-20 09:00 UTC), date!(2026 - 03 - 20)),
                vec![],
            ),
        ];
        for (name, change, rotting, last, clock, want) in cases {
            let mut o = opp();
            change(&mut o);
            let st = stage(rotting);
            let got: Vec<(AlertKind, i64)> = opportunity_alerts(&o, Some(&st), last, &clock)
                .into_iter()
                .map(|a| (a.kind, a.days))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn next_steps_are_due_on_and_after_their_day() {
        let today = date!(2026 - 03 - 10);
        let cases = [
            (None, StageKind::Open, false),
            (Some(date!(2026 - 03 - 11)), StageKind::Open, false),
            (Some(date!(2026 - 03 - 10)), StageKind::Open, true),
            (Some(date!(2026 - 03 - 01)), StageKind::Open, true),
            (Some(date!(2026 - 03 - 01)), StageKind::Lost, false),
        ];
        for (day, status, want) in cases {
            let mut o = opp();
            o.next_step_date = day;
            o.status = status;
            assert_eq!(next_step_due(&o, today), want, "{day:?} {status:?}");
        }
    }
}
