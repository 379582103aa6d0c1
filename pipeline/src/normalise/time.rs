//! `posted_at` from the date forms sites use. Hand-written scanner: cheaper than trying a list of
//! chrono format strings one after another, and it tells exactly which forms are accepted.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Reads a posting date; `None` when the text is no date this understands (never a rejection).
///
/// Accepted forms (a missing zone means UTC; a missing time means midnight):
/// * RFC 3339 / ISO 8601: `2022-07-05T14:23:09-05:00`, `...Z`, `...-0500` (Craigslist),
///   fractional seconds, `2014-10-13T00:00:00`;
/// * compact ISO: `20141013T000000` (the King County sales table), `20141013`;
/// * `2022-07-05 14:23`, `2022/07/05`, `2022-07-05`;
/// * Craigslist 2009: `2009-05-05, 11:04AM EDT` (12-hour clock; zones EDT/EST/CDT/CST/MDT/MST/PDT/
///   PST/AKDT/AKST/HST/UTC/GMT);
/// * US dates: `5/5/2009`, `05/05/09` (two-digit years are 20xx), optionally with a time;
/// * Unix time: 10 digits (seconds) or 13 digits (milliseconds), as in Zillow JSON.
pub fn parse_posted_at(text: &str) -> Option<DateTime<Utc>> {
    numeric_posted_at(text).or_else(|| month_name_date(text))
}

/// Dates written with month names, as property pages show them: `Thursday, November 9, 2023`,
/// `Nov 9, 2023`, `9 November 2023`. Only tried when the numeric forms fail, so the common path
/// stays a byte scanner.
fn month_name_date(text: &str) -> Option<DateTime<Utc>> {
    const WEEKDAYS: [&str; 14] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    ];
    let trimmed = text.trim();
    let rest = match trimmed.split_once(',') {
        Some((first, rest)) if WEEKDAYS.contains(&first.trim().to_ascii_lowercase().as_str()) => {
            rest.trim()
        }
        _ => trimmed,
    };
    [
        "%B %d, %Y",
        "%b %d, %Y",
        "%B %d %Y",
        "%b %d %Y",
        "%d %B %Y",
        "%d %b %Y",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDate::parse_from_str(rest, format).ok())
    .map(|date| date.and_time(NaiveTime::MIN).and_utc())
}

fn numeric_posted_at(text: &str) -> Option<DateTime<Utc>> {
    let mut scanner = Scanner::new(text.trim());
    if scanner.bytes.is_empty() {
        return None;
    }
    if scanner.bytes.iter().all(u8::is_ascii_digit) {
        match scanner.bytes.len() {
            10 => return DateTime::from_timestamp(scanner.digits(10)? as i64, 0),
            13 => return DateTime::from_timestamp_millis(scanner.digits(13)? as i64),
            _ => {}
        }
    }
    let date = scanner.date()?;
    let (time, offset) = if scanner.at_end() {
        (NaiveTime::MIN, 0)
    } else {
        scanner.separator()?;
        let time = scanner.time()?;
        scanner.skip_spaces();
        let offset = if scanner.at_end() { 0 } else { scanner.zone()? };
        scanner.skip_spaces();
        if !scanner.at_end() {
            return None;
        }
        (time, offset)
    };
    let zone = FixedOffset::east_opt(offset)?;
    let local = NaiveDateTime::new(date, time);
    zone.from_local_datetime(&local)
        .single()
        .map(|moment| moment.with_timezone(&Utc))
}

struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        if matched {
            self.position += 1;
        }
        matched
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.position += 1;
        }
    }

    /// Exactly `count` digits as a number.
    fn digits(&mut self, count: usize) -> Option<u64> {
        let slice = self.bytes.get(self.position..self.position + count)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.position += count;
        Some(
            slice
                .iter()
                .fold(0, |value, digit| value * 10 + u64::from(digit - b'0')),
        )
    }

    /// One to `max` digits as a number.
    fn some_digits(&mut self, max: usize) -> Option<(u64, usize)> {
        let available = self.bytes[self.position..]
            .iter()
            .take(max)
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if available == 0 {
            return None;
        }
        Some((self.digits(available)?, available))
    }

    fn date(&mut self) -> Option<NaiveDate> {
        let (first, first_len) = self.some_digits(8)?;
        let (year, month, day) = match (first_len, self.peek()) {
            // 20141013 (compact ISO)
            (8, _) => (first / 10_000, first / 100 % 100, first % 100),
            // 2022-07-05 or 2022/07/05
            (4, Some(separator @ (b'-' | b'/'))) => {
                self.position += 1;
                let (month, _) = self.some_digits(2)?;
                if !self.eat(separator) {
                    return None;
                }
                let (day, _) = self.some_digits(2)?;
                (first, month, day)
            }
            // 5/5/2009 or 05/05/09 (US order)
            (1 | 2, Some(b'/')) => {
                self.position += 1;
                let (day, _) = self.some_digits(2)?;
                if !self.eat(b'/') {
                    return None;
                }
                let (year, year_len) = self.some_digits(4)?;
                let year = match year_len {
                    2 => 2000 + year,
                    4 => year,
                    _ => return None,
                };
                (year, first, day)
            }
            _ => return None,
        };
        NaiveDate::from_ymd_opt(
            i32::try_from(year).ok()?,
            u32::try_from(month).ok()?,
            u32::try_from(day).ok()?,
        )
    }

    /// Between date and time: `T`, spaces, or a comma and spaces.
    fn separator(&mut self) -> Option<()> {
        if self.eat(b'T') || self.eat(b't') {
            return Some(());
        }
        let start = self.position;
        self.eat(b',');
        self.skip_spaces();
        (self.position > start).then_some(())
    }

    fn time(&mut self) -> Option<NaiveTime> {
        let (hour, hour_len) = self.some_digits(6)?;
        let (hour, minute, second) = if hour_len == 6 {
            // 000000 (compact ISO)
            (hour / 10_000, hour / 100 % 100, hour % 100)
        } else {
            if hour_len > 2 || !self.eat(b':') {
                return None;
            }
            let minute = self.digits(2)?;
            let second = if self.eat(b':') { self.digits(2)? } else { 0 };
            (hour, minute, second)
        };
        let nanos = if self.peek() == Some(b'.') || self.peek() == Some(b',') {
            self.position += 1;
            let (fraction, fraction_len) = self.some_digits(9)?;
            // Digits beyond nanoseconds are ignored.
            while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                self.position += 1;
            }
            fraction * 10u64.pow(9 - fraction_len as u32)
        } else {
            0
        };
        self.skip_spaces();
        let hour = match self.meridiem() {
            Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
            Some(_) => return None,
            None => hour,
        };
        NaiveTime::from_hms_nano_opt(
            u32::try_from(hour).ok()?,
            u32::try_from(minute).ok()?,
            u32::try_from(second).ok()?,
            u32::try_from(nanos).ok()?,
        )
    }

    /// `AM`/`PM` (also `a.m.`); `Some(true)` for PM.
    fn meridiem(&mut self) -> Option<bool> {
        let rest = &self.bytes[self.position..];
        for (spelling, pm) in [("a.m.", false), ("p.m.", true), ("am", false), ("pm", true)] {
            if rest.len() >= spelling.len()
                && rest[..spelling.len()].eq_ignore_ascii_case(spelling.as_bytes())
                && rest
                    .get(spelling.len())
                    .is_none_or(|next| !next.is_ascii_alphabetic())
            {
                self.position += spelling.len();
                return Some(pm);
            }
        }
        None
    }

    /// Zone as seconds east of UTC: `Z`, `+05:00`, `-0500`, `+05`, or a US abbreviation.
    fn zone(&mut self) -> Option<i32> {
        match self.peek()? {
            b'Z' | b'z' => {
                self.position += 1;
                Some(0)
            }
            sign @ (b'+' | b'-') => {
                self.position += 1;
                let hours = self.digits(2)?;
                self.eat(b':');
                let minutes = if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                    self.digits(2)?
                } else {
                    0
                };
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
                Some(if sign == b'-' { -seconds } else { seconds })
            }
            _ => {
                let start = self.position;
                while self.peek().is_some_and(|byte| byte.is_ascii_alphabetic()) {
                    self.position += 1;
                }
                let word = &self.bytes[start..self.position];
                let hours = US_ZONES
                    .iter()
                    .find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes()))?
                    .1;
                Some(hours * 3600)
            }
        }
    }
}

/// US zone abbreviations Craigslist printed, with their offsets in hours.
const US_ZONES: &[(&str, i32)] = &[
    ("UTC", 0),
    ("GMT", 0),
    ("EDT", -4),
    ("EST", -5),
    ("CDT", -5),
    ("CST", -6),
    ("MDT", -6),
    ("MST", -7),
    ("PDT", -7),
    ("PST", -8),
    ("AKDT", -8),
    ("AKST", -9),
    ("HST", -10),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<String> {
        parse_posted_at(text).map(|moment| moment.to_rfc3339())
    }

    #[test]
    fn site_date_forms() {
        let expect =
            |text: &str, rfc3339: &str| assert_eq!(at(text).as_deref(), Some(rfc3339), "{text}");
        expect("2022-07-05T14:23:09-05:00", "2022-07-05T19:23:09+00:00");
        expect("2022-07-05T14:23:09-0500", "2022-07-05T19:23:09+00:00");
        expect("2022-07-05T19:23:09Z", "2022-07-05T19:23:09+00:00");
        expect(
            "2022-07-05T19:23:09.123456789Z",
            "2022-07-05T19:23:09.123456789+00:00",
        );
        expect("2022-07-05 14:23", "2022-07-05T14:23:00+00:00");
        expect("2009-05-05, 11:04AM EDT", "2009-05-05T15:04:00+00:00");
        expect("2009-05-05, 12:30PM PST", "2009-05-05T20:30:00+00:00");
        expect("2009-05-05, 12:04AM EST", "2009-05-05T05:04:00+00:00");
        expect("5/5/2009", "2009-05-05T00:00:00+00:00");
        expect("05/05/09 3:15 pm", "2009-05-05T15:15:00+00:00");
        expect("2014-10-13T00:00:00", "2014-10-13T00:00:00+00:00");
        expect("20141013T000000", "2014-10-13T00:00:00+00:00");
        expect("2022-08-05", "2022-08-05T00:00:00+00:00");
        expect("1657045389", "2022-07-05T18:23:09+00:00");
        expect("1657045389000", "2022-07-05T18:23:09+00:00");
        expect("Thursday, November 9, 2023", "2023-11-09T00:00:00+00:00");
        expect("Nov 9, 2023", "2023-11-09T00:00:00+00:00");
        expect("9 November 2023", "2023-11-09T00:00:00+00:00");
    }

    #[test]
    fn unparseable_dates_are_none() {
        for text in [
            "",
            "yesterday",
            "2022-13-05",
            "2022-02-30",
            "2022-07-05T25:00",
            "2022-07-05 14:23 XYZ",
            "13:00 PM 2022",
            "2022-07-05T14:23:09+99:00",
            "5/5",
        ] {
            assert_eq!(at(text), None, "{text}");
        }
    }

    #[test]
    fn rfc3339_output_reads_back() {
        for text in [
            "2009-05-05, 11:04AM EDT",
            "2022-07-05T19:23:09.5Z",
            "20141013T000000",
        ] {
            let first = parse_posted_at(text).unwrap();
            assert_eq!(parse_posted_at(&first.to_rfc3339()), Some(first), "{text}");
        }
    }
}
