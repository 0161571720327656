//! Prescriptions generated in code in every format, checked against GEOS areas.

use super::*;
use crate::projection::LocalFrame;
use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon, Rect};
use geos::{Geom, Geometry};
use proptest::prelude::*;
use std::io::{Cursor, Write};

/// The test field: 200 m × 100 m centred on (0, 0) local, near Nasushiobara.
pub(crate) fn field() -> (LocalFrame, Polygon, Polygon) {
    let frame0 = LocalFrame::new(139.9, 36.9);
    let local = Rect::new((-100.0, -50.0), (100.0, 50.0)).to_polygon();
    let wgs = frame0.polygon_to_wgs84(&local);
    let frame = LocalFrame::centred_on(&wgs);
    (frame, frame.polygon_to_local(&wgs), wgs)
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
    Rect::new((x0, y0), (x1, y1)).to_polygon()
}

/// The test zones in local metres: A (partly outside, with a hole), B, and a 0.3 m sliver,
/// with their rates in L/10a; the hole and x > 60.3 are gaps.
pub(crate) fn zones_local() -> Vec<(&'static str, f64, Polygon)> {
    let a = Polygon::new(
        rect(-120.0, -60.0, 0.0, 60.0).exterior().clone(),
        vec![LineString::from(vec![
            (-60.0, -10.0),
            (-40.0, -10.0),
            (-40.0, 10.0),
            (-60.0, 10.0),
            (-60.0, -10.0),
        ])],
    );
    vec![
        ("A", 1.0, a),
        ("B", 1.6, rect(-5.0, -60.0, 60.0, 60.0)),
        ("sliver", 2.0, rect(60.0, -50.0, 60.3, 50.0)),
    ]
}

fn wgs(frame: &LocalFrame, p: &Polygon) -> Polygon {
    frame.polygon_to_wgs84(p)
}

fn ring_json(r: &LineString) -> String {
    let pts: Vec<String> =
        r.0.iter()
            .map(|c| format!("[{:.10},{:.10}]", c.x, c.y))
            .collect();
    format!("[{}]", pts.join(","))
}

pub(crate) fn geojson_of(
    frame: &LocalFrame,
    zones: &[(&str, f64, Polygon)],
    column: &str,
) -> String {
    let feats: Vec<String> = zones
        .iter()
        .map(|(name, rate, p)| {
            let p = wgs(frame, p);
            let rings: Vec<String> = std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ring_json)
                .collect();
            format!(
                r#"{{"type":"Feature","properties":{{"name":"{name}","{column}":{rate}}},"geometry":{{"type":"Polygon","coordinates":[{}]}}}}"#,
                rings.join(",")
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        feats.join(",")
    )
}

fn geos_of(p: &Polygon) -> Geometry {
    let ring = |r: &LineString| {
        let pts: Vec<String> = r.0.iter().map(|c| format!("{} {}", c.x, c.y)).collect();
        format!("({})", pts.join(", "))
    };
    let body: Vec<String> = std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(ring)
        .collect();
    Geometry::new_from_wkt(&format!("POLYGON ({})", body.join(", "))).unwrap()
}

/// Per zone (and the gap last), the area GEOS gives for field ∩ zone − earlier zones, m².
pub(crate) fn geos_areas(field: &Polygon, zones: &[(&str, f64, Polygon)]) -> Vec<f64> {
    let mut left = geos_of(field);
    let mut out = Vec::new();
    for (_, _, z) in zones {
        let part = left.intersection(&geos_of(z)).unwrap();
        out.push(part.area().unwrap());
        left = left.difference(&part).unwrap();
    }
    out.push(left.area().unwrap());
    out
}

fn area(mp: &MultiPolygon) -> f64 {
    geo::Area::unsigned_area(mp)
}

fn check_areas(rates: &LocalRates, expect: &[f64]) {
    assert_eq!(
        rates.zones.len(),
        expect.len(),
        "{:?}",
        rates.zones.iter().map(|z| &z.name).collect::<Vec<_>>()
    );
    for (z, e) in rates.zones.iter().zip(expect) {
        // The round trip through degrees (1e-10°, about 0.01 mm) is the only difference.
        assert!(
            (area(&z.area) - e).abs() < 0.01,
            "{}: {} vs GEOS {e}",
            z.name,
            area(&z.area)
        );
    }
}

#[test]
fn geojson_zones_are_clipped_made_disjoint_and_gaps_filled() {
    let (frame, local, _) = field();
    let zl = zones_local();
    let text = geojson_of(&frame, &zl, "rate_l10a");
    let rx = read_prescription(
        text.as_bytes(),
        &ReadOptions::new(Some("rate_l10a"), RateUnit::LitresPer10a),
    )
    .unwrap();
    assert_eq!(rx.zones.len(), 3);
    assert_eq!(rx.zones[1].name, "B");
    let expect = geos_areas(&local, &zl);
    let rates = LocalRates::new(&rx, GapPolicy::Default(0.5), &frame, &local).unwrap();
    check_areas(&rates, &expect);
    assert!(rates.zones[3].is_gap);
    assert_eq!(rates.zones[3].rate_per_ha, 5.0);
    assert_eq!(rates.zones[1].rate_per_ha, 16.0);
    // The zones tile the field.
    let total: f64 = rates.zones.iter().map(|z| area(&z.area)).sum();
    assert!((total - 20_000.0).abs() < 0.05, "{total}");
    // No spray in the gaps: rate 0 there.
    let none = LocalRates::new(&rx, GapPolicy::NoSpray, &frame, &local).unwrap();
    assert_eq!(none.rate_at(Coord { x: -50.0, y: 0.0 }), 0.0);
    assert_eq!(none.rate_at(Coord { x: -80.0, y: 0.0 }), 10.0);
    assert_eq!(none.rate_at(Coord { x: 60.1, y: 0.0 }), 20.0);
    assert_eq!(none.rate_at(Coord { x: 90.0, y: 0.0 }), 0.0);
}

#[test]
fn geojson_errors_name_the_columns_and_the_zone() {
    let (frame, _, _) = field();
    let text = geojson_of(&frame, &zones_local(), "rate");
    let err = read_prescription(
        text.as_bytes(),
        &ReadOptions::new(Some("dose"), RateUnit::LitresPerHa),
    )
    .unwrap_err();
    assert!(err.to_string().contains("name, rate"), "{err}");
    let err = read_prescription(
        text.as_bytes(),
        &ReadOptions::new(None, RateUnit::LitresPerHa),
    )
    .unwrap_err();
    assert!(
        matches!(err, PrescriptionError::ColumnNeeded { .. }),
        "{err}"
    );
    let bad = text.replace(":1.6", ":-3");
    let err = read_prescription(
        bad.as_bytes(),
        &ReadOptions::new(Some("rate"), RateUnit::LitresPerHa),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PrescriptionError::BadRate { zone, .. } if zone == "B"),
        "{err}"
    );
    let mut tight = ReadOptions::new(Some("rate"), RateUnit::LitresPerHa);
    tight.limits.max_vertices = 10;
    assert!(matches!(
        read_prescription(text.as_bytes(), &tight),
        Err(PrescriptionError::TooLarge {
            what: "vertices",
            ..
        })
    ));
    // A projected file (metres) without a CRS is refused, not read as degrees.
    let metres = r#"{"type":"Feature","properties":{"rate":1},"geometry":{"type":"Polygon","coordinates":[[[500000,4000000],[500100,4000000],[500100,4000100],[500000,4000000]]]}}"#;
    assert!(matches!(
        read_prescription(
            metres.as_bytes(),
            &ReadOptions::new(Some("rate"), RateUnit::LitresPerHa)
        ),
        Err(PrescriptionError::UnsupportedCrs { .. })
    ));
}

#[test]
fn a_prescription_beside_the_field_is_refused() {
    let (frame, local, _) = field();
    let far = vec![("far", 1.0, rect(500.0, 500.0, 600.0, 600.0))];
    let text = geojson_of(&frame, &far, "rate");
    let rx = read_prescription(
        text.as_bytes(),
        &ReadOptions::new(Some("rate"), RateUnit::LitresPer10a),
    )
    .unwrap();
    assert!(matches!(
        LocalRates::new(&rx, GapPolicy::NoSpray, &frame, &local),
        Err(PrescriptionError::NoOverlap)
    ));
}

/// A Shapefile of the zones as (.shp, .dbf) bytes, rates in column `RATE`.
fn shapefile_of(frame: &LocalFrame, zones: &[(&str, f64, Polygon)]) -> (Vec<u8>, Vec<u8>) {
    shapefile_with(frame, zones, shapefile::dbase::TableWriterBuilder::new())
}

fn shapefile_with(
    frame: &LocalFrame,
    zones: &[(&str, f64, Polygon)],
    builder: shapefile::dbase::TableWriterBuilder,
) -> (Vec<u8>, Vec<u8>) {
    use shapefile::dbase::{self, FieldValue};
    let mut shp = Cursor::new(Vec::new());
    let mut dbf = Cursor::new(Vec::new());
    {
        let table = builder
            .add_character_field("NAME".try_into().unwrap(), 20)
            .add_numeric_field("RATE".try_into().unwrap(), 10, 3)
            .build_with_dest(&mut dbf);
        let mut w = shapefile::Writer::new(shapefile::ShapeWriter::new(&mut shp), table);
        for (name, rate, p) in zones {
            let mut rec = dbase::Record::default();
            rec.insert("NAME".into(), FieldValue::Character(Some((*name).into())));
            rec.insert("RATE".into(), FieldValue::Numeric(Some(*rate)));
            let shape = shapefile::Polygon::from(wgs(frame, p));
            w.write_shape_and_record(&shape, &rec).unwrap();
        }
    }
    (shp.into_inner(), dbf.into_inner())
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            z.start_file(*name, opts).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

/// A Shapefile in JGD2011 / Japan Plane Rectangular CS IX (metres, as Tochigi's GIS writes
/// it) reads as the same zones in degrees.
#[test]
fn a_shapefile_in_the_japan_plane_rectangular_cs_is_reprojected() {
    use geo::MapCoords;
    use shapefile::dbase::{self, FieldValue};
    let (frame, _, _) = field();
    let zl = zones_local();
    let ix = super::jgd::PlaneRect::new(9).unwrap();
    let in_degrees: Vec<Polygon> = zl.iter().map(|(_, _, p)| wgs(&frame, p)).collect();
    let mut shp = Cursor::new(Vec::new());
    let mut dbf = Cursor::new(Vec::new());
    {
        let table = dbase::TableWriterBuilder::new()
            .add_character_field("NAME".try_into().unwrap(), 20)
            .add_numeric_field("RATE".try_into().unwrap(), 10, 3)
            .build_with_dest(&mut dbf);
        let mut w = shapefile::Writer::new(shapefile::ShapeWriter::new(&mut shp), table);
        for ((name, rate, _), p) in zl.iter().zip(&in_degrees) {
            let metres = p.map_coords(|c| {
                let (x, y) = ix.lon_lat_to_metres(c.x, c.y);
                geo::Coord { x, y }
            });
            assert!(
                metres.exterior().0[0].x.abs() > 1000.0,
                "in metres: {metres:?}"
            );
            let mut rec = dbase::Record::default();
            rec.insert("NAME".into(), FieldValue::Character(Some((*name).into())));
            rec.insert("RATE".into(), FieldValue::Numeric(Some(*rate)));
            w.write_shape_and_record(&shapefile::Polygon::from(metres), &rec)
                .unwrap();
        }
    }
    let prj = r#"PROJCS["JGD_2011_Japan_Zone_9",GEOGCS["GCS_JGD_2011",DATUM["D_JGD_2011",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]"#;
    let opts = ReadOptions::new(Some("rate"), RateUnit::LitresPer10a);
    let rx = read_shapefile(&shp.into_inner(), &dbf.into_inner(), Some(prj), None, &opts).unwrap();
    assert_eq!(rx.zones.len(), zl.len());
    for (z, want) in rx.zones.iter().zip(&in_degrees) {
        let got = &z.area.0[0].exterior().0;
        assert_eq!(got.len(), want.exterior().0.len());
        // Shapefiles keep exterior rings clockwise: the same vertices, maybe reversed.
        // 1e-8° is about a millimetre.
        for w in &want.exterior().0 {
            assert!(
                got.iter()
                    .any(|g| (g.x - w.x).abs() < 1e-8 && (g.y - w.y).abs() < 1e-8),
                "{w:?} not in {got:?}"
            );
        }
    }
}

const PRJ_WGS84: &str = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

#[test]
fn shapefile_zipped_or_in_parts_reads_the_chosen_column() {
    let (frame, local, _) = field();
    // Rates in L/ha this time.
    let zl: Vec<_> = zones_local()
        .into_iter()
        .map(|(n, r, p)| (n, r * 10.0, p))
        .collect();
    let (shp, dbf) = shapefile_of(&frame, &zl);
    let opts = ReadOptions::new(Some("rate"), RateUnit::LitresPerHa);
    let parts = read_shapefile(&shp, &dbf, Some(PRJ_WGS84), None, &opts).unwrap();
    assert_eq!(
        parts
            .zones
            .iter()
            .map(|z| z.name.as_str())
            .collect::<Vec<_>>(),
        ["A", "B", "sliver"]
    );
    let zipped = zip_of(&[
        ("rx/zones.shp", &shp),
        ("rx/zones.dbf", &dbf),
        ("rx/zones.prj", PRJ_WGS84.as_bytes()),
    ]);
    let rx = read_prescription(&zipped, &opts).unwrap();
    assert_eq!(rx, parts);
    // The same files picked one by one, not zipped, in any order and any case.
    let picked = [
        ("ZONES.PRJ".to_owned(), PRJ_WGS84.as_bytes().to_vec()),
        ("zones.dbf".to_owned(), dbf.clone()),
        ("zones.shp".to_owned(), shp.clone()),
    ];
    assert_eq!(read_prescription_files(&picked, &opts).unwrap(), parts);
    let err = read_prescription_files(&picked[..1], &opts).unwrap_err();
    assert!(matches!(err, PrescriptionError::UnknownFormat), "{err}");
    let err = read_prescription_files(&[picked[2].clone()], &opts).unwrap_err();
    assert!(err.to_string().contains(".dbf"), "{err}");
    let rates = LocalRates::new(&rx, GapPolicy::NoSpray, &frame, &local).unwrap();
    check_areas(&rates, &geos_areas(&local, &zl));
    assert_eq!(rates.zones[0].rate_per_ha, 10.0);
    // A projected .prj is refused with the CRS named.
    let utm = r#"PROJCS["WGS_1984_UTM_Zone_54N",GEOGCS["GCS_WGS_1984"]]"#;
    let err = read_shapefile(&shp, &dbf, Some(utm), None, &opts).unwrap_err();
    assert!(err.to_string().contains("UTM_Zone_54N"), "{err}");
    let err = read_prescription(&zip_of(&[("a.shp", &shp)]), &opts).unwrap_err();
    assert!(err.to_string().contains(".dbf"), "{err}");
    let err = read_shapefile(
        &shp,
        &dbf,
        None,
        None,
        &ReadOptions::new(Some("DOSE"), RateUnit::LitresPerHa),
    )
    .unwrap_err();
    assert!(err.to_string().contains("NAME, RATE"), "{err}");
}

#[test]
fn shift_jis_zone_names_are_decoded_by_cpg_or_header() {
    use shapefile::dbase::{TableWriterBuilder, encoding::EncodingRs, encoding_rs::SHIFT_JIS};
    let (frame, _, _) = field();
    let zl = vec![
        ("東の区画", 8.0, rect(-100.0, -50.0, 0.0, 50.0)),
        ("西", 12.0, rect(0.0, -50.0, 100.0, 50.0)),
    ];
    let sjis = TableWriterBuilder::with_encoding(EncodingRs::from(SHIFT_JIS));
    let (shp, dbf) = shapefile_with(&frame, &zl, sjis);
    // The names are not UTF-8 in the file.
    assert!(!dbf.windows("東".len()).any(|w| w == "東".as_bytes()));
    let opts = ReadOptions::new(Some("RATE"), RateUnit::LitresPerHa);
    let names = |rx: Prescription| rx.zones.into_iter().map(|z| z.name).collect::<Vec<_>>();
    let zipped = zip_of(&[("z.shp", &shp), ("z.dbf", &dbf), ("z.cpg", b"SHIFT_JIS")]);
    assert_eq!(
        names(read_prescription(&zipped, &opts).unwrap()),
        ["東の区画", "西"]
    );
    // Without a .cpg, the DBF header's language driver (code page 932) says the same.
    assert_eq!(dbf[29], 0x13);
    assert_eq!(
        names(read_shapefile(&shp, &dbf, None, None, &opts).unwrap()),
        ["東の区画", "西"]
    );
}

#[test]
fn zip_bombs_are_refused_while_inflating() {
    let blank = vec![b' '; 8 << 20];
    let bomb = zip_of(&[("rx.geojson", &blank)]);
    let err = read_prescription(
        &bomb,
        &ReadOptions::new(Some("rate"), RateUnit::LitresPerHa),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PrescriptionError::Zip { message } if message.contains("times")),
        "{err}"
    );
}

/// A GeoTIFF of `values` (row-major, north row first) with its north-west corner at `nw`
/// (lon, lat) and `px` degrees per pixel, geographic EPSG `epsg`; `point`: the tie point is
/// the first pixel's centre (PixelIsPoint).
#[allow(clippy::too_many_arguments)] // one argument per GeoTIFF tag the tests vary
fn geotiff_of(
    values: &[f32],
    w: u32,
    h: u32,
    nw: (f64, f64),
    px: (f64, f64),
    epsg: u16,
    rotated: bool,
    point: bool,
) -> Vec<u8> {
    // Version 1.1.0, 3 keys: geographic model, pixel-is-area or -point, the geodetic CRS.
    let keys = [
        1u16,
        1,
        0,
        3,
        1024,
        0,
        1,
        2,
        1025,
        0,
        1,
        if point { 2 } else { 1 },
        2048,
        0,
        1,
        epsg,
    ];
    geotiff_with_keys(values, w, h, nw, px, &keys, rotated)
}

/// A GeoTIFF of `values` tied at `nw` with `px` units per pixel and the GeoKeyDirectory
/// `keys`.
fn geotiff_with_keys(
    values: &[f32],
    w: u32,
    h: u32,
    nw: (f64, f64),
    px: (f64, f64),
    keys: &[u16],
    rotated: bool,
) -> Vec<u8> {
    use tiff::encoder::{TiffEncoder, colortype::Gray32Float};
    use tiff::tags::Tag;
    let mut buf = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut buf).unwrap();
        let mut img = enc.new_image::<Gray32Float>(w, h).unwrap();
        let d = img.encoder();
        d.write_tag(Tag::ModelPixelScaleTag, &[px.0, px.1, 0.0][..])
            .unwrap();
        d.write_tag(Tag::ModelTiepointTag, &[0.0, 0.0, 0.0, nw.0, nw.1, 0.0][..])
            .unwrap();
        if rotated {
            d.write_tag(Tag::ModelTransformationTag, &[1.0f64; 16][..])
                .unwrap();
        }
        d.write_tag(Tag::GeoKeyDirectoryTag, keys).unwrap();
        d.write_tag(Tag::GdalNodata, "-9999").unwrap();
        img.write_data(values).unwrap();
    }
    buf.into_inner()
}

#[test]
fn a_geotiff_in_the_japan_plane_rectangular_cs_is_reprojected() {
    let (frame, local, _) = field();
    let ix = super::jgd::PlaneRect::from_epsg(6677).unwrap();
    // The same 4 × 2 raster of 50 m cells as below, in zone IX metres (JGD2011, EPSG 6677).
    let nw = frame.to_wgs84(Coord { x: -100.0, y: 50.0 });
    let (x0, y0) = ix.lon_lat_to_metres(nw.x, nw.y);
    let values = [8.0, 8.0, 12.0, 12.0, 8.0, -9999.0, 12.0, 12.0];
    // Projected model, pixel-is-area, ProjectedCRSGeoKey 6677.
    let keys = [
        1u16, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 6677,
    ];
    let tif = geotiff_with_keys(&values, 4, 2, (x0, y0), (50.0, 50.0), &keys, false);
    let opts = ReadOptions::new(None, RateUnit::LitresPerHa);
    let rx = read_prescription(&tif, &opts).unwrap();
    assert_eq!(rx.zones.len(), 2);
    let rates = LocalRates::new(&rx, GapPolicy::Default(10.0), &frame, &local).unwrap();
    let areas: Vec<f64> = rates.zones.iter().map(|z| area(&z.area)).collect();
    // The zone's grid is turned from true north by the meridian convergence (about 0.09°
    // 13 km east of zone IX's meridian) and scaled by 0.9999: the zones trade about 10 m²
    // (seen: 7 496.7, 9 990.2, 2 513.1 m²), their sum stays 20 000 m².
    assert!(
        (areas.iter().sum::<f64>() - 20_000.0).abs() < 1.0,
        "{areas:?}"
    );
    for (got, want) in areas.iter().zip([7_500.0, 10_000.0, 2_500.0]) {
        assert!((got - want).abs() < 15.0, "{areas:?}");
    }
    assert_eq!(rates.rate_at(Coord { x: 75.0, y: -25.0 }), 12.0);
    assert_eq!(rates.rate_at(Coord { x: -75.0, y: 25.0 }), 8.0);
    // Another projected system is refused with its code.
    let utm = [
        1u16, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32654,
    ];
    let tif = geotiff_with_keys(&values, 4, 2, (x0, y0), (50.0, 50.0), &utm, false);
    let err = read_prescription(&tif, &opts).unwrap_err();
    assert!(err.to_string().contains("32654"), "{err}");
}

#[test]
fn geotiff_cells_become_zones_by_value() {
    let (frame, local, _) = field();
    // A 4 × 2 raster of 50 m cells over the field: rates 8 / 12 L/ha, one no-data cell.
    let nw = frame.to_wgs84(Coord { x: -100.0, y: 50.0 });
    let se = frame.to_wgs84(Coord { x: 100.0, y: -50.0 });
    let px = ((se.x - nw.x) / 4.0, (nw.y - se.y) / 2.0);
    let values = [8.0, 8.0, 12.0, 12.0, 8.0, -9999.0, 12.0, 12.0];
    let tif = geotiff_of(&values, 4, 2, (nw.x, nw.y), px, 6668, false, false);
    let opts = ReadOptions::new(None, RateUnit::LitresPerHa);
    let rx = read_prescription(&tif, &opts).unwrap();
    assert_eq!(rx.zones.len(), 2);
    let rates = LocalRates::new(&rx, GapPolicy::Default(10.0), &frame, &local).unwrap();
    let areas: Vec<f64> = rates.zones.iter().map(|z| area(&z.area)).collect();
    for (got, want) in areas.iter().zip([7_500.0, 10_000.0, 2_500.0]) {
        assert!((got - want).abs() < 1.0, "{areas:?}");
    }
    assert_eq!(rates.rate_at(Coord { x: -25.0, y: -25.0 }), 10.0);
    assert_eq!(rates.rate_at(Coord { x: 75.0, y: -25.0 }), 12.0);
    // Rotated, projected and oversized rasters are refused with a reason.
    let rot = geotiff_of(&values, 4, 2, (nw.x, nw.y), px, 4326, true, false);
    assert!(matches!(
        read_prescription(&rot, &opts),
        Err(PrescriptionError::UnsupportedRaster { .. })
    ));
    let other = geotiff_of(&values, 4, 2, (nw.x, nw.y), px, 4269, false, false);
    let err = read_prescription(&other, &opts).unwrap_err();
    assert!(err.to_string().contains("4269"), "{err}");
    // PixelIsPoint ties the pixel's centre: the same raster moved half a pixel south-east.
    let centre = (nw.x + px.0 / 2.0, nw.y - px.1 / 2.0);
    let as_point = geotiff_of(&values, 4, 2, centre, px, 6668, false, true);
    let moved = read_prescription(&as_point, &opts).unwrap();
    assert_eq!(moved.zones.len(), rx.zones.len());
    for (a, b) in moved.zones.iter().zip(&rx.zones) {
        assert!((area(&a.area) - area(&b.area)).abs() < 1e-12);
        let (ra, rb) = (
            a.area.bounding_rect().unwrap(),
            b.area.bounding_rect().unwrap(),
        );
        assert!((ra.min().x - rb.min().x).abs() < 1e-9 && (ra.max().y - rb.max().y).abs() < 1e-9);
    }
    // A tie point in metres (a projected raster mislabelled as geographic) is refused before
    // any cell becomes geometry.
    let metres = geotiff_of(
        &values,
        4,
        2,
        (500_000.0, 4_000_000.0),
        (50.0, 50.0),
        4326,
        false,
        false,
    );
    assert!(matches!(
        read_prescription(&metres, &opts),
        Err(PrescriptionError::UnsupportedCrs { .. })
    ));
    let mut small = opts.clone();
    small.limits.max_cells = 7;
    assert!(matches!(
        read_prescription(&tif, &small),
        Err(PrescriptionError::TooLarge { .. })
    ));
}

fn isoxml_of(frame: &LocalFrame, zones: &[(&str, f64, Polygon)], grid: Option<&str>) -> String {
    let mut tzn = String::new();
    for (i, (name, rate_l10a, p)) in zones.iter().enumerate() {
        let p = wgs(frame, p);
        // mm³/m² = 0.01 L/ha: 1 L/10a = 10 L/ha = 1000 mm³/m².
        let value = (rate_l10a * 1000.0).round() as i64;
        tzn.push_str(&format!(
            r#"<TZN A="{}" B="{name}"><PDV A="0001" B="{value}"/><PLN A="2">"#,
            i + 1
        ));
        for (k, r) in std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
        {
            tzn.push_str(&format!(r#"<LSG A="{}">"#, if k == 0 { 1 } else { 2 }));
            for c in &r.0 {
                tzn.push_str(&format!(r#"<PNT A="2" C="{:.10}" D="{:.10}"/>"#, c.y, c.x));
            }
            tzn.push_str("</LSG>");
        }
        tzn.push_str("</PLN></TZN>");
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ISO11783_TaskData VersionMajor="4" VersionMinor="3" DataTransferOrigin="1"><TSK A="TSK1" B="rx" G="1">{tzn}{}</TSK></ISO11783_TaskData>"#,
        grid.unwrap_or("")
    )
}

#[test]
fn isoxml_treatment_zones_and_grids() {
    let (frame, local, _) = field();
    let zl = zones_local();
    let xml = isoxml_of(&frame, &zl, None);
    let opts = ReadOptions::new(None, RateUnit::LitresPer10a);
    let rx = read_prescription(xml.as_bytes(), &opts).unwrap();
    assert_eq!(
        rx.zones.iter().map(|z| z.rate).collect::<Vec<_>>(),
        [1.0, 1.6, 2.0]
    );
    let rates = LocalRates::new(&rx, GapPolicy::NoSpray, &frame, &local).unwrap();
    check_areas(&rates, &geos_areas(&local, &zl));
    // Volume rates cannot be read as granules.
    assert!(matches!(
        read_prescription(xml.as_bytes(), &ReadOptions::new(None, RateUnit::KgPer10a)),
        Err(PrescriptionError::UnitMismatch { .. })
    ));
    // A type-1 grid: 2 × 2 cells of 100 m × 50 m naming zones 1 and 2 (codes), SW cell first.
    let sw = frame.to_wgs84(Coord {
        x: -100.0,
        y: -50.0,
    });
    let ne = frame.to_wgs84(Coord { x: 100.0, y: 50.0 });
    let grd = format!(
        r#"<GRD A="{:.10}" B="{:.10}" C="{:.12}" D="{:.12}" E="2" F="2" G="GRD00001" I="1"/>"#,
        sw.y,
        sw.x,
        (ne.y - sw.y) / 2.0,
        (ne.x - sw.x) / 2.0
    );
    let xml = isoxml_of(&frame, &zl[..2], Some(&grd));
    let zipped = zip_of(&[
        ("TASKDATA/TASKDATA.XML", xml.as_bytes()),
        ("TASKDATA/GRD00001.BIN", &[1, 2, 2, 2]),
    ]);
    let rx = read_prescription(&zipped, &opts).unwrap();
    let rates = LocalRates::new(&rx, GapPolicy::NoSpray, &frame, &local).unwrap();
    assert_eq!(rates.rate_at(Coord { x: -50.0, y: -25.0 }), 10.0);
    assert_eq!(rates.rate_at(Coord { x: -50.0, y: 25.0 }), 16.0);
    assert_eq!(rates.rate_at(Coord { x: 50.0, y: -25.0 }), 16.0);
    let ones: f64 = rates
        .zones
        .iter()
        .filter(|z| z.rate == 1.0)
        .map(|z| area(&z.area))
        .sum();
    assert!((ones - 5_000.0).abs() < 1.0, "{ones}");
    // A type-2 grid holds the rates themselves (mm³/m²) for treatment zone 1's DDI: 2 × 1
    // cells of 100 m × 100 m, 8 and 12 L/ha.
    let grd2 = format!(
        r#"<GRD A="{:.10}" B="{:.10}" C="{:.12}" D="{:.12}" E="2" F="1" G="GRD00002" I="2" J="1"/>"#,
        sw.y,
        sw.x,
        ne.y - sw.y,
        (ne.x - sw.x) / 2.0
    );
    let xml2 = isoxml_of(&frame, &zl[..1], Some(&grd2));
    let cells: Vec<u8> = [800i32, 1200]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let zipped = zip_of(&[("TASKDATA.XML", xml2.as_bytes()), ("GRD00002.BIN", &cells)]);
    let rx = read_prescription(&zipped, &ReadOptions::new(None, RateUnit::LitresPerHa)).unwrap();
    let rates = LocalRates::new(&rx, GapPolicy::NoSpray, &frame, &local).unwrap();
    assert_eq!(rates.rate_at(Coord { x: -50.0, y: 0.0 }), 8.0);
    assert_eq!(rates.rate_at(Coord { x: 50.0, y: 0.0 }), 12.0);
    // Without its binary file, the grid cannot be read.
    let err = read_prescription(xml.as_bytes(), &opts).unwrap_err();
    assert!(err.to_string().contains("GRD00001.BIN"), "{err}");
}

#[test]
fn units_and_gap_policies_parse() {
    assert_eq!(
        RateUnit::parse("l-per-10a").unwrap(),
        RateUnit::LitresPer10a
    );
    assert_eq!(RateUnit::parse("kg/10a").unwrap(), RateUnit::KgPer10a);
    assert!(RateUnit::parse("gal/ac").is_err());
    assert_eq!(GapPolicy::parse("none").unwrap(), GapPolicy::NoSpray);
    assert_eq!(
        GapPolicy::parse("default:0.8").unwrap(),
        GapPolicy::Default(0.8)
    );
    assert!(GapPolicy::parse("default:-1").is_err());
    assert!(GapPolicy::parse("zero").is_err());
}

/// Zones on a 4 × 2 grid over the field with rates from the strategy (0 = no zone there).
fn grid_rates(rates: &[u8]) -> (LocalFrame, LocalRates) {
    let (frame, local, _) = field();
    let mut zones = Vec::new();
    for (i, &r) in rates.iter().enumerate() {
        if r == 0 {
            continue;
        }
        let (cx, cy) = ((i % 4) as f64 * 50.0 - 100.0, (i / 4) as f64 * 50.0 - 50.0);
        zones.push(Zone {
            name: format!("z{i}"),
            rate: f64::from(r),
            area: MultiPolygon(vec![wgs(&frame, &rect(cx, cy, cx + 50.0, cy + 50.0))]),
        });
    }
    let rx = Prescription {
        unit: RateUnit::LitresPerHa,
        zones,
    };
    (
        frame,
        LocalRates::new(&rx, GapPolicy::Default(3.0), &frame, &local).unwrap(),
    )
}

fn dist(a: Coord, b: Coord) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

proptest! {
    #[test]
    fn cut_pieces_tile_the_leg_and_carry_the_midpoint_rate(
        rates in proptest::collection::vec(0u8..4, 8),
        x0 in -99.0f64..99.0, y0 in -49.0f64..49.0, x1 in -99.0f64..99.0, y1 in -49.0f64..49.0,
    ) {
        prop_assume!(rates.iter().any(|&r| r > 0));
        let (_, lr) = grid_rates(&rates);
        let (a, b) = (Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 });
        let pieces = lr.cut(a, b, 0.0);
        prop_assert_eq!(pieces.last().unwrap().to, b);
        let mut from = a;
        let mut total = 0.0;
        for p in &pieces {
            // Each piece lies on the leg and moves forward along it.
            let along = dist(a, from) + dist(from, p.to);
            prop_assert!((along - dist(a, p.to)).abs() < 1e-6);
            let mid = Coord { x: (from.x + p.to.x) / 2.0, y: (from.y + p.to.y) / 2.0 };
            prop_assert_eq!(p.rate_per_ha, lr.rate_at(mid));
            total += dist(from, p.to);
            from = p.to;
        }
        prop_assert!((total - dist(a, b)).abs() < 1e-6);
        for w in pieces.windows(2) {
            prop_assert!(w[0].rate_per_ha != w[1].rate_per_ha, "adjacent pieces of one rate are merged");
        }
    }

    #[test]
    fn cut_leads_each_change_by_the_lag_distance(lead in 0.0f64..10.0, y in -45.0f64..45.0) {
        // Rates 1 | 2 | 3 | 1 west to east (both rows): borders at x = -50, 0, 50.
        let (_, lr) = grid_rates(&[1, 2, 3, 1, 1, 2, 3, 1]);
        let pieces = lr.cut(Coord { x: -95.0, y }, Coord { x: 95.0, y }, lead);
        let ends: Vec<f64> = pieces.iter().map(|p| p.to.x).collect();
        prop_assert_eq!(pieces.iter().map(|p| p.rate_per_ha).collect::<Vec<_>>(), vec![1.0, 2.0, 3.0, 1.0]);
        for (got, border) in ends.iter().zip([-50.0, 0.0, 50.0]) {
            prop_assert!((got - (border - lead)).abs() < 1e-6, "{:?}", ends);
        }
        // Westwards, the changes come lead metres before each border the other way.
        let back = lr.cut(Coord { x: 95.0, y }, Coord { x: -95.0, y }, lead);
        for (p, border) in back.iter().zip([50.0, 0.0, -50.0]) {
            prop_assert!((p.to.x - (border + lead)).abs() < 1e-6);
        }
    }
}
