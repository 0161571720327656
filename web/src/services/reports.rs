//! Regional report figures: report periods (year, season, month in Asia/Tokyo), cells summed
//! from farm months with their derived rates, and the open-data suppression rule.
//!
//! Seasons follow the meteorological convention: 春 March–May, 夏 June–August, 秋
//! September–November, 冬 December and the next January–February (winter 2026 = 2026-12 to
//! 2027-02). Uptime = time the parlors answered ÷ (that time + recorded offline gaps); time in
//! which no bridge ran at all is neither. Average cows per hour = cows ÷ online hours.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::storage::FarmMonth;

/// Cells built from fewer farms than this (but more than none) are suppressed in open data.
pub const MIN_FARMS: usize = 3;

/// A season of the meteorological calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    /// March–May.
    Spring,
    /// June–August.
    Summer,
    /// September–November.
    Autumn,
    /// December and the next January–February.
    Winter,
}

impl Season {
    /// Every season, in calendar order.
    pub const ALL: [Season; 4] = [
        Season::Spring,
        Season::Summer,
        Season::Autumn,
        Season::Winter,
    ];

    /// The query value (`spring`, …).
    pub fn code(self) -> &'static str {
        match self {
            Season::Spring => "spring",
            Season::Summer => "summer",
            Season::Autumn => "autumn",
            Season::Winter => "winter",
        }
    }

    /// Its name with its months.
    pub fn msg(self) -> Msg {
        match self {
            Season::Spring => Msg::SeasonSpring,
            Season::Summer => Msg::SeasonSummer,
            Season::Autumn => Msg::SeasonAutumn,
            Season::Winter => Msg::SeasonWinter,
        }
    }

    fn first_month(self) -> u32 {
        match self {
            Season::Spring => 3,
            Season::Summer => 6,
            Season::Autumn => 9,
            Season::Winter => 12,
        }
    }
}

/// A calendar month of Asia/Tokyo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
}

impl YearMonth {
    /// The month after this one.
    pub fn next(self) -> YearMonth {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// 00:00 JST on the 1st, as a UTC instant (the roll-ups' `month_start`).
    pub fn start(self) -> DateTime<Utc> {
        JST.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// The Asia/Tokyo month containing `t`.
    pub fn of(t: DateTime<Utc>) -> YearMonth {
        let l = t.with_timezone(&JST);
        YearMonth {
            year: l.year(),
            month: l.month(),
        }
    }

    /// `YYYY-MM`.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// January–December of a year.
    Year(i32),
    /// A season of a year (winter runs into the next year).
    Season(i32, Season),
    /// One month.
    Month(YearMonth),
}

impl Period {
    /// Parses the `year` and `period` query values (`year`, a season code, or a month 1–12);
    /// `default_year` when `year` is absent or empty.
    ///
    /// # Errors
    /// A year outside 2000–2100 or an unknown period, as a sentence naming the value.
    pub fn parse(
        year: Option<&str>,
        period: Option<&str>,
        default_year: i32,
    ) -> Result<Period, String> {
        let year = match year.map(str::trim).filter(|s| !s.is_empty()) {
            None => default_year,
            Some(y) => match y.parse::<i32>() {
                Ok(y) if (2000..=2100).contains(&y) => y,
                _ => return Err(format!("year: {y:?} is not a year between 2000 and 2100")),
            },
        };
        let p = period.map(str::trim).unwrap_or("");
        if p.is_empty() || p == "year" {
            return Ok(Period::Year(year));
        }
        if let Some(s) = Season::ALL.iter().find(|s| s.code() == p) {
            return Ok(Period::Season(year, *s));
        }
        match p.parse::<u32>() {
            Ok(m) if (1..=12).contains(&m) => Ok(Period::Month(YearMonth { year, month: m })),
            _ => Err(format!(
                "period: {p:?} is not year, spring, summer, autumn, winter or a month 1–12"
            )),
        }
    }

    /// The year the period is filed under.
    pub fn year(self) -> i32 {
        match self {
            Period::Year(y) | Period::Season(y, _) => y,
            Period::Month(m) => m.year,
        }
    }

    /// The `period` query value.
    pub fn code(self) -> String {
        match self {
            Period::Year(_) => "year".to_owned(),
            Period::Season(_, s) => s.code().to_owned(),
            Period::Month(m) => m.month.to_string(),
        }
    }

    /// The query string selecting this period (`year=…&period=…`).
    pub fn query(self) -> String {
        format!("year={}&period={}", self.year(), self.code())
    }

    /// Its months, in order.
    pub fn months(self) -> Vec<YearMonth> {
        let (first, n) = match self {
            Period::Year(y) => (YearMonth { year: y, month: 1 }, 12),
            Period::Season(y, s) => (
                YearMonth {
                    year: y,
                    month: s.first_month(),
                },
                3,
            ),
            Period::Month(m) => (m, 1),
        };
        std::iter::successors(Some(first), |m| Some(m.next()))
            .take(n)
            .collect()
    }

    /// `[first month start, start of the month after the last)`, UTC instants.
    pub fn range(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let months = self.months();
        let first = months[0];
        let last = months[months.len() - 1];
        (first.start(), last.next().start())
    }

    /// A label such as `2026年 春（3〜5月）` or `2026-05`.
    pub fn label(self, lang: Lang) -> String {
        match self {
            Period::Year(y) => format!("{y} {}", Msg::PeriodYear.text(lang)),
            Period::Season(y, s) => format!("{y} {}", s.msg().text(lang)),
            Period::Month(m) => m.label(),
        }
    }
}

/// Figures summed over farm months (a district × month, a district × period, a farm …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    /// Farms that flew at least one flight.
    pub spray_farms: BTreeSet<i64>,
    /// Farms whose parlors reported anything.
    pub dairy_farms: BTreeSet<i64>,
    /// Flights.
    pub flights: i64,
    /// Sprayed area, m².
    pub area_m2: f64,
    /// Litres applied.
    pub litres: f64,
    /// Cows milked.
    pub cows: f64,
    /// Milk, kg.
    pub milk_kg: f64,
    /// Milking events.
    pub milkings: i64,
    /// Seconds online.
    pub online_s: f64,
    /// Seconds of offline gaps.
    pub offline_s: f64,
    /// Alerts.
    pub alerts: i64,
}

impl Cell {
    /// Adds one farm month.
    pub fn add(&mut self, m: &FarmMonth) {
        if m.flights > 0 {
            self.spray_farms.insert(m.farm_id);
        }
        if m.milkings > 0 || m.cows > 0.0 || m.online_s > 0.0 || m.offline_s > 0.0 {
            self.dairy_farms.insert(m.farm_id);
        }
        self.flights += m.flights;
        self.area_m2 += m.area_m2;
        self.litres += m.litres;
        self.cows += m.cows;
        self.milk_kg += m.milk_kg;
        self.milkings += m.milkings;
        self.online_s += m.online_s;
        self.offline_s += m.offline_s;
        self.alerts += m.alerts;
    }

    /// A cell summing `months`.
    pub fn of<'a>(months: impl IntoIterator<Item = &'a FarmMonth>) -> Cell {
        let mut c = Cell::default();
        for m in months {
            c.add(m);
        }
        c
    }

    /// Sprayed hectares.
    pub fn sprayed_ha(&self) -> f64 {
        self.area_m2 / 10_000.0
    }

    /// Cows per online hour; `None` without online time.
    pub fn cows_per_hour(&self) -> Option<f64> {
        (self.online_s > 0.0).then(|| self.cows / (self.online_s / 3600.0))
    }

    /// Online share of online + offline time, percent; `None` when neither was recorded.
    pub fn uptime_pct(&self) -> Option<f64> {
        let expected = self.online_s + self.offline_s;
        (expected > 0.0).then(|| 100.0 * self.online_s / expected)
    }

    /// True when the spray figures come from 1 or 2 farms (open data hides them).
    pub fn spray_suppressed(&self) -> bool {
        suppressed(self.spray_farms.len())
    }

    /// True when the dairy figures come from 1 or 2 farms (open data hides them).
    pub fn dairy_suppressed(&self) -> bool {
        suppressed(self.dairy_farms.len())
    }
}

/// True when a cell of `farms` farms must not be published: 1 or 2 farms (0 farms reveals nothing).
pub fn suppressed(farms: usize) -> bool {
    farms > 0 && farms < MIN_FARMS
}

/// A month's short name for choosers (`5月`, `May`).
pub fn month_name(lang: Lang, month: u32) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match lang {
        Lang::Ja => format!("{month}月"),
        Lang::En => EN
            .get(month.wrapping_sub(1) as usize)
            .copied()
            .unwrap_or("?")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_cover_their_months() {
        assert_eq!(Period::parse(None, None, 2026), Ok(Period::Year(2026)));
        let w = Period::parse(Some("2026"), Some("winter"), 2000).unwrap();
        assert_eq!(
            w.months().iter().map(|m| m.label()).collect::<Vec<_>>(),
            ["2026-12", "2027-01", "2027-02"]
        );
        let (from, to) = w.range();
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2027, 2, 28, 15, 0, 0).unwrap());
        let m = Period::parse(Some("2025"), Some("5"), 2026).unwrap();
        assert_eq!(m.months().len(), 1);
        assert_eq!(m.query(), "year=2025&period=5");
        assert_eq!(Period::Year(2026).months().len(), 12);
        assert!(Period::parse(Some("20x6"), None, 2026).is_err());
        assert!(Period::parse(Some("1999"), None, 2026).is_err());
        assert!(Period::parse(None, Some("13"), 2026).is_err());
        assert!(Period::parse(None, Some("monsoon"), 2026).is_err());
    }

    #[test]
    fn month_of_an_instant_is_the_tokyo_month() {
        // 2026-04-30 15:00 UTC is already 1 May in Tokyo.
        let t = Utc.with_ymd_and_hms(2026, 4, 30, 15, 0, 0).unwrap();
        assert_eq!(
            YearMonth::of(t),
            YearMonth {
                year: 2026,
                month: 5
            }
        );
        assert_eq!(YearMonth::of(t).start(), t);
        assert_eq!(
            crate::storage::jst_month_start(t + chrono::Duration::days(3)),
            t
        );
    }

    #[test]
    fn suppression_threshold() {
        assert!(!suppressed(0));
        assert!(suppressed(1));
        assert!(suppressed(2));
        assert!(!suppressed(3));
    }

    #[test]
    fn rates_are_none_without_time() {
        let c = Cell::default();
        assert_eq!(c.cows_per_hour(), None);
        assert_eq!(c.uptime_pct(), None);
        let c = Cell::of(&[FarmMonth {
            farm_id: 1,
            cows: 300.0,
            online_s: 7200.0,
            offline_s: 1800.0,
            ..FarmMonth::default()
        }]);
        assert_eq!(c.cows_per_hour(), Some(150.0));
        assert_eq!(c.uptime_pct(), Some(80.0));
        assert_eq!(c.dairy_farms.len(), 1);
        assert!(c.spray_farms.is_empty());
    }
}
