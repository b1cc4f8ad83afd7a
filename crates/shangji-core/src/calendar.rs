//! The working calendar: which days are working days (the work week, less public holidays,
//! plus make-up working days — 调休上班), the working hours of a working day, and counting
//! in working days and working hours between instants. Rules such as "no follow-up for 3
//! working days" and working-hour SLAs are decided with it; wall-clock rules ("unassigned for
//! more than 48 hours") and calendar-day rules ("7 days in a stage") do not need it.
//!
//! The calendar is data: `data/calendar-cn.json` ships the State Council's holiday
//! arrangements for 2025 and 2026 ([`WorkCalendar::china_default`]), and an admin may edit it
//! ([`WorkCalendar::from_json`] checks an edited copy and names the bad entry). Days outside
//! the listed years follow the work week alone.
//!
//! # Definitions
//!
//! Every instant is read in the calendar's time zone ("local"). Let `start(a)` be `a` itself
//! when `a`'s local date is a working day, otherwise the local midnight that begins the next
//! working day; write `D` and `T` for its local date and wall time.
//!
//! - **`add_working_days(a, n)`**: `a` for `n = 0`; otherwise the wall time `T` on the `n`th
//!   working day after `D`. From a working day it is the same wall time `n` working days later;
//!   from a weekend day or holiday the first working day counts whole, starting at its
//!   midnight. The result (for `n ≥ 1`) always falls on a working day.
//! - **`working_days_between(a, b)`** for `b ≥ a`: the largest `n` with
//!   `add_working_days(a, n) ≤ b` — so it is `n` exactly from `add_working_days(a, n)` on, and a
//!   rule "for 3 working days" fires at `add_working_days(a, 3)`, not a nanosecond earlier. It
//!   never decreases as `b` grows. For `b < a` it is `-working_days_between(b, a)`.
//! - **`working_hours_between(a, b)`** for `b ≥ a`: the length of `[a, b]` that lies inside the
//!   working hours (`hours.start` to `hours.end`, local) of working days; for `b < a` its
//!   negation.
//! - **`add_working_hours(a, h)`**: the earliest instant `b ≥ a` with
//!   `working_hours_between(a, b) = h` (so a duration that ends exactly at a working day's end
//!   gives that end, not the next morning); `a` itself when `h ≤ 0`.
//!
//! # Time zone
//!
//! The calendar keeps an IANA zone name (shown to people, `Asia/Shanghai` by default) and a
//! fixed UTC offset (`+08:00`) used for all arithmetic. A fixed offset is exact for China and
//! the other zones without daylight saving time, which is what a working calendar of Chinese
//! public holidays is for. We do not embed the IANA database: the crate that does so for
//! `time` 0.3 (`time-tz`) generates the whole database at build time and ships a snapshot that
//! goes stale with its releases, a cost in build time and dependencies that buys nothing for a
//! zone that has not changed its offset since 1991. The offset may be omitted for the names in
//! [`FIXED_OFFSET_ZONES`]; any other name needs it.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use utoipa::ToSchema;

use crate::error::FieldError;

/// The shipped calendar: working days and hours in China, with the public holidays and
/// make-up working days of 2025 and 2026.
/// China Standard Time (UTC+8). Every calendar day in shangji — today, a close date, a due
/// date, a report period, a working day — is a day in China.
pub const CHINA: UtcOffset = time::macros::offset!(+8);

/// The calendar day in China at `at`.
pub fn china_date(at: OffsetDateTime) -> Date {
    at.to_offset(CHINA).date()
}

/// The instant a day in China begins.
pub fn china_day_start(d: Date) -> OffsetDateTime {
    d.midnight().assume_offset(CHINA).to_offset(UtcOffset::UTC)
}

pub const CHINA_CALENDAR_JSON: &str = include_str!("../data/calendar-cn.json");

/// IANA zones without daylight saving time whose offset is known here, so a calendar naming
/// one of them may leave `utc_offset` out (and may not give a different one).
pub const FIXED_OFFSET_ZONES: &[(&str, i8, i8)] = &[
    ("Asia/Shanghai", 8, 0),
    ("Asia/Chongqing", 8, 0),
    ("Asia/Urumqi", 6, 0),
    ("Asia/Hong_Kong", 8, 0),
    ("Asia/Macau", 8, 0),
    ("Asia/Taipei", 8, 0),
    ("Asia/Singapore", 8, 0),
    ("Asia/Kuala_Lumpur", 8, 0),
    ("Asia/Manila", 8, 0),
    ("Asia/Tokyo", 9, 0),
    ("Asia/Seoul", 9, 0),
    ("Asia/Bangkok", 7, 0),
    ("Asia/Ho_Chi_Minh", 7, 0),
    ("Asia/Jakarta", 7, 0),
    ("Asia/Kolkata", 5, 30),
    ("Asia/Dubai", 4, 0),
    ("Etc/UTC", 0, 0),
    ("UTC", 0, 0),
];

/// The longest holiday range accepted, in days (catches a mistyped year in `to`).
pub const MAX_HOLIDAY_DAYS: i64 = 366;

const DATE_FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
const TIME_FORMAT: &[FormatItem<'static>] = format_description!("[hour]:[minute]");
const OFFSET_FORMAT: &[FormatItem<'static>] =
    format_description!("[offset_hour sign:mandatory]:[offset_minute]");

/// The calendar as stored and edited: the shape of `calendar-cn.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarData {
    /// IANA zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    /// The zone's UTC offset, `+08:00`; may be left out for the zones of
    /// [`FIXED_OFFSET_ZONES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    /// The usual working weekdays, ISO numbers: 1 = Monday … 7 = Sunday.
    pub work_week: Vec<u8>,
    /// The working hours of every working day.
    pub hours: HoursData,
    /// Where the holiday arrangements come from (free text, for the people editing them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Days off, each a range of dates, both ends included.
    #[serde(default)]
    pub holidays: Vec<HolidayData>,
    /// Days worked although the work week says otherwise (调休上班).
    #[serde(default)]
    pub make_up_days: Vec<MakeUpData>,
}

/// Working hours, local wall times `HH:MM`, `start` before `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursData {
    pub start: String,
    pub end: String,
}

/// A public holiday: dates `YYYY-MM-DD`, `from` to `to` inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayData {
    pub name_zh: String,
    pub name_en: String,
    pub from: String,
    pub to: String,
}

/// A make-up working day, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeUpData {
    pub date: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A day's name in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayName {
    pub zh: String,
    pub en: String,
}

/// A checked holiday range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: DayName,
    pub from: Date,
    pub to: Date,
}

/// A checked make-up working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeUpDay {
    pub date: Date,
    pub name: DayName,
}

/// What a date is in the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// A work-week day that is no holiday.
    Workday,
    /// A day outside the work week that is neither a holiday nor a make-up day.
    Weekend,
    /// A day of a public holiday (whatever its weekday).
    Holiday { name: DayName },
    /// A make-up working day.
    MakeUp { name: DayName },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Holiday(usize),
    MakeUp(usize),
}

/// A checked working calendar. Build it with [`WorkCalendar::from_json`],
/// [`WorkCalendar::from_data`] or [`WorkCalendar::china_default`]; see the module
/// documentation for the definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    time_zone: String,
    offset: UtcOffset,
    /// Indexed by days from Monday.
    work_week: [bool; 7],
    start: Time,
    end: Time,
    sources: Vec<String>,
    holidays: Vec<Holiday>,
    make_up_days: Vec<MakeUpDay>,
    days: BTreeMap<Date, Special>,
    /// Holiday days in all (a bound for searches).
    holiday_days: i64,
}

impl WorkCalendar {
    /// The shipped calendar (`data/calendar-cn.json`): Asia/Shanghai, Monday to Friday 09:00
    /// to 18:00, with China's public holidays and make-up working days of 2025 and 2026.
    pub fn china_default() -> WorkCalendar {
        WorkCalendar::from_json(CHINA_CALENDAR_JSON).expect("the shipped calendar is valid")
    }

    /// Reads and checks a calendar. The error names the bad entry (`holidays[3].to`,
    /// `make_up_days[0].date`, `hours.end`…); unreadable JSON is field `calendar`, code
    /// `invalid_json`.
    pub fn from_json(json: &str) -> Result<WorkCalendar, FieldError> {
        let data: CalendarData = serde_json::from_str(json)
            .map_err(|e| FieldError::new("calendar", "invalid_json", e.to_string()))?;
        WorkCalendar::from_data(&data)
    }

    /// Checks a calendar: dates are `YYYY-MM-DD`, a holiday's `from` is not after its `to`,
    /// holidays do not overlap, a make-up day is neither a holiday, nor listed twice, nor
    /// already a work-week day; hours are `HH:MM` with `start` before `end`; the work week has
    /// at least one day, each 1–7 once; names are not blank; the time zone is known or has an
    /// offset.
    pub fn from_data(data: &CalendarData) -> Result<WorkCalendar, FieldError> {
        let time_zone = data.time_zone.trim();
        if time_zone.is_empty() {
            return Err(FieldError::new(
                "time_zone",
                "required",
                "a time zone is required",
            ));
        }
        let known = FIXED_OFFSET_ZONES
            .iter()
            .find(|(name, _, _)| *name == time_zone)
            .map(|&(_, h, m)| UtcOffset::from_hms(h, m, 0).expect("valid offset"));
        let offset = match (&data.utc_offset, known) {
            (Some(text), known) => {
                let offset = UtcOffset::parse(text.trim(), OFFSET_FORMAT).map_err(|_| {
                    FieldError::new(
                        "utc_offset",
                        "invalid_offset",
                        format!("`{text}` is not a UTC offset like +08:00"),
                    )
                })?;
                if known.is_some_and(|k| k != offset) {
                    return Err(FieldError::new(
                        "utc_offset",
                        "offset_mismatch",
                        format!("{time_zone} is not at UTC{text}"),
                    ));
                }
                offset
            }
            (None, Some(known)) => known,
            (None, None) => {
                return Err(FieldError::new(
                    "time_zone",
                    "unknown_time_zone",
                    format!("the offset of `{time_zone}` is not known here: give utc_offset"),
                ))
            }
        };

        if data.work_week.is_empty() {
            return Err(FieldError::new(
                "work_week",
                "empty_work_week",
                "the work week needs at least one day",
            ));
        }
        let mut work_week = [false; 7];
        for (i, &day) in data.work_week.iter().enumerate() {
            let field = format!("work_week[{i}]");
            if !(1..=7).contains(&day) {
                return Err(FieldError::new(
                    &field,
                    "invalid_weekday",
                    format!("{day} is not a weekday number (1 = Monday … 7 = Sunday)"),
                ));
            }
            let slot = &mut work_week[usize::from(day - 1)];
            if *slot {
                return Err(FieldError::new(
                    &field,
                    "duplicate_weekday",
                    format!("weekday {day} is listed twice"),
                ));
            }
            *slot = true;
        }

        let start = parse_time(&data.hours.start, "hours.start")?;
        let end = parse_time(&data.hours.end, "hours.end")?;
        if start >= end {
            return Err(FieldError::new(
                "hours.end",
                "hours_order",
                "working hours must end after they start",
            ));
        }

        let mut days = BTreeMap::new();
        let mut holidays = Vec::with_capacity(data.holidays.len());
        let mut holiday_days = 0;
        for (i, h) in data.holidays.iter().enumerate() {
            let at = |part: &str| format!("holidays[{i}].{part}");
            let name = day_name(&h.name_zh, &h.name_en, &at("name_zh"), &at("name_en"))?;
            let from = parse_date(&h.from, &at("from"))?;
            let to = parse_date(&h.to, &at("to"))?;
            if from > to {
                return Err(FieldError::new(
                    &at("to"),
                    "range_reversed",
                    format!("the holiday ends ({}) before it starts ({})", h.to, h.from),
                ));
            }
            let length = (to - from).whole_days() + 1;
            if length > MAX_HOLIDAY_DAYS {
                return Err(FieldError::new(
                    &at("to"),
                    "range_too_long",
                    format!("a holiday lasts at most {MAX_HOLIDAY_DAYS} days"),
                ));
            }
            let mut day = from;
            loop {
                if let Some(&Special::Holiday(j)) = days.get(&day) {
                    let other: &Holiday = &holidays[j];
                    return Err(FieldError::new(
                        &at("from"),
                        "holiday_overlap",
                        format!(
                            "{} overlaps holidays[{j}] ({} {}–{})",
                            day.format(DATE_FORMAT).unwrap_or_default(),
                            other.name.zh,
                            other.from.format(DATE_FORMAT).unwrap_or_default(),
                            other.to.format(DATE_FORMAT).unwrap_or_default(),
                        ),
                    ));
                }
                days.insert(day, Special::Holiday(i));
                if day == to {
                    break;
                }
                day = day.next_day().expect("before `to`");
            }
            holiday_days += length;
            holidays.push(Holiday { name, from, to });
        }

        let mut make_up_days = Vec::with_capacity(data.make_up_days.len());
        for (i, m) in data.make_up_days.iter().enumerate() {
            let at = |part: &str| format!("make_up_days[{i}].{part}");
            let name = day_name(&m.name_zh, &m.name_en, &at("name_zh"), &at("name_en"))?;
            let date = parse_date(&m.date, &at("date"))?;
            match days.get(&date) {
                Some(&Special::Holiday(j)) => {
                    return Err(FieldError::new(
                        &at("date"),
                        "holiday_and_make_up",
                        format!(
                            "{} is a day of holidays[{j}] ({}); it cannot also be a make-up working day",
                            m.date, holidays[j].name.zh
                        ),
                    ))
                }
                Some(&Special::MakeUp(j)) => {
                    return Err(FieldError::new(
                        &at("date"),
                        "duplicate_make_up",
                        format!("{} is already make_up_days[{j}]", m.date),
                    ))
                }
                None => {}
            }
            if work_week[usize::from(date.weekday().number_days_from_monday())] {
                return Err(FieldError::new(
                    &at("date"),
                    "make_up_on_working_day",
                    format!("{} ({}) is a working day already", m.date, date.weekday()),
                ));
            }
            days.insert(date, Special::MakeUp(i));
            make_up_days.push(MakeUpDay { date, name });
        }

        Ok(WorkCalendar {
            time_zone: time_zone.to_string(),
            offset,
            work_week,
            start,
            end,
            sources: data.sources.clone(),
            holidays,
            make_up_days,
            days,
            holiday_days,
        })
    }

    /// The calendar as data, e.g. for an edit form; `from_data` of it gives the same calendar.
    pub fn data(&self) -> CalendarData {
        let date = |d: Date| d.format(DATE_FORMAT).expect("a date formats");
        let time = |t: Time| t.format(TIME_FORMAT).expect("a time formats");
        CalendarData {
            time_zone: self.time_zone.clone(),
            utc_offset: Some(
                self.offset
                    .format(OFFSET_FORMAT)
                    .expect("an offset formats"),
            ),
            work_week: (1..=7u8)
                .filter(|d| self.work_week[usize::from(d - 1)])
                .collect(),
            hours: HoursData {
                start: time(self.start),
                end: time(self.end),
            },
            sources: self.sources.clone(),
            holidays: self
                .holidays
                .iter()
                .map(|h| HolidayData {
                    name_zh: h.name.zh.clone(),
                    name_en: h.name.en.clone(),
                    from: date(h.from),
                    to: date(h.to),
                })
                .collect(),
            make_up_days: self
                .make_up_days
                .iter()
                .map(|m| MakeUpData {
                    date: date(m.date),
                    name_zh: m.name.zh.clone(),
                    name_en: m.name.en.clone(),
                })
                .collect(),
        }
    }

    /// The calendar as pretty-printed JSON, readable by [`WorkCalendar::from_json`].
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.data()).expect("calendar data serializes")
    }

    /// The IANA name of the calendar's time zone.
    pub fn time_zone(&self) -> &str {
        &self.time_zone
    }

    /// The UTC offset all local dates and times are read in.
    pub fn utc_offset(&self) -> UtcOffset {
        self.offset
    }

    /// The working hours of a working day, local wall times: start, end.
    pub fn working_hours(&self) -> (Time, Time) {
        (self.start, self.end)
    }

    /// The holidays, in the data's order.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// The make-up working days, in the data's order.
    pub fn make_up_days(&self) -> &[MakeUpDay] {
        &self.make_up_days
    }

    /// The first and last date the data lists as a holiday or make-up day (`None` if none):
    /// after the last one, days follow the work week alone, so next year's arrangements are
    /// due.
    pub fn listed_range(&self) -> Option<(Date, Date)> {
        let first = self.days.keys().next()?;
        let last = self.days.keys().next_back()?;
        Some((*first, *last))
    }

    /// What a date is: workday, weekend, holiday or make-up working day.
    pub fn day_kind(&self, date: Date) -> DayKind {
        match self.days.get(&date) {
            Some(&Special::Holiday(i)) => DayKind::Holiday {
                name: self.holidays[i].name.clone(),
            },
            Some(&Special::MakeUp(i)) => DayKind::MakeUp {
                name: self.make_up_days[i].name.clone(),
            },
            None if self.in_work_week(date) => DayKind::Workday,
            None => DayKind::Weekend,
        }
    }

    /// Whether a date is a working day: a work-week day that is no holiday, or a make-up day.
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.days.get(&date) {
            Some(Special::Holiday(_)) => false,
            Some(Special::MakeUp(_)) => true,
            None => self.in_work_week(date),
        }
    }

    /// The first working day after `date`.
    ///
    /// # Panics
    /// Past the last representable date.
    pub fn next_working_day(&self, date: Date) -> Date {
        self.nth_working_day_after(date, 1)
            .expect("a working day before the end of time")
    }

    /// The `n`th working day after the date `day` (`day` itself for `n = 0`): the due date of
    /// something due in `n` working days. From a Saturday, 1 working day is the Monday (or
    /// the next working day after the holidays).
    ///
    /// # Panics
    /// Past the last representable date.
    pub fn working_days_after(&self, day: Date, n: u32) -> Date {
        if n == 0 {
            return day;
        }
        self.nth_working_day_after(day, u64::from(n))
            .expect("a working day before the end of time")
    }

    /// The local (calendar time zone) date of an instant.
    pub fn local_date(&self, at: OffsetDateTime) -> Date {
        at.to_offset(self.offset).date()
    }

    /// The instant a local date begins.
    pub fn local_midnight(&self, date: Date) -> OffsetDateTime {
        self.at(date, Time::MIDNIGHT)
    }

    /// `n` working days after `from` (see the module documentation), in the calendar's
    /// offset.
    ///
    /// # Panics
    /// If the result is past the last representable date.
    pub fn add_working_days(&self, from: OffsetDateTime, n: u32) -> OffsetDateTime {
        self.checked_add_working_days(from, n)
            .expect("working days beyond the last representable date")
    }

    /// [`WorkCalendar::add_working_days`], `None` past the last representable date.
    pub fn checked_add_working_days(&self, from: OffsetDateTime, n: u32) -> Option<OffsetDateTime> {
        if n == 0 {
            return Some(from);
        }
        let (date, time) = self.counting_start(from)?;
        let day = self.nth_working_day_after(date, u64::from(n))?;
        Some(self.at(day, time))
    }

    /// Whole working days from `from` to `to`: the largest `n` with
    /// `add_working_days(from, n) <= to`; negative when `to` is before `from`.
    pub fn working_days_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        let Some((start_date, start_time)) = self.counting_start(from) else {
            return 0;
        };
        let local = to.to_offset(self.offset);
        let count = self.count_working_days(start_date, local.date());
        if count > 0 && self.is_working_day(local.date()) && local.time() < start_time {
            count - 1
        } else {
            count
        }
    }

    /// The part of `[from, to]` inside working hours of working days; negative when `to` is
    /// before `from`.
    pub fn working_hours_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Duration {
        if to < from {
            return -self.working_hours_between(to, from);
        }
        let first = self.local_date(from);
        let last = self.local_date(to);
        if first == last {
            return self.worked_on(first, from, to);
        }
        let (_, first_end) = self.window(first);
        let (last_start, _) = self.window(last);
        let between = self.count_working_days(first, last) - i64::from(self.is_working_day(last));
        self.worked_on(first, from, first_end)
            + self.worked_on(last, last_start, to)
            + Duration::seconds((self.end - self.start).whole_seconds() * between)
    }

    /// The earliest instant at which `working_hours_between(from, ·)` reaches `hours`; `from`
    /// when `hours` is zero or negative.
    ///
    /// # Panics
    /// If the result is past the last representable date.
    pub fn add_working_hours(&self, from: OffsetDateTime, hours: Duration) -> OffsetDateTime {
        self.checked_add_working_hours(from, hours)
            .expect("working hours beyond the last representable date")
    }

    /// [`WorkCalendar::add_working_hours`], `None` past the last representable date.
    pub fn checked_add_working_hours(
        &self,
        from: OffsetDateTime,
        hours: Duration,
    ) -> Option<OffsetDateTime> {
        if hours <= Duration::ZERO {
            return Some(from);
        }
        let date = self.local_date(from);
        let mut rest = hours;
        if self.is_working_day(date) {
            let (start, end) = self.window(date);
            let begin = start.max(from);
            if begin < end {
                if rest <= end - begin {
                    return Some(begin + rest);
                }
                rest -= end - begin;
            }
        }
        // `rest` = q whole working days + r, with 0 < r ≤ one day's hours: it ends r into the
        // (q + 1)th working day after `date`.
        let day = (self.end - self.start).whole_nanoseconds();
        let rest = rest.whole_nanoseconds();
        let q = (rest - 1) / day;
        let r = rest - q * day;
        let target = self.nth_working_day_after(date, u64::try_from(q + 1).ok()?)?;
        let r = Duration::nanoseconds(i64::try_from(r).ok()?);
        self.at(target, self.start).checked_add(r)
    }

    fn in_work_week(&self, date: Date) -> bool {
        self.work_week[usize::from(date.weekday().number_days_from_monday())]
    }

    fn at(&self, date: Date, time: Time) -> OffsetDateTime {
        PrimitiveDateTime::new(date, time).assume_offset(self.offset)
    }

    /// A date's working hours as instants.
    fn window(&self, date: Date) -> (OffsetDateTime, OffsetDateTime) {
        (self.at(date, self.start), self.at(date, self.end))
    }

    /// The working time of `date` inside `[from, to]`.
    fn worked_on(&self, date: Date, from: OffsetDateTime, to: OffsetDateTime) -> Duration {
        if !self.is_working_day(date) {
            return Duration::ZERO;
        }
        let (start, end) = self.window(date);
        let (a, b) = (start.max(from), end.min(to));
        if b > a {
            b - a
        } else {
            Duration::ZERO
        }
    }

    /// Where counting working days from `from` starts: `from` itself (local date and time) on
    /// a working day, else the next working day's midnight.
    fn counting_start(&self, from: OffsetDateTime) -> Option<(Date, Time)> {
        let local = from.to_offset(self.offset);
        if self.is_working_day(local.date()) {
            Some((local.date(), local.time()))
        } else {
            Some((self.nth_working_day_after(local.date(), 1)?, Time::MIDNIGHT))
        }
    }

    /// The number of working days `d` with `after < d ≤ through` (0 when `through ≤ after`):
    /// the work-week days by whole weeks, corrected by the listed days in the range.
    fn count_working_days(&self, after: Date, through: Date) -> i64 {
        if through <= after {
            return 0;
        }
        let span = (through - after).whole_days();
        let per_week = self.work_week.iter().filter(|w| **w).count() as i64;
        let mut n = span / 7 * per_week;
        let first = i64::from(after.weekday().number_days_from_monday());
        for k in 1..=span % 7 {
            if self.work_week[((first + k) % 7) as usize] {
                n += 1;
            }
        }
        for (&date, special) in self
            .days
            .range((Bound::Excluded(after), Bound::Included(through)))
        {
            match special {
                Special::Holiday(_) if self.in_work_week(date) => n -= 1,
                Special::MakeUp(_) if !self.in_work_week(date) => n += 1,
                _ => {}
            }
        }
        n
    }

    /// The `n`th working day after `date` (`n ≥ 1`), `None` past the last representable
    /// date: the first day through which `n` working days are counted, by bisection.
    fn nth_working_day_after(&self, date: Date, n: u64) -> Option<Date> {
        debug_assert!(n >= 1);
        let per_week = self.work_week.iter().filter(|w| **w).count() as i128;
        // Whole weeks hold `per_week` work-week days each, and each holiday day removes at
        // most one of them.
        let weeks = (i128::from(n) + i128::from(self.holiday_days)) / per_week + 1;
        let room = i128::from((Date::MAX - date).whole_days());
        let span = i64::try_from((weeks * 7).min(room)).expect("within the date range");
        let mut hi = date + Duration::days(span);
        let n = i64::try_from(n).ok()?;
        if self.count_working_days(date, hi) < n {
            return None;
        }
        let mut lo = date;
        while (hi - lo).whole_days() > 1 {
            let mid = lo + Duration::days((hi - lo).whole_days() / 2);
            if self.count_working_days(date, mid) >= n {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

fn parse_date(text: &str, field: &str) -> Result<Date, FieldError> {
    Date::parse(text.trim(), DATE_FORMAT).map_err(|_| {
        FieldError::new(
            field,
            "invalid_date",
            format!("`{text}` is not a date like 2026-02-15"),
        )
    })
}

fn parse_time(text: &str, field: &str) -> Result<Time, FieldError> {
    Time::parse(text.trim(), TIME_FORMAT).map_err(|_| {
        FieldError::new(
            field,
            "invalid_time",
            format!("`{text}` is not a time like 09:00"),
        )
    })
}

fn day_name(zh: &str, en: &str, zh_field: &str, en_field: &str) -> Result<DayName, FieldError> {
    if zh.trim().is_empty() {
        return Err(FieldError::new(
            zh_field,
            "required",
            "the Chinese name is required",
        ));
    }
    if en.trim().is_empty() {
        return Err(FieldError::new(
            en_field,
            "required",
            "the English name is required",
        ));
    }
    Ok(DayName {
        zh: zh.trim().to_string(),
        en: en.trim().to_string(),
    })
}

#[cfg(test)]
mod tests;
