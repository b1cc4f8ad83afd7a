use proptest::prelude::*;
use serde_json::{json, Value};
use time::macros::{date, datetime, offset, time};
use time::{Date, Duration, OffsetDateTime, Weekday};

use super::*;

fn cn() -> WorkCalendar {
    WorkCalendar::china_default()
}

fn name(zh: &str, en: &str) -> DayName {
    DayName {
        zh: zh.to_string(),
        en: en.to_string(),
    }
}

#[test]
fn calendar_day_kinds_around_the_2026_spring_festival_and_2025_national_day() {
    let cal = cn();
    let sf = || DayKind::Holiday {
        name: name("春节", "Spring Festival"),
    };
    let sf_make_up = || DayKind::MakeUp {
        name: name("春节调休上班", "Spring Festival make-up working day"),
    };
    let nd = || DayKind::Holiday {
        name: name("国庆节、中秋节", "National Day and Mid-Autumn Festival"),
    };
    let nd_make_up = || DayKind::MakeUp {
        name: name(
            "国庆节、中秋节调休上班",
            "National Day and Mid-Autumn Festival make-up working day",
        ),
    };
    let table: &[(Date, Weekday, DayKind)] = &[
        (date!(2026 - 02 - 13), Weekday::Friday, DayKind::Workday),
        (date!(2026 - 02 - 14), Weekday::Saturday, sf_make_up()),
        (date!(2026 - 02 - 15), Weekday::Sunday, sf()),
        (date!(2026 - 02 - 16), Weekday::Monday, sf()),
        (date!(2026 - 02 - 21), Weekday::Saturday, sf()),
        (date!(2026 - 02 - 23), Weekday::Monday, sf()),
        (date!(2026 - 02 - 24), Weekday::Tuesday, DayKind::Workday),
        (date!(2026 - 02 - 27), Weekday::Friday, DayKind::Workday),
        (date!(2026 - 02 - 28), Weekday::Saturday, sf_make_up()),
        (date!(2026 - 03 - 01), Weekday::Sunday, DayKind::Weekend),
        (date!(2025 - 09 - 27), Weekday::Saturday, DayKind::Weekend),
        (date!(2025 - 09 - 28), Weekday::Sunday, nd_make_up()),
        (date!(2025 - 09 - 30), Weekday::Tuesday, DayKind::Workday),
        (date!(2025 - 10 - 01), Weekday::Wednesday, nd()),
        (date!(2025 - 10 - 04), Weekday::Saturday, nd()),
        (date!(2025 - 10 - 08), Weekday::Wednesday, nd()),
        (date!(2025 - 10 - 09), Weekday::Thursday, DayKind::Workday),
        (date!(2025 - 10 - 11), Weekday::Saturday, nd_make_up()),
        (date!(2025 - 10 - 12), Weekday::Sunday, DayKind::Weekend),
        (date!(2024 - 12 - 31), Weekday::Tuesday, DayKind::Workday),
    ];
    for (day, weekday, kind) in table {
        assert_eq!(day.weekday(), *weekday, "{day}");
        assert_eq!(&cal.day_kind(*day), kind, "{day}");
        let working = matches!(kind, DayKind::Workday | DayKind::MakeUp { .. });
        assert_eq!(cal.is_working_day(*day), working, "{day}");
    }
}

#[test]
fn calendar_lists_every_2025_and_2026_holiday_and_make_up_day() {
    let cal = cn();
    let off: Vec<(&str, Date, Date)> = cal
        .holidays()
        .iter()
        .map(|h| (h.name.zh.as_str(), h.from, h.to))
        .collect();
    assert_eq!(
        off,
        vec![
            ("元旦", date!(2025 - 01 - 01), date!(2025 - 01 - 01)),
            ("春节", date!(2025 - 01 - 28), date!(2025 - 02 - 04)),
            ("清明节", date!(2025 - 04 - 04), date!(2025 - 04 - 06)),
            ("劳动节", date!(2025 - 05 - 01), date!(2025 - 05 - 05)),
            ("端午节", date!(2025 - 05 - 31), date!(2025 - 06 - 02)),
            (
                "国庆节、中秋节",
                date!(2025 - 10 - 01),
                date!(2025 - 10 - 08)
            ),
            ("元旦", date!(2026 - 01 - 01), date!(2026 - 01 - 03)),
            ("春节", date!(2026 - 02 - 15), date!(2026 - 02 - 23)),
            ("清明节", date!(2026 - 04 - 04), date!(2026 - 04 - 06)),
            ("劳动节", date!(2026 - 05 - 01), date!(2026 - 05 - 05)),
            ("端午节", date!(2026 - 06 - 19), date!(2026 - 06 - 21)),
            ("中秋节", date!(2026 - 09 - 25), date!(2026 - 09 - 27)),
            ("国庆节", date!(2026 - 10 - 01), date!(2026 - 10 - 07)),
        ]
    );
    // The announced lengths: 1, 8, 3, 5, 3, 8 days in 2025; 3, 9, 3, 5, 3, 3, 7 in 2026.
    let lengths: Vec<i64> = cal
        .holidays()
        .iter()
        .map(|h| (h.to - h.from).whole_days() + 1)
        .collect();
    assert_eq!(lengths, vec![1, 8, 3, 5, 3, 8, 3, 9, 3, 5, 3, 3, 7]);
    for h in cal.holidays() {
        assert!(!h.name.en.is_empty());
    }

    let make_up: Vec<(Date, Weekday)> = cal
        .make_up_days()
        .iter()
        .map(|m| (m.date, m.date.weekday()))
        .collect();
    use Weekday::{Saturday, Sunday};
    assert_eq!(
        make_up,
        vec![
            (date!(2025 - 01 - 26), Sunday),
            (date!(2025 - 02 - 08), Saturday),
            (date!(2025 - 04 - 27), Sunday),
            (date!(2025 - 09 - 28), Sunday),
            (date!(2025 - 10 - 11), Saturday),
            (date!(2026 - 01 - 04), Sunday),
            (date!(2026 - 02 - 14), Saturday),
            (date!(2026 - 02 - 28), Saturday),
            (date!(2026 - 05 - 09), Saturday),
            (date!(2026 - 09 - 20), Sunday),
            (date!(2026 - 10 - 10), Saturday),
        ]
    );
    assert_eq!(
        cal.listed_range(),
        Some((date!(2025 - 01 - 01), date!(2026 - 10 - 10)))
    );
    assert_eq!(cal.time_zone(), "Asia/Shanghai");
    assert_eq!(cal.utc_offset(), offset!(+8));
    assert_eq!(cal.working_hours(), (time!(09:00), time!(18:00)));
}

#[test]
fn calendar_working_days_in_2025_and_2026() {
    // Counted by hand from the notices: 2025 has 261 weekdays, 18 of them holidays, and 5
    // make-up days: 248; 2026 has 261 weekdays, 19 of them holidays, and 6 make-up days: 248.
    let cal = cn();
    let count = |year: i32| {
        let mut d = Date::from_ordinal_date(year, 1).unwrap();
        let mut n = 0;
        while d.year() == year {
            n += i32::from(cal.is_working_day(d));
            d = d.next_day().unwrap();
        }
        n
    };
    assert_eq!(count(2025), 248);
    assert_eq!(count(2026), 248);
}

#[test]
fn calendar_add_working_days() {
    let cal = cn();
    let table: &[(OffsetDateTime, u32, OffsetDateTime)] = &[
        // Across the 2026 Spring Festival: Sat 14 (make-up), Tue 24, Wed 25.
        (
            datetime!(2026-02-13 10:00 +8),
            0,
            datetime!(2026-02-13 10:00 +8),
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            1,
            datetime!(2026-02-14 10:00 +8),
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            2,
            datetime!(2026-02-24 10:00 +8),
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            3,
            datetime!(2026-02-25 10:00 +8),
        ),
        (
            datetime!(2026-02-14 10:00 +8),
            1,
            datetime!(2026-02-24 10:00 +8),
        ),
        (
            datetime!(2026-02-27 09:00 +8),
            1,
            datetime!(2026-02-28 09:00 +8),
        ),
        (
            datetime!(2026-02-27 09:00 +8),
            2,
            datetime!(2026-03-02 09:00 +8),
        ),
        // From a holiday: Tue 24 counts whole from its midnight.
        (
            datetime!(2026-02-15 10:00 +8),
            0,
            datetime!(2026-02-15 10:00 +8),
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            1,
            datetime!(2026-02-25 00:00 +8),
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            3,
            datetime!(2026-02-27 00:00 +8),
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            4,
            datetime!(2026-02-28 00:00 +8),
        ),
        // Instants in another offset are read in China time.
        (
            datetime!(2026-02-13 02:00 UTC),
            3,
            datetime!(2026-02-25 10:00 +8),
        ),
        (
            datetime!(2026-02-13 17:00 UTC),
            1,
            datetime!(2026-02-24 01:00 +8),
        ),
        // Across the 2025 National Day: Sun 28 (make-up) … Oct 1–8 off … Sat 11 (make-up).
        (
            datetime!(2025-09-26 15:30 +8),
            1,
            datetime!(2025-09-28 15:30 +8),
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            2,
            datetime!(2025-09-29 15:30 +8),
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            3,
            datetime!(2025-09-30 15:30 +8),
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            4,
            datetime!(2025-10-09 15:30 +8),
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            5,
            datetime!(2025-10-10 15:30 +8),
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            6,
            datetime!(2025-10-11 15:30 +8),
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            7,
            datetime!(2025-10-13 15:30 +8),
        ),
        (
            datetime!(2025-09-30 18:00 +8),
            1,
            datetime!(2025-10-09 18:00 +8),
        ),
        (
            datetime!(2025-09-27 11:00 +8),
            1,
            datetime!(2025-09-29 00:00 +8),
        ),
        (
            datetime!(2025-10-01 08:00 +8),
            1,
            datetime!(2025-10-10 00:00 +8),
        ),
        (
            datetime!(2025-10-01 08:00 +8),
            2,
            datetime!(2025-10-11 00:00 +8),
        ),
        (
            datetime!(2025-10-01 08:00 +8),
            3,
            datetime!(2025-10-13 00:00 +8),
        ),
        (
            datetime!(2025-10-09 00:00 +8),
            1,
            datetime!(2025-10-10 00:00 +8),
        ),
        // New Year 2026: Jan 1–3 off, Sun Jan 4 worked.
        (
            datetime!(2025-12-31 12:00 +8),
            1,
            datetime!(2026-01-04 12:00 +8),
        ),
        (
            datetime!(2025-12-31 12:00 +8),
            2,
            datetime!(2026-01-05 12:00 +8),
        ),
        // Outside the listed years: the work week alone.
        (
            datetime!(2027-03-05 16:00 +8),
            1,
            datetime!(2027-03-08 16:00 +8),
        ),
        (
            datetime!(2027-03-05 16:00 +8),
            10,
            datetime!(2027-03-19 16:00 +8),
        ),
    ];
    for &(from, n, expected) in table {
        let got = cal.add_working_days(from, n);
        assert_eq!(got, expected, "{from} + {n} working days");
        assert_eq!(cal.working_days_between(from, got), i64::from(n));
    }
    // The result is expressed in China time.
    assert_eq!(
        cal.add_working_days(datetime!(2026-02-13 02:00 UTC), 3)
            .offset(),
        offset!(+8)
    );
}

#[test]
fn calendar_working_days_between_to_the_minute() {
    let cal = cn();
    let table: &[(OffsetDateTime, OffsetDateTime, i64)] = &[
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-13 10:00 +8),
            0,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-14 09:59 +8),
            0,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-14 10:00 +8),
            1,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-23 23:59 +8),
            1,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-24 09:59 +8),
            1,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-24 10:00 +8),
            2,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-25 09:59 +8),
            2,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-25 10:00 +8),
            3,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-25 01:59 UTC),
            2,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-25 02:00 UTC),
            3,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-12 10:00 +8),
            -1,
        ),
        (
            datetime!(2026-02-13 10:00 +8),
            datetime!(2026-02-12 10:01 +8),
            0,
        ),
        // From a holiday.
        (
            datetime!(2026-02-15 10:00 +8),
            datetime!(2026-02-15 12:00 +8),
            0,
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            datetime!(2026-02-24 23:59 +8),
            0,
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            datetime!(2026-02-25 00:00 +8),
            1,
        ),
        // The 2025 National Day.
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-09-28 15:29 +8),
            0,
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-09-28 15:30 +8),
            1,
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-10-08 23:59 +8),
            3,
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-10-09 15:29 +8),
            3,
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-10-09 15:30 +8),
            4,
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-10-11 15:30 +8),
            6,
        ),
        (
            datetime!(2025-09-26 15:30 +8),
            datetime!(2025-10-13 15:29 +8),
            6,
        ),
        (
            datetime!(2025-09-30 17:00 +8),
            datetime!(2025-10-09 16:59 +8),
            0,
        ),
        (
            datetime!(2025-09-30 17:00 +8),
            datetime!(2025-10-09 17:00 +8),
            1,
        ),
        // A year: 248 working days in 2025.
        (
            datetime!(2024-12-31 12:00 +8),
            datetime!(2025-12-31 12:00 +8),
            248,
        ),
    ];
    for &(from, to, expected) in table {
        assert_eq!(
            cal.working_days_between(from, to),
            expected,
            "{from} → {to}"
        );
    }
}

#[test]
fn calendar_working_hours_between() {
    let cal = cn();
    let h = Duration::hours;
    let table: &[(OffsetDateTime, OffsetDateTime, Duration)] = &[
        (
            datetime!(2026-02-13 17:00 +8),
            datetime!(2026-02-13 17:00 +8),
            h(0),
        ),
        (
            datetime!(2026-02-24 08:00 +8),
            datetime!(2026-02-24 12:00 +8),
            h(3),
        ),
        (
            datetime!(2026-02-24 12:00 +8),
            datetime!(2026-02-24 20:00 +8),
            h(6),
        ),
        (
            datetime!(2026-02-24 19:00 +8),
            datetime!(2026-02-24 20:00 +8),
            h(0),
        ),
        (
            datetime!(2026-02-13 17:00 +8),
            datetime!(2026-02-14 10:00 +8),
            h(2),
        ),
        (
            datetime!(2026-02-13 17:00 +8),
            datetime!(2026-02-24 10:00 +8),
            h(11),
        ),
        (
            datetime!(2026-02-14 20:00 +8),
            datetime!(2026-02-24 08:00 +8),
            h(0),
        ),
        (
            datetime!(2026-02-15 00:00 +8),
            datetime!(2026-02-23 23:59 +8),
            h(0),
        ),
        (
            datetime!(2025-09-29 12:00 +8),
            datetime!(2025-10-09 12:00 +8),
            h(18),
        ),
        (
            datetime!(2025-09-26 09:00 +8),
            datetime!(2025-10-13 09:00 +8),
            h(9 * 7),
        ),
        (
            datetime!(2026-02-13 09:00:30 +8),
            datetime!(2026-02-13 09:01 +8),
            Duration::seconds(30),
        ),
        (
            datetime!(2026-02-14 10:00 +8),
            datetime!(2026-02-13 17:00 +8),
            h(-2),
        ),
    ];
    for &(from, to, expected) in table {
        assert_eq!(
            cal.working_hours_between(from, to),
            expected,
            "{from} → {to}"
        );
    }
}

#[test]
fn calendar_add_working_hours() {
    let cal = cn();
    let h = Duration::hours;
    let m = Duration::minutes;
    let table: &[(OffsetDateTime, Duration, OffsetDateTime)] = &[
        (
            datetime!(2026-02-13 16:00 +8),
            h(0),
            datetime!(2026-02-13 16:00 +8),
        ),
        (
            datetime!(2026-02-13 16:00 +8),
            h(-1),
            datetime!(2026-02-13 16:00 +8),
        ),
        (
            datetime!(2026-02-13 16:00 +8),
            h(2),
            datetime!(2026-02-13 18:00 +8),
        ),
        (
            datetime!(2026-02-13 16:00 +8),
            h(3),
            datetime!(2026-02-14 10:00 +8),
        ),
        (
            datetime!(2026-02-13 17:30 +8),
            h(2),
            datetime!(2026-02-14 10:30 +8),
        ),
        (
            datetime!(2026-02-14 17:00 +8),
            h(4),
            datetime!(2026-02-24 12:00 +8),
        ),
        (
            datetime!(2026-02-14 17:00 +8),
            h(10),
            datetime!(2026-02-24 18:00 +8),
        ),
        (
            datetime!(2026-02-14 17:00 +8),
            h(11),
            datetime!(2026-02-25 10:00 +8),
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            h(9),
            datetime!(2026-02-24 18:00 +8),
        ),
        (
            datetime!(2026-02-15 10:00 +8),
            h(9) + m(1),
            datetime!(2026-02-25 09:01 +8),
        ),
        (
            datetime!(2026-02-24 07:00 +8),
            h(1),
            datetime!(2026-02-24 10:00 +8),
        ),
        (
            datetime!(2026-02-24 20:00 +8),
            h(1),
            datetime!(2026-02-25 10:00 +8),
        ),
        (
            datetime!(2025-09-30 17:00 +8),
            h(2),
            datetime!(2025-10-09 10:00 +8),
        ),
        (
            datetime!(2025-09-30 17:00 +8),
            h(19),
            datetime!(2025-10-10 18:00 +8),
        ),
        (
            datetime!(2025-09-30 17:00 +8),
            h(20),
            datetime!(2025-10-11 10:00 +8),
        ),
        (
            datetime!(2026-02-13 10:00 UTC),
            h(1),
            datetime!(2026-02-14 10:00 +8),
        ),
    ];
    for &(from, hours, expected) in table {
        let got = cal.add_working_hours(from, hours);
        assert_eq!(got, expected, "{from} + {hours}");
        if hours > Duration::ZERO {
            assert_eq!(cal.working_hours_between(from, got), hours);
        }
    }
}

#[test]
fn calendar_local_dates_and_midnights() {
    let cal = cn();
    assert_eq!(
        cal.local_date(datetime!(2026-02-13 15:59 UTC)),
        date!(2026 - 02 - 13)
    );
    assert_eq!(
        cal.local_date(datetime!(2026-02-13 16:00 UTC)),
        date!(2026 - 02 - 14)
    );
    assert_eq!(
        cal.local_midnight(date!(2026 - 02 - 14)),
        datetime!(2026-02-13 16:00 UTC)
    );
    assert_eq!(
        cal.next_working_day(date!(2026 - 02 - 14)),
        date!(2026 - 02 - 24)
    );
    assert_eq!(
        cal.next_working_day(date!(2025 - 09 - 26)),
        date!(2025 - 09 - 28)
    );
}

#[test]
fn calendar_other_zone_and_work_week() {
    // Tokyo, Monday to Saturday, 10:00–19:00, no holidays.
    let cal = WorkCalendar::from_json(
        r#"{"time_zone":"Asia/Tokyo","work_week":[6,1,2,3,4,5],
            "hours":{"start":"10:00","end":"19:00"}}"#,
    )
    .unwrap();
    assert_eq!(cal.utc_offset(), offset!(+9));
    assert_eq!(
        cal.local_date(datetime!(2026-02-13 15:00 UTC)),
        date!(2026 - 02 - 14)
    );
    assert!(cal.is_working_day(date!(2026 - 02 - 14)));
    assert_eq!(cal.day_kind(date!(2026 - 02 - 15)), DayKind::Weekend);
    assert_eq!(
        cal.add_working_days(datetime!(2026-02-13 10:00 +9), 2),
        datetime!(2026-02-16 10:00 +9)
    );
    assert_eq!(cal.data().work_week, vec![1, 2, 3, 4, 5, 6]);
    // A zone not in the table, with its offset.
    let cal = WorkCalendar::from_json(
        r#"{"time_zone":"Asia/Kathmandu","utc_offset":"+05:45","work_week":[7,1,2,3,4],
            "hours":{"start":"10:00","end":"17:00"}}"#,
    )
    .unwrap();
    assert_eq!(cal.utc_offset(), offset!(+5:45));
}

/// The shipped data with one change made by `edit`.
fn edited(edit: impl FnOnce(&mut Value)) -> Result<WorkCalendar, FieldError> {
    let mut data: Value = serde_json::from_str(CHINA_CALENDAR_JSON).unwrap();
    edit(&mut data);
    WorkCalendar::from_json(&data.to_string())
}

#[test]
fn calendar_validation_names_the_bad_entry() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let table: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|d| d["holidays"][7]["from"] = json!("2026-02-30")),
            "holidays[7].from",
            "invalid_date",
        ),
        (
            Box::new(|d| d["holidays"][2]["to"] = json!("2025/04/06")),
            "holidays[2].to",
            "invalid_date",
        ),
        (
            Box::new(|d| d["holidays"][1]["to"] = json!("2025-01-27")),
            "holidays[1].to",
            "range_reversed",
        ),
        (
            Box::new(|d| d["holidays"][12]["to"] = json!("2062-10-07")),
            "holidays[12].to",
            "range_too_long",
        ),
        (
            Box::new(|d| d["holidays"][8]["from"] = json!("2026-02-22")),
            "holidays[8].from",
            "holiday_overlap",
        ),
        (
            Box::new(|d| d["holidays"][0]["name_zh"] = json!(" ")),
            "holidays[0].name_zh",
            "required",
        ),
        (
            Box::new(|d| d["holidays"][0]["name_en"] = json!("")),
            "holidays[0].name_en",
            "required",
        ),
        (
            Box::new(|d| d["make_up_days"][6]["date"] = json!("2026-02-15")),
            "make_up_days[6].date",
            "holiday_and_make_up",
        ),
        (
            Box::new(|d| d["make_up_days"][7]["date"] = json!("2026-02-14")),
            "make_up_days[7].date",
            "duplicate_make_up",
        ),
        (
            Box::new(|d| d["make_up_days"][6]["date"] = json!("2026-02-13")),
            "make_up_days[6].date",
            "make_up_on_working_day",
        ),
        (
            Box::new(|d| d["make_up_days"][0]["date"] = json!("26.1.2025")),
            "make_up_days[0].date",
            "invalid_date",
        ),
        (
            Box::new(|d| d["hours"]["start"] = json!("9am")),
            "hours.start",
            "invalid_time",
        ),
        (
            Box::new(|d| d["hours"]["end"] = json!("24:00")),
            "hours.end",
            "invalid_time",
        ),
        (
            Box::new(|d| d["hours"] = json!({"start": "18:00", "end": "09:00"})),
            "hours.end",
            "hours_order",
        ),
        (
            Box::new(|d| d["hours"] = json!({"start": "09:00", "end": "09:00"})),
            "hours.end",
            "hours_order",
        ),
        (
            Box::new(|d| d["work_week"] = json!([])),
            "work_week",
            "empty_work_week",
        ),
        (
            Box::new(|d| d["work_week"] = json!([1, 2, 0])),
            "work_week[2]",
            "invalid_weekday",
        ),
        (
            Box::new(|d| d["work_week"] = json!([1, 2, 2])),
            "work_week[2]",
            "duplicate_weekday",
        ),
        (
            Box::new(|d| d["time_zone"] = json!("")),
            "time_zone",
            "required",
        ),
        (
            Box::new(|d| {
                d["time_zone"] = json!("Europe/Nowhere");
                d.as_object_mut().unwrap().remove("utc_offset");
            }),
            "time_zone",
            "unknown_time_zone",
        ),
        (
            Box::new(|d| d["utc_offset"] = json!("+09:00")),
            "utc_offset",
            "offset_mismatch",
        ),
        (
            Box::new(|d| d["utc_offset"] = json!("8")),
            "utc_offset",
            "invalid_offset",
        ),
        (
            Box::new(|d| d["holidays"][0]["date"] = json!("2025-01-01")),
            "calendar",
            "invalid_json",
        ),
        (
            Box::new(|d| d["hours"] = json!("09:00-18:00")),
            "calendar",
            "invalid_json",
        ),
    ];
    for (edit, field, code) in table {
        let err = edited(edit).expect_err(field);
        assert_eq!(
            (err.field.as_str(), err.code.as_str()),
            (field, code),
            "{err}"
        );
    }
    let err = WorkCalendar::from_json("{").unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.code.as_str()),
        ("calendar", "invalid_json")
    );
    // The message names the holiday a make-up day falls on.
    let err = edited(|d| d["make_up_days"][6]["date"] = json!("2026-02-15")).unwrap_err();
    assert!(err.message.contains("春节"), "{}", err.message);
    // Not errors: a known zone without its offset, an unknown one with it.
    edited(|d| {
        d.as_object_mut().unwrap().remove("utc_offset");
    })
    .unwrap();
    edited(|d| {
        d["time_zone"] = json!("Europe/Nowhere");
        d["utc_offset"] = json!("+01:00");
    })
    .unwrap();
}

#[test]
fn calendar_shipped_data_round_trips() {
    let cal = cn();
    let shipped: Value = serde_json::from_str(CHINA_CALENDAR_JSON).unwrap();
    assert_eq!(serde_json::to_value(cal.data()).unwrap(), shipped);
    let again = WorkCalendar::from_json(&cal.to_json()).unwrap();
    assert_eq!(again, cal);
    assert_eq!(WorkCalendar::from_data(&cal.data()).unwrap(), cal);
}

#[test]
fn calendar_far_future_is_checked() {
    let cal = cn();
    let late = datetime!(9999-12-30 10:00 +8);
    assert_eq!(
        cal.checked_add_working_days(late, 1),
        Some(datetime!(9999-12-31 10:00 +8))
    );
    assert_eq!(cal.checked_add_working_days(late, 2), None);
    assert_eq!(cal.checked_add_working_days(late, u32::MAX), None);
    // Thursday 10:00: 8 hours that day and 9 on Friday the 31st, the last day there is.
    assert_eq!(
        cal.checked_add_working_hours(late, Duration::hours(17)),
        Some(datetime!(9999-12-31 18:00 +8))
    );
    assert_eq!(
        cal.checked_add_working_hours(late, Duration::hours(18)),
        None
    );
    let start = datetime!(2026-01-01 00:00 +8);
    let far = cal.add_working_days(start, 1_000_000);
    assert_eq!(cal.working_days_between(start, far), 1_000_000);
}

/// Working days d with after < d ≤ through, one day at a time.
fn naive_count(cal: &WorkCalendar, after: Date, through: Date) -> i64 {
    let mut n = 0;
    let mut d = after;
    while d < through {
        d = d.next_day().unwrap();
        n += i64::from(cal.is_working_day(d));
    }
    n
}

fn instant() -> impl Strategy<Value = OffsetDateTime> {
    // 2024-10-01 to 2027-03-01, China time, to the second; often on the hour, where
    // boundaries are.
    let start = datetime!(2024-10-01 00:00 +8).unix_timestamp();
    let end = datetime!(2027-03-01 00:00 +8).unix_timestamp();
    prop_oneof![
        (start..end),
        (start / 3600..end / 3600).prop_map(|h| h * 3600),
    ]
    .prop_map(|s| {
        OffsetDateTime::from_unix_timestamp(s)
            .unwrap()
            .to_offset(offset!(+8))
    })
}

fn calendars() -> impl Strategy<Value = WorkCalendar> {
    prop_oneof![
        Just(cn()),
        Just(
            WorkCalendar::from_json(
                r#"{"time_zone":"Etc/UTC","work_week":[2,4,6],
                    "hours":{"start":"00:00","end":"23:59"},
                    "holidays":[{"name_zh":"假","name_en":"Off","from":"2025-12-20","to":"2026-01-10"}],
                    "make_up_days":[{"date":"2026-01-11","name_zh":"班","name_en":"On"}]}"#,
            )
            .unwrap()
        ),
    ]
}

proptest! {
    #[test]
    fn calendar_working_days_invert_adding(cal in calendars(), a in instant(), n in 0u32..60) {
        let b = cal.add_working_days(a, n);
        prop_assert!(b >= a);
        prop_assert_eq!(cal.working_days_between(a, b), i64::from(n));
        prop_assert_eq!(cal.working_days_between(b, a), -i64::from(n));
        if n > 0 {
            prop_assert!(cal.is_working_day(cal.local_date(b)));
            prop_assert_eq!(cal.working_days_between(a, b - Duration::nanoseconds(1)), i64::from(n) - 1);
            prop_assert!(cal.add_working_days(a, n - 1) < b);
        }
    }

    #[test]
    fn calendar_working_days_grow_with_to(cal in calendars(), a in instant(), t1 in instant(), t2 in instant()) {
        let (t1, t2) = if t1 <= t2 { (t1, t2) } else { (t2, t1) };
        let (n1, n2) = (cal.working_days_between(a, t1), cal.working_days_between(a, t2));
        prop_assert!(n1 <= n2);
        // The largest n with add_working_days(a, n) <= t.
        if t2 >= a {
            let n = u32::try_from(n2).unwrap();
            prop_assert!(cal.add_working_days(a, n) <= t2);
            prop_assert!(cal.add_working_days(a, n + 1) > t2);
        }
    }

    #[test]
    fn calendar_counts_like_day_by_day(cal in calendars(), a in instant(), b in instant()) {
        let (a, b) = (cal.local_date(a), cal.local_date(b));
        prop_assert_eq!(cal.count_working_days(a, b), naive_count(&cal, a, b));
    }

    #[test]
    fn calendar_working_hours_invert_adding(cal in calendars(), a in instant(), minutes in 0i64..(9 * 60 * 30)) {
        let hours = Duration::minutes(minutes);
        let b = cal.add_working_hours(a, hours);
        prop_assert!(b >= a);
        prop_assert_eq!(cal.working_hours_between(a, b), hours);
        if minutes > 0 {
            prop_assert!(cal.working_hours_between(a, b - Duration::nanoseconds(1)) < hours);
        }
    }

    #[test]
    fn calendar_working_hours_add_up(cal in calendars(), a in instant(), b in instant(), c in instant()) {
        let mut v = [a, b, c];
        v.sort();
        let [a, b, c] = v;
        prop_assert_eq!(
            cal.working_hours_between(a, b) + cal.working_hours_between(b, c),
            cal.working_hours_between(a, c)
        );
        prop_assert!(cal.working_hours_between(a, b) <= b - a);
    }
}
