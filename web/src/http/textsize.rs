//! The reader's text size: a `textsize` cookie of the browser (not of the session, so it
//! survives signing out), read once per request and applied by the layout as a class on
//! `<html>` that scales the root font size; every length of the stylesheet is in rem/em.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// Name of the text-size cookie.
pub const TEXT_SIZE_COOKIE: &str = "textsize";

/// A text size a person can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextSize {
    /// The stylesheet's own size.
    #[default]
    Normal,
    /// About a quarter larger.
    Large,
    /// About a half larger.
    Larger,
}

impl TextSize {
    /// Every size, smallest first.
    pub const ALL: [TextSize; 3] = [TextSize::Normal, TextSize::Large, TextSize::Larger];

    /// The cookie and form value (`normal`, `large`, `larger`).
    pub fn tag(self) -> &'static str {
        match self {
            TextSize::Normal => "normal",
            TextSize::Large => "large",
            TextSize::Larger => "larger",
        }
    }

    /// Parses a cookie or form value.
    pub fn parse(s: &str) -> Option<TextSize> {
        TextSize::ALL.into_iter().find(|t| t.tag() == s)
    }

    /// The class on `<html>`, none for the normal size.
    pub fn class(self) -> Option<&'static str> {
        match self {
            TextSize::Normal => None,
            TextSize::Large => Some("text-large"),
            TextSize::Larger => Some("text-larger"),
        }
    }

    /// The size a request asks for (its cookie; anything unknown is normal).
    pub fn of(headers: &axum::http::HeaderMap) -> TextSize {
        CookieJar::from_headers(headers)
            .get(TEXT_SIZE_COOKIE)
            .and_then(|c| TextSize::parse(c.value()))
            .unwrap_or_default()
    }

    /// The cookie that keeps this size for a year, whoever signs in.
    pub fn cookie(self, secure: bool) -> Cookie<'static> {
        Cookie::build((TEXT_SIZE_COOKIE, self.tag()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .max_age(time::Duration::days(365))
            .build()
    }
}

tokio::task_local! {
    /// The text size of the request being answered, for [`current`].
    static TEXT_SIZE: TextSize;
}

/// Middleware: answers the request with its text size available to [`current`], so every
/// page (error pages included) is laid out at the size the reader chose.
pub async fn scope(req: Request, next: Next) -> Response {
    let size = TextSize::of(req.headers());
    TEXT_SIZE.scope(size, next.run(req)).await
}

/// The text size of the request being answered (normal outside a request).
pub fn current() -> TextSize {
    TEXT_SIZE.try_with(|s| *s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip_and_unknown_is_normal() {
        for t in TextSize::ALL {
            assert_eq!(TextSize::parse(t.tag()), Some(t));
        }
        assert_eq!(TextSize::parse("huge"), None);
        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", "textsize=larger; lang=en".parse().unwrap());
        assert_eq!(TextSize::of(&h), TextSize::Larger);
        h.insert("cookie", "textsize=%00".parse().unwrap());
        assert_eq!(TextSize::of(&h), TextSize::Normal);
    }
}
