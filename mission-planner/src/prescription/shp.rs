//! Shapefile prescriptions: polygon shapes (`.shp`) with the rate in a `.dbf` column and the
//! coordinate system in the `.prj` (ESRI WKT).

use super::jgd::PlaneRect;
use super::{
    Prescription, PrescriptionError, ReadOptions, VertexBudget, Zone, check_degrees, check_rate,
    check_zone_count,
};
use geo::{CoordsIter, MultiPolygon};
use shapefile::dbase::{self, FieldValue};
use std::io::Cursor;

fn malformed(e: impl std::fmt::Display) -> PrescriptionError {
    PrescriptionError::Malformed {
        format: "Shapefile",
        message: e.to_string(),
    }
}

/// Reads a `.prj`: geographic WGS84, JGD2000 or JGD2011 (the Japanese datums, which agree
/// with WGS84 to well under a metre) as they are (`None`), a Japan Plane Rectangular CS zone
/// on JGD2000/JGD2011 as that zone; refuses other projected systems and other datums.
fn check_prj(prj: &str) -> Result<Option<PlaneRect>, PrescriptionError> {
    let upper = prj.to_ascii_uppercase();
    let crs = || PrescriptionError::UnsupportedCrs {
        crs: prj.chars().take(80).collect(),
    };
    if upper.trim_start().starts_with("PROJCS") || upper.contains("PROJCRS") {
        return PlaneRect::from_prj(prj).map(Some).ok_or_else(crs);
    }
    let known = [
        "WGS_1984", "WGS 84", "WGS84", "JGD_2011", "JGD2011", "JGD_2000", "JGD2000",
    ];
    if known.iter().any(|k| upper.contains(k)) {
        Ok(None)
    } else {
        Err(crs())
    }
}

fn value_as_rate(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Numeric(n) => *n,
        FieldValue::Float(f) => f.map(f64::from),
        FieldValue::Integer(i) => Some(f64::from(*i)),
        FieldValue::Double(d) | FieldValue::Currency(d) => Some(*d),
        FieldValue::Character(Some(s)) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

fn value_as_name(v: &FieldValue) -> Option<String> {
    match v {
        FieldValue::Character(Some(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        FieldValue::Numeric(Some(n)) => Some(n.to_string()),
        FieldValue::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The text encoding of the `.dbf`: the `.cpg` beside it names it (`SHIFT_JIS`, `932`,
/// `UTF-8`, …, as ESRI writes it), else the DBF header's language driver byte (offset 29:
/// 0x13 is code page 932, Shift_JIS, the usual encoding of Japanese attribute tables), else
/// UTF-8. Undecodable bytes become U+FFFD; rates are numbers and never affected.
fn dbf_encoding(dbf: &[u8], cpg: Option<&str>) -> dbase::encoding::DynEncoding {
    use dbase::encoding::EncodingRs;
    use dbase::encoding_rs::{Encoding, SHIFT_JIS};
    let from_cpg = cpg.and_then(|c| {
        let label = c.trim();
        Encoding::for_label(label.as_bytes()).or(match label {
            "932" => Some(SHIFT_JIS),
            _ => None,
        })
    });
    match from_cpg.or((dbf.get(29) == Some(&0x13)).then_some(SHIFT_JIS)) {
        Some(enc) => EncodingRs::from(enc).into(),
        None => dbase::UnicodeLossy.into(),
    }
}

pub(super) fn read(
    shp: &[u8],
    dbf: &[u8],
    prj: Option<&str>,
    cpg: Option<&str>,
    options: &ReadOptions,
) -> Result<Prescription, PrescriptionError> {
    let plane = prj.map(check_prj).transpose()?.flatten();
    let shapes = shapefile::ShapeReader::new(Cursor::new(shp)).map_err(malformed)?;
    let table = dbase::ReaderBuilder::new()
        .with_encoding(dbf_encoding(dbf, cpg))
        .build(Cursor::new(dbf))
        .map_err(malformed)?;
    let columns: Vec<String> = table
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let column = match &options.rate_column {
        Some(c) => columns
            .iter()
            .find(|n| n.eq_ignore_ascii_case(c))
            .cloned()
            .ok_or_else(|| PrescriptionError::NoSuchColumn {
                column: c.clone(),
                available: columns.join(", "),
            })?,
        None => {
            return Err(PrescriptionError::ColumnNeeded {
                available: columns.join(", "),
            });
        }
    };
    let name_column = columns
        .iter()
        .find(|n| ["NAME", "ZONE", "ID"].contains(&n.to_ascii_uppercase().as_str()))
        .cloned();
    let mut reader = shapefile::Reader::new(shapes, table);
    let mut budget = VertexBudget::new(&options.limits);
    let mut zones = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        check_zone_count(i + 1, &options.limits)?;
        let (shape, record) = item.map_err(malformed)?;
        let area: MultiPolygon = match shape {
            shapefile::Shape::Polygon(p) => p.try_into().map_err(malformed)?,
            shapefile::Shape::PolygonM(p) => p.try_into().map_err(malformed)?,
            shapefile::Shape::PolygonZ(p) => p.try_into().map_err(malformed)?,
            // Null shapes, points and lines carry no area.
            _ => continue,
        };
        budget.take(area.coords_count())?;
        let area = match &plane {
            Some(zone) => zone.area_to_degrees(&area)?,
            None => area,
        };
        let name = name_column
            .as_deref()
            .and_then(|c| record.get(c))
            .and_then(value_as_name)
            .unwrap_or_else(|| format!("zone {}", i + 1));
        let raw = record.get(&column);
        let rate = raw.and_then(value_as_rate).unwrap_or(f64::NAN);
        let rate = check_rate(&name, rate, options).map_err(|e| match (e, raw) {
            (
                PrescriptionError::BadRate {
                    zone, max, unit, ..
                },
                Some(v),
            ) => PrescriptionError::BadRate {
                zone,
                value: format!("{v:?}"),
                max,
                unit,
            },
            (e, _) => e,
        })?;
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
