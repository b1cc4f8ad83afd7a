//! Which backups to keep: the newest verified backup of each of the last `daily` days that
//! have one and of each of the last `weekly` ISO weeks that have one (days and weeks in
//! China), and every backup newer than the newest verified one — a failed backup stays for
//! the admin to look at until a good one replaces it.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::calendar::china_date;

/// Backups kept by default: a week of days and a month of weeks.
pub const DEFAULT_KEEP_DAILY: u32 = 7;
pub const DEFAULT_KEEP_WEEKLY: u32 = 4;

/// A backup as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub id: i64,
    pub at: OffsetDateTime,
    /// Restored and found identical to what was archived.
    pub verified: bool,
}

/// The ids of the backups to keep (see the module's rule).
pub fn retained(backups: &[Taken], daily: u32, weekly: u32) -> BTreeSet<i64> {
    let mut keep = BTreeSet::new();
    let newest_verified = backups.iter().filter(|b| b.verified).map(|b| b.at).max();
    for b in backups {
        if newest_verified.is_none_or(|v| b.at > v) {
            keep.insert(b.id);
        }
    }
    // The newest verified backup of each day, and of each week.
    let mut days: BTreeMap<time::Date, &Taken> = BTreeMap::new();
    let mut weeks: BTreeMap<(i32, u8), &Taken> = BTreeMap::new();
    for b in backups.iter().filter(|b| b.verified) {
        let day = china_date(b.at);
        let (year, week, _) = day.to_iso_week_date();
        let newer = |old: &&Taken| (b.at, b.id) > (old.at, old.id);
        match days.get(&day) {
            Some(old) if !newer(old) => {}
            _ => {
                days.insert(day, b);
            }
        }
        match weeks.get(&(year, week)) {
            Some(old) if !newer(old) => {}
            _ => {
                weeks.insert((year, week), b);
            }
        }
    }
    keep.extend(days.values().rev().take(daily as usize).map(|b| b.id));
    keep.extend(weeks.values().rev().take(weekly as usize).map(|b| b.id));
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    /// One backup a day at 03:00 China time for `days` days from a Monday, each verified
    /// unless listed in `failed`; the ids kept, as day numbers.
    fn check(days: i64, failed: &[i64], daily: u32, weekly: u32, expected: &[i64]) {
        // A Monday 03:00 in China (19:00 UTC the day before).
        let start = datetime!(2030-01-06 19:00 UTC);
        let backups: Vec<Taken> = (0..days)
            .map(|d| Taken {
                id: d,
                at: start + Duration::days(d),
                verified: !failed.contains(&d),
            })
            .collect();
        let kept: Vec<i64> = retained(&backups, daily, weekly).into_iter().collect();
        assert_eq!(kept, expected, "{days} days, failed {failed:?}");
    }

    #[test]
    fn keeps_days_and_weeks() {
        check(0, &[], 7, 4, &[]);
        check(3, &[], 7, 4, &[0, 1, 2]);
        // 40 days from a Monday: days 33–39, and the newest of the last four weeks (the
        // Sundays 20, 27 and 34, and day 39 of the week still running).
        check(40, &[], 7, 4, &[20, 27, 33, 34, 35, 36, 37, 38, 39]);
        check(40, &[], 2, 0, &[38, 39]);
        check(40, &[], 0, 2, &[34, 39]);
        // A failed backup does not take a slot; the newest one stays until a good one.
        check(10, &[9], 2, 0, &[7, 8, 9]);
        check(10, &[8], 2, 0, &[7, 9]);
        // Nothing verified at all: everything stays.
        check(3, &[0, 1, 2], 1, 1, &[0, 1, 2]);
    }

    #[test]
    fn the_newest_of_a_day_is_kept() {
        let at = datetime!(2030-01-06 19:00 UTC);
        let backups = [
            Taken {
                id: 1,
                at,
                verified: true,
            },
            Taken {
                id: 2,
                at: at + Duration::hours(2),
                verified: true,
            },
            // 16:30 UTC is 00:30 the next day in China.
            Taken {
                id: 3,
                at: at + Duration::hours(21) + Duration::minutes(30),
                verified: true,
            },
        ];
        assert_eq!(retained(&backups, 2, 0), BTreeSet::from([2, 3]));
        assert_eq!(retained(&backups, 1, 1), BTreeSet::from([3]));
    }
}
