//! The funnel review meeting (漏斗回顾会议): what changed in a team's deals since its last
//! review, replayed from each deal's event history, and what needs attention now. Pure: the
//! events, the deals as they are now, their stages and the window come in; the sections of the
//! review go out. Definitions (and thresholds) are in `docs/metrics.md`, "Funnel review".

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::alerts::{self, AlertClock, AlertKind};
use crate::analytics::Life;
use crate::calendar::WorkCalendar;
use crate::model::*;
use crate::opportunity::EventKind;
use crate::process;

/// A deal of ¥500,000 or more is large (in fen), unless the page says otherwise.
pub const DEFAULT_LARGE_MINOR: i64 = 50_000_000;
/// The first review of a team looks back this many days.
pub const FIRST_REVIEW_DAYS: i64 = 14;
/// At risk: the close date is within this many days…
pub const AT_RISK_DAYS: i64 = 14;
/// …and the deal's probability is below this percentage.
pub const AT_RISK_PROBABILITY: i32 = 50;

/// A review meeting held: the team, the window it covered (`since` up to `held_at`), who
/// marked it held, and the notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HeldReview {
    pub id: Id,
    pub team_id: TeamId,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub held_at: OffsetDateTime,
    pub held_by: UserId,
    pub notes: Option<String>,
}

/// What a review covers and its thresholds.
#[derive(Debug, Clone, Copy)]
pub struct ReviewWindow<'a> {
    /// The last review's time (or `now` − 14 days for the first one).
    pub since: OffsetDateTime,
    pub now: OffsetDateTime,
    /// Today in China time (close dates are calendar days).
    pub today: Date,
    /// A new deal at least this large (minor units of CNY) is listed as a new large deal.
    pub large_minor: i64,
    /// The follow-up threshold of the one alerts rule, in working days of `calendar`.
    pub no_follow_up_days: i64,
    pub calendar: &'a WorkCalendar,
}

/// A deal as it is now, with what the one alerts rule needs.
#[derive(Debug, Clone, Copy)]
pub struct DealNow<'a> {
    pub opp: &'a Opportunity,
    /// Its current stage.
    pub stage: Option<&'a Stage>,
    /// Its latest customer-facing follow-up.
    pub last_follow_up: Option<OffsetDateTime>,
}

/// Why a deal is at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskReason {
    /// Its close date has passed and it is still open.
    ClosePassed,
    /// It should close within 14 days but its probability is below 50%.
    CloseSoonLowProbability,
}

/// One deal in one section of the review, with what that section says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, Default)]
pub struct ReviewItem {
    pub opportunity_id: OpportunityId,
    /// Advanced: the stage at the start of the window (or at creation) and now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_stage_id: Option<StageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_stage_id: Option<StageId>,
    /// Slipped: the close date at the start of the window and now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub old_close_date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub new_close_date: Option<Date>,
    /// Amount changed (and new large deals: `new_amount_minor`), minor units of `currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_amount_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_amount_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Slipped: days later; stuck: days in the stage; no follow-up: days without one; at
    /// risk: days to the close date (negative once passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskReason>,
}

/// The sections of a review, each by deal id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, Default)]
pub struct Review {
    pub new_large: Vec<ReviewItem>,
    pub advanced: Vec<ReviewItem>,
    pub slipped: Vec<ReviewItem>,
    pub amount_changed: Vec<ReviewItem>,
    pub stuck: Vec<ReviewItem>,
    pub no_follow_up: Vec<ReviewItem>,
    pub at_risk: Vec<ReviewItem>,
}

impl Review {
    /// Every deal named in any section, once, in order of first appearance.
    pub fn deal_ids(&self) -> Vec<OpportunityId> {
        let mut out: Vec<OpportunityId> = Vec::new();
        for s in self.sections() {
            for i in s {
                if !out.contains(&i.opportunity_id) {
                    out.push(i.opportunity_id);
                }
            }
        }
        out
    }

    /// The sections in page order.
    pub fn sections(&self) -> [&Vec<ReviewItem>; 7] {
        [
            &self.new_large,
            &self.advanced,
            &self.slipped,
            &self.amount_changed,
            &self.stuck,
            &self.no_follow_up,
            &self.at_risk,
        ]
    }
}

/// The review of these deals over `window`. `lives` are the deals' replayed histories (a
/// deal without one is judged on its current state only); `stage_of` finds any stage by id.
/// Archived deals are left out.
pub fn review<'s>(
    lives: &[Life],
    deals: &[DealNow<'_>],
    stage_of: impl Fn(StageId) -> Option<&'s Stage>,
    w: &ReviewWindow,
) -> Review {
    let mut out = Review::default();
    let clock = AlertClock {
        now: w.now,
        today: w.today,
        no_follow_up_days: w.no_follow_up_days,
        calendar: w.calendar,
    };
    for d in deals {
        let opp = d.opp;
        if opp.archived {
            continue;
        }
        let item = || ReviewItem {
            opportunity_id: opp.id,
            ..Default::default()
        };
        let life = lives.iter().find(|l| l.opportunity_id == opp.id);
        let created_in_window = opp.created_at >= w.since && opp.created_at <= w.now;
        // The deal at the start of the window; for one created since, as it was created.
        let start = life.and_then(|l| {
            let at = if created_in_window {
                l.created_at
            } else {
                w.since
            };
            l.state_at(at)
        });
        let moved_in_window = life.is_some_and(|l| {
            l.events
                .iter()
                .any(|e| e.kind == EventKind::StageChanged && e.at >= w.since && e.at <= w.now)
        });
        let open = opp.status == StageKind::Open;

        if created_in_window
            && opp.amount.currency == "CNY"
            && opp.amount.amount_minor >= w.large_minor
        {
            out.new_large.push(ReviewItem {
                new_amount_minor: Some(opp.amount.amount_minor),
                currency: Some(opp.amount.currency.clone()),
                ..item()
            });
        }
        if let Some(s) = &start {
            let forward = match (stage_of(s.stage_id), stage_of(opp.stage_id)) {
                (Some(from), Some(to)) => process::is_forward(from, to),
                _ => false,
            };
            if moved_in_window && forward {
                out.advanced.push(ReviewItem {
                    from_stage_id: Some(s.stage_id),
                    to_stage_id: Some(opp.stage_id),
                    ..item()
                });
            }
            if let (true, Some(old), Some(new)) = (open, s.close_date, opp.close_date) {
                if new > old {
                    out.slipped.push(ReviewItem {
                        old_close_date: Some(old),
                        new_close_date: Some(new),
                        days: Some((new - old).whole_days()),
                        ..item()
                    });
                }
            }
            if s.currency == opp.amount.currency && s.amount_minor != opp.amount.amount_minor {
                out.amount_changed.push(ReviewItem {
                    old_amount_minor: Some(s.amount_minor),
                    new_amount_minor: Some(opp.amount.amount_minor),
                    delta_minor: Some(opp.amount.amount_minor - s.amount_minor),
                    currency: Some(opp.amount.currency.clone()),
                    ..item()
                });
            }
        }
        for a in alerts::opportunity_alerts(opp, d.stage, d.last_follow_up, &clock) {
            match a.kind {
                AlertKind::Rotting => out.stuck.push(ReviewItem {
                    days: Some(a.days),
                    ..item()
                }),
                AlertKind::NoFollowUp => out.no_follow_up.push(ReviewItem {
                    days: Some(a.days),
                    ..item()
                }),
                AlertKind::CloseDatePassed => {}
            }
        }
        if let (true, Some(close)) = (open, opp.close_date) {
            let days = (close - w.today).whole_days();
            let risk = if close < w.today {
                Some(RiskReason::ClosePassed)
            } else if close <= w.today + Duration::days(AT_RISK_DAYS)
                && opp.probability < AT_RISK_PROBABILITY
            {
                Some(RiskReason::CloseSoonLowProbability)
            } else {
                None
            };
            if risk.is_some() {
                out.at_risk.push(ReviewItem {
                    days: Some(days),
                    risk,
                    ..item()
                });
            }
        }
    }
    let by_amount = |v: &mut Vec<ReviewItem>, key: fn(&ReviewItem) -> i64| {
        v.sort_by_key(|i| (std::cmp::Reverse(key(i)), i.opportunity_id))
    };
    by_amount(&mut out.new_large, |i| i.new_amount_minor.unwrap_or(0));
    by_amount(&mut out.amount_changed, |i| {
        i.delta_minor.unwrap_or(0).abs()
    });
    by_amount(&mut out.slipped, |i| i.days.unwrap_or(0));
    by_amount(&mut out.stuck, |i| i.days.unwrap_or(0));
    by_amount(&mut out.no_follow_up, |i| i.days.unwrap_or(0));
    out.at_risk
        .sort_by_key(|i| (i.days.unwrap_or(0), i.opportunity_id));
    out
}

/// Where the next review starts: the last review's time, or 14 days before `now`.
pub fn since(last_held: Option<OffsetDateTime>, now: OffsetDateTime) -> OffsetDateTime {
    last_held.unwrap_or(now - Duration::days(FIRST_REVIEW_DAYS))
}

/// A decision's text: trimmed, 1 to 2,000 characters.
pub fn decision_text(text: &str) -> Result<String, crate::FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(crate::FieldError::new(
            "decision",
            "required",
            "write the decision",
        ));
    }
    if t.chars().count() > 2000 {
        return Err(crate::FieldError::new(
            "decision",
            "too_long",
            "a decision has at most 2,000 characters",
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::lives;
    use crate::money::Money;
    use crate::opportunity::OpportunityEvent;
    use crate::process::{b2b_template, build_pipeline};
    use serde_json::{json, Value};
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-03-20 10:00 UTC);
    const SINCE: OffsetDateTime = datetime!(2026-03-06 10:00 UTC);
    const TODAY: Date = date!(2026 - 03 - 20);

    /// Stages 10 Qualification (10%, rots after 7 days), 11 Needs (25%, 10), 12 Proposal
    /// (50%, 14), 13 Negotiation (75%), 14 Won, 15 Lost.
    fn pipeline() -> Pipeline {
        build_pipeline(&b2b_template(), 1, 10)
    }

    fn ev(
        opp: i64,
        n: i64,
        kind: EventKind,
        at: OffsetDateTime,
        stages: (Option<StageId>, Option<StageId>),
        old: Option<Value>,
        new: Option<Value>,
    ) -> OpportunityEvent {
        OpportunityEvent {
            id: opp * 100 + n,
            opportunity_id: opp,
            kind,
            actor_id: 1,
            at,
            from_stage_id: stages.0,
            to_stage_id: stages.1,
            old_value: old,
            new_value: new,
        }
    }

    fn created(
        opp: i64,
        at: OffsetDateTime,
        stage: StageId,
        amount: i64,
        close: &str,
    ) -> OpportunityEvent {
        ev(
            opp,
            0,
            EventKind::Created,
            at,
            (None, Some(stage)),
            None,
            Some(json!({
                "amount": {"amount_minor": amount, "currency": "CNY"},
                "close_date": close, "probability": 10, "owner_id": 7
            })),
        )
    }

    fn moved(opp: i64, n: i64, at: OffsetDateTime, from: StageId, to: StageId) -> OpportunityEvent {
        ev(
            opp,
            n,
            EventKind::StageChanged,
            at,
            (Some(from), Some(to)),
            None,
            None,
        )
    }

    fn money(a: i64) -> Value {
        json!({"amount_minor": a, "currency": "CNY"})
    }

    /// The deal as it is now.
    struct Now {
        id: i64,
        created: OffsetDateTime,
        stage: StageId,
        entered: OffsetDateTime,
        amount: i64,
        close: Option<Date>,
        probability: i32,
        last_follow_up: Option<OffsetDateTime>,
    }

    fn opp(n: &Now) -> Opportunity {
        let p = pipeline();
        let kind = p.stage(n.stage).unwrap().kind;
        Opportunity {
            id: n.id,
            title: format!("deal {}", n.id),
            account_id: 1,
            primary_contact_id: None,
            pipeline_id: 1,
            stage_id: n.stage,
            status: kind,
            amount: Money::cny(n.amount),
            close_date: n.close,
            probability: n.probability,
            probability_overridden: false,
            forecast_category: ForecastCategory::Pipeline,
            grade: None,
            source: None,
            owner_id: 7,
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
            created_at: n.created,
            updated_at: n.entered,
            closed_at: None,
            stage_entered_at: n.entered,
            pool_since: None,
        }
    }

    fn window() -> ReviewWindow<'static> {
        static CALENDAR: std::sync::OnceLock<WorkCalendar> = std::sync::OnceLock::new();
        ReviewWindow {
            since: SINCE,
            now: NOW,
            today: TODAY,
            large_minor: DEFAULT_LARGE_MINOR,
            no_follow_up_days: 3,
            calendar: CALENDAR.get_or_init(WorkCalendar::china_default),
        }
    }

    /// (section name, ids and the key number of each item) for every non-empty section.
    fn summary(r: &Review) -> Vec<(&'static str, Vec<(i64, i64)>)> {
        let names = [
            "new_large",
            "advanced",
            "slipped",
            "amount_changed",
            "stuck",
            "no_follow_up",
            "at_risk",
        ];
        names
            .iter()
            .zip(r.sections())
            .filter(|(_, s)| !s.is_empty())
            .map(|(n, s)| {
                let items = s
                    .iter()
                    .map(|i| {
                        let key = i
                            .delta_minor
                            .or(i.days)
                            .or(i.new_amount_minor)
                            .or(i.to_stage_id)
                            .unwrap_or(0);
                        (i.opportunity_id, key)
                    })
                    .collect();
                (*n, items)
            })
            .collect()
    }

    fn run(events: Vec<OpportunityEvent>, now: Vec<Now>) -> Vec<(&'static str, Vec<(i64, i64)>)> {
        let p = pipeline();
        let opps: Vec<Opportunity> = now.iter().map(opp).collect();
        let deals: Vec<DealNow> = opps
            .iter()
            .zip(&now)
            .map(|(o, n)| DealNow {
                opp: o,
                stage: p.stage(o.stage_id),
                last_follow_up: n.last_follow_up,
            })
            .collect();
        let l = lives(&events);
        summary(&review(&l, &deals, |id| p.stage(id), &window()))
    }

    const OLD: OffsetDateTime = datetime!(2026-02-01 10:00 UTC);
    const FRESH_CALL: Option<OffsetDateTime> = Some(datetime!(2026-03-19 10:00 UTC));

    fn quiet(id: i64) -> Now {
        // Created long ago, in Negotiation (rots after more than 14 days) since an hour before
        // the last review (14 days 1 hour), closes in June, called yesterday: nothing to say.
        Now {
            id,
            created: OLD,
            stage: 13,
            entered: datetime!(2026-03-06 09:00 UTC),
            amount: 10_000_000,
            close: Some(date!(2026 - 06 - 30)),
            probability: 75,
            last_follow_up: FRESH_CALL,
        }
    }

    fn quiet_events(id: i64) -> Vec<OpportunityEvent> {
        vec![
            created(id, OLD, 12, 10_000_000, "2026-06-30"),
            moved(id, 1, datetime!(2026-03-06 09:00 UTC), 12, 13),
        ]
    }

    #[test]
    fn each_section_by_hand() {
        type Case = (
            &'static str,
            Vec<OpportunityEvent>,
            Now,
            Vec<(&'static str, Vec<(i64, i64)>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "a quiet deal is in no section",
                quiet_events(1),
                quiet(1),
                vec![],
            ),
            (
                "new since the last review, ¥600,000: large",
                vec![created(
                    2,
                    datetime!(2026-03-10 10:00 UTC),
                    13,
                    60_000_000,
                    "2026-06-30",
                )],
                Now {
                    id: 2,
                    created: datetime!(2026-03-10 10:00 UTC),
                    amount: 60_000_000,
                    ..quiet(2)
                },
                vec![("new_large", vec![(2, 60_000_000)])],
            ),
            (
                "new but ¥499,999.99: not large",
                vec![created(
                    3,
                    datetime!(2026-03-10 10:00 UTC),
                    13,
                    49_999_999,
                    "2026-06-30",
                )],
                Now {
                    id: 3,
                    created: datetime!(2026-03-10 10:00 UTC),
                    amount: 49_999_999,
                    ..quiet(3)
                },
                vec![],
            ),
            (
                "¥800,000 but created before the last review: not new",
                vec![created(4, OLD, 13, 80_000_000, "2026-06-30")],
                Now {
                    id: 4,
                    amount: 80_000_000,
                    ..quiet(4)
                },
                vec![],
            ),
            (
                "Proposal → Negotiation in the window: advanced",
                vec![
                    created(5, OLD, 12, 10_000_000, "2026-06-30"),
                    moved(5, 1, datetime!(2026-03-12 10:00 UTC), 12, 13),
                ],
                Now {
                    id: 5,
                    entered: datetime!(2026-03-12 10:00 UTC),
                    ..quiet(5)
                },
                vec![("advanced", vec![(5, 13)])],
            ),
            (
                "moved forward then back to where it was: not advanced",
                vec![
                    created(6, OLD, 13, 10_000_000, "2026-06-30"),
                    moved(6, 1, datetime!(2026-03-08 10:00 UTC), 13, 12),
                    moved(6, 2, datetime!(2026-03-12 10:00 UTC), 12, 13),
                ],
                Now {
                    id: 6,
                    entered: datetime!(2026-03-12 10:00 UTC),
                    ..quiet(6)
                },
                vec![],
            ),
            (
                "Negotiation → Won in the window: advanced (closed, so no alerts)",
                vec![
                    created(7, OLD, 13, 10_000_000, "2026-06-30"),
                    moved(7, 1, datetime!(2026-03-15 10:00 UTC), 13, 14),
                ],
                Now {
                    id: 7,
                    stage: 14,
                    entered: datetime!(2026-03-15 10:00 UTC),
                    last_follow_up: None,
                    ..quiet(7)
                },
                vec![("advanced", vec![(7, 14)])],
            ),
            (
                "moved to Lost: not advanced",
                vec![
                    created(8, OLD, 13, 10_000_000, "2026-06-30"),
                    moved(8, 1, datetime!(2026-03-15 10:00 UTC), 13, 15),
                ],
                Now {
                    id: 8,
                    stage: 15,
                    entered: datetime!(2026-03-15 10:00 UTC),
                    ..quiet(8)
                },
                vec![],
            ),
            (
                "close date moved 30 days later in the window: slipped by 30",
                vec![
                    created(9, OLD, 13, 10_000_000, "2026-05-31"),
                    ev(
                        9,
                        1,
                        EventKind::CloseDateChanged,
                        datetime!(2026-03-11 10:00 UTC),
                        (None, None),
                        Some(json!("2026-05-31")),
                        Some(json!("2026-06-30")),
                    ),
                ],
                quiet(9),
                vec![("slipped", vec![(9, 30)])],
            ),
            (
                "close date moved later before the last review: not slipped",
                vec![
                    created(10, OLD, 13, 10_000_000, "2026-05-31"),
                    ev(
                        10,
                        1,
                        EventKind::CloseDateChanged,
                        datetime!(2026-03-01 10:00 UTC),
                        (None, None),
                        Some(json!("2026-05-31")),
                        Some(json!("2026-06-30")),
                    ),
                ],
                quiet(10),
                vec![],
            ),
            (
                "close date pulled in: not slipped",
                vec![
                    created(11, OLD, 13, 10_000_000, "2026-07-31"),
                    ev(
                        11,
                        1,
                        EventKind::CloseDateChanged,
                        datetime!(2026-03-11 10:00 UTC),
                        (None, None),
                        Some(json!("2026-07-31")),
                        Some(json!("2026-06-30")),
                    ),
                ],
                quiet(11),
                vec![],
            ),
            (
                "amount ¥100,000 → ¥85,000 in the window: −15,000.00",
                vec![
                    created(12, OLD, 13, 10_000_000, "2026-06-30"),
                    ev(
                        12,
                        1,
                        EventKind::AmountChanged,
                        datetime!(2026-03-11 10:00 UTC),
                        (None, None),
                        Some(money(10_000_000)),
                        Some(money(8_500_000)),
                    ),
                ],
                Now {
                    amount: 8_500_000,
                    ..quiet(12)
                },
                vec![("amount_changed", vec![(12, -1_500_000)])],
            ),
            (
                "raised and lowered back within the window: no net change",
                vec![
                    created(13, OLD, 13, 10_000_000, "2026-06-30"),
                    ev(
                        13,
                        1,
                        EventKind::AmountChanged,
                        datetime!(2026-03-11 10:00 UTC),
                        (None, None),
                        Some(money(10_000_000)),
                        Some(money(12_000_000)),
                    ),
                    ev(
                        13,
                        2,
                        EventKind::AmountChanged,
                        datetime!(2026-03-12 10:00 UTC),
                        (None, None),
                        Some(money(12_000_000)),
                        Some(money(10_000_000)),
                    ),
                ],
                quiet(13),
                vec![],
            ),
            (
                "9 days in Qualification (rots after 7): stuck 9",
                vec![created(
                    14,
                    datetime!(2026-03-11 10:00 UTC),
                    10,
                    10_000_000,
                    "2026-06-30",
                )],
                Now {
                    id: 14,
                    stage: 10,
                    created: datetime!(2026-03-11 10:00 UTC),
                    entered: datetime!(2026-03-11 10:00 UTC),
                    probability: 10,
                    ..quiet(14)
                },
                vec![("stuck", vec![(14, 9)])],
            ),
            (
                // Saturday 03-14 18:00 in China to Friday 03-20 18:00: Monday to Thursday.
                "last customer call 6 days ago, on a Saturday: 4 working days without one",
                quiet_events(15),
                Now {
                    last_follow_up: Some(datetime!(2026-03-14 10:00 UTC)),
                    ..quiet(15)
                },
                vec![("no_follow_up", vec![(15, 4)])],
            ),
            (
                "close date 3 days ago, still open: at risk, −3",
                vec![created(16, OLD, 13, 10_000_000, "2026-03-17")],
                Now {
                    close: Some(date!(2026 - 03 - 17)),
                    ..quiet(16)
                },
                vec![("at_risk", vec![(16, -3)])],
            ),
            (
                "closes in 14 days at 25%: at risk, 14",
                vec![created(17, OLD, 13, 10_000_000, "2026-04-03")],
                Now {
                    close: Some(date!(2026 - 04 - 03)),
                    probability: 25,
                    ..quiet(17)
                },
                vec![("at_risk", vec![(17, 14)])],
            ),
            (
                "closes in 15 days at 25%: not yet",
                vec![created(18, OLD, 13, 10_000_000, "2026-04-04")],
                Now {
                    close: Some(date!(2026 - 04 - 04)),
                    probability: 25,
                    ..quiet(18)
                },
                vec![],
            ),
            (
                "closes in 5 days at 50%: not at risk",
                vec![created(19, OLD, 13, 10_000_000, "2026-03-25")],
                Now {
                    close: Some(date!(2026 - 03 - 25)),
                    probability: 50,
                    ..quiet(19)
                },
                vec![],
            ),
        ];
        for (name, events, now, want) in cases {
            assert_eq!(run(events, vec![now]), want, "{name}");
        }
    }

    #[test]
    fn a_deal_new_in_the_window_is_compared_with_how_it_was_created() {
        // Created 03-10 in Qualification at ¥600,000, closing 04-30; moved to Needs on 03-12,
        // raised to ¥700,000, its close pushed to 05-31; a call yesterday.
        let at = datetime!(2026-03-10 10:00 UTC);
        let events = vec![
            created(20, at, 10, 60_000_000, "2026-04-30"),
            moved(20, 1, datetime!(2026-03-12 10:00 UTC), 10, 11),
            ev(
                20,
                2,
                EventKind::AmountChanged,
                datetime!(2026-03-13 10:00 UTC),
                (None, None),
                Some(money(60_000_000)),
                Some(money(70_000_000)),
            ),
            ev(
                20,
                3,
                EventKind::CloseDateChanged,
                datetime!(2026-03-13 10:00 UTC),
                (None, None),
                Some(json!("2026-04-30")),
                Some(json!("2026-05-31")),
            ),
        ];
        let now = Now {
            id: 20,
            created: at,
            stage: 11,
            entered: datetime!(2026-03-12 10:00 UTC),
            amount: 70_000_000,
            close: Some(date!(2026 - 05 - 31)),
            probability: 25,
            last_follow_up: FRESH_CALL,
        };
        assert_eq!(
            run(events, vec![now]),
            vec![
                ("new_large", vec![(20, 70_000_000)]),
                ("advanced", vec![(20, 11)]),
                ("slipped", vec![(20, 31)]),
                ("amount_changed", vec![(20, 10_000_000)]),
            ]
        );
    }

    #[test]
    fn sections_are_ordered_largest_first_and_archived_deals_left_out() {
        let mut events = vec![];
        let mut now = vec![];
        for (id, amount) in [(30, 55_000_000), (31, 90_000_000), (32, 70_000_000)] {
            let at = datetime!(2026-03-10 10:00 UTC);
            events.push(created(id, at, 13, amount, "2026-06-30"));
            now.push(Now {
                id,
                created: at,
                amount,
                ..quiet(id)
            });
        }
        let p = pipeline();
        let mut opps: Vec<Opportunity> = now.iter().map(opp).collect();
        opps[2].archived = true;
        let deals: Vec<DealNow> = opps
            .iter()
            .map(|o| DealNow {
                opp: o,
                stage: p.stage(o.stage_id),
                last_follow_up: FRESH_CALL,
            })
            .collect();
        let l = lives(&events);
        let r = review(&l, &deals, |id| p.stage(id), &window());
        assert_eq!(
            summary(&r),
            vec![("new_large", vec![(31, 90_000_000), (30, 55_000_000)])]
        );
        assert_eq!(r.deal_ids(), vec![31, 30]);
    }

    #[test]
    fn the_first_review_looks_back_14_days() {
        assert_eq!(since(None, NOW), datetime!(2026-03-06 10:00 UTC));
        assert_eq!(since(Some(SINCE), NOW), SINCE);
    }

    #[test]
    fn decisions_are_trimmed_and_bounded() {
        assert_eq!(decision_text("  提高折扣权限 ").unwrap(), "提高折扣权限");
        assert_eq!(decision_text("   ").unwrap_err().code, "required");
        assert_eq!(
            decision_text(&"决".repeat(2001)).unwrap_err().code,
            "too_long"
        );
        assert!(decision_text(&"决".repeat(2000)).is_ok());
    }
}
