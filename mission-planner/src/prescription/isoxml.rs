//! ISO 11783-10 (ISOBUS task data) prescriptions from `TASKDATA.XML`: treatment zones (`TZN`)
//! with their polygons (`PLN` → `LSG` → `PNT`, rings of lat/lon points) and a set-point rate
//! (`PDV`), and grids (`GRD`) whose cells name a treatment zone (grid type 1) or hold the rate
//! itself (grid type 2) in a binary file beside the XML.
//!
//! Rules from ISO 11783-10:2015 and the ISOBUS data dictionary (isobus.net DDI list):
//! `LSG@A` 1 = polygon exterior, 2 = interior; `PNT@C` north (lat), `@D` east (lon), degrees;
//! `PDV@A` the DDI in hex, `@B` the value in the DDI's unit: DDI 0x0001 "Setpoint Volume Per
//! Area Application Rate" in mm³/m² (= 0.01 L/ha), DDI 0x0006 "Setpoint Mass Per Area
//! Application Rate" in mg/m² (= 0.01 kg/ha). `GRD@A/@B` the south-west corner (lat, lon), `@C/@D`
//! the cell size (lat, lon degrees), `@E/@F` columns and rows, `@G` the file name, `@I` the
//! grid type, `@J` the treatment zone of a type-2 grid; cells run west to east, rows south to
//! north; type 1 holds one byte per cell, type 2 one little-endian i32 per cell.

use super::geotiff::{Grid, grid_zones};
use super::{
    Prescription, PrescriptionError, RateUnit, ReadOptions, VertexBudget, Zone, check_degrees,
    check_rate, check_zone_count,
};
use geo::{LineString, MultiPolygon, Polygon};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;

const DDI_VOLUME_PER_AREA: u16 = 0x0001;
const DDI_MASS_PER_AREA: u16 = 0x0006;
/// Both set-point DDIs count in hundredths of the per-hectare unit (mm³/m², mg/m²).
const DDI_TO_PER_HA: f64 = 0.01;

fn malformed(message: impl std::fmt::Display) -> PrescriptionError {
    PrescriptionError::Malformed {
        format: "ISOXML",
        message: message.to_string(),
    }
}

fn attrs(e: &BytesStart<'_>) -> Result<HashMap<String, String>, PrescriptionError> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(malformed)?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(malformed)?
            .into_owned();
        out.insert(key, value);
    }
    Ok(out)
}

fn num(a: &HashMap<String, String>, k: &str, element: &str) -> Result<f64, PrescriptionError> {
    a.get(k)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| malformed(format!("{element} lacks a numeric attribute {k}")))
}

#[derive(Default)]
struct TreatmentZone {
    code: u32,
    name: String,
    /// (DDI, value) of the first set-point rate.
    rate: Option<(u16, f64)>,
    polygons: Vec<Polygon>,
}

/// A rate in DDI units as a rate in the user's unit.
fn convert(ddi: u16, value: f64, unit: RateUnit) -> Result<f64, PrescriptionError> {
    let found_mass = match ddi {
        DDI_VOLUME_PER_AREA => false,
        DDI_MASS_PER_AREA => true,
        other => {
            return Err(malformed(format!(
                "the rate's DDI {other:#06x} is not a set-point volume (0x0001) or mass (0x0006) per area"
            )));
        }
    };
    if found_mass != unit.is_mass() {
        return Err(PrescriptionError::UnitMismatch {
            found: if found_mass {
                "mass per area (kg)"
            } else {
                "volume per area (L)"
            },
            chosen: unit.label(),
        });
    }
    Ok(value * DDI_TO_PER_HA / unit.per_ha())
}

/// Reads `TASKDATA.XML`; `bin` gives the bytes of a grid file by its name (`GRD00001.BIN`).
pub(super) fn read(
    text: &str,
    bin: &dyn Fn(&str) -> Option<Vec<u8>>,
    options: &ReadOptions,
) -> Result<Prescription, PrescriptionError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut zones: Vec<TreatmentZone> = Vec::new();
    let mut grid: Option<HashMap<String, String>> = None;
    let mut in_tzn = false;
    let mut rings: Vec<(u8, Vec<(f64, f64)>)> = Vec::new();
    let mut ring: Option<(u8, Vec<(f64, f64)>)> = None;
    let mut budget = VertexBudget::new(&options.limits);
    let mut saw_root = false;
    let mut depth = 0usize;
    loop {
        let ev = reader.read_event().map_err(malformed)?;
        let (e, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                match end.name().as_ref() {
                    "TZN" => in_tzn = false,
                    "LSG" => {
                        if let Some(r) = ring.take() {
                            rings.push(r);
                        }
                    }
                    "PLN" if in_tzn => {
                        let poly = polygon_of(std::mem::take(&mut rings));
                        if let (Some(p), Some(z)) = (poly, zones.last_mut()) {
                            z.polygons.push(p);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = e else { continue };
        if !empty {
            depth += 1;
            if depth > 32 {
                return Err(malformed("elements nested more than 32 levels deep"));
            }
        }
        match e.name().as_ref() {
            "ISO11783_TaskData" => saw_root = true,
            "TZN" => {
                let a = attrs(&e)?;
                check_zone_count(zones.len() + 1, &options.limits)?;
                zones.push(TreatmentZone {
                    code: num(&a, "A", "TZN")? as u32,
                    name: a
                        .get("B")
                        .filter(|s| !s.is_empty())
                        .cloned()
                        .unwrap_or_else(|| format!("zone {}", a.get("A").map_or("?", |s| s))),
                    ..Default::default()
                });
                in_tzn = !empty;
            }
            "PDV" if in_tzn => {
                let a = attrs(&e)?;
                let ddi = a
                    .get("A")
                    .and_then(|s| u16::from_str_radix(s.trim(), 16).ok())
                    .ok_or_else(|| malformed("PDV lacks its DDI (attribute A)"))?;
                let value = num(&a, "B", "PDV")?;
                if let Some(z) = zones.last_mut()
                    && z.rate.is_none()
                    && matches!(ddi, DDI_VOLUME_PER_AREA | DDI_MASS_PER_AREA)
                {
                    z.rate = Some((ddi, value));
                }
            }
            "LSG" if in_tzn => {
                let a = attrs(&e)?;
                let kind = num(&a, "A", "LSG")? as u8;
                ring = Some((kind, Vec::new()));
                if empty {
                    ring = None;
                }
            }
            "PNT" if in_tzn => {
                let a = attrs(&e)?;
                budget.take(1)?;
                if let Some((_, pts)) = ring.as_mut() {
                    pts.push((num(&a, "D", "PNT")?, num(&a, "C", "PNT")?));
                }
            }
            "GRD" if grid.is_none() => grid = Some(attrs(&e)?),
            _ => {}
        }
    }
    if !saw_root {
        return Err(PrescriptionError::UnknownFormat);
    }
    let rate_of = |z: &TreatmentZone| -> Result<f64, PrescriptionError> {
        let (ddi, v) = z.rate.ok_or_else(|| {
            malformed(format!(
                "treatment zone {} has no set-point rate (PDV)",
                z.name
            ))
        })?;
        check_rate(&z.name, convert(ddi, v, options.unit)?, options)
    };
    let mut out = Vec::new();
    if let Some(g) = grid {
        out = read_grid(&g, &zones, bin, options)?;
    } else {
        for z in &zones {
            if z.polygons.is_empty() {
                continue;
            }
            let area = MultiPolygon(z.polygons.clone());
            check_degrees(&area, &z.name)?;
            out.push(Zone {
                name: z.name.clone(),
                rate: rate_of(z)?,
                area,
            });
        }
    }
    if out.is_empty() {
        return Err(PrescriptionError::NoZones);
    }
    Ok(Prescription {
        unit: options.unit,
        zones: out,
    })
}

fn polygon_of(rings: Vec<(u8, Vec<(f64, f64)>)>) -> Option<Polygon> {
    let mut exterior = None;
    let mut holes = Vec::new();
    for (kind, pts) in rings {
        let ls = LineString::from(pts);
        if kind == 1 && exterior.is_none() {
            exterior = Some(ls);
        } else if kind == 2 {
            holes.push(ls);
        }
    }
    exterior.map(|e| Polygon::new(e, holes))
}

fn read_grid(
    g: &HashMap<String, String>,
    zones: &[TreatmentZone],
    bin: &dyn Fn(&str) -> Option<Vec<u8>>,
    options: &ReadOptions,
) -> Result<Vec<Zone>, PrescriptionError> {
    let cols = num(g, "E", "GRD")?;
    let rows = num(g, "F", "GRD")?;
    if !(cols >= 1.0 && rows >= 1.0) {
        return Err(malformed("GRD has no cells"));
    }
    if cols * rows > options.limits.max_cells as f64 {
        return Err(PrescriptionError::TooLarge {
            what: "grid cells",
            limit: options.limits.max_cells,
        });
    }
    let (cols, rows) = (cols as usize, rows as usize);
    let grid = Grid {
        x0: num(g, "B", "GRD")?,
        y0: num(g, "A", "GRD")?,
        dx: num(g, "D", "GRD")?,
        dy: num(g, "C", "GRD")?,
        cols,
        rows,
    };
    if !(grid.dx > 0.0 && grid.dy > 0.0 && grid.dx.is_finite() && grid.dy.is_finite()) {
        return Err(malformed("GRD cell sizes must be positive"));
    }
    let file = g
        .get("G")
        .ok_or_else(|| malformed("GRD lacks its file name (attribute G)"))?;
    let data = bin(&format!("{file}.BIN"))
        .or_else(|| bin(file))
        .ok_or_else(|| {
            malformed(format!(
                "the grid file {file}.BIN is missing: give the whole TASKDATA folder as a zip"
            ))
        })?;
    let kind = g.get("I").map_or("1", |s| s.trim());
    let n = cols * rows;
    let cells: Vec<Option<f64>> = match kind {
        "1" => {
            if data.len() < n {
                return Err(malformed(format!(
                    "{file}.BIN is shorter than its {n} cells"
                )));
            }
            let mut rate_by_code = HashMap::new();
            for z in zones {
                if let Some((ddi, v)) = z.rate {
                    rate_by_code.insert(
                        z.code,
                        check_rate(&z.name, convert(ddi, v, options.unit)?, options)?,
                    );
                }
            }
            data[..n]
                .iter()
                .map(|&code| rate_by_code.get(&u32::from(code)).copied())
                .collect()
        }
        "2" => {
            if data.len() < 4 * n {
                return Err(malformed(format!(
                    "{file}.BIN is shorter than its {n} cells"
                )));
            }
            let zone_code = num(g, "J", "GRD")? as u32;
            let ddi = zones
                .iter()
                .find(|z| z.code == zone_code)
                .and_then(|z| z.rate)
                .map(|(d, _)| d)
                .ok_or_else(|| {
                    malformed(format!(
                        "treatment zone {zone_code} of the grid has no set-point rate (PDV)"
                    ))
                })?;
            data[..4 * n]
                .chunks_exact(4)
                .map(|b| {
                    let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    convert(ddi, f64::from(v), options.unit).map(Some)
                })
                .collect::<Result<_, _>>()?
        }
        other => return Err(malformed(format!("grid type {other} (expected 1 or 2)"))),
    };
    grid_zones(&grid, &cells, options, None)
}
