use super::*;
use std::path::Path;

use geo::{Coord, Geometry, LineString, Point, Polygon};
use mission_planner::LocalFrame;
use proptest::prelude::*;

/// A square of `side_m` metres with its south-west corner `east_m` east of (140, 36.9).
fn square(east_m: f64, side_m: f64) -> Polygon {
    let f = LocalFrame::new(140.0, 36.9);
    let c = |x: f64, y: f64| f.to_wgs84(Coord { x, y });
    Polygon::new(
        LineString::new(vec![
            c(east_m, 0.0),
            c(east_m + side_m, 0.0),
            c(east_m + side_m, side_m),
            c(east_m, side_m),
            c(east_m, 0.0),
        ]),
        vec![],
    )
}

fn good() -> GoNoGoInputs {
    let today = NaiveDate::from_ymd_opt(2026, 6, 1);
    let later = NaiveDate::from_ymd_opt(2027, 6, 1);
    GoNoGoInputs {
        today,
        wind_mps: Some(2.0),
        wind_source: "entered".into(),
        height_above_crop_m: Some(2.0),
        neighbours_notified: false,
        airspace_approval: String::new(),
        licence_expiry: later,
        permit_expiry: later,
        registration_expiry: later,
        site: Site {
            fields: vec![square(0.0, 100.0)],
            path: vec![],
            sensitive_zones: 0,
        },
    }
}

fn outcome(cfg: &GoNoGoConfig, i: &GoNoGoInputs, id: &str) -> Outcome {
    evaluate(cfg, i)
        .into_iter()
        .find(|c| c.id == id)
        .unwrap()
        .outcome
}

#[test]
fn all_good_passes_every_check() {
    let checks = evaluate(&GoNoGoConfig::default(), &good());
    assert_eq!(checks.len(), 10);
    for c in &checks {
        assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
        assert!(!c.detail(Lang::Ja).is_empty() && !c.detail(Lang::En).is_empty());
    }
    assert!(!blocked(&checks) && !has_warnings(&checks));
}

#[test]
fn wind_above_limit_or_missing_blocks() {
    let cfg = GoNoGoConfig::default();
    let mut i = good();
    i.wind_mps = Some(3.0);
    assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Pass);
    i.wind_mps = Some(3.1);
    assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Block);
    i.wind_mps = None;
    assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Block);
    i.wind_mps = Some(f64::NAN);
    assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Block);
    let lax = GoNoGoConfig {
        max_wind_mps: 5.0,
        ..GoNoGoConfig::default()
    };
    i.wind_mps = Some(4.0);
    assert_eq!(outcome(&lax, &i, "wind"), Outcome::Pass);
}

#[test]
fn height_above_limit_blocks() {
    let cfg = GoNoGoConfig::default();
    let mut i = good();
    i.height_above_crop_m = Some(3.5);
    assert_eq!(outcome(&cfg, &i, "height"), Outcome::Block);
    i.height_above_crop_m = None;
    assert_eq!(outcome(&cfg, &i, "height"), Outcome::Block);
}

#[test]
fn houses_inside_the_zone_are_flagged() {
    let f = LocalFrame::new(140.0, 36.9);
    let house = |x: f64| Geometry::Point(Point(f.to_wgs84(Coord { x, y: 50.0 })));
    let mut cfg = GoNoGoConfig::default();
    cfg.layers.houses_roads = vec![house(145.0)];
    assert_eq!(outcome(&cfg, &good(), "approval_zone"), Outcome::Pass);
    cfg.layers.houses_roads = vec![house(145.0), house(120.0)];
    let c = evaluate(&cfg, &good());
    let z = c.iter().find(|c| c.id == "approval_zone").unwrap();
    assert_eq!(z.outcome, Outcome::Warn);
    assert!(
        z.detail_en.contains("1 houses") && z.detail_en.contains("nearest 20 m"),
        "{z:?}"
    );
}

#[test]
fn did_and_airport_block_without_approval() {
    for id in ["did", "airport"] {
        let mut cfg = GoNoGoConfig::default();
        let zone = vec![square(80.0, 100.0)];
        let far = vec![square(500.0, 100.0)];
        if id == "did" {
            cfg.layers.did = far;
        } else {
            cfg.layers.airports = far;
        }
        let mut i = good();
        assert_eq!(outcome(&cfg, &i, id), Outcome::Pass);
        if id == "did" {
            cfg.layers.did = zone;
        } else {
            cfg.layers.airports = zone;
        }
        assert_eq!(outcome(&cfg, &i, id), Outcome::Block);
        i.airspace_approval = "国空航第1234号".into();
        assert_eq!(outcome(&cfg, &i, id), Outcome::Warn);
    }
}

#[test]
fn expired_or_missing_credentials_block_and_soon_warns() {
    let cfg = GoNoGoConfig::default();
    for id in ["licence", "permit", "registration"] {
        let set = |i: &mut GoNoGoInputs, d: Option<NaiveDate>| match id {
            "licence" => i.licence_expiry = d,
            "permit" => i.permit_expiry = d,
            _ => i.registration_expiry = d,
        };
        let mut i = good();
        set(&mut i, NaiveDate::from_ymd_opt(2026, 5, 31));
        assert_eq!(outcome(&cfg, &i, id), Outcome::Block, "{id} expired");
        set(&mut i, None);
        assert_eq!(outcome(&cfg, &i, id), Outcome::Block, "{id} missing");
        set(&mut i, NaiveDate::from_ymd_opt(2026, 6, 20));
        assert_eq!(outcome(&cfg, &i, id), Outcome::Warn, "{id} soon");
        set(&mut i, NaiveDate::from_ymd_opt(2026, 6, 1));
        assert_eq!(outcome(&cfg, &i, id), Outcome::Warn, "{id} today");
    }
}

#[test]
fn sensitive_zones_need_a_notice() {
    let cfg = GoNoGoConfig::default();
    let mut i = good();
    i.site.sensitive_zones = 2;
    assert_eq!(outcome(&cfg, &i, "neighbours"), Outcome::Block);
    i.neighbours_notified = true;
    assert_eq!(outcome(&cfg, &i, "neighbours"), Outcome::Pass);
}

#[test]
fn fields_apart_must_fly_separately() {
    let cfg = GoNoGoConfig::default();
    let mut i = good();
    // 5 m apart: one area; 40 m apart: land and carry.
    i.site.fields = vec![square(0.0, 100.0), square(105.0, 50.0)];
    assert_eq!(outcome(&cfg, &i, "separate_fields"), Outcome::Pass);
    i.site.fields = vec![square(0.0, 100.0), square(105.0, 50.0), square(195.0, 50.0)];
    let c = evaluate(&cfg, &i);
    let s = c.iter().find(|c| c.id == "separate_fields").unwrap();
    assert_eq!(s.outcome, Outcome::Block);
    assert!(s.detail_en.contains("40 m apart"), "{s:?}");
}

#[test]
fn config_from_toml_with_layers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("did.geojson"),
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
        "geometry":{"type":"Polygon","coordinates":[[[140,36.9],[140.01,36.9],[140.01,36.91],[140,36.9]]]}}]}"#,
    )
    .unwrap();
    let p = dir.path().join("gonogo.toml");
    std::fs::write(&p, "max_wind_mps = 2.5\ndid_geojson = \"did.geojson\"\n").unwrap();
    let cfg = GoNoGoConfig::load(&p).unwrap();
    assert_eq!(cfg.max_wind_mps, 2.5);
    assert_eq!(cfg.approval_zone_m, 30.0);
    assert_eq!(cfg.layers.did.len(), 1);
    std::fs::write(&p, "max_wind = 2.5\n").unwrap();
    assert!(matches!(
        GoNoGoConfig::load(&p),
        Err(GoNoGoError::Toml { .. })
    ));
    let station = serde_json::json!({"wind_mps": 1.2});
    assert_eq!(cfg.wind_from_station(&station), Some(1.2));
    assert_eq!(cfg.wind_from_station(&serde_json::json!({})), None);
}

#[test]
fn the_sample_config_is_the_defaults() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/gonogo.toml");
    let cfg = GoNoGoConfig::load(&p).unwrap();
    let d = GoNoGoConfig::default();
    assert_eq!(
        (
            cfg.max_wind_mps,
            cfg.wind_height_m,
            cfg.max_height_above_crop_m
        ),
        (d.max_wind_mps, d.wind_height_m, d.max_height_above_crop_m)
    );
    assert_eq!(
        (
            cfg.approval_zone_m,
            cfg.max_field_gap_m,
            cfg.expiry_warn_days
        ),
        (d.approval_zone_m, d.max_field_gap_m, d.expiry_warn_days)
    );
    assert_eq!(cfg.weather_wind_pointer, d.weather_wind_pointer);
}

#[test]
fn site_from_stored_geojson() {
    let field = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "field"}, "geometry":
            {"type": "Polygon", "coordinates": [[[140.0, 36.9], [140.001, 36.9], [140.001, 36.901], [140.0, 36.9]]]}},
        {"type": "Feature", "properties": {"kind": "sensitive"}, "geometry":
            {"type": "Polygon", "coordinates": [[[140.0, 36.9], [140.0001, 36.9], [140.0001, 36.9001], [140.0, 36.9]]]}}
    ]});
    let plan = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "path", "sortie": 1}, "geometry":
            {"type": "LineString", "coordinates": [[140.0, 36.9], [140.001, 36.9]]}},
        {"type": "Feature", "properties": {"kind": "path", "sortie": 2}, "geometry":
            {"type": "LineString", "coordinates": [[140.0, 36.9], [140.001, 36.9]]}}
    ]});
    let s = Site::from_geojson(&field, &plan, 1);
    assert_eq!((s.fields.len(), s.path.len(), s.sensitive_zones), (1, 1, 1));
}

proptest! {
    /// Two squares `gap` metres apart are one area exactly when the gap is within the limit.
    #[test]
    fn field_gap_matches_the_distance(gap in 0.5f64..200.0, side in 5.0f64..100.0) {
        let cfg = GoNoGoConfig::default();
        let mut i = good();
        i.site.fields = vec![square(0.0, side), square(side + gap, side)];
        let o = outcome(&cfg, &i, "separate_fields");
        if gap <= cfg.max_field_gap_m - 0.01 {
            prop_assert_eq!(o, Outcome::Pass);
        } else if gap >= cfg.max_field_gap_m + 0.01 {
            prop_assert_eq!(o, Outcome::Block);
        }
    }

    /// The wind check blocks exactly above the configured limit.
    #[test]
    fn wind_blocks_exactly_above_limit(w in 0.0f64..20.0, max in 0.5f64..10.0) {
        let cfg = GoNoGoConfig { max_wind_mps: max, ..GoNoGoConfig::default() };
        let mut i = good();
        i.wind_mps = Some(w);
        let want = if w > max { Outcome::Block } else { Outcome::Pass };
        prop_assert_eq!(outcome(&cfg, &i, "wind"), want);
    }
}
