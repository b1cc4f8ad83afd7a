//! Opportunities from another CRM or a spreadsheet, with their past: who they were there
//! (`external_id`), when they were created and closed, why they were lost — and, from a
//! stage-history file keyed by the same external ids, every stage they went through, when.
//!
//! An imported deal's history is taken as fact: it is recorded as it happened (at the file's
//! times, by the importing user, marked `"imported": true`), gates and approvals are not
//! replayed. How a row becomes events:
//! - the deal is created at its `created_at` (the import's time when the file has none): in the
//!   stage of its first history row when that row is at its creation, else in the pipeline's
//!   first open stage — or, without history, directly in its stage when that stage is open;
//! - each history row then moves it, as the history import does ([`crate::history_import`]);
//! - a won or lost deal without history is closed at its `closed_at` (required then);
//! - where it ends must be the stage the file says; a lost deal's loss reason and competitor go
//!   on its `lost` event (win/loss by reason reads them there); a final amount other than the
//!   history's is an amount change at the deal's last event.

use serde_json::{json, Map, Value};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

use super::{
    f, normalise, parse_date, Cell, FieldSpec, Kind, Lookups, Mapping, Part, Problem, ACCOUNT_NAME,
    OWNER, SOURCE,
};
use crate::calendar::CHINA;
use crate::history_import::{self, problem, ValidRow};
use crate::model::*;
use crate::money::Money;
use crate::opportunity::{EventKind, NewEvent};

const D: Part = Part::Deal;

/// The columns of an opportunities file.
pub const FIELDS: &[FieldSpec] = &[
    f(
        "external_id",
        D,
        Kind::Text,
        false,
        &[
            "外部编号",
            "external id",
            "商机编号",
            "原系统编号",
            "编号",
            "opportunity id",
            "deal id",
            "id",
        ],
    ),
    f(
        "title",
        D,
        Kind::Text,
        true,
        &[
            "商机名称",
            "title",
            "商机",
            "机会名称",
            "项目名称",
            "opportunity",
            "opportunity name",
            "deal",
            "deal name",
        ],
    ),
    f("account", D, Kind::Account, true, ACCOUNT_NAME),
    f("owner_id", D, Kind::Owner, false, OWNER),
    f(
        "pipeline_id",
        D,
        Kind::Pipeline,
        false,
        &["销售流程", "pipeline", "流程", "销售管道"],
    ),
    f(
        "stage",
        D,
        Kind::Stage,
        true,
        &[
            "阶段",
            "stage",
            "销售阶段",
            "商机阶段",
            "当前阶段",
            "deal stage",
        ],
    ),
    f(
        "amount_minor",
        D,
        Kind::Amount,
        false,
        &[
            "金额",
            "amount",
            "商机金额",
            "预计金额",
            "合同金额",
            "deal amount",
            "value",
        ],
    ),
    f(
        "close_date",
        D,
        Kind::Date,
        false,
        &[
            "预计成交日期",
            "expected close date",
            "预计签单日期",
            "预计成交时间",
            "close date",
        ],
    ),
    f(
        "created_at",
        D,
        Kind::Time,
        false,
        &[
            "创建时间",
            "created",
            "创建日期",
            "录入时间",
            "created at",
            "created date",
            "created time",
        ],
    ),
    f(
        "closed_at",
        D,
        Kind::Time,
        false,
        &[
            "成交日期",
            "closed",
            "关闭日期",
            "结束日期",
            "赢单日期",
            "输单日期",
            "closed at",
            "closed date",
            "actual close date",
        ],
    ),
    f(
        "loss_reason",
        D,
        Kind::LossReason,
        false,
        &[
            "输单原因",
            "loss reason",
            "丢单原因",
            "失败原因",
            "lost reason",
        ],
    ),
    f(
        "competitor",
        D,
        Kind::Text,
        false,
        &["竞争对手", "competitor", "竞品", "对手"],
    ),
    f("source", D, Kind::Choice, false, SOURCE),
    f("tags", D, Kind::Tags, false, &["标签", "tags"]),
    f(
        "next_step",
        D,
        Kind::Text,
        false,
        &["下一步", "next step", "下一步计划"],
    ),
];

/// A name cell's value: the pipeline's id, a stage's text (settled with the row's pipeline by
/// [`settle`]), a loss reason's key — the mapping's value for the text first.
#[allow(clippy::too_many_arguments)]
pub(super) fn named(
    kind: Kind,
    key: &str,
    text: &str,
    lookups: &Lookups,
    mapping: &Mapping,
    column: &str,
    row: usize,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    let mapped = mapping.values.get(key).and_then(|m| m.get(text));
    let t = normalise(mapped.map_or(text, String::as_str));
    let found = match kind {
        Kind::Stage => return Some(Value::String(text.to_string())),
        Kind::Pipeline => lookups
            .pipelines
            .iter()
            .filter(|p| !p.archived)
            .find(|p| normalise(&p.name) == t || p.id.to_string() == t)
            .map(|p| Value::from(p.id)),
        _ => loss_reason(lookups, &t).map(Value::String),
    };
    if found.is_none() {
        let what = if kind == Kind::Pipeline {
            "the company's pipelines"
        } else {
            "the loss reasons"
        };
        problems.push(problem(
            row,
            column,
            "unknown_choice",
            format!("“{text}” is none of {what}"),
        ));
    }
    found
}

/// The loss reason a normalised text names: its key, Chinese or English name.
fn loss_reason(lookups: &Lookups, t: &str) -> Option<String> {
    lookups
        .loss_reasons
        .iter()
        .filter(|r| !r.archived)
        .find(|r| {
            [&r.key, &r.name_zh, &r.name_en]
                .iter()
                .any(|n| normalise(n) == t)
        })
        .map(|r| r.key.clone())
}

/// The stage of `pipeline` a text names (its Chinese or English name, or its id).
pub fn stage_named<'a>(pipeline: &'a Pipeline, text: &str) -> Option<&'a Stage> {
    let t = normalise(text);
    pipeline
        .stages
        .iter()
        .filter(|s| !s.archived)
        .find(|s| normalise(&s.name_zh) == t || normalise(&s.name_en) == t || s.id.to_string() == t)
}

/// Whether a stage name cell names a stage of any pipeline (for the value questions).
pub fn known_stage(lookups: &Lookups, mapping: &Mapping, text: &str) -> bool {
    mapping
        .values
        .get("stage")
        .is_some_and(|m| m.contains_key(text))
        || lookups
            .pipelines
            .iter()
            .any(|p| stage_named(p, text).is_some())
}

/// Whether a pipeline or loss-reason cell names one (for the value questions).
pub fn known_name(kind: Kind, key: &str, lookups: &Lookups, mapping: &Mapping, text: &str) -> bool {
    let mut scratch = Vec::new();
    named(kind, key, text, lookups, mapping, "", 0, &mut scratch).is_some()
}

/// An amount, date or time cell's value: fen, `YYYY-MM-DD`, or an RFC 3339 instant.
pub(super) fn measured(
    kind: Kind,
    text: &str,
    column: &str,
    row: usize,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    let (value, what) = match kind {
        Kind::Amount => (
            super::amount_minor(text).map(Value::from),
            "an amount such as 12,345.60 or 1.5万",
        ),
        Kind::Date => (
            date_of(text).map(|d| Value::String(d.to_string())),
            "a date such as 2026-03-05",
        ),
        _ => (
            instant_of(text).map(|t| Value::String(rfc3339(t))),
            "a date or time such as 2026-03-05 14:30 (China time)",
        ),
    };
    if value.is_none() {
        problems.push(problem(
            row,
            column,
            "invalid_value",
            format!("“{text}” is not {what}"),
        ));
    }
    value
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A date cell: as [`parse_date`] reads it, or a spreadsheet's serial day number (days since
/// 1899-12-30, as Excel and WPS count) of a date typed into a cell without its format.
fn date_of(text: &str) -> Option<Date> {
    if let Some(d) = parse_date(text) {
        return Some(d);
    }
    let serial: f64 = text.trim().parse().ok()?;
    if !(1.0..=110_000.0).contains(&serial) {
        return None;
    }
    let epoch = Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
    epoch.checked_add(Duration::days(serial.trunc() as i64))
}

/// A time cell, China time: a date alone (its midnight), a date and `HH:MM[:SS[.fff]]`, or a
/// spreadsheet serial number with its fraction of a day.
pub fn instant_of(text: &str) -> Option<OffsetDateTime> {
    let t = text.trim();
    let (day, clock) = match t.split_once([' ', 'T']) {
        Some((d, c)) => (d, Some(c.trim())),
        None => (t, None),
    };
    let (date, time) = match (parse_date(day), clock) {
        (Some(d), None) => (d, Time::MIDNIGHT),
        (Some(d), Some(c)) => (d, clock_of(c)?),
        (None, None) => {
            let serial: f64 = t.parse().ok()?;
            let date = date_of(t)?;
            let secs = ((serial.fract() * 86_400.0).round() as i64).clamp(0, 86_399);
            let time = Time::from_hms(
                (secs / 3600) as u8,
                (secs / 60 % 60) as u8,
                (secs % 60) as u8,
            )
            .ok()?;
            (date, time)
        }
        (None, Some(_)) => return None,
    };
    Some(PrimitiveDateTime::new(date, time).assume_offset(CHINA))
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (the fraction ignored).
fn clock_of(c: &str) -> Option<Time> {
    let c = c.split('.').next()?;
    let n: Vec<&str> = c.split(':').collect();
    if !(2..=3).contains(&n.len()) || n.iter().any(|p| p.is_empty() || p.len() > 2) {
        return None;
    }
    let num = |p: &str| p.parse::<u8>().ok();
    Time::from_hms(
        num(n[0])?,
        num(n[1])?,
        n.get(2).map_or(Some(0), |p| num(p))?,
    )
    .ok()
}

/// Settles a deal's pipeline (the default one when the file names none) and its stage in
/// that pipeline (`stage_id`).
pub(super) fn settle(
    deal: &mut Map<String, Value>,
    lookups: &Lookups,
    mapping: &Mapping,
    headers: &[String],
    row: usize,
    problems: &mut Vec<Problem>,
) {
    let pipeline = match deal.get("pipeline_id").and_then(Value::as_i64) {
        Some(id) => lookups.pipelines.iter().find(|p| p.id == id),
        None => lookups
            .pipelines
            .iter()
            .filter(|p| !p.archived)
            .find(|p| p.is_default)
            .or_else(|| lookups.pipelines.iter().find(|p| !p.archived)),
    };
    let Some(pipeline) = pipeline else {
        return;
    };
    deal.insert("pipeline_id".into(), Value::from(pipeline.id));
    let Some(Value::String(text)) = deal.remove("stage") else {
        return;
    };
    let mapped = mapping
        .values
        .get("stage")
        .and_then(|m| m.get(&text))
        .cloned();
    match stage_named(pipeline, mapped.as_deref().unwrap_or(&text)) {
        Some(s) => {
            deal.insert("stage_id".into(), Value::from(s.id));
        }
        None => {
            let column = mapping
                .columns
                .iter()
                .position(|k| k.as_deref() == Some("stage"))
                .and_then(|i| headers.get(i))
                .cloned()
                .unwrap_or_default();
            problems.push(problem(
                row,
                &column,
                "unknown_stage",
                format!("“{text}” is no stage of the pipeline {}", pipeline.name),
            ));
        }
    }
}

/// What a deals row says beyond an opportunity's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Past {
    pub external_id: Option<String>,
    pub created_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
    pub loss_reason: Option<String>,
}

/// Takes a deal's past out of its input (what is left is an opportunity's input).
pub fn take_past(deal: &mut Map<String, Value>) -> Past {
    let mut text = |k: &str| match deal.remove(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let external_id = text("external_id");
    let loss_reason = text("loss_reason");
    let created = text("created_at");
    let closed = text("closed_at");
    let at = |s: Option<String>| {
        s.and_then(|s| {
            OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).ok()
        })
    };
    Past {
        external_id,
        created_at: at(created),
        closed_at: at(closed),
        loss_reason,
    }
}

/// The stage a deal is created in: that of its first history row when the row is at its
/// creation; without history, its own stage when open; else the pipeline's first open stage.
pub fn start_stage(
    pipeline: &Pipeline,
    stage: StageId,
    created_at: OffsetDateTime,
    history: &[&ValidRow],
) -> Option<StageId> {
    let first_open = pipeline.first_open_stage().map(|s| s.id);
    match history.first() {
        Some(r) if r.at <= created_at => Some(r.stage_id),
        Some(_) => first_open,
        None => match pipeline.stage(stage)?.kind {
            StageKind::Open => Some(stage),
            _ => first_open,
        },
    }
}

/// Where the deals file says a deal is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub stage: StageId,
    /// Its amount now, when the file says.
    pub amount_minor: Option<i64>,
}

/// Why a deal's past does not hold together (the code, the column's field, the message).
pub type Misfit = (&'static str, &'static str, String);

/// A deal created (by `opportunity::create` at its creation, in [`start_stage`]) taken through
/// its history — or, without history, closed at its `closed_at` — to the stage the file says;
/// the deal as imported and all its events.
pub fn complete(
    created: (Opportunity, Vec<NewEvent>),
    pipeline: &Pipeline,
    is: Now,
    past: &Past,
    history: &[&ValidRow],
    actor: UserId,
    now: OffsetDateTime,
) -> Result<(Opportunity, Vec<NewEvent>), Misfit> {
    let Now {
        stage,
        amount_minor,
    } = is;
    let (opp, mut events) = created;
    if let Some(v) = events
        .iter_mut()
        .find(|e| e.kind == EventKind::Created)
        .and_then(|e| e.new_value.as_mut())
        .and_then(Value::as_object_mut)
    {
        v.insert("imported".into(), Value::Bool(true));
    }
    let closing;
    let rows: Vec<&ValidRow> = if history.is_empty() && stage != opp.stage_id {
        let Some(at) = past.closed_at else {
            return Err((
                "required",
                "closed_at",
                "a won or lost deal without stage history needs the time it was closed".into(),
            ));
        };
        if at < opp.created_at || at > now {
            return Err((
                "invalid_value",
                "closed_at",
                "the deal cannot close before it was created or after now".into(),
            ));
        }
        closing = ValidRow {
            row: 0,
            opportunity_id: opp.id,
            stage_id: stage,
            at,
            amount_minor: None,
        };
        vec![&closing]
    } else {
        history.to_vec()
    };
    let (mut o, moved) = history_import::plan(&opp, pipeline, &rows, actor, now);
    events.extend(moved);
    if o.stage_id != stage {
        let name = |id| {
            pipeline
                .stage(id)
                .map_or_else(String::new, |s| s.name_zh.clone())
        };
        return Err((
            "history_mismatch",
            "stage",
            format!(
                "the stage history ends in {}, the file says {}",
                name(o.stage_id),
                name(stage)
            ),
        ));
    }
    if o.status == StageKind::Lost {
        o.loss_reason = past.loss_reason.clone();
        if let Some(e) = events.iter_mut().rfind(|e| e.kind == EventKind::Lost) {
            e.new_value = Some(json!({
                "loss_reason": o.loss_reason,
                "loss_note": null,
                "competitor": o.competitor,
                "imported": true,
            }));
        }
    }
    if let Some(a) = amount_minor.filter(|a| *a != o.amount.amount_minor) {
        let at = events.last().map_or(o.created_at, |e| e.at);
        let new = Money {
            amount_minor: a,
            currency: o.amount.currency.clone(),
        };
        events.push(NewEvent {
            kind: EventKind::AmountChanged,
            actor_id: actor,
            at,
            from_stage_id: None,
            to_stage_id: None,
            old_value: Some(json!({"amount_minor": o.amount.amount_minor, "currency": o.amount.currency, "imported": true})),
            new_value: Some(json!({"amount_minor": a, "currency": new.currency, "imported": true})),
        });
        o.amount = new;
    }
    o.updated_at = events.last().map_or(o.created_at, |e| e.at);
    Ok((o, events))
}

/// A history sheet's header named as the history import's columns (`opportunity`, `stage`,
/// `entered_at`, `amount`), from its Chinese or English names.
pub fn history_column(header: &str) -> String {
    let h = normalise(header);
    const NAMES: [(&str, &[&str]); 4] = [
        (
            "opportunity",
            &[
                "opportunity",
                "外部编号",
                "商机编号",
                "商机",
                "编号",
                "externalid",
                "dealid",
            ],
        ),
        ("stage", &["stage", "阶段", "销售阶段"]),
        (
            "entered_at",
            &[
                "enteredat",
                "进入时间",
                "进入阶段时间",
                "进入日期",
                "时间",
                "日期",
                "date",
                "time",
            ],
        ),
        ("amount", &["amount", "金额"]),
    ];
    NAMES
        .iter()
        .find(|(_, names)| names.iter().any(|n| normalise(n) == h))
        .map_or_else(|| header.trim().to_string(), |(c, _)| c.to_string())
}

/// A history sheet as the history import reads it: its header in the import's column names,
/// each data row's texts (times as `YYYY-MM-DD HH:MM:SS`, China time) with its row number.
pub fn history_records(
    headers: &[String],
    rows: &[Vec<Cell>],
) -> (Vec<String>, Vec<(usize, Vec<String>)>) {
    let header: Vec<String> = headers.iter().map(|h| history_column(h)).collect();
    let at = header.iter().position(|h| h == "entered_at");
    let records = rows
        .iter()
        .enumerate()
        .map(|(i, cells)| {
            let texts = (0..header.len())
                .map(|c| {
                    let text = cells.get(c).map(Cell::text).unwrap_or_default();
                    match instant_of(&text).filter(|_| Some(c) == at) {
                        Some(t) => {
                            let t = t.to_offset(CHINA);
                            if t.time() == Time::MIDNIGHT && !text.contains(':') {
                                t.date().to_string()
                            } else {
                                format!(
                                    "{} {:02}:{:02}:{:02}",
                                    t.date(),
                                    t.hour(),
                                    t.minute(),
                                    t.second()
                                )
                            }
                        }
                        None => text,
                    }
                })
                .collect();
            (i + 2, texts)
        })
        .filter(|(_, t): &(usize, Vec<String>)| t.iter().any(|s| !s.is_empty()))
        .collect();
    (header, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opportunity::{create, OpportunityInput};
    use crate::process::{b2b_template, build_pipeline};
    use crate::visibility::Actor;
    use crate::Field;
    use time::macros::datetime;

    /// The clock of these tests.
    const NOW: OffsetDateTime = datetime!(2026-03-20 10:00 UTC);
    const CREATED: OffsetDateTime = datetime!(2026-01-05 02:00 UTC);

    /// Stages 10 线索确认, 11 需求分析, 12 方案报价, 13 商务谈判, 14 赢单, 15 输单.
    fn pipeline() -> Pipeline {
        build_pipeline(&b2b_template(), 1, 10)
    }

    fn now(stage: StageId, amount_minor: Option<i64>) -> Now {
        Now {
            stage,
            amount_minor,
        }
    }

    fn row(stage: StageId, at: OffsetDateTime, amount: Option<i64>) -> ValidRow {
        ValidRow {
            row: 2,
            opportunity_id: 1,
            stage_id: stage,
            at,
            amount_minor: amount,
        }
    }

    /// A deal of the file: created by the importer at `CREATED` in `start`.
    fn created(start: StageId) -> (Opportunity, Vec<NewEvent>) {
        let input = OpportunityInput {
            title: Field::Value("迁移".into()),
            account_id: Field::Value(1),
            stage_id: Field::Value(start),
            amount_minor: Field::Value(5_000_000),
            competitor: Field::Value("某德企".into()),
            ..Default::default()
        };
        let actor = Actor {
            user_id: 9,
            role: Role::Admin,
            team_id: None,
        };
        create(input, &pipeline(), &actor, CREATED).unwrap()
    }

    #[test]
    fn times_dates_and_serial_numbers_read_as_china_time() {
        let cases: [(&str, Option<OffsetDateTime>); 7] = [
            ("2026-01-05", Some(datetime!(2026-01-04 16:00 UTC))),
            ("2026/1/5 10:30", Some(datetime!(2026-01-05 02:30 UTC))),
            (
                "2026年1月5日 10:30:15",
                Some(datetime!(2026-01-05 02:30:15 UTC)),
            ),
            (
                "2026-01-05 10:30:00.0",
                Some(datetime!(2026-01-05 02:30 UTC)),
            ),
            // 46027 is 2026-01-05 in a spreadsheet's serial days; .5 is noon.
            ("46027.5", Some(datetime!(2026-01-05 04:00 UTC))),
            ("2026-13-05", None),
            ("soon", None),
        ];
        for (text, want) in cases {
            assert_eq!(instant_of(text), want, "{text}");
        }
        assert_eq!(
            date_of("46027").map(|d| d.to_string()),
            Some("2026-01-05".into())
        );
    }

    #[test]
    fn history_headers_are_named_in_chinese_or_english() {
        let h: Vec<String> = ["外部编号", "阶段", "进入时间", "金额", "Stage", "备注"]
            .iter()
            .map(|h| history_column(h))
            .collect();
        assert_eq!(
            h,
            [
                "opportunity",
                "stage",
                "entered_at",
                "amount",
                "stage",
                "备注"
            ]
        );
    }

    #[test]
    fn a_deal_starts_where_its_history_starts_or_in_its_own_open_stage() {
        let p = pipeline();
        let at_creation = row(11, CREATED, None);
        let later = row(11, CREATED + Duration::days(3), None);
        let cases: [(StageId, Vec<&ValidRow>, StageId); 5] = [
            (13, vec![&at_creation], 11),
            (13, vec![&later], 10),
            (12, vec![], 12),
            (14, vec![], 10),
            (15, vec![], 10),
        ];
        for (stage, history, want) in cases {
            assert_eq!(start_stage(&p, stage, CREATED, &history), Some(want));
        }
    }

    #[test]
    fn a_lost_deal_ends_with_its_reason_on_its_lost_event() {
        let history = [
            row(10, CREATED, Some(4_000_000)),
            row(12, CREATED + Duration::days(10), None),
            row(15, CREATED + Duration::days(30), None),
        ];
        let rows: Vec<&ValidRow> = history.iter().collect();
        let past = Past {
            loss_reason: Some("price".into()),
            ..Default::default()
        };
        let mut start = created(10);
        start.0.amount.amount_minor = 4_000_000;
        let (o, events) = complete(
            start,
            &pipeline(),
            now(15, Some(5_000_000)),
            &past,
            &rows,
            9,
            NOW,
        )
        .unwrap();
        assert_eq!((o.stage_id, o.status), (15, StageKind::Lost));
        assert_eq!(o.closed_at, Some(CREATED + Duration::days(30)));
        assert_eq!(o.loss_reason.as_deref(), Some("price"));
        let lost = events.iter().find(|e| e.kind == EventKind::Lost).unwrap();
        assert_eq!(
            lost.new_value.as_ref().unwrap()["loss_reason"],
            json!("price")
        );
        assert_eq!(
            lost.new_value.as_ref().unwrap()["competitor"],
            json!("某德企")
        );
        // The file's final amount: an amount change at the deal's last event.
        let last = events.last().unwrap();
        assert_eq!(
            (last.kind, last.at),
            (EventKind::AmountChanged, CREATED + Duration::days(30))
        );
        assert_eq!(o.amount.amount_minor, 5_000_000);
        assert!(events.iter().all(|e| e.actor_id == 9));
        assert_eq!(
            events[0].new_value.as_ref().unwrap()["imported"],
            json!(true)
        );
    }

    #[test]
    fn a_closed_deal_without_history_closes_at_its_closed_time() {
        let closed = CREATED + Duration::days(40);
        let past = Past {
            closed_at: Some(closed),
            ..Default::default()
        };
        let (o, events) =
            complete(created(10), &pipeline(), now(14, None), &past, &[], 9, NOW).unwrap();
        assert_eq!((o.status, o.closed_at), (StageKind::Won, Some(closed)));
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds[..3],
            [EventKind::Created, EventKind::StageChanged, EventKind::Won]
        );
        let cases: [(Option<OffsetDateTime>, &str); 3] = [
            (None, "required"),
            (Some(CREATED - Duration::days(1)), "invalid_value"),
            (Some(NOW + Duration::days(1)), "invalid_value"),
        ];
        for (closed_at, code) in cases {
            let past = Past {
                closed_at,
                ..Default::default()
            };
            let err =
                complete(created(10), &pipeline(), now(14, None), &past, &[], 9, NOW).unwrap_err();
            assert_eq!((err.0, err.1), (code, "closed_at"), "{closed_at:?}");
        }
    }

    #[test]
    fn a_history_ending_elsewhere_than_the_file_says_is_refused() {
        let history = [
            row(10, CREATED, None),
            row(11, CREATED + Duration::days(2), None),
        ];
        let rows: Vec<&ValidRow> = history.iter().collect();
        let err = complete(
            created(10),
            &pipeline(),
            now(13, None),
            &Past::default(),
            &rows,
            9,
            NOW,
        )
        .unwrap_err();
        assert_eq!((err.0, err.1), ("history_mismatch", "stage"));
        assert!(
            err.2.contains("需求分析") && err.2.contains("商务谈判"),
            "{}",
            err.2
        );
    }
}
