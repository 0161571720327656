//! Stored codes as people say them: land types, autopilots and the vehicle's message
//! severities, each in Japanese and English. A code we do not know is shown as it was given
//! (it came from the person's own file), never dropped.

use super::Lang;

fn pick(lang: Lang, (ja, en): (&'static str, &'static str)) -> &'static str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// The land type of a field as MAFF's fude polygons give it (`land_type` 田/畑, the codes
/// 100/200, or `land_type_en` `rice_field`/`field`), or `None` for a type we do not know.
pub fn land_type_name(lang: Lang, code: &str) -> Option<&'static str> {
    let names = match code.trim() {
        "rice_field" | "paddy" | "田" | "100" => ("田", "Paddy field"),
        "field" | "upland" | "upland_field" | "畑" | "200" => ("畑", "Upland field"),
        "orchard" | "樹園地" => ("樹園地", "Orchard"),
        "pasture" | "grassland" | "牧草地" => ("牧草地", "Pasture"),
        _ => return None,
    };
    Some(pick(lang, names))
}

/// The land type to show: its name, or the code as the file gave it.
pub fn land_type_or_code(lang: Lang, code: &str) -> String {
    land_type_name(lang, code)
        .map(str::to_owned)
        .unwrap_or_else(|| code.to_owned())
}

/// The autopilot family of a vehicle or plan (`ardupilot`, `px4`), as its makers write it.
pub fn autopilot_name(code: &str) -> &str {
    match code {
        "ardupilot" => "ArduPilot",
        "px4" => "PX4",
        "generic" => "MAVLink",
        other => other,
    }
}

/// A MAVLink severity (`CRITICAL`, `WARNING`, … as the telemetry crate names it).
pub fn severity_name(lang: Lang, severity: &str) -> &'static str {
    pick(
        lang,
        match severity.trim().to_ascii_uppercase().as_str() {
            "EMERGENCY" => ("緊急", "Emergency"),
            "ALERT" => ("警報", "Alert"),
            "CRITICAL" => ("重大", "Critical"),
            "ERROR" => ("エラー", "Error"),
            "WARNING" => ("警告", "Warning"),
            "NOTICE" => ("注意", "Notice"),
            "INFO" => ("情報", "Info"),
            "DEBUG" => ("デバッグ", "Debug"),
            _ => ("メッセージ", "Message"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maff_land_types_are_named_in_both_languages() {
        for (code, ja, en) in [
            ("rice_field", "田", "Paddy field"),
            ("田", "田", "Paddy field"),
            ("100", "田", "Paddy field"),
            ("field", "畑", "Upland field"),
            ("200", "畑", "Upland field"),
        ] {
            assert_eq!(land_type_name(Lang::Ja, code), Some(ja), "{code}");
            assert_eq!(land_type_name(Lang::En, code), Some(en), "{code}");
        }
        assert_eq!(land_type_or_code(Lang::Ja, "棚田"), "棚田");
        assert_eq!(severity_name(Lang::Ja, "CRITICAL"), "重大");
        assert_eq!(autopilot_name("px4"), "PX4");
    }
}
