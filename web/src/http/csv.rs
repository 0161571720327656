//! The one CSV writer of every export (spray records, logbooks, reports, open data): RFC 4180
//! quoting, a UTF-8 BOM and CRLF line ends, and formula injection neutralised in text cells.
//!
//! A spreadsheet opening a CSV runs any cell that starts with `=`, `+`, `-`, `@`, tab or
//! carriage return as a formula (OWASP "CSV Injection"). Text a person typed (a note, a place,
//! a pilot's name) is therefore written with a leading `'` when it starts with one of those,
//! also after leading spaces, which spreadsheets skip. Figures the server formats from numbers
//! are written as they are, so a genuinely negative value stays a number.

use std::borrow::Cow;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One CSV cell, typed by what wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum CsvCell {
    /// Text from people or the database: neutralised when it could run as a formula.
    Text(String),
    /// A figure the server formatted from a number (or a fixed marker such as `-`): as is.
    Figure(String),
}

impl CsvCell {
    /// The cell's own value, for showing it outside a CSV (an HTML table).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text(s) | Self::Figure(s) => s,
        }
    }

    /// The value written to the CSV, before quoting.
    pub fn written(&self) -> Cow<'_, str> {
        match self {
            Self::Text(s) => neutralise(s),
            Self::Figure(s) => Cow::Borrowed(s),
        }
    }
}

impl From<String> for CsvCell {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&str> for CsvCell {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

/// `s` with a leading `'` when a spreadsheet would run it as a formula: its first character,
/// or its first after spaces, is `=`, `+`, `-`, `@`, tab or carriage return.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    let first = s.trim_start_matches([' ', '\u{3000}']).chars().next();
    if matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// One field, quoted when it holds a comma, quote or line break (RFC 4180).
fn field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// `header` and `rows` as a CSV document: UTF-8 with a BOM (so spreadsheet software reads the
/// Japanese right), CRLF line ends, text cells neutralised.
pub fn document<'a>(
    header: impl IntoIterator<Item = &'a str>,
    rows: impl IntoIterator<Item = Vec<CsvCell>>,
) -> String {
    let mut out = String::from("\u{feff}");
    let header: Vec<CsvCell> = header.into_iter().map(CsvCell::from).collect();
    for r in std::iter::once(header).chain(rows) {
        let line: Vec<String> = r.iter().map(|c| field(&c.written()).into_owned()).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A CSV download response named `filename`.
pub fn response(filename: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_get_a_quote_and_the_rest_stays() {
        for hostile in [
            "=HYPERLINK(\"http://x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "  =1+1",
            "\u{3000}@x",
        ] {
            assert_eq!(neutralise(hostile), format!("'{hostile}"), "{hostile:?}");
        }
        for fine in ["田中", "a=b", "1-2", "", "'already", "x@y.jp", "3.5"] {
            assert_eq!(neutralise(fine), fine);
        }
        assert_eq!(CsvCell::Figure("-3.5".into()).written(), "-3.5");
        assert_eq!(CsvCell::Text("-3.5".into()).written(), "'-3.5");
    }

    #[test]
    fn documents_quote_after_neutralising() {
        let doc = document(
            ["a", "b"],
            [vec![
                CsvCell::Text("=1,2".into()),
                CsvCell::Figure("-1".into()),
            ]],
        );
        assert_eq!(doc, "\u{feff}a,b\r\n\"'=1,2\",-1\r\n");
    }
}
