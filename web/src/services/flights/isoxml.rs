//! A flight's as-applied map as ISO 11783-10 task data (`TASKDATA.XML`), for farm management
//! software and ISOBUS terminals: one completed task on the field with its product and, per
//! prescription zone, a treatment zone holding the sprayed part of the zone and its rates.
//!
//! Element and attribute names as ISO 11783-10:2015 and its XML schema (`ISO11783_TaskFile`,
//! v4.3) define them, the same names the planner's ISOXML prescription reader takes
//! (`mission_planner` `prescription/isoxml.rs`):
//! - `ISO11783_TaskData` root: `VersionMajor`, `VersionMinor`,
//!   `ManagementSoftwareManufacturer`, `ManagementSoftwareVersion`, `DataTransferOrigin`
//!   (1 = FMIS).
//! - `PDT` Product: `A` ProductId, `B` ProductDesignator.
//! - `PFD` Partfield: `A` PartfieldId, `C` PartfieldDesignator, `D` PartfieldArea (m²), with a
//!   `PLN` of `A` PolygonType 1 (partfield boundary).
//! - `TSK` Task: `A` TaskId, `B` TaskDesignator, `E` PartfieldIdRef, `G` TaskStatus
//!   (4 = completed), `J` OutOfFieldTreatmentZoneCode; its `TIM` Time: `A` Start, `B` Stop,
//!   `D` Type (4 = effective).
//! - `TZN` TreatmentZone: `A` TreatmentZoneCode, `B` TreatmentZoneDesignator; its `PLN`
//!   Polygon `A` PolygonType 2 (treatment zone), `B` PolygonDesignator, `C` PolygonArea (m²);
//!   `LSG` LineString `A` LineStringType 1 exterior / 2 interior; `PNT` Point `A` PointType
//!   2 (other), `C` PointNorth, `D` PointEast (WGS84 degrees).
//! - `PDV` ProcessDataVariable: `A` ProcessDataDDI (hex), `B` ProcessDataValue (integer, in
//!   the DDI's unit), `C` ProductIdRef. DDIs from the ISO 11783-11 data dictionary
//!   (isobus.net): 0x0001 Setpoint / 0x0002 Actual Volume Per Area Application Rate in mm³/m²,
//!   0x0006 Setpoint / 0x0007 Actual Mass Per Area Application Rate in mg/m².
//!
//! The actual rate is written only where the vehicle reported its pump output
//! ([`AppliedSource::PumpOutput`]); otherwise a zone carries its set-point rate alone, never a
//! made-up actual rate.
//!
//! With a time log (`timelog.rs`, `TASKDATA.zip`), the task also names the vehicle as a
//! device (`DVC` `A` DeviceId, `B` designator, `D` ClientNAME, `F` DeviceStructureLabel, `G`
//! DeviceLocalizationLabel, with one `DET` DeviceElement `A` id, `B` object id, `C` type 1 =
//! device, `E` number, `F` parent 0) whose values the log's `DLV`s refer to, and holds the
//! log as `TLG` (`A` file name, `C` 1 = binary).

use chrono::{DateTime, SecondsFormat, Utc};
use geo::MultiPolygon;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};

use crate::error::AppError;
use crate::services::flights::as_applied::{AppliedSource, AsApplied, per_m2};

/// DDI 0x0001, Setpoint Volume Per Area Application Rate (mm³/m²).
pub const DDI_SETPOINT_VOLUME_PER_AREA: u16 = 0x0001;
/// DDI 0x0002, Actual Volume Per Area Application Rate (mm³/m²).
pub const DDI_ACTUAL_VOLUME_PER_AREA: u16 = 0x0002;
/// DDI 0x0006, Setpoint Mass Per Area Application Rate (mg/m²).
pub const DDI_SETPOINT_MASS_PER_AREA: u16 = 0x0006;
/// DDI 0x0007, Actual Mass Per Area Application Rate (mg/m²).
pub const DDI_ACTUAL_MASS_PER_AREA: u16 = 0x0007;

/// The time log's file name (without extension), as `TLG` `A` names it and its two files
/// (`.XML` header, `.BIN` records) are called.
pub const TIME_LOG_NAME: &str = "TLG00001";

/// DDI 0x008D, Actual Work State (0 off, 1 on).
pub const DDI_ACTUAL_WORK_STATE: u16 = 0x008D;

/// The vehicle as the task data's one device, which the time log's values belong to.
pub struct DeviceRef;

impl DeviceRef {
    /// The device's id (`DVC` `A`).
    pub const DEVICE_ID: &'static str = "DVC1";
    /// Its one device element's id (`DET` `A`), which every logged value names.
    pub const ELEMENT_ID: &'static str = "DET1";
    /// Its ISO 11783-5 NAME: self-configurable, industry group 2 (agriculture), device class
    /// 6 (sprayers), the other fields 0 (no ISOBUS address claim was made).
    pub const CLIENT_NAME: &'static str = "A00C000000000000";
    /// Its structure label (7 bytes; one fixed structure).
    pub const STRUCTURE_LABEL: &'static str = "00000000000000";
    /// Its localization label (7 bytes): language `ja`, metric units, last byte reserved.
    pub const LOCALIZATION_LABEL: &'static str = "6A6100000000FF";
}

/// One treatment zone's polygon: the part of a zone the flight sprayed (WGS84).
#[derive(Debug, Clone)]
pub struct SprayedPart {
    /// The zone's sprayed part, x = longitude, y = latitude.
    pub shape: MultiPolygon,
    /// Its area, m².
    pub area_m2: f64,
}

/// What the task data is made of.
#[derive(Debug, Clone)]
pub struct TaskInput<'a> {
    /// The flight's id (the task's name).
    pub flight_id: i64,
    /// The field's name.
    pub field_name: &'a str,
    /// The field's boundary (WGS84).
    pub boundary: &'a MultiPolygon,
    /// The field's area, m².
    pub field_area_m2: f64,
    /// The product's name (the pesticide, or a generic word).
    pub product: &'a str,
    /// The flight's amounts by zone.
    pub applied: &'a AsApplied,
    /// Each zone's sprayed part, in the order of `applied.zones`.
    pub parts: &'a [SprayedPart],
    /// The sprayed part outside every zone, if any.
    pub outside: Option<&'a SprayedPart>,
    /// First and last sample of the flight.
    pub span: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    /// The task holds the time log [`TIME_LOG_NAME`] and the device its
    /// values belong to.
    pub time_log: bool,
}

/// The DDIs of a rate in `unit`: (set point, actual).
pub fn rate_ddis(unit: &str) -> (u16, u16) {
    if unit.starts_with("kg") {
        (DDI_SETPOINT_MASS_PER_AREA, DDI_ACTUAL_MASS_PER_AREA)
    } else {
        (DDI_SETPOINT_VOLUME_PER_AREA, DDI_ACTUAL_VOLUME_PER_AREA)
    }
}

/// A rate in `unit` as a DDI value: mm³/m² (or mg/m²), which is litres (kg) per m² × 10⁶.
pub fn rate_to_ddi(rate: f64, unit: &str) -> i64 {
    (per_m2(rate, unit) * 1e6).round() as i64
}

/// A DDI value (mm³/m², mg/m²) as litres (kg) per m².
pub fn ddi_to_per_m2(value: i64) -> f64 {
    value as f64 / 1e6
}

/// The task data of one flight as `TASKDATA.XML` text.
///
/// # Errors
/// [`AppError::Internal`] if the XML cannot be written (it is written to memory).
pub fn task_data(t: &TaskInput<'_>) -> Result<String, AppError> {
    write(t).map_err(|e| AppError::Internal(format!("ISOXML: {e}")))
}

fn write(t: &TaskInput<'_>) -> std::io::Result<String> {
    let a = t.applied;
    let (setpoint, actual) = rate_ddis(&a.unit);
    let measured = a.source == AppliedSource::PumpOutput;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let version = env!("CARGO_PKG_VERSION");
    w.create_element("ISO11783_TaskData")
        .with_attributes([
            ("VersionMajor", "4"),
            ("VersionMinor", "3"),
            ("ManagementSoftwareManufacturer", "agriops"),
            ("ManagementSoftwareVersion", version),
            ("DataTransferOrigin", "1"),
        ])
        .write_inner_content(|w| {
            if t.time_log {
                w.create_element("DVC")
                    .with_attributes([
                        ("A", DeviceRef::DEVICE_ID),
                        ("B", "agriops spray drone"),
                        ("D", DeviceRef::CLIENT_NAME),
                        ("F", DeviceRef::STRUCTURE_LABEL),
                        ("G", DeviceRef::LOCALIZATION_LABEL),
                    ])
                    .write_inner_content(|w| {
                        w.create_element("DET")
                            .with_attributes([
                                ("A", DeviceRef::ELEMENT_ID),
                                ("B", "1"),
                                ("C", "1"),
                                ("D", "sprayer"),
                                ("E", "0"),
                                ("F", "0"),
                            ])
                            .write_empty()?;
                        Ok(())
                    })?;
            }
            w.create_element("PDT")
                .with_attributes([("A", "PDT1"), ("B", t.product)])
                .write_empty()?;
            let area = format!("{:.0}", t.field_area_m2.max(0.0));
            w.create_element("PFD")
                .with_attributes([("A", "PFD1"), ("C", t.field_name), ("D", area.as_str())])
                .write_inner_content(|w| polygon(w, "1", t.field_name, None, t.boundary))?;
            let out_code = a.zones.len() + 1;
            let task = format!("flight {}", t.flight_id);
            let out_code_text = out_code.to_string();
            let mut task_attrs = vec![
                ("A", "TSK1"),
                ("B", task.as_str()),
                ("E", "PFD1"),
                ("G", "4"),
            ];
            let outside = t.outside.filter(|_| measured && a.outside_amount > 0.0);
            if outside.is_some() {
                task_attrs.push(("J", out_code_text.as_str()));
            }
            w.create_element("TSK")
                .with_attributes(task_attrs)
                .write_inner_content(|w| {
                    for (i, (z, part)) in a.zones.iter().zip(t.parts).enumerate() {
                        let code = (i + 1).to_string();
                        let name = if z.is_gap { "gap" } else { z.name.as_str() };
                        let mut pdvs = vec![(setpoint, rate_to_ddi(z.rate, &a.unit))];
                        if let Some(r) = z.applied_rate.filter(|_| measured) {
                            pdvs.push((actual, rate_to_ddi(r, &a.unit)));
                        }
                        zone(w, &code, name, part, &pdvs)?;
                    }
                    if let Some(part) = outside {
                        let per_m2 = a.outside_amount / part.area_m2.max(f64::MIN_POSITIVE);
                        let value = (per_m2 * 1e6).round() as i64;
                        zone(w, &out_code_text, "outside", part, &[(actual, value)])?;
                    }
                    if let (Some(start), Some(stop)) = t.span {
                        let (s, e) = (
                            start.to_rfc3339_opts(SecondsFormat::Secs, true),
                            stop.to_rfc3339_opts(SecondsFormat::Secs, true),
                        );
                        w.create_element("TIM")
                            .with_attributes([("A", s.as_str()), ("B", e.as_str()), ("D", "4")])
                            .write_empty()?;
                    }
                    if t.time_log {
                        w.create_element("TLG")
                            .with_attributes([("A", TIME_LOG_NAME), ("C", "1")])
                            .write_empty()?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    String::from_utf8(w.into_inner()).map_err(std::io::Error::other)
}

/// A `TZN` with its polygon and process data.
fn zone(
    w: &mut Writer<Vec<u8>>,
    code: &str,
    name: &str,
    part: &SprayedPart,
    pdvs: &[(u16, i64)],
) -> std::io::Result<()> {
    w.create_element("TZN")
        .with_attributes([("A", code), ("B", name)])
        .write_inner_content(|w| {
            if !part.shape.0.is_empty() {
                polygon(w, "2", name, Some(part.area_m2), &part.shape)?;
            }
            for (ddi, value) in pdvs {
                let (ddi, value) = (format!("{ddi:04X}"), value.to_string());
                w.create_element("PDV")
                    .with_attributes([("A", ddi.as_str()), ("B", value.as_str()), ("C", "PDT1")])
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

/// One `PLN` per polygon of `shape`, of `kind` (1 boundary, 2 treatment zone), with its
/// rings as `LSG`s.
fn polygon(
    w: &mut Writer<Vec<u8>>,
    kind: &str,
    name: &str,
    area_m2: Option<f64>,
    shape: &MultiPolygon,
) -> std::io::Result<()> {
    // The whole area goes on the first polygon, so the areas add up once.
    for (i, p) in shape.0.iter().enumerate() {
        let area = area_m2.filter(|_| i == 0).map(|a| format!("{a:.0}"));
        let mut attrs = vec![("A", kind), ("B", name)];
        if let Some(a) = &area {
            attrs.push(("C", a.as_str()));
        }
        w.create_element("PLN")
            .with_attributes(attrs)
            .write_inner_content(|w| {
                for (j, ring) in std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .enumerate()
                {
                    let ty = if j == 0 { "1" } else { "2" };
                    w.create_element("LSG")
                        .with_attribute(("A", ty))
                        .write_inner_content(|w| {
                            for c in ring.coords() {
                                let (n, e) = (format!("{:.9}", c.y), format!("{:.9}", c.x));
                                w.create_element("PNT")
                                    .with_attributes([
                                        ("A", "2"),
                                        ("C", n.as_str()),
                                        ("D", e.as_str()),
                                    ])
                                    .write_empty()?;
                            }
                            Ok(())
                        })?;
                }
                Ok(())
            })?;
    }
    Ok(())
}

/// One treatment zone as read back from the task data (tests).
#[cfg(test)]
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ReadZone {
    /// `TZN@A`.
    pub code: String,
    /// `TZN@B`.
    pub name: String,
    /// Sum of its `PLN@C`, m².
    pub area_m2: f64,
    /// Its `PDV`s: (DDI, value).
    pub pdvs: Vec<(u16, i64)>,
}

#[cfg(test)]
impl ReadZone {
    /// The value of `ddi`, as litres (kg) per m².
    pub fn per_m2(&self, ddi: u16) -> Option<f64> {
        self.pdvs
            .iter()
            .find(|(d, _)| *d == ddi)
            .map(|(_, v)| ddi_to_per_m2(*v))
    }
}

/// Reads task data back with quick-xml (tests): the elements seen in order and the zones.
#[cfg(test)]
pub(crate) fn read_back(xml: &str) -> (Vec<String>, Vec<ReadZone>) {
    use quick_xml::events::BytesStart;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut elements = Vec::new();
    let mut zones: Vec<ReadZone> = Vec::new();
    let mut in_zone = false;
    let attr = |e: &BytesStart<'_>, k: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == k)
            .map(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("an unescaped value")
                    .into_owned()
            })
    };
    loop {
        let ev = reader.read_event().expect("well-formed XML");
        let (e, empty) = match &ev {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::End(e) => {
                if e.name().as_ref() == "TZN" {
                    in_zone = false;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = e.name().as_ref().to_owned();
        match name.as_str() {
            "TZN" => {
                zones.push(ReadZone {
                    code: attr(&e, "A").unwrap_or_default(),
                    name: attr(&e, "B").unwrap_or_default(),
                    ..ReadZone::default()
                });
                in_zone = !empty;
            }
            "PLN" if in_zone => {
                if let (Some(z), Some(c)) = (zones.last_mut(), attr(&e, "C")) {
                    z.area_m2 += c.parse::<f64>().expect("a numeric PolygonArea");
                }
            }
            "PDV" if in_zone => {
                let ddi = u16::from_str_radix(&attr(&e, "A").expect("a DDI"), 16).expect("hex");
                let value: i64 = attr(&e, "B").expect("a value").parse().expect("a long");
                if let Some(z) = zones.last_mut() {
                    z.pdvs.push((ddi, value));
                }
            }
            _ => {}
        }
        elements.push(name);
    }
    (elements, zones)
}
