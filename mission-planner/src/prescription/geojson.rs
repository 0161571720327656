//! GeoJSON prescriptions: Polygon / MultiPolygon features with the rate in a property.

use super::{
    Prescription, PrescriptionError, ReadOptions, VertexBudget, Zone, check_degrees, check_rate,
    check_zone_count,
};
use geo::{LineString, MultiPolygon, Polygon};

fn ring(
    r: &[geojson::Position],
    budget: &mut VertexBudget,
) -> Result<LineString, PrescriptionError> {
    budget.take(r.len())?;
    Ok(LineString::from(
        r.iter()
            .map(|p| {
                let s = p.as_slice();
                (
                    s.first().copied().unwrap_or(f64::NAN),
                    s.get(1).copied().unwrap_or(f64::NAN),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

fn polygon(
    rings: &[Vec<geojson::Position>],
    budget: &mut VertexBudget,
) -> Result<Option<Polygon>, PrescriptionError> {
    let Some((ext, holes)) = rings.split_first() else {
        return Ok(None);
    };
    let holes = holes
        .iter()
        .map(|h| ring(h, budget))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Polygon::new(ring(ext, budget)?, holes)))
}

/// The rate of a property value: a number, or a string holding one (`"0.8"`, `"0,8"`).
fn as_rate(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

pub(super) fn read(text: &str, options: &ReadOptions) -> Result<Prescription, PrescriptionError> {
    // Every position opens a `[`: an upper bound on the vertices, counted before parsing.
    let rough = text.bytes().filter(|&b| b == b'[').count();
    if rough > options.limits.max_vertices.saturating_mul(2) + 1_000 {
        return Err(PrescriptionError::TooLarge {
            what: "vertices",
            limit: options.limits.max_vertices as u64,
        });
    }
    let malformed = |message: String| PrescriptionError::Malformed {
        format: "GeoJSON",
        message,
    };
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| malformed(e.to_string()))?;
    let features = match gj {
        geojson::GeoJson::FeatureCollection(fc) => fc.features,
        geojson::GeoJson::Feature(f) => vec![f],
        geojson::GeoJson::Geometry(_) => {
            return Err(malformed(
                "a bare geometry has no rate: give Features with a rate property".into(),
            ));
        }
    };
    check_zone_count(features.len(), &options.limits)?;
    let mut columns: Vec<String> = Vec::new();
    for f in &features {
        for k in f.properties.iter().flat_map(|p| p.keys()) {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let column = match &options.rate_column {
        Some(c) if columns.contains(c) => c.clone(),
        Some(c) => {
            return Err(PrescriptionError::NoSuchColumn {
                column: c.clone(),
                available: columns.join(", "),
            });
        }
        None => {
            return Err(PrescriptionError::ColumnNeeded {
                available: columns.join(", "),
            });
        }
    };
    let mut budget = VertexBudget::new(&options.limits);
    let mut zones = Vec::new();
    for (i, f) in features.iter().enumerate() {
        use geojson::GeometryValue as V;
        let props = f.properties.as_ref();
        let name = props
            .and_then(|p| p.get("name").or_else(|| p.get("id")))
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| format!("zone {}", i + 1));
        let polys: Vec<Polygon> = match f.geometry.as_ref().map(|g| &g.value) {
            Some(V::Polygon { coordinates }) => {
                polygon(coordinates, &mut budget)?.into_iter().collect()
            }
            Some(V::MultiPolygon { coordinates }) => coordinates
                .iter()
                .map(|p| polygon(p, &mut budget))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect(),
            // Points and lines carry no area to spray at a rate.
            _ => continue,
        };
        let raw = props.and_then(|p| p.get(&column));
        let rate = raw.and_then(as_rate).unwrap_or(f64::NAN);
        let rate = check_rate(&name, rate, options).map_err(|e| match (e, raw) {
            (
                PrescriptionError::BadRate {
                    zone, max, unit, ..
                },
                Some(v),
            ) => PrescriptionError::BadRate {
                zone,
                value: v.to_string(),
                max,
                unit,
            },
            (e, _) => e,
        })?;
        let area = MultiPolygon(polys);
        check_degrees(&area, &name)?;
        zones.push(Zone { name, rate, area });
    }
    if zones.is_empty() {
        return Err(PrescriptionError::NoZones);
    }
    Ok(Prescription {
        unit: options.unit,
        zones,
    })
}
