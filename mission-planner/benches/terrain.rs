//! Bench: an elevation model read from a GSI download (JPGIS GML, as the farmer registers it)
//! against the same model read back from its stored bytes (`Dem::from_bytes`, what the server
//! keeps and the CLI caches), with copying the heights as the ceiling.
//!
//! `cargo bench -p mission-planner --bench terrain`. The document is generated (a slope with a
//! terrace edge over GSI's 5 m tile of 225 × 150 cells), so the bench ships no data. Each way
//! is timed the same way, interleaved, by wall clock on this thread; the median of the runs is
//! printed with the ratio.
//!
//! Profile note (2 cores, 2026-12): the GML read is dominated by splitting and parsing the
//! `地表面,123.45` tuples (`str::parse::<f64>`) and by quick-xml's scan of the document; the
//! stored read is a bounds-checked copy of little-endian f32s, within a few times a bare copy.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mission_planner::{Dem, DemLimits};

/// GSI's 5 m mesh tile: 225 columns × 150 rows.
const NX: usize = 225;
const NY: usize = 150;

fn gml() -> String {
    let (s, w, n, e) = (36.9666667, 139.975, 36.975, 139.9875);
    let mut tuples = String::with_capacity(NX * NY * 16);
    for row in 0..NY {
        for col in 0..NX {
            let h =
                300.0 + 0.4 * col as f64 + 0.1 * row as f64 + if col > NX / 2 { 10.0 } else { 0.0 };
            tuples.push_str(&format!("地表面,{h:.2}\n"));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Dataset xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema" gml:id="Dataset1">
<DEM gml:id="DEM001"><type>5mメッシュ（標高）</type><mesh>54397000</mesh>
<coverage gml:id="DEM001-3">
<gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
<gml:lowerCorner>{s} {w}</gml:lowerCorner><gml:upperCorner>{n} {e}</gml:upperCorner>
</gml:Envelope></gml:boundedBy>
<gml:gridDomain><gml:Grid dimension="2" gml:id="DEM001-4"><gml:limits><gml:GridEnvelope>
<gml:low>0 0</gml:low><gml:high>{hx} {hy}</gml:high>
</gml:GridEnvelope></gml:limits><gml:axisLabels>x y</gml:axisLabels></gml:Grid></gml:gridDomain>
<gml:rangeSet><gml:DataBlock><gml:rangeParameters><QuantityList uom="DEM構成点"></QuantityList></gml:rangeParameters>
<gml:tupleList>
{tuples}</gml:tupleList></gml:DataBlock></gml:rangeSet>
<gml:coverageFunction><gml:GridFunction><gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
<gml:startPoint>0 0</gml:startPoint></gml:GridFunction></gml:coverageFunction>
</coverage></DEM></Dataset>
"#,
        hx = NX - 1,
        hy = NY - 1,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: one quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 3 } else { 41 };
    let limits = DemLimits::default();
    let doc = gml();
    let files = vec![(
        "FG-GML-5439-70-DEM5A.xml".to_owned(),
        doc.as_bytes().to_vec(),
    )];
    let dem = Dem::from_files(&files, &limits).expect("the generated document reads");
    let stored = dem.to_bytes();
    assert_eq!(
        Dem::from_bytes(&stored, &limits).expect("stored bytes read"),
        dem,
        "the stored model reads back as parsed"
    );
    let (mut parse, mut load, mut copy) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        black_box(Dem::from_files(black_box(&files), &limits).expect("reads"));
        parse.push(t.elapsed());
        let t = Instant::now();
        black_box(Dem::from_bytes(black_box(&stored), &limits).expect("reads"));
        load.push(t.elapsed());
        let t = Instant::now();
        black_box(black_box(&stored).to_vec());
        copy.push(t.elapsed());
    }
    let (p, l, c) = (median(parse), median(load), median(copy));
    println!(
        "terrain: {} cells; GML {} KiB, stored {} KiB",
        dem.cells(),
        doc.len() / 1024,
        stored.len() / 1024
    );
    println!(
        "  parse GSI GML (Dem::from_files)   {:>9.3} ms",
        p.as_secs_f64() * 1e3
    );
    println!(
        "  stored bytes (Dem::from_bytes)    {:>9.3} ms",
        l.as_secs_f64() * 1e3
    );
    println!(
        "  ceiling: copying the bytes        {:>9.3} ms",
        c.as_secs_f64() * 1e3
    );
    println!(
        "  stored is {:.0}x faster than parsing; {:.1}x the bare copy (median of {runs})",
        p.as_secs_f64() / l.as_secs_f64(),
        l.as_secs_f64() / c.as_secs_f64()
    );
}
