//! What a refused field or plan says to the person: each `mission_planner` error as a sentence
//! naming the feature, ring and vertex it is about.

use super::*;

/// A number as people read it: plain when of everyday size, else scientific (`1e308`).
pub(super) fn short_num(v: f64) -> String {
    if v == 0.0 || (v.is_finite() && (1e-3..1e9).contains(&v.abs())) {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else if v.is_finite() {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        }
    } else {
        v.to_string()
    }
}

/// Where in the file a defect is, in the person's language: the feature, then the ring and
/// vertex when known.
pub(super) fn place(
    lang: Lang,
    f: &mission_planner::FeatureRef,
    ring: Option<mission_planner::Ring>,
    vertex: Option<usize>,
) -> String {
    use mission_planner::Ring as R;
    let mut s = format!("{} #{}", Msg::FeatureWord.text(lang), f.index);
    if let Some(id) = &f.id {
        s.push_str(&format!(" (id {:?})", clean_text(id, MAX_NAME)));
    }
    match ring {
        Some(R::Exterior) => s.push_str(&format!(", {}", Msg::ExteriorRing.text(lang))),
        Some(R::Interior(i)) => s.push_str(&format!(", {} {i}", Msg::InteriorRing.text(lang))),
        _ => {}
    }
    if let Some(v) = vertex {
        s.push_str(&format!(", {} {v}", Msg::VertexWord.text(lang)));
    }
    s
}

/// What is wrong with a file, a field or the plan options and how to fix it, in the person's
/// language; errors without their own sentence keep the planner's (English) wording.
pub(super) fn plan_error_text(e: &mission_planner::PlanError, lang: Lang) -> String {
    use mission_planner::{KmzLimit as K, PlanError as E};
    let ring_name = |r: mission_planner::Ring| match r {
        mission_planner::Ring::Exterior => Msg::ExteriorRing.text(lang).to_owned(),
        mission_planner::Ring::Interior(i) => format!("{} {i}", Msg::InteriorRing.text(lang)),
    };
    match e {
        E::TooDeep { limit, .. } => format!("{} {limit}", Msg::ImportTooDeep.text(lang)),
        E::KmzLimit {
            limit: K::Entries(n),
        } => format!("{} {n}", Msg::KmzTooManyEntries.text(lang)),
        E::KmzLimit {
            limit: K::Inflated(n),
        } => format!("{} {}", Msg::KmzTooLarge.text(lang), n >> 20),
        E::KmzLimit { limit: K::Ratio(r) } => format!("{} {r}", Msg::KmzBadRatio.text(lang)),
        E::TooManyVertices {
            feature,
            ring,
            n_vertices,
            limit,
            simplified,
        } => format!(
            "{}: {} {n_vertices}{} / {limit}",
            place(lang, feature, Some(*ring), None),
            Msg::FieldTooManyVertices.text(lang),
            if *simplified {
                Msg::AfterThinning.text(lang)
            } else {
                ""
            }
        ),
        E::TooManyPolygonVertices {
            feature,
            n_vertices,
            limit,
        } => format!(
            "{}: {} {n_vertices} / {limit}",
            place(lang, feature, None, None),
            Msg::FieldTooManyVertices.text(lang)
        ),
        E::TooManyHoles {
            feature,
            n_holes,
            limit,
        } => format!(
            "{}: {} {n_holes} / {limit}",
            place(lang, feature, None, None),
            Msg::FieldTooManyHoles.text(lang)
        ),
        E::TooManyZones {
            feature,
            n_zones,
            limit,
        } => format!(
            "{}: {} {n_zones} / {limit}",
            place(lang, feature, None, None),
            Msg::FieldTooManyZones.text(lang)
        ),
        E::TooManyFileVertices { n_vertices, limit } => format!(
            "{} {n_vertices} / {limit}",
            Msg::FileTooManyVertices.text(lang)
        ),
        E::TooManyFileFeatures { n_features, limit } => format!(
            "{} {n_features} / {limit}",
            Msg::FileTooManyFeatures.text(lang)
        ),
        E::CrossesAntimeridian {
            feature,
            ring,
            vertex,
        } => format!(
            "{}: {}",
            place(lang, feature, Some(*ring), Some(*vertex)),
            Msg::CrossesAntimeridian.text(lang)
        ),
        E::SelfIntersection {
            feature,
            ring_a,
            vertex_a,
            ring_b,
            vertex_b,
        } => {
            let v = Msg::VertexWord.text(lang);
            format!(
                "{}: {} {} {v} {vertex_a} — {} {v} {vertex_b}",
                place(lang, feature, None, None),
                Msg::SelfIntersection.text(lang),
                ring_name(*ring_a),
                ring_name(*ring_b),
            )
        }
        E::ZeroArea { feature, area_m2 } => format!(
            "{}: {} {}",
            place(lang, feature, None, None),
            Msg::ZeroAreaField.text(lang),
            short_num(*area_m2)
        ),
        E::TooLarge {
            feature,
            area_ha,
            limit_ha,
        } => format!(
            "{}: {} {} / {}",
            place(lang, feature, None, None),
            Msg::FieldTooLargeHa.text(lang),
            short_num(*area_ha),
            short_num(*limit_ha)
        ),
        E::OutOfRange {
            feature,
            ring,
            vertex,
            lon,
            lat,
            swapped,
        } => format!(
            "{}: {} ({}, {}){}",
            place(lang, feature, Some(*ring), Some(*vertex)),
            Msg::CoordOutOfRange.text(lang),
            short_num(*lon),
            short_num(*lat),
            if *swapped {
                format!(" {}", Msg::CoordSwapped.text(lang))
            } else {
                String::new()
            }
        ),
        E::NonFiniteCoord {
            feature,
            ring,
            vertex,
        } => format!(
            "{}: {}",
            place(lang, feature, Some(*ring), Some(*vertex)),
            Msg::CoordNotFinite.text(lang)
        ),
        E::TooFewPoints {
            feature,
            ring,
            n_distinct,
        } => format!(
            "{}: {} {n_distinct}",
            place(lang, feature, Some(*ring), None),
            Msg::TooFewPointsField.text(lang)
        ),
        E::UnsupportedGeometry { feature, kind } => format!(
            "{}: {} {kind}",
            place(lang, feature, None, None),
            Msg::UnsupportedShape.text(lang)
        ),
        E::InvalidValue {
            quantity,
            value,
            expected,
        } => {
            let name = quantity_label(quantity)
                .map(|m| m.text(lang))
                .or_else(|| crate::i18n::rx::quantity_label(quantity).map(|m| m.text(lang)))
                .or_else(|| crate::i18n::plan_form::quantity_label(quantity).map(|m| m.text(lang)))
                .map_or((*quantity).to_owned(), str::to_owned);
            format!(
                "{} {name} = {} ({})",
                Msg::SettingOutOfRange.text(lang),
                short_num(*value),
                expected_text(expected, lang)
            )
        }
        E::NothingToSpray { .. } => Msg::NothingLeftToSpray.text(lang).to_owned(),
        E::Deadline { .. } => Msg::PlannerDeadline.text(lang).to_owned(),
        E::Prescription { source, .. } => super::rx_errors::rx_error_text(source, lang),
        E::Dem { .. }
        | E::DemTooLarge { .. }
        | E::TerrainMissing { .. }
        | E::AboveLegalHeight { .. } => crate::services::terrain::dem_error_text(e, lang),
        other => other.to_string(),
    }
}

/// The plan form's label of a setting the planner's own check refused, by the planner's name
/// for it; `None` for settings the form does not take.
fn quantity_label(quantity: &str) -> Option<Msg> {
    Some(match quantity {
        "swath width (m)" => Msg::SwathWidth,
        "rate (L/10a)" => Msg::RateL10a,
        "tank (L)" => Msg::TankL,
        "spray speed (m/s)" => Msg::SpeedMps,
        "spray height (m)" => Msg::HeightM,
        "headland passes" => Msg::HeadlandPasses,
        "endurance (s)" => Msg::EnduranceMin,
        "drift buffer (m)" => Msg::DriftBufferM,
        "fence margin (m)" => Msg::FenceMarginM,
        "fence points" => Msg::FencePointsMax,
        _ => return None,
    })
}

/// The planner's "expected" phrase (`at least 3`, `a finite number in [0.5, 50]`, `0 to 20`)
/// in the user's language; a phrase of another shape is shown as the planner wrote it.
pub(super) fn expected_text(expected: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return expected.to_owned();
    }
    let range = |inner: &str| {
        inner
            .split_once(", ")
            .or_else(|| inner.split_once(" to "))
            .map(|(a, b)| format!("{}〜{}", a.trim(), b.trim()))
    };
    if let Some(r) = expected
        .strip_prefix("a finite number in [")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(range)
    {
        return format!("{r} の数値");
    }
    if let Some(r) = expected
        .strip_prefix("a fraction in [")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(range)
    {
        return format!("{r} の割合");
    }
    if let Some(v) = expected.strip_prefix("at least ") {
        return format!("{v} 以上");
    }
    if let Some(v) = expected.strip_prefix("at most ") {
        return format!("{v} 以下");
    }
    if let Some(r) = range(expected).filter(|_| expected.contains(" to ")) {
        return r;
    }
    expected.to_owned()
}
