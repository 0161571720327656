use super::*;
use clap::Parser;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn args(extra: &[&str]) -> Args {
    let mut argv = vec!["plan"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("valid arguments").args
}

#[test]
fn parses_refill_and_names() {
    let c = parse_latlon("36.96, 139.98").unwrap();
    assert_eq!((c.x, c.y), (139.98, 36.96));
    assert!(
        parse_latlon("139.98,36.96").is_err(),
        "swapped order is out of range"
    );
    assert_eq!(file_stem("a/b c:д"), "a_b_c_д");
}

#[test]
fn the_fence_margin_and_size_come_from_the_command_line() {
    let with = |extra: &[&str]| {
        let mut v = vec!["f", "--swath-width", "5", "--out", "o"];
        v.extend_from_slice(extra);
        config(&args(&v))
    };
    let c = with(&["--fence-margin-m", "3.5"]).unwrap();
    assert_eq!((c.fence_margin.get(), c.fence_points), (3.5, Some(70)));
    assert_eq!(with(&["--fence-points", "all"]).unwrap().fence_points, None);
    for bad in ["2", "0", "many"] {
        let argv = [
            "plan",
            "f",
            "--swath-width",
            "5",
            "--out",
            "o",
            "--fence-points",
            bad,
        ];
        let e = Cli::try_parse_from(argv).unwrap_err().to_string();
        assert!(e.contains("not a fence size"), "{bad}: {e}");
    }
    assert!(with(&["--fence-margin-m", "25"]).is_err());
    // A fence over the budget is fitted, and the run says how; the full one says nothing.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read(root.join("samples/fields/paddy_with_zones.geojson")).unwrap();
    let set = read_fields(&text).unwrap();
    let field = set.fields[0].as_ref().unwrap();
    let report = |n: &str| {
        let cfg = with(&["--fence-points", n]).unwrap();
        plan(field, &cfg).unwrap().report
    };
    let full = report("all");
    assert_eq!(fence_note(&full), None);
    let fitted = report("12");
    assert!(
        fitted.fence_points <= 12 && full.fence_points > 12,
        "{fitted:?}"
    );
    let note = fence_note(&fitted).unwrap();
    assert!(
        note.contains(&format!("{} → {}", full.fence_points, fitted.fence_points)),
        "{note}"
    );
}

#[test]
fn a_deeply_nested_kml_is_a_bad_file_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.kml");
    let kml = format!(
        "<kml><Document>{}{}</Document></kml>",
        "<Folder>".repeat(2_000),
        "</Folder>".repeat(2_000)
    );
    std::fs::write(&deep, kml).unwrap();
    assert_one_bad_input(&deep, STREAM_FROM_BYTES);
}

/// Planning `file` alone fails as one bad input of one, not as an abort.
fn assert_one_bad_input(file: &Path, stream_from: u64) {
    let out = file.with_extension("out");
    let argv = [
        file.to_str().unwrap(),
        "--swath-width",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    let e = run_streaming_from(args(&argv), stream_from).unwrap_err();
    assert!(e.to_string().starts_with("1 of 1 inputs"), "{e}");
}

#[test]
fn plans_samples_and_fails_on_bad_fields_but_writes_the_others() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.geojson");
    std::fs::write(
        &bad,
        r#"{"type":"Feature","properties":{"id":"x"},"geometry":{"type":"Polygon","coordinates":[[[36.9,139.9],[36.9,139.901],[36.901,139.901],[36.9,139.9]]]}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let paddy = root.join("samples/fields/paddy_with_zones.geojson");
    let kml = root.join("samples/fields/chofu_paddy.kml");
    let a = args(&[
        paddy.to_str().unwrap(),
        kml.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--swath-width",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--autopilot",
        "px4",
        "--json",
    ]);
    let err = run(a).unwrap_err().to_string();
    assert!(err.contains("1 of 3 inputs"), "{err}");
    for f in [
        "jp_fude_2024_rice_03.plan",
        "jp_fude_2024_rice_03_sortie1.plan",
        "jp_fude_2024_rice_03.waypoints",
        "jp_fude_2024_rice_03.kml",
        "jp_fude_2024_rice_03.geojson",
        "jp_chofu_fude_osm_rice_01.plan",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("jp_fude_2024_rice_03.plan")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["mission"]["firmwareType"], 12);
    // The pole and the shed are exclusion polygons of the geofence.
    assert_eq!(plan["geoFence"]["polygons"].as_array().unwrap().len(), 3);
}

#[test]
fn streamed_files_plan_to_the_same_missions_as_whole_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = [
        "paddy_with_zones.geojson",
        "holes.geojson",
        "chofu_paddy.kml",
    ]
    .iter()
    .map(|f| root.join("samples/fields").join(f).display().to_string())
    .collect();
    let listing = |stream_from: u64, name: &str| {
        let out = dir.path().join(name);
        let mut argv: Vec<&str> = files.iter().map(String::as_str).collect();
        argv.extend(["--swath-width", "5", "--out", out.to_str().unwrap()]);
        run_streaming_from(args(&argv), stream_from).unwrap();
        let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        entries.sort();
        entries
    };
    let streamed = listing(0, "streamed");
    let whole = listing(u64::MAX, "whole");
    assert!(streamed.len() > 10, "{}", streamed.len());
    assert_eq!(
        streamed.iter().map(|e| &e.0).collect::<Vec<_>>(),
        whole.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    for (a, b) in streamed.iter().zip(&whole) {
        assert!(a.1 == b.1, "{} differs", a.0);
    }
}

#[test]
fn a_broken_streamed_file_is_one_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.geojson");
    std::fs::write(
        &broken,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9]"#,
    )
    .unwrap();
    assert_one_bad_input(&broken, 0);
}

/// A GSI DEM tile (JPGIS GML) of 5e-5° cells around `field`'s bounds, heights `f(lat)`.
pub(crate) fn gsi_tile_around(field: &Path, f: impl Fn(f64) -> Option<f64>) -> String {
    let set = read_fields(&std::fs::read(field).unwrap()).unwrap();
    let b = geo::BoundingRect::bounding_rect(&set.fields[0].as_ref().unwrap().boundary).unwrap();
    let cell = 5e-5;
    let (w, s) = (b.min().x - 0.002, b.min().y - 0.002);
    let (nx, ny) = (
        ((b.max().x + 0.002 - w) / cell) as usize,
        ((b.max().y + 0.002 - s) / cell) as usize,
    );
    let n = s + ny as f64 * cell;
    let mut tuples = String::new();
    for r in 0..ny {
        let lat = n - (r as f64 + 0.5) * cell;
        for _ in 0..nx {
            match f(lat) {
                Some(h) => tuples.push_str(&format!("地表面,{h:.2}\n")),
                None => tuples.push_str("データなし,-9999.\n"),
            }
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Dataset xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema">
<DEM><type>5mメッシュ（標高）</type><coverage>
<gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
<gml:lowerCorner>{s} {w}</gml:lowerCorner><gml:upperCorner>{n} {e}</gml:upperCorner>
</gml:Envelope></gml:boundedBy>
<gml:gridDomain><gml:Grid dimension="2"><gml:limits><gml:GridEnvelope>
<gml:low>0 0</gml:low><gml:high>{hx} {hy}</gml:high></gml:GridEnvelope></gml:limits></gml:Grid></gml:gridDomain>
<gml:rangeSet><gml:DataBlock><gml:tupleList>
{tuples}</gml:tupleList></gml:DataBlock></gml:rangeSet>
<gml:coverageFunction><gml:GridFunction><gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
<gml:startPoint>0 0</gml:startPoint></gml:GridFunction></gml:coverageFunction>
</coverage></DEM></Dataset>
"#,
        e = w + nx as f64 * cell,
        hx = nx - 1,
        hy = ny - 1,
    )
}

#[test]
fn plans_over_a_terrace_from_a_gsi_dem_in_the_terrain_frame() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let paddy = root.join("samples/fields/paddy_with_zones.geojson");
    let dir = tempfile::tempdir().unwrap();
    let set = read_fields(&std::fs::read(&paddy).unwrap()).unwrap();
    let b = geo::BoundingRect::bounding_rect(&set.fields[0].as_ref().unwrap().boundary).unwrap();
    let mid = (b.min().y + b.max().y) / 2.0;
    let dem = dir.path().join("FG-GML-test-DEM5A.xml");
    // A 10 m terrace step across the middle of the field.
    std::fs::write(
        &dem,
        gsi_tile_around(&paddy, |lat| Some(if lat < mid { 150.0 } else { 160.0 })),
    )
    .unwrap();
    let run_with = |frame: &str, out: &Path| {
        run(args(&[
            paddy.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "waypoints",
            "--dem",
            dem.to_str().unwrap(),
            "--alt-frame",
            frame,
        ]))
    };
    let out = dir.path().join("terrain");
    run_with("terrain", &out).unwrap();
    let wpl = std::fs::read_to_string(out.join("jp_fude_2024_rice_03.waypoints")).unwrap();
    let waypoints: Vec<Vec<&str>> = wpl
        .lines()
        .skip(2)
        .map(|l| l.split('\t').collect())
        .filter(|c: &Vec<&str>| c[3] == "16")
        .collect();
    assert!(
        waypoints.iter().all(|c| c[2] == "10"),
        "terrain frame on every waypoint"
    );
    let out = dir.path().join("amsl");
    run_with("amsl", &out).unwrap();
    let wpl = std::fs::read_to_string(out.join("jp_fude_2024_rice_03.waypoints")).unwrap();
    let alts: Vec<f64> = wpl
        .lines()
        .skip(2)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c[3] == "16")
        .map(|c| c[10].parse().unwrap())
        .collect();
    let (lo, hi) = alts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(
        (lo - 152.0).abs() < 0.6 && (hi - 162.0).abs() < 0.6,
        "{lo} .. {hi}"
    );

    // Terrain missing over half the field: the field is refused, saying so.
    let half = dir.path().join("half.xml");
    std::fs::write(
        &half,
        gsi_tile_around(&paddy, |lat| (lat < mid).then_some(150.0)),
    )
    .unwrap();
    let e = run(args(&[
        paddy.to_str().unwrap(),
        "--swath-width",
        "5",
        "--out",
        dir.path().join("half").to_str().unwrap(),
        "--dem",
        half.to_str().unwrap(),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("1 of 1 inputs"), "{e}");
    let e = run(args(&[
        paddy.to_str().unwrap(),
        "--swath-width",
        "5",
        "--out",
        dir.path().join("x").to_str().unwrap(),
        "--alt-frame",
        "amsl",
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("--dem"), "{e}");
}

#[test]
fn plans_with_a_prescription_and_refuses_plain_ardupilot() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let paddy = root.join("samples/fields/paddy_with_zones.geojson");
    let set = read_fields(&std::fs::read(&paddy).unwrap()).unwrap();
    let field = set.fields[0].as_ref().unwrap();
    // Two zones splitting the field's bounding box west / east, rates in L/ha.
    let (mut x0, mut y0, mut x1, mut y1) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for c in field.boundary.exterior().coords() {
        (x0, y0, x1, y1) = (x0.min(c.x), y0.min(c.y), x1.max(c.x), y1.max(c.y));
    }
    let xm = (x0 + x1) / 2.0;
    let zone = |a: f64, b: f64, rate: f64| {
        format!(
            r#"{{"type":"Feature","properties":{{"name":"z{rate}","RATE":{rate}}},"geometry":{{"type":"Polygon","coordinates":[[[{a},{y0}],[{b},{y0}],[{b},{y1}],[{a},{y1}],[{a},{y0}]]]}}}}"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let rx = dir.path().join("rx.geojson");
    std::fs::write(
        &rx,
        format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            zone(x0, xm, 8.0),
            zone(xm, x1, 16.0)
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let base = [
        paddy.to_str().unwrap(),
        "--swath-width",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--prescription",
        rx.to_str().unwrap(),
        "--rate-column",
        "RATE",
        "--rate-unit",
        "l-per-ha",
        "--gap",
        "default:4",
        "--pump-full-flow-l-min",
        "2.4",
    ];
    let err = run(args(&base)).unwrap_err().to_string();
    assert!(err.contains("ardupilot-servo"), "{err}");
    let mut servo = base.to_vec();
    servo.extend(["--autopilot", "ardupilot-servo", "--rate-lag-s", "0.4"]);
    let a = args(&servo);
    let cfg = config(&a).unwrap();
    assert_eq!(cfg.rate_lag.get(), 0.4);
    assert_eq!(
        cfg.prescription.as_ref().unwrap().gap,
        GapPolicy::Default(4.0)
    );
    run(a).unwrap();
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("jp_fude_2024_rice_03.plan")).unwrap(),
    )
    .unwrap();
    let pwms: std::collections::BTreeSet<u64> = plan["mission"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|it| it["command"] == 183)
        .map(|it| it["params"][1].as_f64().unwrap() as u64)
        .collect();
    // Off, and the levels of 8 and 16 L/ha at 5 m/s over 5 m with a 2.4 L/min pump
    // (1.2 and 2.4 L/min: half and full flow).
    assert!(
        pwms.contains(&1000) && pwms.contains(&1700) && pwms.contains(&1900),
        "{pwms:?}"
    );
    // A missing rate column names the ones there are.
    let mut bad = base.to_vec();
    bad[8] = "DOSE";
    let err = format!("{:#}", config(&args(&bad)).unwrap_err());
    assert!(err.contains("its columns are: RATE, name"), "{err}");
}

#[test]
fn the_summary_says_what_was_planned() {
    let out = Path::new("/tmp/o");
    assert_eq!(failure_summary(0, 3, out), None);
    assert_eq!(
        failure_summary(1, 1, out).unwrap(),
        "1 of 1 inputs (files and fields) failed; nothing was planned"
    );
    assert_eq!(
        failure_summary(1, 2, out).unwrap(),
        "1 of 2 inputs (files and fields) failed; the other one was planned and written to /tmp/o"
    );
    assert_eq!(
        failure_summary(1, 3, out).unwrap(),
        "1 of 3 inputs (files and fields) failed; the other 2 were planned and written to /tmp/o"
    );
}

#[test]
fn a_field_over_the_vertex_limit_fails_fast_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ring: Vec<String> = (0..=300_000)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i % 300_000) / 300_000.0;
            format!("[{},{}]", 139.9 + 0.002 * a.cos(), 36.9 + 0.002 * a.sin())
        })
        .collect();
    let big = dir.path().join("circle.geojson");
    std::fs::write(
        &big,
        format!(
            r#"{{"type":"Feature","properties":{{"id":"circle"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
            ring.join(",")
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let e = run(args(&[
        big.to_str().unwrap(),
        "--swath-width",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "1 of 1 inputs (files and fields) failed; nothing was planned"
    );
}
