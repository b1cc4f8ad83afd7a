//! Importing stage history (from a spreadsheet or another CRM) so that analytics see it: each
//! row says an opportunity entered a stage at a time, optionally with its amount then. Every
//! row is checked — all problems found, each with its row and column — and the valid rows
//! become the same `stage_changed` / `amount_changed` events (and `won` / `lost` / `reopened`,
//! probability and forecast category) that a move writes, at the given times, marked
//! `"imported": true`. Pure: the file's records, the opportunities and `now` come in.
//!
//! File format (a header row, then one row per stage entry): `opportunity` (the external id,
//! or shangji's id), `stage` (its Chinese or English name, or its id), `entered_at`
//! (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS`, China time), and optionally
//! `amount` (yuan, up to 2 decimals). Row numbers count the header as row 1, as a
//! spreadsheet does.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};
use time::{OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

use crate::model::*;
use crate::money::Money;
use crate::opportunity::{EventKind, NewEvent};

/// China time, in which the file's times are read.
use crate::calendar::CHINA;

/// The columns of a history file.
pub const COLUMNS: [&str; 4] = ["opportunity", "stage", "entered_at", "amount"];

/// One problem of a history file: where (row, column) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// The row in the file, the header being row 1.
    pub row: usize,
    /// The column's name (empty for a problem with a whole row).
    pub column: String,
    /// `missing_column`, `unknown_column`, `wrong_field_count`, `unknown_opportunity`,
    /// `unknown_stage`, `invalid_date`, `invalid_amount`, `in_future`, `before_created`,
    /// `out_of_order`, `duplicate_row`.
    pub code: String,
    pub message: String,
}

pub(crate) fn problem(row: usize, column: &str, code: &str, message: impl Into<String>) -> Problem {
    Problem {
        row,
        column: column.to_string(),
        code: code.to_string(),
        message: message.into(),
    }
}

/// An opportunity rows may name, as it is now.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub opp: &'a Opportunity,
    pub pipeline: &'a Pipeline,
    /// The time of its latest recorded stage change (or its creation): imported history
    /// comes after what is already recorded.
    pub history_end: OffsetDateTime,
}

/// A checked row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    pub row: usize,
    pub opportunity_id: OpportunityId,
    pub stage_id: StageId,
    pub at: OffsetDateTime,
    pub amount_minor: Option<i64>,
}

/// The outcome of checking a file: the valid rows (in file order) and every problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub valid: Vec<ValidRow>,
    pub problems: Vec<Problem>,
    /// The number of data rows read.
    pub rows: usize,
}

/// An amount in yuan (`500000`, `1,250.5`, `¥99.99`) as fen; `None` if it is not one.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches(['¥', '￥']).replace(',', "");
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w.to_string(), f.to_string()),
        None => (s.clone(), String::new()),
    };
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(&whole) || !digits(&frac) || frac.len() > 2 {
        return None;
    }
    if s.ends_with('.') {
        return None;
    }
    let cents = format!("{frac:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// A time of the file (China time: a date, a date and time, a spreadsheet serial number —
/// as the deals file reads it) as an instant, and whether it was a date alone.
pub fn parse_time(s: &str) -> Option<(OffsetDateTime, bool)> {
    let at = crate::import::deals::instant_of(s)?;
    let t = s.trim();
    let date_only = !t.contains([' ', 'T']) && crate::import::parse_date(t).is_some();
    Some((at.to_offset(UtcOffset::UTC), date_only))
}

fn stage_by_name<'a>(pipeline: &'a Pipeline, s: &str) -> Option<&'a Stage> {
    let s = s.trim();
    pipeline
        .stages
        .iter()
        .filter(|st| !st.archived)
        .find(|st| st.name_zh == s || st.name_en.eq_ignore_ascii_case(s) || st.id.to_string() == s)
}

/// Checks a history file: `header` and the data `records` (each with its row number).
/// `resolve` finds the opportunity a row names. Every problem is reported; a row's later
/// checks (order, duplicates) compare it with the earlier valid rows of its opportunity.
pub fn check<'a>(
    header: &[String],
    records: &[(usize, Vec<String>)],
    resolve: impl Fn(&str) -> Option<Target<'a>>,
    now: OffsetDateTime,
) -> Checked {
    let mut out = Checked {
        rows: records.len(),
        ..Default::default()
    };
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    for (i, h) in names.iter().enumerate() {
        if !COLUMNS.contains(&h.as_str()) {
            out.problems.push(problem(
                1,
                &header[i],
                "unknown_column",
                format!(
                    "unknown column `{}`: the columns are {}",
                    header[i],
                    COLUMNS.join(", ")
                ),
            ));
        }
    }
    let col = |name: &str| names.iter().position(|h| h == name);
    let required = ["opportunity", "stage", "entered_at"];
    for name in required {
        if col(name).is_none() {
            out.problems.push(problem(
                1,
                name,
                "missing_column",
                format!("the header has no `{name}` column"),
            ));
        }
    }
    let (Some(c_opp), Some(c_stage), Some(c_at)) =
        (col("opportunity"), col("stage"), col("entered_at"))
    else {
        return out;
    };
    let c_amount = col("amount");
    // The last valid row of each opportunity so far.
    let mut last: HashMap<OpportunityId, ValidRow> = HashMap::new();
    for (row, fields) in records {
        let row = *row;
        if fields.len() != header.len() {
            out.problems.push(problem(
                row,
                "",
                "wrong_field_count",
                format!(
                    "the row has {} fields; the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
            continue;
        }
        let before = out.problems.len();
        let key = fields[c_opp].trim();
        let target = resolve(key);
        if target.is_none() {
            out.problems.push(problem(
                row,
                "opportunity",
                "unknown_opportunity",
                format!("no opportunity `{key}`"),
            ));
        }
        let stage = target.and_then(|t| stage_by_name(t.pipeline, &fields[c_stage]));
        if let (Some(t), None) = (target, stage) {
            out.problems.push(problem(
                row,
                "stage",
                "unknown_stage",
                format!(
                    "no stage `{}` in the pipeline {}",
                    fields[c_stage].trim(),
                    t.pipeline.name
                ),
            ));
        }
        let at = parse_time(&fields[c_at]);
        if at.is_none() {
            out.problems.push(problem(
                row,
                "entered_at",
                "invalid_date",
                format!(
                    "`{}` is not a date or time (YYYY-MM-DD or YYYY-MM-DD HH:MM, China time)",
                    fields[c_at].trim()
                ),
            ));
        }
        let amount = match c_amount.map(|c| fields[c].trim()) {
            None | Some("") => Ok(None),
            Some(a) => parse_yuan(a).map(Some).ok_or(a),
        };
        if let Err(a) = amount {
            out.problems.push(problem(
                row,
                "amount",
                "invalid_amount",
                format!("`{a}` is not an amount in yuan (at most 2 decimals)"),
            ));
        }
        // A date alone on the day the opportunity was created means its creation.
        let at = match (target, at) {
            (Some(t), Some((at, true)))
                if at.to_offset(CHINA).date() == t.opp.created_at.to_offset(CHINA).date() =>
            {
                Some(at.max(t.opp.created_at))
            }
            (_, at) => at.map(|(at, _)| at),
        };
        if let Some(at) = at {
            if at > now {
                out.problems.push(problem(
                    row,
                    "entered_at",
                    "in_future",
                    "the time is in the future",
                ));
            } else if let Some(t) = target.filter(|t| at < t.opp.created_at) {
                out.problems.push(problem(
                    row,
                    "entered_at",
                    "before_created",
                    format!(
                        "the opportunity was created later ({})",
                        t.opp.created_at.to_offset(CHINA).date()
                    ),
                ));
            }
        }
        if out.problems.len() > before {
            continue;
        }
        let (Some(t), Some(stage), Some(at), Ok(amount_minor)) = (target, stage, at, amount) else {
            continue;
        };
        let v = ValidRow {
            row,
            opportunity_id: t.opp.id,
            stage_id: stage.id,
            at,
            amount_minor,
        };
        match last.get(&t.opp.id) {
            Some(p)
                if p.at == v.at && p.stage_id == v.stage_id && p.amount_minor == v.amount_minor =>
            {
                out.problems.push(problem(
                    row,
                    "",
                    "duplicate_row",
                    format!("the same as row {}", p.row),
                ));
                continue;
            }
            Some(p) if v.at <= p.at => {
                out.problems.push(problem(
                    row,
                    "entered_at",
                    "out_of_order",
                    format!(
                        "not after row {} of the same opportunity; rows of an opportunity go oldest first",
                        p.row
                    ),
                ));
                continue;
            }
            None if v.at < t.history_end => {
                out.problems.push(problem(
                    row,
                    "entered_at",
                    "out_of_order",
                    format!(
                        "before the history already recorded for this opportunity (its last stage change is {})",
                        t.history_end.to_offset(CHINA).date()
                    ),
                ));
                continue;
            }
            _ => {}
        }
        last.insert(t.opp.id, v.clone());
        out.valid.push(v);
    }
    out.problems.sort_by_key(|a| a.row);
    out
}

fn money_json(m: &Money) -> Value {
    json!({ "amount_minor": m.amount_minor, "currency": m.currency, "imported": true })
}

/// The events of an opportunity's valid rows (in order) and the opportunity after them.
/// A row in the stage the deal is already in changes only its amount (if given).
pub fn plan(
    opp: &Opportunity,
    pipeline: &Pipeline,
    rows: &[&ValidRow],
    actor: UserId,
    now: OffsetDateTime,
) -> (Opportunity, Vec<NewEvent>) {
    let mut o = opp.clone();
    let mut events = Vec::new();
    let ev = |kind: EventKind, at: OffsetDateTime| NewEvent {
        kind,
        actor_id: actor,
        at,
        from_stage_id: None,
        to_stage_id: None,
        old_value: None,
        new_value: None,
    };
    for r in rows {
        if let (Some(from), Some(to)) = (pipeline.stage(o.stage_id), pipeline.stage(r.stage_id)) {
            if from.id != to.id {
                events.push(NewEvent {
                    from_stage_id: Some(from.id),
                    to_stage_id: Some(to.id),
                    new_value: Some(json!({ "imported": true })),
                    ..ev(EventKind::StageChanged, r.at)
                });
                match (from.kind, to.kind) {
                    (_, StageKind::Won) => events.push(ev(EventKind::Won, r.at)),
                    (_, StageKind::Lost) => events.push(ev(EventKind::Lost, r.at)),
                    (StageKind::Won | StageKind::Lost, StageKind::Open) => {
                        events.push(ev(EventKind::Reopened, r.at))
                    }
                    (StageKind::Open, StageKind::Open) => {}
                }
                if !o.probability_overridden && o.probability != to.probability {
                    events.push(NewEvent {
                        old_value: Some(json!(o.probability)),
                        new_value: Some(json!(to.probability)),
                        ..ev(EventKind::ProbabilityChanged, r.at)
                    });
                    o.probability = to.probability;
                }
                if o.forecast_category != to.forecast_category {
                    events.push(NewEvent {
                        old_value: Some(json!(o.forecast_category)),
                        new_value: Some(json!(to.forecast_category)),
                        ..ev(EventKind::ForecastCategoryChanged, r.at)
                    });
                    o.forecast_category = to.forecast_category;
                }
                o.stage_id = to.id;
                o.status = to.kind;
                o.stage_entered_at = r.at;
                o.closed_at = (to.kind != StageKind::Open).then_some(r.at);
                if to.kind == StageKind::Open {
                    o.loss_reason = None;
                    o.loss_note = None;
                }
            }
        }
        if let Some(a) = r.amount_minor.filter(|a| *a != o.amount.amount_minor) {
            let new = Money {
                amount_minor: a,
                currency: o.amount.currency.clone(),
            };
            events.push(NewEvent {
                old_value: Some(money_json(&o.amount)),
                new_value: Some(money_json(&new)),
                ..ev(EventKind::AmountChanged, r.at)
            });
            o.amount = new;
        }
    }
    if !events.is_empty() {
        o.updated_at = now;
    }
    (o, events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{b2b_template, build_pipeline};
    use time::macros::datetime;
    use time::{Date, PrimitiveDateTime, Time};

    const NOW: OffsetDateTime = datetime!(2026-03-20 10:00 UTC);
    /// 2026-01-05 10:00 China time.
    const CREATED: OffsetDateTime = datetime!(2026-01-05 02:00 UTC);

    /// Stages 10 线索确认 Qualification, 11 需求分析 Needs analysis, 12 方案报价 Proposal,
    /// 13 商务谈判 Negotiation, 14 Won, 15 Lost.
    /// A history file's times read as the deals file's do (China time), and nothing else.
    #[test]
    fn times_are_read_as_the_deals_file_reads_them() {
        let utc = |y, m, d, h, min| {
            PrimitiveDateTime::new(
                Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap(),
                Time::from_hms(h, min, 0).unwrap(),
            )
            .assume_utc()
        };
        let cases: [(&str, Option<(OffsetDateTime, bool)>); 9] = [
            ("2024-03-05", Some((utc(2024, 3, 4, 16, 0), true))),
            ("2024/3/5", Some((utc(2024, 3, 4, 16, 0), true))),
            ("2024年3月5日", Some((utc(2024, 3, 4, 16, 0), true))),
            ("2024-03-05 10:30", Some((utc(2024, 3, 5, 2, 30), false))),
            ("2024-03-05T10:30:00", Some((utc(2024, 3, 5, 2, 30), false))),
            // A spreadsheet's serial number: 5 March 2024, noon.
            ("45356.5", Some((utc(2024, 3, 5, 4, 0), false))),
            ("0000-01-01", None),
            ("2024-02-30", None),
            ("2024-03-05 25:00", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time(text), want, "{text}");
        }
    }

    fn pipeline() -> Pipeline {
        build_pipeline(&b2b_template(), 1, 10)
    }

    fn opp(id: i64) -> Opportunity {
        Opportunity {
            id,
            title: format!("deal {id}"),
            account_id: 1,
            primary_contact_id: None,
            pipeline_id: 1,
            stage_id: 10,
            status: StageKind::Open,
            amount: Money::cny(10_000_000),
            close_date: None,
            probability: 10,
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
            created_at: CREATED,
            updated_at: CREATED,
            closed_at: None,
            stage_entered_at: CREATED,
            pool_since: None,
        }
    }

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    fn rows(rs: &[&[&str]]) -> Vec<(usize, Vec<String>)> {
        rs.iter()
            .enumerate()
            .map(|(i, r)| (i + 2, r.iter().map(|c| c.to_string()).collect()))
            .collect()
    }

    /// Opportunities `CRM-1` (id 1) and `CRM-2` (id 2, with a stage change recorded on
    /// 2026-02-01); any other key is unknown.
    fn run(h: &[&str], rs: &[&[&str]]) -> Checked {
        let p = pipeline();
        let (o1, o2) = (opp(1), opp(2));
        let resolve = |k: &str| match k {
            "CRM-1" | "1" => Some(Target {
                opp: &o1,
                pipeline: &p,
                history_end: CREATED,
            }),
            "CRM-2" => Some(Target {
                opp: &o2,
                pipeline: &p,
                history_end: datetime!(2026-02-01 02:00 UTC),
            }),
            _ => None,
        };
        check(&header(h), &rows(rs), resolve, NOW)
    }

    fn problems(c: &Checked) -> Vec<(usize, &str, &str)> {
        c.problems
            .iter()
            .map(|p| (p.row, p.column.as_str(), p.code.as_str()))
            .collect()
    }

    const H: &[&str] = &["opportunity", "stage", "entered_at", "amount"];

    #[test]
    fn each_problem_with_its_row_and_column() {
        type Case = (
            &'static str,
            Vec<&'static [&'static str]>,
            Vec<(usize, &'static str, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (
                "a clean row",
                vec![&["CRM-1", "需求分析", "2026-01-10", "120000"]],
                vec![],
            ),
            (
                "unknown opportunity",
                vec![&["CRM-9", "需求分析", "2026-01-10", ""]],
                vec![(2, "opportunity", "unknown_opportunity")],
            ),
            (
                "unknown stage",
                vec![&["CRM-1", "报价审批", "2026-01-10", ""]],
                vec![(2, "stage", "unknown_stage")],
            ),
            (
                "unparsable date",
                vec![&["CRM-1", "Proposal", "2026-13-01", ""]],
                vec![(2, "entered_at", "invalid_date")],
            ),
            (
                "unparsable amount, three decimals",
                vec![&["CRM-1", "Proposal", "2026-01-10", "12.345"]],
                vec![(2, "amount", "invalid_amount")],
            ),
            (
                "in the future",
                vec![&["CRM-1", "Proposal", "2026-03-21", ""]],
                vec![(2, "entered_at", "in_future")],
            ),
            (
                "before the opportunity was created",
                vec![&["CRM-1", "Proposal", "2026-01-04 23:59", ""]],
                vec![(2, "entered_at", "before_created")],
            ),
            (
                "out of order within the file",
                vec![
                    &["CRM-1", "Proposal", "2026-01-20", ""],
                    &["CRM-1", "Needs analysis", "2026-01-10", ""],
                ],
                vec![(3, "entered_at", "out_of_order")],
            ),
            (
                "before the history already recorded",
                vec![&["CRM-2", "Proposal", "2026-01-20", ""]],
                vec![(2, "entered_at", "out_of_order")],
            ),
            (
                "a duplicated row",
                vec![
                    &["CRM-1", "Proposal", "2026-01-20 10:00", "1"],
                    &["CRM-1", "方案报价", "2026-01-20 10:00:00", "1.00"],
                ],
                vec![(3, "", "duplicate_row")],
            ),
            (
                "a row with a field missing",
                vec![&["CRM-1", "Proposal", "2026-01-20"]],
                vec![(2, "", "wrong_field_count")],
            ),
            (
                "several problems in one row, all reported",
                vec![&["CRM-1", "nope", "yesterday", "abc"]],
                vec![
                    (2, "stage", "unknown_stage"),
                    (2, "entered_at", "invalid_date"),
                    (2, "amount", "invalid_amount"),
                ],
            ),
        ];
        for (name, rs, want) in cases {
            let c = run(H, &rs);
            assert_eq!(problems(&c), want, "{name}");
            let mut bad: Vec<usize> = want.iter().map(|w| w.0).collect();
            bad.dedup();
            assert_eq!(
                c.valid.len() + bad.len(),
                rs.len(),
                "{name}: the others are valid"
            );
        }
    }

    #[test]
    fn header_problems() {
        let c = run(
            &["opportunity", "stage", "when"],
            &[&["CRM-1", "Proposal", "2026-01-10"]],
        );
        assert_eq!(
            problems(&c),
            vec![
                (1, "when", "unknown_column"),
                (1, "entered_at", "missing_column")
            ]
        );
        assert!(c.valid.is_empty());
        // Columns in any order, in any case, amount optional.
        let c = run(
            &["Entered_At", "Stage", "Opportunity"],
            &[&["2026-01-10", "Proposal", "CRM-1"]],
        );
        assert_eq!(problems(&c), vec![]);
        assert_eq!(c.valid[0].stage_id, 12);
    }

    #[test]
    fn times_are_china_time_and_a_bare_creation_day_means_the_creation() {
        let c = run(
            H,
            &[
                &["CRM-1", "线索确认", "2026-01-05", ""],
                &["CRM-1", "needs analysis", "2026/01/10 09:30", "¥1,250.5"],
                &["1", "12", "2026-01-12T08:00:05", "1250"],
            ],
        );
        assert_eq!(problems(&c), vec![]);
        let got: Vec<(OffsetDateTime, StageId, Option<i64>)> = c
            .valid
            .iter()
            .map(|v| (v.at, v.stage_id, v.amount_minor))
            .collect();
        assert_eq!(
            got,
            vec![
                (CREATED, 10, None),
                (datetime!(2026-01-10 01:30 UTC), 11, Some(125_050)),
                (datetime!(2026-01-12 00:00:05 UTC), 12, Some(125_000)),
            ]
        );
    }

    #[test]
    fn yuan() {
        let cases = [
            ("0", Some(0)),
            ("500000", Some(50_000_000)),
            ("1,250.5", Some(125_050)),
            ("99.99", Some(9_999)),
            ("￥3", Some(300)),
            ("1.234", None),
            ("-5", None),
            ("1e5", None),
            ("", None),
            ("12.", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_yuan(s), want, "{s}");
        }
    }

    #[test]
    fn the_events_a_history_writes() {
        let p = pipeline();
        let o = opp(1);
        let at = |d: u8| {
            PrimitiveDateTime::new(
                Date::from_calendar_date(2026, time::Month::January, d).unwrap(),
                Time::from_hms(2, 0, 0).unwrap(),
            )
            .assume_utc()
        };
        let row = |n, stage, d, amount| ValidRow {
            row: n,
            opportunity_id: 1,
            stage_id: stage,
            at: at(d),
            amount_minor: amount,
        };
        // Same stage with a new amount; Needs; Proposal; Lost; reopened into Proposal.
        let rs = [
            row(2, 10, 5, Some(12_000_000)),
            row(3, 11, 10, None),
            row(4, 12, 15, Some(12_000_000)),
            row(5, 15, 20, None),
            row(6, 12, 25, None),
        ];
        let refs: Vec<&ValidRow> = rs.iter().collect();
        let (after, events) = plan(&o, &p, &refs, 3, NOW);
        let kinds: Vec<(EventKind, u8)> = events
            .iter()
            .map(|e| (e.kind, (e.at - at(1)).whole_days() as u8 + 1))
            .collect();
        use EventKind::*;
        assert_eq!(
            kinds,
            vec![
                (AmountChanged, 5),
                (StageChanged, 10),
                (ProbabilityChanged, 10),
                (StageChanged, 15),
                (ProbabilityChanged, 15),
                (ForecastCategoryChanged, 15),
                (StageChanged, 20),
                (Lost, 20),
                (ProbabilityChanged, 20),
                (ForecastCategoryChanged, 20),
                (StageChanged, 25),
                (Reopened, 25),
                (ProbabilityChanged, 25),
                (ForecastCategoryChanged, 25),
            ]
        );
        assert!(events.iter().all(|e| e.actor_id == 3));
        assert_eq!(
            events[0].new_value.as_ref().unwrap()["imported"],
            json!(true)
        );
        assert_eq!(events[1].new_value, Some(json!({"imported": true})));
        assert_eq!(
            (
                after.stage_id,
                after.status,
                after.probability,
                after.amount.amount_minor
            ),
            (12, StageKind::Open, 50, 12_000_000)
        );
        assert_eq!(
            (after.stage_entered_at, after.closed_at, after.updated_at),
            (at(25), None, NOW)
        );
        // The history replays to the opportunity as saved.
        let mut stored = vec![crate::opportunity::OpportunityEvent {
            id: 1,
            opportunity_id: 1,
            kind: Created,
            actor_id: 7,
            at: CREATED,
            from_stage_id: None,
            to_stage_id: Some(10),
            old_value: None,
            new_value: Some(
                json!({"amount": {"amount_minor": 10_000_000, "currency": "CNY"}, "probability": 10, "owner_id": 7}),
            ),
        }];
        for (i, e) in events.iter().enumerate() {
            stored.push(crate::opportunity::OpportunityEvent {
                id: i as i64 + 2,
                opportunity_id: 1,
                kind: e.kind,
                actor_id: e.actor_id,
                at: e.at,
                from_stage_id: e.from_stage_id,
                to_stage_id: e.to_stage_id,
                old_value: e.old_value.clone(),
                new_value: e.new_value.clone(),
            });
        }
        let l = crate::analytics::lives(&stored);
        let s = l[0].state_at(NOW).unwrap();
        assert_eq!(
            (s.stage_id, s.amount_minor, s.probability),
            (12, 12_000_000, 50)
        );
        let stages: Vec<StageId> = l[0].spans.iter().map(|s| s.stage_id).collect();
        assert_eq!(stages, vec![10, 11, 12, 15, 12]);
    }
}
