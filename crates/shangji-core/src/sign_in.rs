//! The sign-in limiter's rule: when a password attempt is heard, from the failures counted
//! for the login typed, for the client's address, and for that login at that address.
//!
//! Back-off, not lock-out. Failures past a free allowance make the next attempt wait — 1 s,
//! then twice as long after each further failure, up to a cap — and an attempt made while it
//! must wait is refused without looking at the password. The three counters weigh differently:
//!
//! - **one login at one address** (`PAIR`): the guesser's own counter; 5 free, then up to
//!   15 minutes between attempts. Someone guessing from one place slows only themselves.
//! - **one login from anywhere** (`ACCOUNT`): guesses spread over many addresses; 10 free,
//!   then at most a minute between attempts. This is the only counter others' failures can
//!   raise against a user, and it never makes them wait more than a minute — and not at all
//!   at an address where they signed in before (a *known* address, for 90 days).
//! - **one address, any login** (`ADDRESS`): password spraying from one place; 30 free, then
//!   up to 15 minutes — again not for a login known at that address (an office behind one
//!   address keeps working while one of its machines sprays).
//!
//! A user who types the right password after others' failures therefore gets in: at once
//! from a known address, within a minute from a new one; only a sustained attack keeps an
//! unknown address waiting. The counters are kept in the database, so every instance on it
//! counts together; a counter starts again 15 minutes after its first failure.

use time::{Duration, OffsetDateTime};

/// How a counter turns failures into waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Failures allowed before anyone waits.
    pub free: u32,
    /// The longest wait.
    pub cap: Duration,
}

/// One login at one address.
pub const PAIR: Rule = Rule {
    free: 5,
    cap: Duration::minutes(15),
};
/// One login from any address.
pub const ACCOUNT: Rule = Rule {
    free: 10,
    cap: Duration::minutes(1),
};
/// One address, any login.
pub const ADDRESS: Rule = Rule {
    free: 30,
    cap: Duration::minutes(15),
};
/// Failures are counted from a counter's first failure for this long, then start again.
pub const WINDOW: Duration = Duration::minutes(15);
/// An address where a login signed in counts as known for this long.
pub const KNOWN_FOR: Duration = Duration::days(90);

/// What is stored for one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    pub failures: u32,
    /// No attempt is heard before this instant.
    pub blocked_until: Option<OffsetDateTime>,
    /// The last successful sign-in (the pair counter only).
    pub succeeded_at: Option<OffsetDateTime>,
}

/// The three counters of an attempt (absent: no failure counted).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub pair: Counter,
    pub account: Counter,
    pub address: Counter,
}

/// Whether an attempt is heard now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Try,
    /// Refuse without checking it; another attempt is heard from this instant.
    Wait(OffsetDateTime),
}

/// How long the attempt after the `failures`-th failure waits under `rule`.
pub fn delay(rule: Rule, failures: u32) -> Duration {
    if failures < rule.free {
        return Duration::ZERO;
    }
    let doublings = (failures - rule.free).min(30);
    Duration::seconds(1i64 << doublings).min(rule.cap)
}

/// Whether an attempt with these counters is heard at `now`.
pub fn verdict(c: &Counters, now: OffsetDateTime) -> Verdict {
    let waiting = |c: &Counter| c.blocked_until.filter(|t| *t > now);
    if let Some(t) = waiting(&c.pair) {
        return Verdict::Wait(t);
    }
    let known = c.pair.succeeded_at.is_some_and(|t| now - t < KNOWN_FOR);
    if known {
        return Verdict::Try;
    }
    match waiting(&c.account).max(waiting(&c.address)) {
        Some(t) => Verdict::Wait(t),
        None => Verdict::Try,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn waits_double_from_the_free_allowance_up_to_the_cap() {
        for (rule, failures, want) in [
            (PAIR, 0, 0),
            (PAIR, 4, 0),
            (PAIR, 5, 1),
            (PAIR, 6, 2),
            (PAIR, 9, 16),
            (PAIR, 15, 900),
            (PAIR, 1_000, 900),
            (ACCOUNT, 9, 0),
            (ACCOUNT, 10, 1),
            (ACCOUNT, 15, 32),
            (ACCOUNT, 16, 60),
            (ADDRESS, 29, 0),
            (ADDRESS, 30, 1),
            (ADDRESS, 40, 900),
        ] {
            assert_eq!(
                delay(rule, failures),
                Duration::seconds(want),
                "{rule:?} {failures}"
            );
        }
    }

    #[test]
    fn a_known_address_is_not_held_back_by_others_failures() {
        let now = datetime!(2026-03-02 09:00 UTC);
        let later = now + Duration::seconds(30);
        let blocked = Counter {
            failures: 40,
            blocked_until: Some(later),
            succeeded_at: None,
        };
        let fresh = Counters::default();
        assert_eq!(verdict(&fresh, now), Verdict::Try);
        let others = Counters {
            account: blocked,
            ..fresh
        };
        assert_eq!(verdict(&others, now), Verdict::Wait(later));
        assert_eq!(
            verdict(&others, now + Duration::minutes(1)),
            Verdict::Try,
            "the wait ends"
        );
        let known = Counters {
            pair: Counter {
                succeeded_at: Some(now - Duration::days(3)),
                ..Counter::default()
            },
            account: blocked,
            address: blocked,
        };
        assert_eq!(verdict(&known, now), Verdict::Try);
        let long_ago = Counters {
            pair: Counter {
                succeeded_at: Some(now - Duration::days(91)),
                ..Counter::default()
            },
            ..known
        };
        assert_eq!(verdict(&long_ago, now), Verdict::Wait(later));
        // The guesser's own counter holds even at a known address.
        let guessing = Counters {
            pair: Counter {
                failures: 6,
                blocked_until: Some(later),
                succeeded_at: Some(now - Duration::days(1)),
            },
            ..fresh
        };
        assert_eq!(verdict(&guessing, now), Verdict::Wait(later));
    }
}
