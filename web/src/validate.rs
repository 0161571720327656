//! The one check every free-text input goes through at the edge, before storage: no NUL or
//! other control characters (tab and newline only where a field is multi-line) and a maximum
//! length, so both database backends see the same text and refuse nothing themselves.

use crate::error::AppError;
use crate::i18n::{Lang, Msg};

/// Longest one-line name or label (a farm's parlor, field, pesticide, place), in characters.
pub const MAX_NAME: usize = 100;
/// Longest one-line free text (an address, a purpose), in characters.
pub const MAX_LINE: usize = 200;
/// Longest multi-line note, in characters.
pub const MAX_NOTES: usize = 4_000;
/// Longest machine key (a bridge's batch or record key), in characters: far below
/// PostgreSQL's index entry limit of about 2 700 bytes even with 4-byte characters.
pub const MAX_KEY: usize = 200;

/// Whether a field may hold several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: no control characters at all.
    One,
    /// Several lines: tab, line feed and carriage return are allowed.
    Many,
}

/// Refuses `value` with a 422 naming `label` when it holds a control character (NUL among
/// them) that `lines` does not allow, or more than `max_chars` characters.
///
/// # Errors
/// [`AppError::BadInput`] with the reason in `lang`.
pub fn check_text(
    lang: Lang,
    label: &str,
    value: &str,
    max_chars: usize,
    lines: Lines,
) -> Result<(), AppError> {
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\t' | '\n' | '\r');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(AppError::BadInput(format!(
            "{label}: {}",
            Msg::TextControlChars.text(lang)
        )));
    }
    if value.chars().count() > max_chars {
        return Err(AppError::BadInput(format!(
            "{label}: {} {max_chars}",
            Msg::TextTooLong.text(lang)
        )));
    }
    Ok(())
}

/// `value` without control characters and cut to `max_chars`: for names taken from an
/// uploaded file, where refusing the whole file over a stray byte would help nobody.
pub fn clean_text(value: &str, max_chars: usize) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_length() {
        let ok = |v: &str, lines| check_text(Lang::En, "name", v, 5, lines).is_ok();
        assert!(ok("rotor", Lines::One));
        assert!(ok("ロータリ1", Lines::One));
        assert!(!ok("a\0b", Lines::One));
        assert!(!ok("a\0b", Lines::Many));
        assert!(!ok("a\nb", Lines::One));
        assert!(ok("a\nb\tc", Lines::Many));
        assert!(!ok("a\u{1b}b", Lines::Many));
        assert!(!ok("a\u{7f}", Lines::One));
        assert!(!ok("ロータリー12", Lines::One), "6 characters");
        let e = check_text(Lang::Ja, "名前", "x\0", 5, Lines::One).unwrap_err();
        assert!(e.to_string().contains("名前: 制御文字"), "{e}");
        let e = check_text(Lang::En, "key", &"k".repeat(6), 5, Lines::One).unwrap_err();
        assert!(
            e.to_string().contains("key: too long") && e.to_string().ends_with(" 5"),
            "{e}"
        );
    }

    #[test]
    fn cleaning_drops_controls_and_cuts() {
        assert_eq!(clean_text("a\0b\nc", 10), "abc");
        assert_eq!(clean_text("田んぼ一号", 3), "田んぼ");
    }
}
