//! Whole flights on a real autopilot: ArduPilot Copter SITL (the rig: `agriops_e2e::sitl`),
//! flown through `agriops fly` as a pilot flies them. Runs when `ARDUPILOT_SITL_BIN` names
//! the binary, otherwise each test prints why it is skipped.
//!
//! Everything is judged from the vehicle's own reports (SERVO_OUTPUT_RAW servo 9,
//! GLOBAL_POSITION_INT, HEARTBEAT) and measured with GEOS, a geometry library the planner does
//! not use: every position of every sortie against the fence agriops uploaded, and the pump
//! against the planned spray legs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agriops_e2e::agriops;
use agriops_e2e::sitl::live::{live, pump_off_after, until_pumping, watch};
use agriops_e2e::sitl::measure::{
    MODE_BRAKE, MODE_LOITER, MODE_RTL, PUMP_OFF_WITHIN, fence_region, leg_shortfalls,
    leg_shortfalls_of_flights, local, outside_fence, pumping, sprayed_length,
    sprayed_length_of_flights, sprayed_outside,
};
use agriops_e2e::sitl::{
    SPEEDUP, Sample, Sitl, get_param, judge, real_field, rig_with, run_agriops,
};
use std::path::PathBuf;
use telemetry::{Link, Plan};

/// What one sortie flown with `agriops fly` came to, from the vehicle's own reports.
struct Flown {
    /// Planned spray length, metres.
    planned: f64,
    /// Of it, flown with the pump on, metres.
    sprayed: f64,
}

/// Flies sortie `k` of `plan` with `agriops fly` on the rig and judges it: mission complete,
/// the pump off on every transit, takeoff and landing (`judge`), no RTL, every position inside
/// the uploaded fence, nothing pumped outside it, and at least `min_share` of its legs sprayed
/// (each leg listed when not).
async fn fly_sortie(
    rig: &(Sitl, Link, PathBuf, Plan, tempfile::TempDir),
    k: usize,
    min_share: f64,
) -> Flown {
    let (sitl, link, plan_path, plan, work) = rig;
    let n = plan.n_sorties();
    let home = plan.home.expect("home");
    let origin = (home.0, home.1);
    let region = fence_region(plan, origin);
    let sortie = plan.sortie(k, plan_path).expect("sortie");
    let items = sortie.mission_items();
    let (stop, watcher) = watch(link.port(), origin);
    let args: Vec<String> = vec![
        "fly".into(),
        "--connect".into(),
        format!("tcpout:127.0.0.1:{}", sitl.gcs_port),
        plan_path.display().to_string(),
        "--sortie".into(),
        k.to_string(),
        "--yes".into(),
        "--enable-fence".into(),
        "--land-wait-s".into(),
        "60".into(),
        "--tlog".into(),
        work.path()
            .join(format!("sortie{k}.tlog"))
            .display()
            .to_string(),
    ];
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || run_agriops(&args, Duration::from_secs(900)))
            .await
            .expect("agriops task");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(());
    let seen = watcher.await.expect("observer");
    assert!(
        ok,
        "sortie {k}: agriops fly failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(out.contains("Mission complete"), "sortie {k}: {out}");
    judge(&seen, &items);
    assert!(
        !seen.samples.iter().any(|s| s.armed && s.mode == MODE_RTL),
        "sortie {k}: the vehicle switched to RTL (fence breach or failsafe):\n{}",
        sitl.output()
    );
    let (outside, worst) = outside_fence(&seen.samples, &region, origin);
    let refs: Vec<&Sample> = seen.samples.iter().collect();
    let (planned, sprayed) = sprayed_length(&sortie.spray_legs(), &refs, origin);
    let wet_outside = sprayed_outside(&refs, &region, origin);
    eprintln!(
        "sortie {k}/{n}: {} reports, {outside} outside the fence (worst {worst:.2} m); pump on along {sprayed:.1} of {planned:.1} m planned ({:.2} %), {wet_outside:.2} m pumped outside the fence",
        seen.samples.len(),
        100.0 * sprayed / planned
    );
    assert_eq!(
        outside, 0,
        "sortie {k}: positions outside the fence, worst {worst:.2} m"
    );
    assert!(
        sprayed >= min_share * planned,
        "sortie {k}: pump on along only {sprayed:.1} of {planned:.1} m; legs below {min_share} (index, planned m, sprayed m): {:?}\nagriops:\n{out}",
        leg_shortfalls(&sortie.spray_legs(), &refs, origin, min_share)
    );
    assert!(
        wet_outside < 1e-6,
        "sortie {k}: pumped {wet_outside:.2} m outside the fence"
    );
    Flown { planned, sprayed }
}

/// Multi-sortie: the field planned with a small tank, every sortie flown with `agriops fly`
/// one after another from the refill point. Each sortie stays inside the uploaded fence,
/// pumps on ≥ 98 % of its planned spray length and never outside the fence, and the pump is
/// off on every transit, takeoff and landing (`judge`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_flies_every_sortie_of_a_field_inside_its_fence() {
    let test = "sitl_flies_every_sortie_of_a_field_inside_its_fence";
    let Some((sitl, link, vehicle, plan_path, plan, work)) =
        rig_with(test, &real_field(), &["--tank-l", "0.5"], SPEEDUP).await
    else {
        return;
    };
    let n = plan.n_sorties();
    assert!(n >= 2, "a 0.5 L tank should need several sorties, got {n}");
    let target = vehicle.target();
    let rig = (sitl, link, plan_path, plan, work);
    let (mut all_planned, mut all_sprayed) = (0.0, 0.0);
    for k in 1..=n {
        let f = fly_sortie(&rig, k, 0.98).await;
        all_planned += f.planned;
        all_sprayed += f.sprayed;
    }
    eprintln!(
        "field: {n} sorties, pump on along {all_sprayed:.1} of {all_planned:.1} m ({:.2} %)",
        100.0 * all_sprayed / all_planned
    );
    assert!(
        all_sprayed >= 0.98 * all_planned,
        "the field: pump on along only {all_sprayed:.1} of {all_planned:.1} m"
    );
    // The fence agriops uploaded was switched on and would act.
    let (sitl, link, ..) = rig;
    assert_eq!(get_param(&link, target, "FENCE_ENABLE").await, Some(1.0));
    link.close().await;
    drop(sitl);
}

/// Fields the tests above do not fly: the three smallest of the shared public set besides
/// the Chofu paddy, and two more (`jp_fude_2024_06`, a rounded concave corner beside a sharp
/// convex one; `fi_gsaa_2023_02`, a Finnish parcel), each planned alone with the defaults and
/// flown whole, judged as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_flies_other_public_fields_inside_their_fences() {
    let test = "sitl_flies_other_public_fields_inside_their_fences";
    if agriops_e2e::sitl::sitl_bin(test).is_none() {
        return;
    }
    let Some(shared) = agriops_e2e::require_shared(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let also = ["jp_fude_2024_06", "fi_gsaa_2023_02"];
    for file in agriops_e2e::small_shared_fields(&shared, dir.path(), &also) {
        let id = file
            .file_stem()
            .expect("a field file")
            .to_string_lossy()
            .into_owned();
        let Some((sitl, link, _vehicle, plan_path, plan, work)) =
            rig_with(test, &file, &[], SPEEDUP).await
        else {
            return;
        };
        let n = plan.n_sorties();
        eprintln!("{id}: {n} sortie(s)");
        let rig = (sitl, link, plan_path, plan, work);
        for k in 1..=n {
            fly_sortie(&rig, k, 0.98).await;
        }
        let (sitl, link, ..) = rig;
        link.close().await;
        drop(sitl);
    }
}

/// `agriops fly` running in the background with its stdin open, its output collected.
struct Pilot {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<String>>,
}

impl Pilot {
    fn start(args: &[String]) -> Pilot {
        let mut child = Command::new(agriops())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start agriops fly");
        let stdin = child.stdin.take().expect("stdin");
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    out.lock().expect("output").push_str(&format!("{line}\n"));
                }
            });
        }
        Pilot { child, stdin, out }
    }

    /// Ctrl-C, as the pilot presses it.
    fn interrupt(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(ok.success());
    }

    /// Answers the prompt.
    fn answer(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("answer agriops");
    }

    fn output(&self) -> String {
        self.out.lock().expect("output").clone()
    }

    /// Waits for the process to end within `limit`; returns whether it succeeded.
    fn wait(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "agriops fly did not end in {limit:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the output contains `text`.
    async fn wait_for(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.output().contains(text) {
            assert!(
                Instant::now() < deadline,
                "agriops never printed {text:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Pilot {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// How far the vehicle may fly after a continue before its pump runs again, metres: from a
/// hover it must pass SPRAY_SPEED_MIN (1 m/s) for 0.1 s, checked at 3 Hz (AC_Sprayer).
const MAX_DRY_AFTER_CONTINUE_M: f64 = 2.0;

/// Metres flown (from the reported positions) after `t` until the first report with the
/// pump running.
fn dry_after(samples: &[Sample], t: Instant, origin: (f64, f64)) -> f64 {
    let mut dry = 0.0;
    let mut last: Option<(f64, f64)> = None;
    for s in samples.iter().filter(|s| s.at > t) {
        if pumping(s) {
            break;
        }
        if let Some(p) = s.pos {
            let here = local(origin, p);
            if let Some(l) = last {
                dry += (here.0 - l.0).hypot(here.1 - l.1);
            }
            last = Some(here);
        }
    }
    dry
}

/// The pilot's interruptions, through `agriops fly` in real time (speed-up 1, so wall-clock
/// latencies are the vehicle's): Ctrl-C mid-spray stops the pump within 0.5 s and holds;
/// continue sprays the rest of the interrupted leg; Ctrl-C again and RTL stops the pump
/// within 0.5 s, returns and lands with the pump off; `--resume-after` (the item agriops
/// names) then flies the rest of the aborted sortie, and the two flights together pump on
/// ≥ 98 % of the sortie's spray length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_pause_continue_rtl_and_resume_after_an_aborted_sortie() {
    let test = "sitl_pause_continue_rtl_and_resume_after_an_aborted_sortie";
    let Some((sitl, link, _vehicle, plan_path, plan, work)) =
        rig_with(test, &real_field(), &[], 1).await
    else {
        return;
    };
    let home = plan.home.expect("home");
    let origin = (home.0, home.1);
    let sortie = plan.sortie(1, &plan_path).expect("sortie 1");
    let region = fence_region(&sortie, origin);
    let connect = format!("tcpout:127.0.0.1:{}", sitl.gcs_port);
    let fly_args = |tlog: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            "fly".into(),
            "--connect".into(),
            connect.clone(),
            plan_path.display().to_string(),
            "--sortie".into(),
            "1".into(),
            "--yes".into(),
            "--enable-fence".into(),
            "--land-wait-s".into(),
            "60".into(),
            "--tlog".into(),
            work.path().join(tlog).display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let live = live(link.port());
    let (stop, watcher) = watch(link.port(), origin);

    // Fly until the pump has run for 3 s, then Ctrl-C.
    let mut pilot = Pilot::start(&fly_args("first.tlog", &[]));
    pilot
        .wait_for("Mission started", Duration::from_secs(120))
        .await;
    until_pumping(
        &live,
        Duration::from_secs(3),
        Duration::from_secs(300),
        "first leg",
    )
    .await;
    let paused_at = Instant::now();
    let paused_item = live.lock().expect("live").current;
    pilot.interrupt();
    pilot
        .wait_for("Spray-off sent", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = live.lock().expect("live").mode;
    assert!(
        held == MODE_BRAKE || held == MODE_LOITER,
        "paused in mode {held}, not BRAKE or LOITER"
    );

    // Continue: the rest of the interrupted leg is sprayed.
    let continued_at = Instant::now();
    pilot.answer("c");
    until_pumping(
        &live,
        Duration::from_millis(500),
        Duration::from_secs(10),
        "after continue",
    )
    .await;
    let pumping_again_after = continued_at.elapsed();
    let resumed_item = live.lock().expect("live").current;

    // Spray a while, then Ctrl-C and return to launch.
    until_pumping(
        &live,
        Duration::from_secs(3),
        Duration::from_secs(300),
        "after continue",
    )
    .await;
    let rtl_at = Instant::now();
    pilot.interrupt();
    pilot
        .wait_for("Spray-off sent", Duration::from_secs(10))
        .await;
    pilot.answer("r");
    let ok = tokio::task::spawn_blocking(move || {
        let ok = pilot.wait(Duration::from_secs(300));
        (ok, pilot.output())
    })
    .await
    .expect("pilot");
    let (ok, out) = ok;
    assert!(!ok, "an interrupted flight exits non-zero:\n{out}");
    assert!(out.contains("returned to launch and landed"), "{out}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(());
    let first = watcher.await.expect("observer");

    let (off1, lat1) = pump_off_after(&first.samples, paused_at).expect("pump off after pause");
    let (_, lat2) = pump_off_after(&first.samples, rtl_at).expect("pump off after RTL");
    eprintln!(
        "pause at item {paused_item}: pump off {:.0} ms after Ctrl-C; continue: pump on again after {:.0} ms at item {resumed_item}; RTL: pump off {:.0} ms after Ctrl-C",
        lat1.as_secs_f64() * 1e3,
        pumping_again_after.as_secs_f64() * 1e3,
        lat2.as_secs_f64() * 1e3
    );
    assert!(
        lat1 <= PUMP_OFF_WITHIN,
        "pause: pump off after {lat1:?}: {off1:?}"
    );
    assert!(lat2 <= PUMP_OFF_WITHIN, "RTL: pump off after {lat2:?}");
    // Continue restores the pump on the interrupted leg: the vehicle flies dry only while it
    // speeds up past SPRAY_SPEED_MIN (AC_Sprayer's turn-on), not the rest of the leg.
    let dry = dry_after(&first.samples, continued_at, origin);
    eprintln!("continue: {dry:.2} m flown dry before the pump ran again");
    assert!(
        dry <= MAX_DRY_AFTER_CONTINUE_M,
        "continue flew {dry:.2} m dry (resumed at item {resumed_item}, paused at {paused_item})"
    );
    // From the RTL on, the pump stays off through the return and the landing.
    let late_on: Vec<&Sample> = first
        .samples
        .iter()
        .filter(|s| s.at > rtl_at + PUMP_OFF_WITHIN && pumping(s))
        .collect();
    assert!(
        late_on.is_empty(),
        "pump on after RTL: {:?}",
        late_on.first()
    );
    assert!(
        first.samples.iter().any(|s| s.mode == MODE_RTL),
        "the vehicle never reported RTL"
    );
    let last = first.samples.last().expect("reports");
    assert!(!last.armed && last.rel_alt_m < 0.5, "not landed: {last:?}");

    // Later: fly the rest, from the item agriops named.
    let seq: String = out
        .lines()
        .find_map(|l| l.split("--resume-after ").nth(1))
        .unwrap_or_else(|| panic!("no --resume-after hint in:\n{out}"))
        .trim()
        .to_string();
    let (stop, watcher) = watch(link.port(), origin);
    let args = fly_args("rest.tlog", &["--resume-after", &seq]);
    let (ok, out2, err2) =
        tokio::task::spawn_blocking(move || run_agriops(&args, Duration::from_secs(900)))
            .await
            .expect("agriops task");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(());
    let rest = watcher.await.expect("observer");
    assert!(ok, "resume failed\nstdout:\n{out2}\nstderr:\n{err2}");
    assert!(out2.contains("Mission complete"), "{out2}");
    let both: Vec<&Sample> = first.samples.iter().chain(&rest.samples).collect();
    // The two flights' tracks are joined only within each flight.
    let first_refs: Vec<&Sample> = first.samples.iter().collect();
    let rest_refs: Vec<&Sample> = rest.samples.iter().collect();
    let legs = sortie.spray_legs();
    let (planned, s1) = sprayed_length(&legs, &first_refs, origin);
    let (_, s2) = sprayed_length(&legs, &rest_refs, origin);
    let (_, union) = sprayed_length_of_flights(&legs, &[&first_refs, &rest_refs], origin);
    let wet_outside = sprayed_outside(&both, &region, origin);
    let (outside, worst) = outside_fence(&rest.samples, &region, origin);
    eprintln!(
        "aborted sortie: {s1:.1} m sprayed before the abort, {s2:.1} m on resume, together {union:.1} of {planned:.1} m ({:.2} %); resume flight {outside} reports outside the fence (worst {worst:.2} m), {wet_outside:.2} m pumped outside",
        100.0 * union / planned
    );
    let short = leg_shortfalls_of_flights(&legs, &[&first_refs, &rest_refs], origin, 0.99);
    eprintln!("legs below 99 % (index, planned m, sprayed m): {short:?}");
    assert!(
        union >= 0.98 * planned,
        "together the flights pumped along only {union:.1} of {planned:.1} m; legs below 99 %: {short:?}\nresume:\n{out2}"
    );
    assert_eq!(
        outside, 0,
        "the resume flight left the fence by {worst:.2} m"
    );
    assert!(
        wet_outside < 1e-6,
        "pumped {wet_outside:.2} m outside the fence"
    );
    link.close().await;
    drop(sitl);
}
