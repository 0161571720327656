//! As applied on a prescription: the area a flight sprayed in each zone of its plan's
//! prescription, and the amount that area received at the zone's commanded rate. The flight's
//! litres, its 農薬使用記録's total and average per 10 a, its page's table and its as-applied
//! GeoJSON export all come from here.

use geo::{MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::storage::RxZoneRow;

/// One zone as flown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneApplied {
    /// The zone's number on the plan page.
    pub position: i64,
    /// The zone's name (`gap` for the field outside every zone).
    pub name: String,
    /// The zone's rate, in [`AsApplied::unit`].
    pub rate: f64,
    /// True for the field outside every prescribed zone.
    pub is_gap: bool,
    /// The zone's sprayable area, m².
    pub sprayable_m2: f64,
    /// The part of the zone the flight sprayed, m².
    pub applied_m2: f64,
    /// What that area received at the zone's rate, litres (kg for granules).
    pub amount: f64,
    /// What the prescription asks for over the whole zone, litres (kg).
    pub prescribed: f64,
}

/// A prescription flight's amounts by zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsApplied {
    /// `L/10a`, `L/ha` or `kg/10a`.
    pub unit: String,
    /// Every zone, in the plan's order.
    pub zones: Vec<ZoneApplied>,
    /// Sum of the zones' amounts, litres (kg).
    pub total: f64,
    /// Sprayed area in no zone (outside the prescription, with no gap rate), m².
    pub outside_m2: f64,
}

impl AsApplied {
    /// The average dose over the sprayed zones, in litres (kg) per 10 a; `None` when nothing
    /// was sprayed in them.
    pub fn per_10a(&self) -> Option<f64> {
        let area: f64 = self.zones.iter().map(|z| z.applied_m2).sum();
        (area > 0.0).then(|| self.total / (area / 1000.0))
    }
}

/// Litres (kg) per m² of a rate in `unit`.
pub fn per_m2(rate: f64, unit: &str) -> f64 {
    match unit {
        "L/ha" => rate / 10_000.0,
        // L/10a and kg/10a: 10 a = 1 000 m².
        _ => rate / 1000.0,
    }
}

/// A zone's stored GeoJSON geometry (a WGS84 Polygon or MultiPolygon) as geo polygons; empty
/// where the text is not one.
pub fn zone_shape(text: &str) -> MultiPolygon {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let ring = |r: &Value| -> Vec<(f64, f64)> {
        r.as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c.get(0)?.as_f64()?, c.get(1)?.as_f64()?)))
            .collect()
    };
    let polygon = |p: &Value| {
        let rings = p.as_array()?;
        let exterior = ring(rings.first()?);
        let holes = rings[1..].iter().map(|r| ring(r).into()).collect();
        Some(Polygon::new(exterior.into(), holes))
    };
    let polygons = match v["type"].as_str() {
        Some("Polygon") => polygon(&v["coordinates"]).into_iter().collect(),
        _ => v["coordinates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(polygon)
            .collect(),
    };
    MultiPolygon(polygons)
}

/// The amounts of a flight whose sprayed area is `coverage`, by the zones of its plan's
/// prescription (rates in `unit`), and the as-applied GeoJSON: one feature per zone, its
/// sprayed part, with the zone's name, rate, unit, area and amount.
pub fn as_applied(
    coverage: &telemetry::Coverage,
    unit: &str,
    zones: &[RxZoneRow],
) -> (AsApplied, Value) {
    let mut out = Vec::with_capacity(zones.len());
    let mut features = Vec::with_capacity(zones.len());
    for z in zones {
        let (applied_m2, geometry) = coverage.sprayed_in(&zone_shape(&z.geojson));
        let amount = applied_m2 * per_m2(z.rate, unit);
        features.push(json!({
            "type": "Feature",
            "geometry": geometry,
            "properties": {
                "zone": z.name, "position": z.position, "gap": z.is_gap,
                "rate": z.rate, "unit": unit,
                "applied_m2": (applied_m2 * 10.0).round() / 10.0,
                "amount": (amount * 1000.0).round() / 1000.0,
            },
        }));
        out.push(ZoneApplied {
            position: z.position,
            name: z.name.clone(),
            rate: z.rate,
            is_gap: z.is_gap,
            sprayable_m2: z.sprayable_ha * 10_000.0,
            applied_m2,
            amount,
            prescribed: z.amount,
        });
    }
    let in_zones: f64 = out.iter().map(|z| z.applied_m2).sum();
    let applied = AsApplied {
        unit: unit.to_owned(),
        total: out.iter().map(|z| z.amount).sum(),
        outside_m2: (coverage.sprayed_m2 - in_zones).max(0.0),
        zones: out,
    };
    (
        applied,
        json!({"type": "FeatureCollection", "features": features}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_square_metre_follow_the_unit() {
        assert_eq!(per_m2(8.0, "L/10a"), 0.008);
        assert_eq!(per_m2(80.0, "L/ha"), 0.008);
        assert_eq!(per_m2(3.0, "kg/10a"), 0.003);
    }

    #[test]
    fn zone_shapes_read_polygons_and_multipolygons() {
        let p = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#;
        let m = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,2],[3,2],[3,3],[2,2]]]]}"#;
        assert_eq!(zone_shape(p).0.len(), 1);
        assert_eq!(zone_shape(m).0.len(), 2);
        assert!(zone_shape("not json").0.is_empty());
    }
}
