//! Publish dates from the text pages print, and from date folders in article URLs.
//!
//! Pages rarely give a clean timestamp: they print `xinhuanet.com Updated: 2015-12-16 10:23` or
//! `来源：新华网 2015年12月16日 10:23`, in local time without a zone. [`parse`] finds a date inside such text with a
//! ranked list of formats: the source's own chrono formats first, then the built-in shapes (ISO/RFC 3339 and
//! numeric `Y-M-D`, Chinese `年月日`, `Dec 16, 2015`, RFC 2822-style `16 Dec 2015`). The first format that yields a
//! plausible date wins. Times without an offset are read in the source's time zone; an explicit offset is kept.
//! Day-first and month-first numeric dates (`16/12/2015`) are ambiguous and deliberately not guessed; a source
//! that uses them names its format. [`parse_with`] also reads what needs context: year-less dates (`10-08 12:00`)
//! with a year from [`Hints`], and relative ones (`3小时前`, `昨天 08:30`, `2 hours ago`) counted back from the fetch
//! time the hints carry. [`from_url_path`] reads `/2015-12/16/`-style folders. Nothing here reads the clock: the
//! fetch time is a parameter, a date that cannot be found is `None`, and the caller decides what to fall back to.

use chrono::offset::MappedLocalTime;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use url::Url;

/// Dates outside this range are misreads (a phone number, an ICP licence number, a `1970` epoch default), not
/// publish dates of web news.
const YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

/// How much of a text is searched. Date elements are one line; a selector that matched a whole page must not make
/// us try every format at every position of it.
const MAX_SCAN_BYTES: usize = 4096;

/// Finds the first plausible date in `text`: each of `formats` (chrono strftime syntax) is tried at every position,
/// then each built-in shape. Naive values are read in `tz`; in a daylight-saving overlap the earlier instant is
/// taken, and a time inside a spring-forward gap is moved forward by the gap's length (02:30 becomes 03:30).
pub fn parse(text: &str, formats: &[String], tz: Tz) -> Option<DateTime<FixedOffset>> {
    let text = prepare(text);
    let text = text.as_str();
    formats
        .iter()
        .find_map(|fmt| scan_user_format(text, fmt, tz))
        .or_else(|| {
            let shapes: [fn(Cursor<'_>) -> Option<Found>; 4] = [year_first, chinese, month_first, day_first];
            shapes
                .into_iter()
                .find_map(|shape| starts(text).find_map(|i| shape(Cursor(&text[i..]))?.resolve(tz)))
        })
}

/// What the page around a date tells about it, for dates printed incompletely: the year of a year-less `10-08 12:00`
/// (from the URL, the listing or the fetch), and the fetch time that a relative `3小时前`, `昨天 08:30` or
/// `2 hours ago` counts back from. Resolved once, when the article is first read, and stored: it never moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub fetched: DateTime<Utc>,
    pub year: Option<i32>,
}

/// [`parse`], then the dates it cannot place without `hints`, read in `tz`:
///
/// - year-less `10-08 12:00`, `10月08日 12:00`, `Oct 8, 12:00` take `hints.year`, else the fetch date's year, or
///   the year before when that would put the date more than a day after the fetch (a December article read in
///   January);
/// - relative `刚刚`/`just now`, `5分钟前`, `3小时前`, `2天前`, `2 hours ago`, `5 mins ago` count back from
///   `hints.fetched`, and `今天`/`昨天`/`前天`/`today`/`yesterday`, with an optional time (`昨天 08:30`,
///   `Yesterday at 8:30 AM`), name a day counted back from the fetch date in `tz`.
///
/// A numeric `10-08` needs a time after it: alone it is as likely a score or a page range as a date.
pub fn parse_with(text: &str, formats: &[String], tz: Tz, hints: Hints) -> Option<DateTime<FixedOffset>> {
    parse(text, formats, tz).or_else(|| {
        let text = prepare(text);
        let text = text.as_str();
        year_less(text, tz, hints).or_else(|| starts(text).find_map(|i| relative(Cursor(&text[i..]), tz, hints)))
    })
}

/// A month, a day and maybe a time, before the year is known.
struct MonthDay {
    month: u32,
    day: u32,
    time: Option<NaiveTime>,
}

fn year_less(text: &str, tz: Tz, hints: Hints) -> Option<DateTime<FixedOffset>> {
    let shapes: [fn(Cursor<'_>) -> Option<MonthDay>; 3] = [numeric_month_day, chinese_month_day, named_month_day];
    let md = shapes
        .into_iter()
        .find_map(|shape| starts(text).find_map(|i| shape(Cursor(&text[i..]))))?;
    let at = |year: i32| {
        Found {
            date: NaiveDate::from_ymd_opt(year, md.month, md.day)?,
            time: md.time,
            offset: None,
        }
        .resolve(tz)
    };
    if let Some(year) = hints.year {
        return at(year);
    }
    let year = hints.fetched.with_timezone(&tz).year();
    match at(year) {
        Some(d) if d.with_timezone(&Utc) <= hints.fetched + TimeDelta::days(1) => Some(d),
        // A date that is not yet, or (29 February) does not exist this year: last year's.
        _ => at(year - 1),
    }
}

/// `10-08 12:00`, `10/08 12:00`: month first, as Chinese and US sites print it, and only with a time.
fn numeric_month_day(mut c: Cursor<'_>) -> Option<MonthDay> {
    let month = c.number(1, 2)?;
    let sep = c.one_of(&['-', '/', '.'])?;
    let day = c.number(1, 2)?;
    let mut after = c;
    if after.eat(sep) && after.number(1, 4).is_some() {
        // `12/16/2015` or `16-12-15`: a full date `parse` declined, not a year-less one.
        return None;
    }
    let (time, _) = time_after_date(c)?;
    month_day(month, day, Some(time))
}

/// `10月08日`, `10月8号 12:00`.
fn chinese_month_day(mut c: Cursor<'_>) -> Option<MonthDay> {
    let month = c.number(1, 2)?;
    c.spaces();
    c.eat('月').then_some(())?;
    c.spaces();
    let day = c.number(1, 2)?;
    c.spaces();
    c.one_of(&['日', '号'])?;
    month_day(month, day, time_after_date(c).map(|(t, _)| t))
}

/// `Oct 8, 12:00`, `October 8`, `Oct. 8th 12:00 PM`; not when a year follows (that is `parse`'s, or implausible).
fn named_month_day(mut c: Cursor<'_>) -> Option<MonthDay> {
    let month = c.month()?;
    c.eat('.');
    (c.spaces() > 0).then_some(())?;
    let day = c.number(1, 2)?;
    c.ordinal_suffix();
    let mut after = c;
    after.eat(',');
    after.spaces();
    if after.number(4, 4).is_some() {
        return None;
    }
    month_day(month, day, time_after_date(c).map(|(t, _)| t))
}

fn month_day(month: u32, day: u32, time: Option<NaiveTime>) -> Option<MonthDay> {
    // Checked against a leap year, so 29 February is kept until the year is known.
    NaiveDate::from_ymd_opt(2000, month, day)?;
    Some(MonthDay { month, day, time })
}

/// A relative date at the cursor, resolved against the fetch time.
fn relative(mut c: Cursor<'_>, tz: Tz, hints: Hints) -> Option<DateTime<FixedOffset>> {
    let fetched = hints.fetched.with_timezone(&tz);
    let ago = |delta: TimeDelta| Some((hints.fetched - delta).with_timezone(&tz).fixed_offset());
    if c.0.starts_with("刚刚") {
        return ago(TimeDelta::zero());
    }
    let word = c.word().to_ascii_lowercase();
    if word == "just" {
        c.skip_word();
        c.spaces();
        return c.word().eq_ignore_ascii_case("now").then(|| ago(TimeDelta::zero()))?;
    }
    let days_back = [("今天", 0), ("昨天", 1), ("前天", 2)]
        .into_iter()
        .find_map(|(w, n)| c.0.strip_prefix(w).map(|rest| (rest, n)))
        .or_else(|| match word.as_str() {
            "today" => Some((&c.0[5..], 0)),
            "yesterday" => Some((&c.0[9..], 1)),
            _ => None,
        });
    if let Some((rest, n)) = days_back {
        return Found {
            date: fetched.date_naive() - TimeDelta::days(n),
            time: time_after_date(Cursor(rest)).map(|(t, _)| t),
            offset: None,
        }
        .resolve(tz);
    }
    // `3小时前`, `2 hours ago`, `an hour ago`.
    let n = match c.number(1, 3) {
        Some(n) => i64::from(n),
        None if matches!(word.as_str(), "a" | "an" | "one") => {
            c.skip_word();
            1
        }
        None => return None,
    };
    c.spaces();
    const CHINESE: [(&str, i64); 9] = [
        ("秒钟", 1),
        ("秒", 1),
        ("分钟", 60),
        ("分", 60),
        ("个小时", 3600),
        ("小时", 3600),
        ("天", 86_400),
        ("日", 86_400),
        ("周", 604_800),
    ];
    if let Some((rest, unit)) = CHINESE.iter().find_map(|(w, s)| c.0.strip_prefix(w).map(|r| (r, *s))) {
        return rest
            .trim_start()
            .starts_with('前')
            .then(|| ago(TimeDelta::seconds(n * unit)))?;
    }
    let unit = match c.word().to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "wk" | "wks" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    c.skip_word();
    c.spaces();
    c.word()
        .eq_ignore_ascii_case("ago")
        .then(|| ago(TimeDelta::seconds(n * unit)))?
}

/// Reads a date from the folders of an article URL, at local midnight in `tz`: `/2015-12/16/`, `/2015/12/16/`,
/// `/2015/1216/`, `/201512/16/`, `/20151216/` and `/2015-12-16/`. Only folders count, not the file name, where
/// eight digits are as likely an article id as a date.
pub fn from_url_path(url: &Url, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let segments: Vec<&str> = url.path_segments()?.collect();
    let folders = &segments[..segments.len().saturating_sub(1)];
    (0..folders.len()).find_map(|i| {
        let date = folder_date(&folders[i..])?;
        Found {
            date,
            time: None,
            offset: None,
        }
        .resolve(tz)
    })
}

fn folder_date(folders: &[&str]) -> Option<NaiveDate> {
    let first = folders[0];
    let second = folders.get(1).copied().unwrap_or("");
    let third = folders.get(2).copied().unwrap_or("");
    let ymd = |y: &str, m: &str, d: &str| NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let fixed = |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());

    let parts: Vec<&str> = first.split('-').collect();
    match parts.as_slice() {
        // 2015-12-16
        [y, m, d] if fixed(y, &[4]) && fixed(m, &[1, 2]) && fixed(d, &[1, 2]) => ymd(y, m, d),
        // 2015-12/16
        [y, m] if fixed(y, &[4]) && fixed(m, &[1, 2]) && fixed(second, &[1, 2]) => ymd(y, m, second),
        // 20151216
        [s] if fixed(s, &[8]) => ymd(&s[..4], &s[4..6], &s[6..]),
        // 201512/16
        [s] if fixed(s, &[6]) && fixed(second, &[1, 2]) => ymd(&s[..4], &s[4..], second),
        // 2015/1216
        [y] if fixed(y, &[4]) && fixed(second, &[4]) => ymd(y, &second[..2], &second[2..]),
        // 2015/12/16
        [y] if fixed(y, &[4]) && fixed(second, &[1, 2]) && fixed(third, &[1, 2]) => ymd(y, second, third),
        _ => None,
    }
}

/// Full-width digits (`２０１５年`) occur in Chinese text set by hand; every format expects ASCII digits.
fn prepare(text: &str) -> String {
    let mut end = text.len().min(MAX_SCAN_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            _ => c,
        })
        .collect()
}

/// Where a date may begin: at every character except inside a run of ASCII letters or digits, so `12015-12-16`
/// does not yield `2015-12-16` and `xDec 16` does not yield `Dec 16`.
fn starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut prev: Option<char> = None;
    text.char_indices().filter_map(move |(i, c)| {
        let inside_word = prev.is_some_and(|p| p.is_ascii_alphanumeric()) && c.is_ascii_alphanumeric();
        prev = Some(c);
        (!inside_word).then_some(i)
    })
}

fn scan_user_format(text: &str, fmt: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    starts(text).find_map(|i| {
        let s = &text[i..];
        // A format with `%z` parses as an aware value; otherwise it is naive, with or without a time of day.
        let (found, rest) = if let Ok((dt, rest)) = DateTime::parse_and_remainder(s, fmt) {
            (
                Found {
                    date: dt.date_naive(),
                    time: Some(dt.time()),
                    offset: Some(*dt.offset()),
                },
                rest,
            )
        } else if let Ok((dt, rest)) = NaiveDateTime::parse_and_remainder(s, fmt) {
            (
                Found {
                    date: dt.date(),
                    time: Some(dt.time()),
                    offset: None,
                },
                rest,
            )
        } else {
            let (date, rest) = NaiveDate::parse_and_remainder(s, fmt).ok()?;
            (
                Found {
                    date,
                    time: None,
                    offset: None,
                },
                rest,
            )
        };
        let used = &s[..s.len() - rest.len()];
        // `%d` stops after two digits; "2015-12-161" is not the 16th.
        let cut_number = used.ends_with(|c: char| c.is_ascii_digit()) && rest.starts_with(|c: char| c.is_ascii_digit());
        if cut_number { None } else { found.resolve(tz) }
    })
}

/// A date as read from text, before the time zone is applied.
struct Found {
    date: NaiveDate,
    time: Option<NaiveTime>,
    offset: Option<FixedOffset>,
}

impl Found {
    fn resolve(self, tz: Tz) -> Option<DateTime<FixedOffset>> {
        if !YEARS.contains(&self.date.year()) {
            return None;
        }
        let local = self.date.and_time(self.time.unwrap_or(NaiveTime::MIN));
        match self.offset {
            Some(offset) => offset.from_local_datetime(&local).single(),
            None => in_zone(local, tz),
        }
    }
}

fn in_zone(local: NaiveDateTime, tz: Tz) -> Option<DateTime<FixedOffset>> {
    match tz.from_local_datetime(&local) {
        MappedLocalTime::Single(dt) | MappedLocalTime::Ambiguous(dt, _) => Some(dt.fixed_offset()),
        MappedLocalTime::None => {
            // A wall-clock time that never happened (spring forward). Reading it with the offset in force before
            // the gap lands the same distance past the gap, as java.time and Temporal do. A day earlier is safely
            // before the transition: zones do not change offset twice within a day.
            let before = tz
                .offset_from_local_datetime(&(local - TimeDelta::days(1)))
                .earliest()?
                .fix();
            let instant = local.checked_sub_offset(before)?;
            Some(Utc.from_utc_datetime(&instant).with_timezone(&tz).fixed_offset())
        }
    }
}

// ---- Built-in shapes. Each gets the text from a start position and reads one date there, or gives up. ----

/// `2015-12-16`, `2015/12/16`, `2015.12.16`, optionally with a time (`10:23`, `T10:23:45.5`) and an offset: this
/// covers ISO 8601 / RFC 3339 and the way Chinese CMSes print dates.
fn year_first(mut c: Cursor<'_>) -> Option<Found> {
    let year = c.number(4, 4)?;
    let sep = c.one_of(&['-', '/', '.'])?;
    let month = c.number(1, 2)?;
    c.eat(sep).then_some(())?;
    let day = c.number(1, 2)?;
    found(year, month, day, c)
}

/// `2015年12月16日`, optionally followed by `10:23`, `10:23:45` or `10时23分`.
fn chinese(mut c: Cursor<'_>) -> Option<Found> {
    let year = c.number(4, 4)?;
    c.spaces();
    c.eat('年').then_some(())?;
    c.spaces();
    let month = c.number(1, 2)?;
    c.spaces();
    c.eat('月').then_some(())?;
    c.spaces();
    let day = c.number(1, 2)?;
    c.spaces();
    c.one_of(&['日', '号'])?;
    found(year, month, day, c)
}

/// `Dec 16, 2015`, `December 16, 2015 10:23`, `Dec. 16th 2015, 10:23 PM`. A weekday before the month is simply
/// skipped over by the scan.
fn month_first(mut c: Cursor<'_>) -> Option<Found> {
    let month = c.month()?;
    c.eat('.');
    (c.spaces() > 0).then_some(())?;
    let day = c.number(1, 2)?;
    c.ordinal_suffix();
    let comma = c.eat(',');
    (c.spaces() > 0 || comma).then_some(())?;
    let year = c.number(4, 4)?;
    found(year, month, day, c)
}

/// `16 Dec 2015`, `16 December 2015`, `16-Dec-2015`, and RFC 2822 (`Wed, 16 Dec 2015 10:23:45 +0800`).
fn day_first(mut c: Cursor<'_>) -> Option<Found> {
    let day = c.number(1, 2)?;
    c.ordinal_suffix();
    let dash = c.eat('-');
    (dash || c.spaces() > 0).then_some(())?;
    let month = c.month()?;
    c.eat('.');
    if dash {
        c.eat('-').then_some(())?;
    } else {
        c.eat(',');
        (c.spaces() > 0).then_some(())?;
    }
    let year = c.number(4, 4)?;
    found(year, month, day, c)
}

/// Builds the date and reads an optional time, and an offset after that time, from what follows it.
fn found(year: u32, month: u32, day: u32, c: Cursor<'_>) -> Option<Found> {
    let date = NaiveDate::from_ymd_opt(year.try_into().ok()?, month, day)?;
    let (time, offset) = match time_after_date(c) {
        Some((time, rest)) => (Some(time), offset(rest)),
        None => (None, None),
    };
    Some(Found { date, time, offset })
}

/// The separator between a date and its time: `T`, spaces, a comma, `at`, or nothing (`16日10:23`).
fn time_after_date(mut c: Cursor<'_>) -> Option<(NaiveTime, Cursor<'_>)> {
    if !c.eat('T') {
        c.spaces();
        if c.eat(',') {
            c.spaces();
        }
        if c.word().eq_ignore_ascii_case("at") {
            c.skip_word();
            c.spaces();
        }
    }
    time(c)
}

/// `10:23`, `10:23:45`, `10:23:45.123`, `10：23`, `10时23分45秒`, optionally `am`/`pm`.
fn time(mut c: Cursor<'_>) -> Option<(NaiveTime, Cursor<'_>)> {
    let mut hour = c.number(1, 2)?;
    let chinese = matches!(c.one_of(&[':', '：', '时', '点'])?, '时' | '点');
    let minute = c.number(2, 2)?;
    let mut second = 0;
    let mut nano = 0;
    if chinese {
        c.eat('分').then_some(())?;
        let mut after = c;
        if let Some(s) = after.number(2, 2)
            && after.eat('秒')
        {
            second = s;
            c = after;
        }
    } else if c.eat(':') || c.eat('：') {
        second = c.number(2, 2)?;
        let mut after = c;
        if after.eat('.') || after.eat(',') {
            let digits = after.0.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                // Keep nanosecond precision at most; further digits are read and dropped.
                let kept = &after.0[..digits.min(9)];
                nano = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
                after.0 = &after.0[digits..];
                c = after;
            }
        }
    }
    let mut after = c;
    after.spaces();
    let meridiem = after.word().to_ascii_lowercase();
    let meridiem = match meridiem.as_str() {
        "am" | "a" if after.skip_meridiem() => Some(false),
        "pm" | "p" if after.skip_meridiem() => Some(true),
        _ => None,
    };
    if let Some(pm) = meridiem {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
        c = after;
    }
    Some((NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?, c))
}

/// An offset right after a time: `Z`, `+08:00`, `+0800`, `+08`, `GMT`, `UTC`, `GMT+8`, `UTC+08:00`. Named zones
/// such as `CST` are not trusted (China Standard Time or US Central?) and leave the time naive.
fn offset(mut c: Cursor<'_>) -> Option<FixedOffset> {
    c.spaces();
    let word = c.word();
    if word == "Z" {
        return FixedOffset::east_opt(0);
    }
    if ["GMT", "UTC", "UT"].iter().any(|z| word.eq_ignore_ascii_case(z)) {
        c.skip_word();
        return Some(signed_offset(c).unwrap_or(FixedOffset::east_opt(0)?));
    }
    signed_offset(c)
}

fn signed_offset(mut c: Cursor<'_>) -> Option<FixedOffset> {
    let sign = match c.one_of(&['+', '-', '−'])? {
        '+' => 1,
        _ => -1,
    };
    let digits = c.0.bytes().take_while(u8::is_ascii_digit).count();
    let (hours, minutes) = if digits == 4 {
        let hhmm = c.number(4, 4)?;
        (hhmm / 100, hhmm % 100)
    } else {
        let hours = c.number(1, 2)?;
        let minutes = if c.eat(':') { c.number(2, 2)? } else { 0 };
        (hours, minutes)
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60) as i32)
}

/// A read position in the text. `Copy`, so a shape can try something and back off by keeping the old value.
#[derive(Clone, Copy)]
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    /// A run of `min..=max` ASCII digits, and not more: a longer run is a different number, not this field.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let len = self.0.bytes().take_while(u8::is_ascii_digit).count();
        if len < min || len > max {
            return None;
        }
        let n = self.0[..len].parse().ok()?;
        self.0 = &self.0[len..];
        Some(n)
    }

    fn eat(&mut self, c: char) -> bool {
        match self.0.strip_prefix(c) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    fn one_of(&mut self, chars: &[char]) -> Option<char> {
        let c = self.0.chars().next().filter(|c| chars.contains(c))?;
        self.0 = &self.0[c.len_utf8()..];
        Some(c)
    }

    /// Skips whitespace (NBSP and ideographic space included); returns how many characters were skipped.
    fn spaces(&mut self) -> usize {
        let trimmed = self.0.trim_start();
        let n = self.0[..self.0.len() - trimmed.len()].chars().count();
        self.0 = trimmed;
        n
    }

    /// The run of ASCII letters at the cursor (not consumed).
    fn word(&self) -> &'a str {
        let len = self.0.bytes().take_while(u8::is_ascii_alphabetic).count();
        &self.0[..len]
    }

    fn skip_word(&mut self) {
        self.0 = &self.0[self.word().len()..];
    }

    /// After a word `am`/`pm`/`a`/`p`: consumes it, and the dotted forms `a.m.`/`p.m.`.
    fn skip_meridiem(&mut self) -> bool {
        match self.word().len() {
            2 => {
                self.skip_word();
                true
            }
            1 => {
                let rest = &self.0[1..];
                // By `get`, not by index: the text after the letter may be any character (a CJK source name).
                let dotted = rest.get(..3).is_some_and(|r| r.eq_ignore_ascii_case(".m."));
                if dotted {
                    self.0 = &rest[3..];
                }
                dotted
            }
            _ => false,
        }
    }

    /// An English month name or its three-letter (or `Sept`) abbreviation, as a whole word.
    fn month(&mut self) -> Option<u32> {
        const MONTHS: [&str; 12] = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        let word = self.word().to_ascii_lowercase();
        let n = MONTHS.iter().position(|m| {
            *m == word || (word.len() == 3 && m.starts_with(&word)) || (word == "sept" && *m == "september")
        })?;
        self.skip_word();
        Some(n as u32 + 1)
    }

    /// `st`, `nd`, `rd`, `th` after a day number.
    fn ordinal_suffix(&mut self) {
        if ["st", "nd", "rd", "th"]
            .iter()
            .any(|s| self.word().eq_ignore_ascii_case(s))
        {
            self.skip_word();
        }
    }
}

/// The time zone a page's language implies, when the language is spoken in one zone only: naive times on a
/// `zh-CN` page are Beijing time, never UTC. `None` for languages spread over several zones (English, Spanish,
/// Portuguese, Russian, …) and for a region that names another zone than the language's home.
pub fn zone_for_language(lang: &str) -> Option<Tz> {
    let lang = lang.trim().to_ascii_lowercase().replace('_', "-");
    let mut parts = lang.split('-');
    let primary = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let region = rest.iter().find(|p| p.len() == 2).copied();
    let zone = match (primary, region) {
        ("zh", Some("tw")) => Tz::Asia__Taipei,
        ("zh", Some("hk")) => Tz::Asia__Hong_Kong,
        ("zh", Some("mo")) => Tz::Asia__Macau,
        ("zh", Some("sg")) => Tz::Asia__Singapore,
        ("zh", None | Some("cn")) if !rest.contains(&"hant") => Tz::Asia__Shanghai,
        ("ja", None | Some("jp")) => Tz::Asia__Tokyo,
        ("ko", None | Some("kr")) => Tz::Asia__Seoul,
        ("th", None | Some("th")) => Tz::Asia__Bangkok,
        ("vi", None | Some("vn")) => Tz::Asia__Ho_Chi_Minh,
        ("de", None | Some("de")) => Tz::Europe__Berlin,
        ("fr", Some("fr")) => Tz::Europe__Paris,
        ("it", None | Some("it")) => Tz::Europe__Rome,
        ("nl", None | Some("nl")) => Tz::Europe__Amsterdam,
        ("pl", None | Some("pl")) => Tz::Europe__Warsaw,
        _ => return None,
    };
    Some(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: Tz = chrono_tz::Asia::Shanghai;

    fn p(text: &str) -> Option<String> {
        parse(text, &[], BEIJING).map(|d| d.to_rfc3339())
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn a_letter_before_cjk_text_after_the_time_does_not_panic() {
        // A regression: the a.m./p.m. check sliced the text by bytes, inside `新`.
        assert_eq!(p("2015-12-16 10:23 a 新华网"), some("2015-12-16T10:23:00+08:00"));
        assert_eq!(p("2015-12-16 10:23 p新"), some("2015-12-16T10:23:00+08:00"));
    }

    #[test]
    fn english_info_line_with_time_is_beijing_time() {
        assert_eq!(
            p("xinhuanet.com Updated: 2015-12-16 10:23"),
            some("2015-12-16T10:23:00+08:00")
        );
    }

    #[test]
    fn english_info_line_without_time_is_local_midnight() {
        assert_eq!(
            p("xinhuanet.com  Updated: 2015-12-16"),
            some("2015-12-16T00:00:00+08:00")
        );
    }

    #[test]
    fn chinese_date_with_source_label_and_time() {
        assert_eq!(
            p("来源：新华网 2015年12月16日 10:23"),
            some("2015-12-16T10:23:00+08:00")
        );
        assert_eq!(
            p("2015年12月16日10:23:45　来源：新华网"),
            some("2015-12-16T10:23:45+08:00")
        );
    }

    #[test]
    fn chinese_date_alone_and_with_chinese_time() {
        assert_eq!(p("2015年12月16日"), some("2015-12-16T00:00:00+08:00"));
        assert_eq!(p("2015 年 1 月 6 日 10时23分"), some("2015-01-06T10:23:00+08:00"));
        assert_eq!(
            p("发布时间：2015年12月16日 10时23分45秒"),
            some("2015-12-16T10:23:45+08:00")
        );
    }

    #[test]
    fn full_width_digits_and_colon() {
        assert_eq!(
            p("２０１５年１２月１６日 １０：２３"),
            some("2015-12-16T10:23:00+08:00")
        );
    }

    #[test]
    fn numeric_year_first_with_seconds_and_other_separators() {
        assert_eq!(p("2015-12-16 10:23:45"), some("2015-12-16T10:23:45+08:00"));
        assert_eq!(p("2015/12/16"), some("2015-12-16T00:00:00+08:00"));
        assert_eq!(p("(2015.12.16)"), some("2015-12-16T00:00:00+08:00"));
        assert_eq!(p("2015-1-6 9:05"), some("2015-01-06T09:05:00+08:00"));
    }

    #[test]
    fn mixed_separators_are_not_a_date() {
        assert_eq!(p("2015-12/16"), None);
    }

    #[test]
    fn english_month_names() {
        assert_eq!(p("Dec 16, 2015"), some("2015-12-16T00:00:00+08:00"));
        assert_eq!(p("Updated: December 16, 2015 10:23"), some("2015-12-16T10:23:00+08:00"));
        assert_eq!(
            p("Wednesday, Dec. 16th, 2015 at 10:23 p.m."),
            some("2015-12-16T22:23:00+08:00")
        );
        assert_eq!(p("Sept 1, 2016, 12:05 AM"), some("2016-09-01T00:05:00+08:00"));
        assert_eq!(p("16 December 2015"), some("2015-12-16T00:00:00+08:00"));
        assert_eq!(p("16-Dec-2015"), some("2015-12-16T00:00:00+08:00"));
    }

    #[test]
    fn month_names_must_be_whole_words() {
        assert_eq!(p("Decade 16, 2015"), None);
        assert_eq!(p("xDec 16, 2015"), None);
    }

    #[test]
    fn rfc_3339_offsets_are_kept() {
        assert_eq!(p("2015-12-16T02:23:45Z"), some("2015-12-16T02:23:45+00:00"));
        assert_eq!(p("2015-12-16T10:23:45+08:00"), some("2015-12-16T10:23:45+08:00"));
        assert_eq!(
            p("2015-12-16T10:23:45.250-05:00"),
            some("2015-12-16T10:23:45.250-05:00")
        );
        assert_eq!(p("2015-12-16 10:23:45 +0530"), some("2015-12-16T10:23:45+05:30"));
    }

    #[test]
    fn rfc_3339_without_offset_is_read_in_the_source_zone() {
        assert_eq!(p("2015-12-16T10:23:45"), some("2015-12-16T10:23:45+08:00"));
    }

    #[test]
    fn rfc_2822() {
        assert_eq!(p("Wed, 16 Dec 2015 10:23:45 +0800"), some("2015-12-16T10:23:45+08:00"));
        assert_eq!(p("Wed, 16 Dec 2015 02:23:45 GMT"), some("2015-12-16T02:23:45+00:00"));
        assert_eq!(p("Wed, 16 Dec 2015 02:23:45 -0000"), some("2015-12-16T02:23:45+00:00"));
    }

    #[test]
    fn gmt_with_offset_and_untrusted_zone_names() {
        assert_eq!(p("2015-12-16 10:23 GMT+8"), some("2015-12-16T10:23:00+08:00"));
        assert_eq!(p("2015-12-16 10:23 CST"), some("2015-12-16T10:23:00+08:00"));
    }

    #[test]
    fn a_following_name_is_not_a_zone() {
        assert_eq!(p("2015-12-16 10:23 Zhang Wei"), some("2015-12-16T10:23:00+08:00"));
        assert_eq!(p("2015-12-16 10:23 - Xinhua"), some("2015-12-16T10:23:00+08:00"));
    }

    #[test]
    fn ambiguous_day_month_order_is_not_guessed() {
        assert_eq!(p("16/12/2015"), None);
        assert_eq!(p("12/16/2015"), None);
    }

    #[test]
    fn garbage_gives_none() {
        for text in [
            "",
            "Updated:",
            "no date here",
            "Tel: 86-571-8888-1234",
            "京ICP备13028878号-23",
            "2015-13-45",
            "10:23",
        ] {
            assert_eq!(p(text), None, "{text:?}");
        }
    }

    #[test]
    fn implausible_years_give_none() {
        assert_eq!(p("1970-01-01 08:00"), None);
        assert_eq!(p("2200-01-01"), None);
    }

    #[test]
    fn digits_glued_to_a_date_are_not_cut_off() {
        assert_eq!(p("No.12015-12-16"), None);
        assert_eq!(p("2015-12-161"), None);
    }

    #[test]
    fn an_implausible_candidate_does_not_hide_a_later_one() {
        assert_eq!(
            p("copyright 1900-01-01, posted 2015-12-16"),
            some("2015-12-16T00:00:00+08:00")
        );
    }

    #[test]
    fn user_format_is_tried_before_built_ins() {
        let formats = vec!["%d/%m/%Y %H:%M".to_owned()];
        let text = "Created 2015-12-15, updated 16/12/2015 10:23";
        let d = parse(text, &formats, BEIJING).unwrap();
        assert_eq!(d.to_rfc3339(), "2015-12-16T10:23:00+08:00");
        // Without the user format the built-in shape finds the other date.
        assert_eq!(p(text), some("2015-12-15T00:00:00+08:00"));
    }

    #[test]
    fn user_formats_may_be_date_only_or_carry_an_offset() {
        let date_only = vec!["%d.%m.%Y".to_owned()];
        assert_eq!(
            parse("am 16.12.2015", &date_only, BEIJING).unwrap().to_rfc3339(),
            "2015-12-16T00:00:00+08:00"
        );
        let aware = vec!["%d/%m/%Y %H:%M %z".to_owned()];
        assert_eq!(
            parse("16/12/2015 10:23 +0100", &aware, BEIJING).unwrap().to_rfc3339(),
            "2015-12-16T10:23:00+01:00"
        );
    }

    #[test]
    fn user_format_that_does_not_match_falls_back_to_built_ins() {
        let formats = vec!["%d/%m/%Y".to_owned(), "%Q nonsense".to_owned()];
        assert_eq!(
            parse("2015-12-16", &formats, BEIJING).unwrap().to_rfc3339(),
            "2015-12-16T00:00:00+08:00"
        );
    }

    #[test]
    fn user_format_does_not_cut_a_number() {
        let formats = vec!["%Y-%m-%d".to_owned()];
        assert_eq!(parse("2015-12-161", &formats, BEIJING), None);
    }

    #[test]
    fn daylight_saving_overlap_takes_the_earlier_instant() {
        let d = parse("2015-11-01 01:30", &[], chrono_tz::America::New_York).unwrap();
        assert_eq!(d.to_rfc3339(), "2015-11-01T01:30:00-04:00");
    }

    #[test]
    fn daylight_saving_gap_moves_forward() {
        let d = parse("2015-03-08 02:30", &[], chrono_tz::America::New_York).unwrap();
        assert_eq!(d.to_rfc3339(), "2015-03-08T03:30:00-04:00");
    }

    #[test]
    fn other_zones_are_honoured() {
        let d = parse("2015-12-16 10:23", &[], chrono_tz::Europe::London).unwrap();
        assert_eq!(d.to_rfc3339(), "2015-12-16T10:23:00+00:00");
    }

    /// Fetched 2019-10-09 04:00 UTC, which is 12:00 in Beijing.
    fn hints(year: Option<i32>) -> Hints {
        Hints {
            fetched: Utc.with_ymd_and_hms(2019, 10, 9, 4, 0, 0).unwrap(),
            year,
        }
    }

    fn pw(text: &str) -> Option<String> {
        parse_with(text, &[], BEIJING, hints(None)).map(|d| d.to_rfc3339())
    }

    #[test]
    fn parse_with_reads_complete_dates_as_parse_does() {
        assert_eq!(pw("Updated: 2015-12-16 10:23"), some("2015-12-16T10:23:00+08:00"));
        assert_eq!(pw("2019年09月07日 08:05"), some("2019-09-07T08:05:00+08:00"));
        assert_eq!(pw("2019-9-7"), some("2019-09-07T00:00:00+08:00"));
        assert_eq!(pw("Dec 16, 2015"), some("2015-12-16T00:00:00+08:00"));
    }

    #[test]
    fn year_less_dates_take_the_fetch_year() {
        assert_eq!(pw("10-08 12:00"), some("2019-10-08T12:00:00+08:00"));
        assert_eq!(pw("来源：新华网 10/08 12:00"), some("2019-10-08T12:00:00+08:00"));
        assert_eq!(pw("10月08日 12:00"), some("2019-10-08T12:00:00+08:00"));
        assert_eq!(pw("10月8日"), some("2019-10-08T00:00:00+08:00"));
        assert_eq!(pw("Oct 8, 12:00"), some("2019-10-08T12:00:00+08:00"));
        assert_eq!(pw("Posted Oct. 8th 2:30 PM"), some("2019-10-08T14:30:00+08:00"));
    }

    #[test]
    fn year_less_dates_take_the_hinted_year() {
        let d = parse_with("10-08 12:00", &[], BEIJING, hints(Some(2015))).unwrap();
        assert_eq!(d.to_rfc3339(), "2015-10-08T12:00:00+08:00");
    }

    #[test]
    fn a_year_less_date_after_the_fetch_is_last_year() {
        // Fetched in October: a December date is last December's.
        assert_eq!(pw("12-30 08:00"), some("2018-12-30T08:00:00+08:00"));
        // Within a day ahead is clock skew or a time zone, not last year.
        assert_eq!(pw("10-09 20:00"), some("2019-10-09T20:00:00+08:00"));
    }

    #[test]
    fn a_numeric_month_day_needs_a_time_and_no_year_after_it() {
        assert_eq!(pw("10-08"), None);
        assert_eq!(pw("score 3-1"), None);
        assert_eq!(pw("12/16/2015 10:00"), None);
        assert_eq!(pw("Oct 8, 1890"), None);
    }

    #[test]
    fn relative_chinese_dates() {
        assert_eq!(pw("3小时前"), some("2019-10-09T09:00:00+08:00"));
        assert_eq!(pw("5分钟前"), some("2019-10-09T11:55:00+08:00"));
        assert_eq!(pw("发布于 2天前"), some("2019-10-07T12:00:00+08:00"));
        assert_eq!(pw("刚刚"), some("2019-10-09T12:00:00+08:00"));
        assert_eq!(pw("昨天 08:30"), some("2019-10-08T08:30:00+08:00"));
        assert_eq!(pw("前天 10:00"), some("2019-10-07T10:00:00+08:00"));
        assert_eq!(pw("今天09:15"), some("2019-10-09T09:15:00+08:00"));
        assert_eq!(pw("昨天"), some("2019-10-08T00:00:00+08:00"));
    }

    #[test]
    fn relative_english_dates() {
        assert_eq!(pw("2 hours ago"), some("2019-10-09T10:00:00+08:00"));
        assert_eq!(pw("Updated 5 mins ago"), some("2019-10-09T11:55:00+08:00"));
        assert_eq!(pw("an hour ago"), some("2019-10-09T11:00:00+08:00"));
        assert_eq!(pw("yesterday 08:30"), some("2019-10-08T08:30:00+08:00"));
        assert_eq!(pw("Yesterday at 8:30 AM"), some("2019-10-08T08:30:00+08:00"));
        assert_eq!(pw("Today, 9:15 pm"), some("2019-10-09T21:15:00+08:00"));
        assert_eq!(pw("just now"), some("2019-10-09T12:00:00+08:00"));
    }

    #[test]
    fn relative_days_are_counted_in_the_source_zone() {
        // 02:00 UTC on the 9th is still the 8th in New York (and in Beijing already 10:00 on the 9th).
        let late = Hints {
            fetched: Utc.with_ymd_and_hms(2019, 10, 9, 2, 0, 0).unwrap(),
            year: None,
        };
        let d = parse_with("yesterday 08:30", &[], chrono_tz::America::New_York, late).unwrap();
        assert_eq!(d.to_rfc3339(), "2019-10-07T08:30:00-04:00");
        let d = parse_with("yesterday 08:30", &[], BEIJING, late).unwrap();
        assert_eq!(d.to_rfc3339(), "2019-10-08T08:30:00+08:00");
    }

    #[test]
    fn relative_look_alikes_are_not_dates() {
        for text in ["3小时", "2 hours", "ago", "just", "many hours ago", "5 apples ago"] {
            assert_eq!(pw(text), None, "{text:?}");
        }
    }

    fn path(url: &str) -> Option<String> {
        from_url_path(&Url::parse(url).unwrap(), BEIJING).map(|d| d.to_rfc3339())
    }

    #[test]
    fn url_path_date_folders() {
        let midnight = some("2015-12-16T00:00:00+08:00");
        assert_eq!(path("http://www.wuzhenwic.org/2015-12/16/c_47822.htm"), midnight);
        assert_eq!(
            path("http://www.wicwuzhen.cn/system/2015/12/16/020951986.shtml"),
            midnight
        );
        assert_eq!(path("http://example.com/n1/2015/1216/c1001-27936333.html"), midnight);
        assert_eq!(path("http://example.com/news/201512/16/a.html"), midnight);
        assert_eq!(path("http://example.com/20151216/abc/c.html"), midnight);
        assert_eq!(path("http://example.com/c/2015-12-16/doc-1.shtml"), midnight);
        assert_eq!(path("http://example.com/2015/12/16/"), midnight);
    }

    #[test]
    fn url_path_without_date_folders() {
        assert_eq!(path("http://www.wuzhenwic.org/news/node_12345.htm"), None);
        assert_eq!(path("http://example.com/20151216.html"), None);
        assert_eq!(path("http://example.com/2015/12/"), None);
        assert_eq!(path("http://example.com/2015-13/45/a.htm"), None);
        assert_eq!(path("http://example.com/1899/12/16/a.htm"), None);
        assert_eq!(path("http://example.com/"), None);
    }
}
