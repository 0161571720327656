//! GSI 基盤地図情報 数値標高モデル (the Geospatial Information Authority of Japan's 5 m and
//! 10 m DEM tiles), JPGIS (GML) format.
//!
//! The format, from GSI's 基盤地図情報 数値標高モデル XML の説明 (FGD DEM schema): one `<DEM>`
//! whose `coverage` holds `gml:boundedBy/gml:Envelope` (`lowerCorner` and `upperCorner` as
//! "lat lon", the cell edges; `srsName` `fguuid:jgd2011.bl` or `jgd2024.bl`),
//! `gml:GridEnvelope` (`low` "0 0", `high` "nx-1 ny-1"), `gml:tupleList` of `類型,標高`
//! lines (地表面, 表層面, 海水面, 内水面, データなし, その他; `-9999.` is nodata),
//! `gml:sequenceRule order="+x-y"` (row-major from the north-west corner, x east) and
//! `gml:startPoint` "x y", the cell the first tuple belongs to: cells before it, and after the
//! last tuple, are nodata.

use super::dem::{Dem, DemCrs, DemLimits, Grid, check_cells};
use crate::error::PlanError;
use quick_xml::Reader;
use quick_xml::events::Event;

fn err(reason: impl Into<String>) -> PlanError {
    PlanError::Dem {
        reason: format!("GSI DEM (GML): {}", reason.into()),
    }
}

fn pair<T: std::str::FromStr>(s: &Option<String>, what: &str) -> Result<(T, T), PlanError> {
    let s = s.as_deref().ok_or_else(|| err(format!("no <{what}>")))?;
    let mut it = s.split_whitespace().map(str::parse::<T>);
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b)), None) => Ok((a, b)),
        _ => Err(err(format!("<{what}> {s:?} is not two numbers"))),
    }
}

impl Dem {
    /// Reads one GSI DEM tile (`FG-GML-*-DEM5A/5B/5C/10A/10B-*.xml`).
    ///
    /// # Errors
    /// [`PlanError::Dem`] for a document that is not such a tile (no envelope, grid or tuple
    /// list, unreadable numbers, more tuples than cells); [`PlanError::DemTooLarge`] for a
    /// document or grid past `limits`.
    pub fn from_gsi_gml(bytes: &[u8], limits: &DemLimits) -> Result<Dem, PlanError> {
        if bytes.len() > limits.max_xml_bytes {
            return Err(PlanError::DemTooLarge {
                what: "GML bytes",
                count: bytes.len(),
                limit: limits.max_xml_bytes,
            });
        }
        let doc = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
        let mut r = Reader::from_str(doc);
        let mut path: Vec<String> = Vec::new();
        let (mut lower, mut upper, mut high, mut start, mut tuples, mut srs) =
            (None, None, None, None, None, None);
        let mut text = String::new();
        loop {
            match r.read_event() {
                Ok(Event::Start(e)) => {
                    if path.len() >= 64 {
                        return Err(err("elements nested more than 64 deep"));
                    }
                    if e.local_name().as_ref() == "Envelope" {
                        for a in e.attributes().flatten() {
                            if a.key.local_name().as_ref() == "srsName" {
                                srs = Some(a.value.to_string());
                            }
                        }
                    }
                    path.push(e.local_name().as_ref().to_owned());
                    text.clear();
                }
                Ok(Event::Text(t)) => {
                    if text.len() + t.len() > limits.max_xml_bytes {
                        return Err(err("text past the document limit"));
                    }
                    text.push_str(&t);
                }
                Ok(Event::End(_)) => {
                    let name = path.pop().unwrap_or_default();
                    let slot = match name.as_str() {
                        "lowerCorner" => &mut lower,
                        "upperCorner" => &mut upper,
                        "high" => &mut high,
                        "startPoint" => &mut start,
                        "tupleList" => &mut tuples,
                        _ => {
                            text.clear();
                            continue;
                        }
                    };
                    *slot = Some(std::mem::take(&mut text));
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(err(e.to_string())),
            }
        }
        if let Some(s) = &srs
            && !(s.contains("jgd2011") || s.contains("jgd2024") || s.contains("jgd2000"))
        {
            return Err(err(format!(
                "srsName {s:?} is not a JGD latitude/longitude"
            )));
        }
        let (s, w): (f64, f64) = pair(&lower, "gml:lowerCorner")?;
        let (n, e): (f64, f64) = pair(&upper, "gml:upperCorner")?;
        let (hx, hy): (usize, usize) = pair(&high, "gml:high")?;
        let (nx, ny) = (hx.saturating_add(1), hy.saturating_add(1));
        let cells = nx.saturating_mul(ny);
        check_cells(cells, limits)?;
        let (sx, sy): (usize, usize) = match &start {
            Some(_) => pair(&start, "gml:startPoint")?,
            None => (0, 0),
        };
        if sx >= nx || sy >= ny {
            return Err(err(format!(
                "startPoint {sx} {sy} is outside the {nx} × {ny} grid"
            )));
        }
        if !(n > s && e > w) {
            return Err(err(format!("envelope {s} {w} – {n} {e} is empty")));
        }
        let tuples = tuples.ok_or_else(|| err("no <gml:tupleList>"))?;
        let mut z = vec![f32::NAN; cells];
        let mut k = sy * nx + sx;
        for (line_no, line) in tuples.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if k >= cells {
                return Err(err(format!("more tuples than the {nx} × {ny} cells")));
            }
            let v = line
                .rsplit_once(',')
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
                .ok_or_else(|| err(format!("tuple {} {line:?} is not 類型,標高", line_no + 1)))?;
            // -9999 is GSI's nodata; Grid::new also drops anything implausible.
            z[k] = if v <= -9999.0 { f32::NAN } else { v as f32 };
            k += 1;
        }
        let (dx, dy) = ((e - w) / nx as f64, (n - s) / ny as f64);
        let grid = Grid::new(
            DemCrs::Geographic,
            (w + dx / 2.0, n - dy / 2.0),
            (dx, dy),
            (nx, ny),
            z,
        )?;
        Ok(Dem::one(grid))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A GSI DEM tile of `nx` × `ny` cells over the given envelope; `tuples` from the start point.
    pub(crate) fn gsi_gml(
        (s, w, n, e): (f64, f64, f64, f64),
        (nx, ny): (usize, usize),
        start: (usize, usize),
        values: &[f64],
    ) -> String {
        let tuples: String = values
            .iter()
            .map(|v| {
                if *v <= -9999.0 {
                    "データなし,-9999.\n".to_string()
                } else {
                    format!("地表面,{v:.2}\n")
                }
            })
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Dataset xsi:schemaLocation="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema FGD_GMLSchema.xsd" xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" gml:id="Dataset1">
<gml:description>基盤地図情報メタデータ ID=fmdid:15-3101</gml:description>
<gml:name>基盤地図情報ダウンロードデータ（GML版）</gml:name>
<DEM gml:id="DEM001">
<fid>fgoid:10-00200-15-60101-54393600</fid>
<type>5mメッシュ（標高）</type>
<mesh>54393600</mesh>
<coverage gml:id="DEM001-3">
<gml:boundedBy>
<gml:Envelope srsName="fguuid:jgd2011.bl">
<gml:lowerCorner>{s} {w}</gml:lowerCorner>
<gml:upperCorner>{n} {e}</gml:upperCorner>
</gml:Envelope>
</gml:boundedBy>
<gml:gridDomain>
<gml:Grid dimension="2" gml:id="DEM001-4">
<gml:limits>
<gml:GridEnvelope>
<gml:low>0 0</gml:low>
<gml:high>{hx} {hy}</gml:high>
</gml:GridEnvelope>
</gml:limits>
<gml:axisLabels>x y</gml:axisLabels>
</gml:Grid>
</gml:gridDomain>
<gml:rangeSet>
<gml:DataBlock>
<gml:rangeParameters>
<QuantityList uom="DEM構成点"></QuantityList>
</gml:rangeParameters>
<gml:tupleList>
{tuples}</gml:tupleList>
</gml:DataBlock>
</gml:rangeSet>
<gml:coverageFunction>
<gml:GridFunction>
<gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
<gml:startPoint>{sx} {sy}</gml:startPoint>
</gml:GridFunction>
</gml:coverageFunction>
</coverage>
</DEM>
</Dataset>
"#,
            hx = nx - 1,
            hy = ny - 1,
            sx = start.0,
            sy = start.1,
        )
    }

    #[test]
    fn reads_a_tile_row_major_from_the_north_west() {
        // 4 × 3 cells over 0.004° × 0.003°: value = 10·row + col.
        let v: Vec<f64> = (0..3)
            .flat_map(|r| (0..4).map(move |c| f64::from(10 * r + c)))
            .collect();
        let xml = gsi_gml((36.0, 139.0, 36.003, 139.004), (4, 3), (0, 0), &v);
        let d = Dem::from_gsi_gml(xml.as_bytes(), &DemLimits::default()).unwrap();
        // Centre of the north-west cell, then of row 2, column 3 (the south-east one).
        assert!((d.height_amsl(36.0025, 139.0005).unwrap() - 0.0).abs() < 1e-4);
        assert!((d.height_amsl(36.0005, 139.0035).unwrap() - 23.0).abs() < 1e-4);
        assert!((d.height_amsl(36.0015, 139.0015).unwrap() - 11.0).abs() < 1e-4);
    }

    #[test]
    fn start_point_and_short_lists_leave_nodata() {
        // The first 5 cells (row 0 and row 1's first) are before the start point; the list
        // stops after 4 more, so the rest is nodata too.
        let xml = gsi_gml(
            (36.0, 139.0, 36.003, 139.004),
            (4, 3),
            (1, 1),
            &[5.0, 6.0, 7.0, -9999.0],
        );
        let d = Dem::from_gsi_gml(xml.as_bytes(), &DemLimits::default()).unwrap();
        assert!(d.height_amsl(36.0025, 139.0005).is_none());
        assert!((d.height_amsl(36.0015, 139.0015).unwrap() - 5.0).abs() < 1e-4);
        assert!(d.height_amsl(36.0005, 139.0005).is_none());
    }

    #[test]
    fn refuses_broken_and_hostile_documents() {
        let l = DemLimits::default();
        let v = vec![1.0; 13];
        let too_many = gsi_gml((36.0, 139.0, 36.003, 139.004), (4, 3), (0, 0), &v);
        let e = Dem::from_gsi_gml(too_many.as_bytes(), &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more tuples"), "{e}");
        let e = Dem::from_gsi_gml(b"<Dataset><DEM></DEM></Dataset>", &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lowerCorner"), "{e}");
        let bad = gsi_gml((36.0, 139.0, 36.003, 139.004), (4, 3), (0, 0), &[1.0])
            .replace("地表面,1.00", "地表面,abc");
        assert!(Dem::from_gsi_gml(bad.as_bytes(), &l).is_err());
        let huge = gsi_gml((36.0, 139.0, 36.003, 139.004), (2, 2), (0, 0), &[1.0]).replace(
            "<gml:high>1 1</gml:high>",
            "<gml:high>999999 999999</gml:high>",
        );
        assert!(matches!(
            Dem::from_gsi_gml(huge.as_bytes(), &l),
            Err(PlanError::DemTooLarge { .. })
        ));
        let small = DemLimits {
            max_xml_bytes: 100,
            ..l
        };
        assert!(matches!(
            Dem::from_gsi_gml(too_many.as_bytes(), &small),
            Err(PlanError::DemTooLarge { .. })
        ));
    }
}
