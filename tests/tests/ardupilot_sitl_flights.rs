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

use agriops_e2e::sitl::{
    Observed, PUMP_OFF_PWM, PUMP_ON_MARGIN, SPEEDUP, Sample, agriops, get_param, judge, observe,
    real_field, rig_with, run_agriops,
};
use geos::{Geom, Geometry};
use telemetry::{Msg, Plan, Port, SprayLeg};

/// ArduCopter's flight mode numbers (ArduCopter/mode.h `Mode::Number`).
const MODE_LOITER: u32 = 5;
const MODE_RTL: u32 = 6;
const MODE_BRAKE: u32 = 17;

/// How far (m) the vehicle's reported position may lie from a spray leg and still count as
/// flying it (cross-track error of ArduPilot's waypoint controller, position report lag).
const ON_LEG_M: f64 = 1.5;

/// The longest time from the pilot's pause or return until the vehicle reports the pump off.
const PUMP_OFF_WITHIN: Duration = Duration::from_millis(500);

/// A pump output above SERVO9_MIN by the margin: the pump runs.
fn pumping(s: &Sample) -> bool {
    s.pump_pwm > PUMP_OFF_PWM + PUMP_ON_MARGIN
}

/// Local metres (east, north) around `origin`, equirectangular (fine over a field).
fn local(origin: (f64, f64), p: (f64, f64)) -> (f64, f64) {
    let k = 111_320.0;
    (
        (p.1 - origin.1) * k * origin.0.to_radians().cos(),
        (p.0 - origin.0) * k,
    )
}

fn wkt_ring(pts: &[(f64, f64)]) -> String {
    let mut v: Vec<String> = pts.iter().map(|(x, y)| format!("{x} {y}")).collect();
    v.push(format!("{} {}", pts[0].0, pts[0].1));
    format!("({})", v.join(", "))
}

/// The fence the plan uploads, in local metres: inclusion polygons intersected, exclusions
/// removed (as ArduPilot's AC_PolyFence_loader::breached reads them).
fn fence_region(plan: &Plan, origin: (f64, f64)) -> Geometry {
    let mut region: Option<Geometry> = None;
    for p in plan.fence_polygons.iter().filter(|p| p.inclusion) {
        let ring: Vec<_> = p.vertices.iter().map(|&v| local(origin, v)).collect();
        let g = Geometry::new_from_wkt(&format!("POLYGON ({})", wkt_ring(&ring))).expect("WKT");
        region = Some(match region {
            Some(r) => r.intersection(&g).expect("intersection"),
            None => g,
        });
    }
    let mut region = region.expect("the plan has an inclusion fence");
    for p in plan.fence_polygons.iter().filter(|p| !p.inclusion) {
        let ring: Vec<_> = p.vertices.iter().map(|&v| local(origin, v)).collect();
        let g = Geometry::new_from_wkt(&format!("POLYGON ({})", wkt_ring(&ring))).expect("WKT");
        region = region.difference(&g).expect("difference");
    }
    region
}

/// The vehicle's armed positions farther outside `region` than 0 m: (count, worst metres).
fn outside_fence(samples: &[Sample], region: &Geometry, origin: (f64, f64)) -> (usize, f64) {
    let mut n = 0;
    let mut worst = 0.0f64;
    for s in samples.iter().filter(|s| s.armed && s.rel_alt_m > 0.5) {
        let Some(p) = s.pos else { continue };
        let (x, y) = local(origin, p);
        let pt = Geometry::new_from_wkt(&format!("POINT ({x} {y})")).expect("WKT");
        if !region.contains(&pt).expect("contains") {
            n += 1;
            worst = worst.max(region.distance(&pt).expect("distance"));
        }
    }
    (n, worst)
}

/// The pump-on track: segments between consecutive reports that both had the pump running.
fn pumped_track(samples: &[&Sample], origin: (f64, f64)) -> Option<Geometry> {
    let mut lines = Vec::new();
    for w in samples.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.armed
            && pumping(a)
            && pumping(b)
            && let (Some(pa), Some(pb)) = (a.pos, b.pos)
        {
            let (ax, ay) = local(origin, pa);
            let (bx, by) = local(origin, pb);
            if (ax - bx).hypot(ay - by) > 1e-3 {
                lines.push(format!("({ax} {ay}, {bx} {by})"));
            }
        }
    }
    (!lines.is_empty()).then(|| {
        Geometry::new_from_wkt(&format!("MULTILINESTRING ({})", lines.join(", "))).expect("WKT")
    })
}

/// Planned spray length (m) and the part of it the vehicle flew with the pump running
/// (within [`ON_LEG_M`] of its pump-on track), over all `samples`.
fn sprayed_length(legs: &[SprayLeg], samples: &[&Sample], origin: (f64, f64)) -> (f64, f64) {
    let parts: Vec<String> = legs
        .iter()
        .map(|l| {
            let (ax, ay) = local(origin, l.from);
            let (bx, by) = local(origin, l.to);
            format!("({ax} {ay}, {bx} {by})")
        })
        .collect();
    let planned =
        Geometry::new_from_wkt(&format!("MULTILINESTRING ({})", parts.join(", "))).expect("WKT");
    let total = planned.length().expect("length");
    let Some(track) = pumped_track(samples, origin) else {
        return (total, 0.0);
    };
    let swath = track.buffer(ON_LEG_M, 8).expect("buffer");
    let sprayed = planned
        .intersection(&swath)
        .expect("intersection")
        .length()
        .expect("length");
    (total, sprayed)
}

/// Length (m) of the pump-on track outside the fence region.
fn sprayed_outside(samples: &[&Sample], region: &Geometry, origin: (f64, f64)) -> f64 {
    pumped_track(samples, origin).map_or(0.0, |t| {
        t.difference(region)
            .expect("difference")
            .length()
            .expect("length")
    })
}

/// Observes `port` from now until the returned sender fires.
fn watch(
    port: &Port,
    home: (f64, f64),
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Observed>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    (tx, tokio::spawn(observe(port.clone(), home, rx, false)))
}

/// Multi-sortie: the field planned with a small tank, every sortie flown with `agriops fly`
/// one after another from the refill point. Each sortie stays inside the uploaded fence,
/// pumps on ≥ 98 % of its planned spray length and never outside the fence, and the pump is
/// off on every transit, takeoff and landing (`judge`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_flies_every_sortie_of_a_field_inside_its_fence() {
    let test = "sitl_flies_every_sortie_of_a_field_inside_its_fence";
    let Some((sitl, link, vehicle, plan_path, plan, work)) =
        rig_with(test, &real_field(), &["--tank-l", "3"], SPEEDUP).await
    else {
        return;
    };
    let n = plan.n_sorties();
    assert!(n >= 2, "a 3 L tank should need several sorties, got {n}");
    let home = plan.home.expect("home");
    let origin = (home.0, home.1);
    let region = fence_region(&plan, origin);
    let (mut all_planned, mut all_sprayed) = (0.0, 0.0);
    for k in 1..=n {
        let sortie = plan.sortie(k, &plan_path).expect("sortie");
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
            sprayed >= 0.98 * planned,
            "sortie {k}: pump on along only {sprayed:.1} of {planned:.1} m"
        );
        assert!(
            wet_outside < 1e-6,
            "sortie {k}: pumped {wet_outside:.2} m outside the fence"
        );
        all_planned += planned;
        all_sprayed += sprayed;
    }
    eprintln!(
        "field: {n} sorties, pump on along {all_sprayed:.1} of {all_planned:.1} m ({:.2} %)",
        100.0 * all_sprayed / all_planned
    );
    // The fence agriops uploaded was switched on and would act.
    assert_eq!(
        get_param(&link, vehicle.target(), "FENCE_ENABLE").await,
        Some(1.0)
    );
    link.close().await;
    drop(sitl);
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

/// The vehicle's live reports: (pump running, custom mode, current item), updated as they come.
#[derive(Debug, Clone, Copy, Default)]
struct Live {
    pumping_since: Option<Instant>,
    mode: u32,
    current: u16,
}

fn live(port: &Port) -> Arc<Mutex<Live>> {
    let state = Arc::new(Mutex::new(Live::default()));
    let mut rx = port.subscribe();
    let s = state.clone();
    tokio::spawn(async move {
        loop {
            let f = match rx.recv().await {
                Ok(f) => f,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if f.system_id() != 1 || f.header.component_id != 1 {
                continue;
            }
            let mut l = s.lock().expect("live");
            match &f.msg {
                Msg::HEARTBEAT(h) => l.mode = h.custom_mode,
                Msg::MISSION_CURRENT(c) => l.current = c.seq,
                Msg::SERVO_OUTPUT_RAW(o) if o.port == 0 => {
                    if o.servo9_raw > PUMP_OFF_PWM + PUMP_ON_MARGIN {
                        l.pumping_since.get_or_insert_with(Instant::now);
                    } else {
                        l.pumping_since = None;
                    }
                }
                _ => {}
            }
        }
    });
    state
}

/// Waits until the pump has run for `held` without a break.
async fn until_pumping(live: &Arc<Mutex<Live>>, held: Duration, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let since = live.lock().expect("live").pumping_since;
        if since.is_some_and(|t| t.elapsed() >= held) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the pump never ran for {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first report received after `t` with the pump off, and how long after `t` it came.
fn pump_off_after(samples: &[Sample], t: Instant) -> Option<(Sample, Duration)> {
    samples
        .iter()
        .find(|s| s.at > t && !pumping(s))
        .map(|s| (*s, s.at - t))
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
    pilot.wait_for("[r] return", Duration::from_secs(10)).await;
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
    pilot.wait_for("[r] return", Duration::from_secs(10)).await;
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
    assert_eq!(
        resumed_item, paused_item,
        "continue sprays the rest of the interrupted leg"
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
    let union = {
        let t1 = pumped_track(&first_refs, origin);
        let t2 = pumped_track(&rest_refs, origin);
        let parts: Vec<String> = legs
            .iter()
            .map(|l| {
                let (ax, ay) = local(origin, l.from);
                let (bx, by) = local(origin, l.to);
                format!("({ax} {ay}, {bx} {by})")
            })
            .collect();
        let planned_g = Geometry::new_from_wkt(&format!("MULTILINESTRING ({})", parts.join(", ")))
            .expect("WKT");
        let cover = match (t1, t2) {
            (Some(a), Some(b)) => a
                .buffer(ON_LEG_M, 8)
                .expect("buffer")
                .union(&b.buffer(ON_LEG_M, 8).expect("buffer"))
                .expect("union"),
            (Some(a), None) | (None, Some(a)) => a.buffer(ON_LEG_M, 8).expect("buffer"),
            (None, None) => panic!("the pump never ran"),
        };
        planned_g
            .intersection(&cover)
            .expect("intersection")
            .length()
            .expect("length")
    };
    let wet_outside = sprayed_outside(&both, &region, origin);
    let (outside, worst) = outside_fence(&rest.samples, &region, origin);
    eprintln!(
        "aborted sortie: {s1:.1} m sprayed before the abort, {s2:.1} m on resume, together {union:.1} of {planned:.1} m ({:.2} %); resume flight {outside} reports outside the fence (worst {worst:.2} m), {wet_outside:.2} m pumped outside",
        100.0 * union / planned
    );
    assert!(
        union >= 0.98 * planned,
        "together the flights pumped along only {union:.1} of {planned:.1} m"
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
