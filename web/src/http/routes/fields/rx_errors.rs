//! What a refused prescription map says to the person, in their language: each
//! [`PrescriptionError`] as a sentence saying what to fix, with the file's own details (the
//! columns it has, the zone and value at fault).

use mission_planner::PrescriptionError;

use super::*;

/// Text from a file, cleaned of control characters and cut short for a message.
fn shown(s: &str) -> String {
    clean_text(s, 200)
}

/// What is wrong with a prescription and how to fix it, in `lang`; an error without its own
/// sentence keeps the planner's (English) wording.
pub(super) fn rx_error_text(e: &PrescriptionError, lang: Lang) -> String {
    use PrescriptionError as E;
    let ja = lang == Lang::Ja;
    match e {
        E::UnknownFormat => if ja {
            "処方マップとして読めないファイルです。GeoJSON、Shapefile (.shp と .dbf を zip にまとめたもの)、GeoTIFF、ISOXML TASKDATA に対応しています。"
        } else {
            "This file is not a prescription map: give GeoJSON, a Shapefile (.shp with its .dbf, zipped), a GeoTIFF or ISOXML TASKDATA."
        }
        .to_owned(),
        E::Malformed { format, message } => if ja {
            format!("処方マップ ({format}) を読み取れませんでした: {}", shown(message))
        } else {
            format!("The prescription map ({format}) could not be read: {}", shown(message))
        },
        E::NoSuchColumn { column, available } => if ja {
            format!(
                "散布量の列「{}」がファイルにありません。ファイルの列: {}",
                shown(column),
                shown(available)
            )
        } else {
            format!(
                "The rate column \"{}\" is not in the file. Its columns are: {}",
                shown(column),
                shown(available)
            )
        },
        E::ColumnNeeded { available } => if ja {
            format!("散布量の列名を入力してください。ファイルの列: {}", shown(available))
        } else {
            format!("Enter the rate column. The file's columns are: {}", shown(available))
        },
        E::BadRate {
            zone,
            value,
            max,
            unit,
        } => if ja {
            format!(
                "ゾーン「{}」の散布量 {} は 0〜{} {unit} の数値ではありません。",
                shown(zone),
                shown(value),
                short_num(*max)
            )
        } else {
            format!(
                "Zone \"{}\": the rate {} is not a number from 0 to {} {unit}.",
                shown(zone),
                shown(value),
                short_num(*max)
            )
        },
        E::UnknownUnit { .. } => crate::i18n::rx::RxMsg::BadUnit.text(lang).to_owned(),
        E::BadGap { .. } => crate::i18n::rx::RxMsg::BadGapRate.text(lang).to_owned(),
        E::UnitMismatch { found, chosen } => if ja {
            format!("ファイルの散布量は {found} で、{chosen} としては使えません。単位を選び直してください。")
        } else {
            format!("The file gives rates as {found}, which cannot be used as {chosen}: choose another unit.")
        },
        E::UnsupportedCrs { crs } => if ja {
            format!(
                "処方マップの座標系 ({}) は読めません。WGS84 (EPSG:4326) か JGD2011 (EPSG:6668) の経緯度で書き出してください。",
                shown(crs)
            )
        } else {
            format!(
                "The prescription map's coordinate system ({}) cannot be read: export it as WGS84 (EPSG:4326) or JGD2011 (EPSG:6668) longitude/latitude.",
                shown(crs)
            )
        },
        E::UnsupportedRaster { what } => if ja {
            format!(
                "GeoTIFF が読めない形です ({})。北を上にし、基準点と画素サイズを付けて書き出してください。",
                shown(what)
            )
        } else {
            format!(
                "The GeoTIFF is {}: export it north-up with a tie point and pixel scale.",
                shown(what)
            )
        },
        E::TooLarge { what, limit } => if ja {
            format!("処方マップが大きすぎます ({what} の上限 {limit})。")
        } else {
            format!("The prescription map is too large (at most {limit} {what}).")
        },
        E::NoZones => if ja {
            "処方マップにゾーンの面がありません。"
        } else {
            "The prescription map holds no zone polygon."
        }
        .to_owned(),
        E::NoOverlap => if ja {
            "処方マップのどのゾーンもこのほ場に重なりません。このほ場の処方マップか確かめてください。"
        } else {
            "No zone of the prescription map lies on this field: is it the map for this field?"
        }
        .to_owned(),
        E::Zip { message } => if ja {
            format!(
                "zip を展開できません (壊れているか、展開後の大きさ・圧縮率が上限を超えています): {}",
                shown(message)
            )
        } else {
            format!(
                "The zip archive was refused (damaged, or it inflates beyond the limits): {}",
                shown(message)
            )
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prescription_errors_speak_the_persons_language() {
        let e = PrescriptionError::NoSuchColumn {
            column: "DOSE\u{0}".into(),
            available: "RATE, name".into(),
        };
        let ja = rx_error_text(&e, Lang::Ja);
        assert!(ja.contains("ファイルの列: RATE, name"), "{ja}");
        assert!(!ja.contains('\u{0}'), "control characters are not echoed");
        let en = rx_error_text(&e, Lang::En);
        assert!(en.contains("Its columns are: RATE, name"), "{en}");
        for e in [
            PrescriptionError::UnknownFormat,
            PrescriptionError::NoOverlap,
            PrescriptionError::NoZones,
        ] {
            assert_ne!(rx_error_text(&e, Lang::Ja), rx_error_text(&e, Lang::En));
        }
    }
}
