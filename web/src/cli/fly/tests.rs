use super::*;

/// A `.plan` is read through serde_json, whose recursion limit (128) is on: a hostile file
/// nested 100 000 levels deep is a parse error, not a stack overflow.
#[test]
fn deeply_nested_plan_files_are_an_error() {
    for depth in [200, 100_000] {
        let text = format!(
            r#"{{"fileType":"Plan","mission":{{"items":{}0{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let e = Plan::from_json(&text, std::path::Path::new("deep.plan")).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
    }
}

#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

/// `agriops plan --dem --alt-frame terrain`, then `agriops fly --dem` against the simulator
/// standing on the same ground: it asks for terrain, gets it from us, and sprays at the
/// planned height above its own ground model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flies_a_terrain_frame_plan_with_terrain_served_from_the_dem() {
    use clap::Parser;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let paddy = root.join("samples/fields/paddy_with_zones.geojson");
    let dir = tempfile::tempdir().unwrap();
    let dem_path = dir.path().join("FG-GML-slope-DEM5A.xml");
    // Ground rising 6 cm per metre north.
    let set = mission_planner::read_fields(&std::fs::read(&paddy).unwrap()).unwrap();
    let lat0 = geo::BoundingRect::bounding_rect(&set.fields[0].as_ref().unwrap().boundary)
        .unwrap()
        .min()
        .y;
    std::fs::write(
        &dem_path,
        crate::cli::plan::tests::gsi_tile_around(&paddy, |lat| {
            Some(120.0 + (lat - lat0) * 111_000.0 * 0.06)
        }),
    )
    .unwrap();
    let out = dir.path().join("out");
    let plan_args = vec![
        "plan".to_string(),
        paddy.display().to_string(),
        "--swath-width".into(),
        "5".into(),
        "--format".into(),
        "plan".into(),
        "--out".into(),
        out.display().to_string(),
        "--dem".into(),
        dem_path.display().to_string(),
        "--alt-frame".into(),
        "terrain".into(),
    ];
    #[derive(Debug, clap::Parser)]
    struct PlanCli {
        #[command(flatten)]
        args: crate::cli::plan::Args,
    }
    crate::cli::plan::run(PlanCli::try_parse_from(plan_args).unwrap().args).unwrap();
    let plan_path = out.join("jp_fude_2024_rice_03.plan");
    let plan = Plan::read(&plan_path).unwrap();
    let home = plan.home.unwrap();
    let dem = Arc::new(crate::cli::plan::load_dem(std::slice::from_ref(&dem_path)).unwrap());
    assert!((home.2 - dem.height_amsl(home.0, home.1).unwrap()).abs() < 0.01);

    let mut cfg = telemetry::SimConfig::new(home);
    cfg.time_scale = 60.0;
    let ground = dem.clone();
    cfg.ground = Some(telemetry::SimGround {
        source: Arc::new(move |lat: f64, lon: f64| ground.height_amsl(lat, lon)),
        terrain_spacing_m: 5,
    });
    let sim = telemetry::SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
        .await
        .unwrap();
    let addr = sim.local_addr().unwrap();
    let sim = Arc::new(sim);
    let watch = sim.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut agl = Vec::new();
        loop {
            let s = watch.snapshot();
            if s.pump_on && !s.landed {
                agl.push(s.agl_m.unwrap());
            }
            if stop_rx.try_recv().is_ok() {
                return (agl, s);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let fly_args = vec![
        "fly".to_string(),
        "--connect".into(),
        format!("udpout:{addr}"),
        plan_path.display().to_string(),
        "--sortie".into(),
        "1".into(),
        "--yes".into(),
        "--enable-fence".into(),
        "--land-wait-s".into(),
        "60".into(),
        "--tlog".into(),
        dir.path().join("fly.tlog").display().to_string(),
        "--dem".into(),
        dem_path.display().to_string(),
        // From the simulator's 5 m grid to 10 m: its cached blocks go, it asks again.
        "--terrain-spacing-m".into(),
        "10".into(),
    ];
    let result = fly(Cli::try_parse_from(fly_args).unwrap().args).await;
    let _ = stop_tx.send(());
    let (agl, last) = sampler.await.unwrap();
    result.unwrap();
    assert!(agl.len() > 50, "{} samples while spraying", agl.len());
    let worst = agl.iter().map(|a| (a - 2.0).abs()).fold(0.0, f64::max);
    // Terrain travels in whole metres; the spray height is 2 m above the ground.
    assert!(
        worst < 1.0,
        "sprayed up to {worst:.2} m off 2 m above ground"
    );
    assert!(last.terrain_blocks.1 > 0, "{last:?}");
    assert_eq!(sim.snapshot().terrain_spacing_m, Some(10));
}

/// A terrain-frame plan on a vehicle whose terrain following is off is refused before
/// arming; a relative one is not asked about terrain at all.
#[tokio::test]
async fn a_terrain_plan_needs_the_vehicles_terrain_following() {
    let relative = chofu_sortie();
    let mut terrain = relative.clone();
    for i in terrain.items.iter_mut().filter(|i| i.frame == 3) {
        i.frame = 10;
    }
    assert!(terrain.uses_terrain_frame() && !relative.uses_terrain_frame());
    // No ground in the simulator: TERRAIN_ENABLE 0.
    let (sim, port) =
        telemetry::SimDrone::in_process(telemetry::SimConfig::new(relative.home.unwrap()));
    let v = Vehicle::new(port, telemetry::Target::new(1, 1, Firmware::ArduPilot));
    let a = args(&["--connect", "udpout:127.0.0.1:1", "x.plan"]);
    ensure_terrain(&a, &relative, &v).await.unwrap();
    let e = ensure_terrain(&a, &terrain, &v).await.unwrap_err();
    assert!(e.to_string().contains("TERRAIN_ENABLE 0"), "{e}");
    v.set_param("TERRAIN_ENABLE", 1.0).await.unwrap();
    ensure_terrain(&a, &terrain, &v).await.unwrap();
    sim.stop().await;
}

/// The sprayer check before a DO_SPRAYER plan, against the simulator's ArduPilot
/// parameters (SPRAY_SPEED_MIN in cm/s as AC_Sprayer keeps it).
#[tokio::test]
async fn the_sprayer_is_checked_and_its_minimum_speed_set_before_a_spraying_plan() {
    let plan = chofu_sortie();
    assert!(plan.uses_sprayer());
    assert_eq!(plan.spray_speed_mps(), Some(5.0));
    let (sim, port) =
        telemetry::SimDrone::in_process(telemetry::SimConfig::new(plan.home.unwrap()));
    let mut v = Vehicle::new(port, telemetry::Target::new(1, 1, Firmware::ArduPilot));
    v.ack_timeout = Duration::from_millis(300);
    let base = ["--connect", "udpout:127.0.0.1:1", "x.plan"];
    let with = |extra: &[&str]| args(&[&base[..], extra].concat());
    // As it is: ArduPilot's default 1 m/s, below the plan's 5 m/s, passes.
    ensure_sprayer(&with(&[]), &plan, &v).await.unwrap();
    assert_eq!(v.spray_speed_min_mps().await.unwrap(), Some(1.0));
    // Asked: set and read back.
    ensure_sprayer(&with(&["--spray-speed-min-mps", "0.3"]), &plan, &v)
        .await
        .unwrap();
    assert_eq!(v.spray_speed_min_mps().await.unwrap(), Some(0.3));
    // Not above the spray speed: the pump would never run.
    let e = ensure_sprayer(&with(&["--spray-speed-min-mps", "6"]), &plan, &v)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("give 0 to under 5.0 m/s"), "{e}");
    v.set_spray_speed_min_mps(7.0).await.unwrap();
    let e = ensure_sprayer(&with(&[]), &plan, &v).await.unwrap_err();
    assert!(e.to_string().contains("the pump would not run"), "{e}");
    // A sprayer switched off still answers SPRAY_SPEED_MIN, as ArduPilot does: refused.
    v.set_param("SPRAY_ENABLE", 0.0).await.unwrap();
    let e = ensure_sprayer(&with(&[]), &plan, &v).await.unwrap_err();
    assert!(e.to_string().contains("SPRAY_ENABLE 0"), "{e}");
    sim.stop().await;
}

/// `agriops fly ARGS`, parsed as the binary parses it.
fn args(line: &[&str]) -> Args {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        fly: Args,
    }
    <Cli as clap::Parser>::try_parse_from(std::iter::once("fly").chain(line.iter().copied()))
        .expect("valid arguments")
        .fly
}

/// Sortie 1 of the Chofu paddy as `agriops plan` writes it for ArduPilot.
/// Sortie 1 of the Chofu paddy, planned with `sprayer_lead` seconds of run-up, written to
/// `dir` as a `.plan`.
fn chofu_plan_file(dir: &Path, sprayer_lead: f64) -> std::path::PathBuf {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/fields/chofu_paddy.kml"
    ))
    .expect("the sample field");
    let set = mission_planner::read_fields(&bytes).expect("fields");
    let field = set.fields[0].as_ref().expect("one field");
    let mut cfg =
        mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0).expect("width"));
    cfg.sprayer_lead = mission_planner::Seconds::new(sprayer_lead).expect("lead");
    let planned = mission_planner::plan(field, &cfg).expect("planned");
    let path = dir.join(format!("chofu_lead_{sprayer_lead}.plan"));
    let json =
        mission_planner::to_qgc_plan(&planned, mission_planner::Autopilot::ArduPilot, Some(1));
    std::fs::write(&path, json).expect("write the plan");
    path
}

/// Flies `plan_path` on the simulator (its ArduPilot sprayer starts 1/3 to 2/3 s after
/// DO_SPRAYER) with `agriops fly`, and returns the as-applied coverage of the spray legs
/// from the flight's own record, percent.
async fn sim_coverage(plan_path: &Path, dir: &Path) -> f64 {
    use clap::Parser;
    let plan = Plan::read(plan_path).unwrap();
    let mut cfg = telemetry::SimConfig::new(plan.home.unwrap());
    cfg.time_scale = 40.0;
    let sim = telemetry::SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
        .await
        .unwrap();
    let tlog = dir.join(format!(
        "{}.tlog",
        plan_path.file_stem().unwrap().to_string_lossy()
    ));
    let fly_args = vec![
        "fly".to_string(),
        "--connect".into(),
        format!("udpout:{}", sim.local_addr().unwrap()),
        plan_path.display().to_string(),
        "--yes".into(),
        "--enable-fence".into(),
        "--land-wait-s".into(),
        "60".into(),
        "--tlog".into(),
        tlog.display().to_string(),
    ];
    fly(Cli::try_parse_from(fly_args).unwrap().args)
        .await
        .unwrap();
    sim.stop().await;
    let records = telemetry::read_tlog(&tlog).unwrap();
    let track =
        telemetry::track_from_records(&records, Some(&plan), telemetry::SprayerOutput::default());
    telemetry::coverage(&track, &plan.spray_legs(), 5.0)
        .unwrap()
        .covered_pct
}

/// ArduPilot's sprayer starts late (AC_Sprayer's 3 Hz update and 100 ms speed check): with
/// the planner's run-ups its pump already runs where each leg begins; without them every
/// leg starts dry for a metre or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_ups_let_a_late_sprayer_cover_every_leg_start() {
    let dir = tempfile::tempdir().unwrap();
    let with = sim_coverage(&chofu_plan_file(dir.path(), 0.7), dir.path()).await;
    let without = sim_coverage(&chofu_plan_file(dir.path(), 0.0), dir.path()).await;
    eprintln!("as-applied coverage: {with:.2} % with run-ups, {without:.2} % without");
    assert!(with >= 99.0, "with run-ups: {with:.2} %");
    assert!(without < with - 0.5, "without run-ups: {without:.2} %");
}

fn chofu_sortie() -> Plan {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/fields/chofu_paddy.kml"
    ))
    .expect("the sample field");
    let field = mission_planner::read_fields(&bytes)
        .expect("fields")
        .fields
        .into_iter()
        .flatten()
        .next()
        .expect("one field");
    let cfg =
        mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0).expect("width"));
    let planned = mission_planner::plan(&field, &cfg).expect("planned");
    let json = mission_planner::to_qgc_plan(&planned, mission_planner::Autopilot::ArduPilot, None);
    let path = std::path::Path::new("chofu.plan");
    Plan::from_json(&json, path)
        .expect("the .plan")
        .sortie(1, path)
        .expect("sortie 1")
}

#[test]
fn an_interrupted_flight_names_the_item_to_resume_after_in_the_sorties_numbering() {
    let sortie = chofu_sortie();
    let a = args(&[
        "--connect",
        "tcpout:127.0.0.1:5760",
        "chofu.plan",
        "--sortie",
        "1",
    ]);
    let takeoff = sortie
        .mission_items()
        .iter()
        .position(|i| i.command == 22)
        .expect("a takeoff") as u16;
    // Flying toward takeoff + 6: it reached takeoff + 5.
    let hint = resume_hint(&a, &sortie, &sortie, None, Some(takeoff + 6)).expect("a hint");
    let seq = hint
        .rsplit("--resume-after ")
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .expect("an item number");
    assert!(seq <= takeoff + 5 && seq > takeoff, "{hint}");
    assert!(hint.contains("--sortie 1"), "{hint}");
    // Before the takeoff there is nothing to resume.
    assert!(resume_hint(&a, &sortie, &sortie, None, Some(takeoff)).is_none());
    assert!(resume_hint(&a, &sortie, &sortie, None, None).is_none());

    // Interrupted again while flying the resumed mission: the hint is in the sortie's
    // numbering, past the first resume point.
    let first = usize::from(seq) - sortie.vehicle_seq(0);
    let resumed = sortie
        .resume_after(first, std::path::Path::new("chofu.plan"))
        .expect("resumable");
    let toward = (resumed.tail_start + 4 + resumed.plan.vehicle_seq(0)) as u16;
    let again =
        resume_hint(&a, &sortie, &resumed.plan, Some(&resumed), Some(toward)).expect("a hint");
    let seq2 = again
        .rsplit("--resume-after ")
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .expect("an item number");
    assert!(seq2 > seq, "{again} after {hint}");
    assert!(
        sortie
            .resume_after(
                usize::from(seq2) - sortie.vehicle_seq(0),
                std::path::Path::new("p")
            )
            .is_ok()
    );
}

#[test]
fn signing_keys_are_64_hex_digits() {
    assert_eq!(parse_key(&"0f".repeat(32)).unwrap()[0], 15);
    assert!(parse_key("abc").is_err());
    assert!(parse_key(&"zz".repeat(32)).is_err());
}
