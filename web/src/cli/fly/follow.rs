//! The flight followed to its end (progress, the return, an interruption and how to resume
//! it) and its summary with the as-applied coverage.

use super::*;

/// Follows an RTL to the landing: the pilot sees the return instead of a prompt back.
pub(super) async fn follow_return(
    args: &Args,
    link: &Link,
    state: &Arc<Mutex<VehicleState>>,
) -> anyhow::Result<()> {
    println!("Returning to launch …");
    let timeout = Duration::from_secs_f64(args.link_timeout_s);
    let deadline =
        std::time::Instant::now() + Duration::from_secs_f64(args.land_wait_s.max(60.0) * 5.0);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last = String::new();
    loop {
        tick.tick().await;
        link.check_alive(timeout).map_err(|e| {
            anyhow::anyhow!("{e} during the return: the vehicle's failsafe takes over")
        })?;
        let s = state.lock().map(|s| s.clone()).unwrap_or_default();
        if !s.armed {
            println!("Landed and disarmed.");
            return Ok(());
        }
        let line = format!(
            "{} | {:.1} m above home | {:.1} m/s",
            s.mode,
            s.rel_alt_m.unwrap_or(f64::NAN),
            s.ground_speed_m_s.unwrap_or(f64::NAN)
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the vehicle has not landed from RTL in time; it is still armed ({})",
                s.mode
            );
        }
    }
}

/// Shows progress until the last item is reached; Ctrl-C pauses and offers RTL.
pub(super) async fn follow(
    args: &Args,
    plan: &Plan,
    items: &[telemetry::MissionItem],
    vehicle: &Vehicle,
    link: &Link,
    state: &Arc<Mutex<VehicleState>>,
    verified: &telemetry::VerifiedMission,
) -> anyhow::Result<()> {
    let last = (items.len() - 1) as u16;
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(u64::from(last));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} item {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let timeout = Duration::from_secs_f64(args.link_timeout_s);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // One listener for the whole flight, so a Ctrl-C between two ticks is not lost.
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut last_line = String::new();
    let mut was_armed = false;
    let mut end_seen: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut ctrl_c => {
                ctrl_c = Box::pin(tokio::signal::ctrl_c());
                // Where it was going: after landing ArduPilot resets the current item.
                let toward = state.lock().ok().and_then(|s| s.current_item).unwrap_or(0);
                // Pump off and hold; if the vehicle refuses to hold, RTL is still offered.
                match vehicle.pause().await {
                    Ok(()) => {}
                    Err(e) => println!("\nThe vehicle refused to pause: {e}"),
                }
                if let Some(b) = &bar { b.suspend(|| ()); }
                println!("\nSpray-off sent; paused unless reported otherwise above.");
                let choice = tokio::task::spawn_blocking(|| {
                    print!("[r] return to launch, [c] continue, anything else: stay paused and exit? ");
                    let _ = std::io::stdout().flush();
                    let mut line = String::new();
                    let _ = std::io::stdin().lock().read_line(&mut line);
                    line.trim().to_ascii_lowercase()
                }).await.unwrap_or_default();
                match choice.as_str() {
                    "r" | "rtl" => {
                        vehicle.rtl().await.context("RTL")?;
                        follow_return(args, link, state).await?;
                        return Err(Interrupted {
                            toward,
                            what: "flight interrupted: returned to launch and landed, pump off",
                        }
                        .into());
                    }
                    "c" => {
                        let cur = state.lock().ok().and_then(|s| s.current_item).unwrap_or(0);
                        let pump = plan.pump_on_toward(cur);
                        vehicle.resume_at(cur, pump, verified).await.context("resuming")?;
                        println!("Resumed at item {cur}.");
                    }
                    _ => {
                        return Err(Interrupted {
                            toward,
                            what: "flight interrupted: the vehicle holds position, pump off",
                        }
                        .into());
                    }
                }
            }
        }
        link.check_alive(timeout)
            .map_err(|e| anyhow::anyhow!("{e}: the vehicle's failsafe takes over"))?;
        let s = state.lock().map(|s| s.clone()).unwrap_or_default();
        let cur = s.current_item.unwrap_or(0);
        let to_go = match (s.lat, s.lon) {
            (Some(lat), Some(lon)) => distance_to_go(items, cur, (lat, lon)),
            _ => f64::NAN,
        };
        // The pump as the vehicle reports it, else as the plan commands it at this item.
        let commanded = usize::from(cur)
            .checked_sub(plan.vehicle_seq(0) + 1)
            .and_then(|i| plan.spray_state_after().get(i).copied());
        let spray = match (s.sprayer_on, commanded) {
            (Some(true), _) => "ON",
            (Some(false), _) => "off",
            (None, Some(true)) => "ON (plan)",
            (None, Some(false)) => "off (plan)",
            (None, None) => "?",
        };
        let msg = format!(
            "{} | batt {:.0} % {:.1} V | {:.0} m to go | spray {spray} | {}",
            s.mode,
            s.battery_pct.unwrap_or(f64::NAN),
            s.battery_v.unwrap_or(f64::NAN),
            to_go,
            if s.armed { "armed" } else { "disarmed" }
        );
        match &bar {
            Some(b) => {
                b.set_position(u64::from(cur.min(last)));
                b.set_message(msg);
            }
            None => {
                let line = format!("item {cur}/{last} {msg}");
                if line.split('|').next() != last_line.split('|').next() {
                    println!("{line}");
                }
                last_line = line;
            }
        }
        if let Some(t) = s.status_texts.last().filter(|t| t.level <= 3) {
            tracing::warn!(message = "Vehicle reports a problem.", text = %t.text);
        }
        was_armed |= s.armed;
        let at_end = s.mission_finished(last);
        if at_end {
            let lands = items.last().is_some_and(|i| i.command == 21);
            let since = *end_seen.get_or_insert_with(std::time::Instant::now);
            if !s.armed || !lands || since.elapsed().as_secs_f64() >= args.land_wait_s {
                if let Some(b) = &bar {
                    b.finish_with_message("mission complete");
                }
                let how = if s.armed {
                    "still armed"
                } else {
                    "landed and disarmed"
                };
                println!("Mission complete: item {last} reached, {how}.");
                return Ok(());
            }
        } else if was_armed && !s.armed {
            bail!("the vehicle disarmed at item {cur} before the end of the mission");
        }
    }
}

/// The pilot interrupted the flight (Ctrl-C) while it flew toward item `toward`.
#[derive(Debug)]
pub(super) struct Interrupted {
    pub(super) toward: u16,
    what: &'static str,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)
    }
}

impl std::error::Error for Interrupted {}

/// How to fly the rest of an interrupted sortie later (`--resume-after`), when the vehicle was
/// flying toward item `current` of the flown `plan` (itself `sortie` resumed, or the sortie).
pub(super) fn resume_hint(
    args: &Args,
    sortie: &Plan,
    flown: &Plan,
    resumed: Option<&telemetry::Resumed>,
    current: Option<u16>,
) -> Option<String> {
    let toward = usize::from(current?).checked_sub(flown.vehicle_seq(0))?;
    let reached = toward.checked_sub(1)?;
    let original = resumed.map_or(reached, |r| r.original_index(reached));
    sortie.resume_after(original, &args.plan).ok()?;
    let seq = sortie.vehicle_seq(original);
    let which = args
        .sortie
        .map_or_else(String::new, |n| format!(" --sortie {n}"));
    Some(format!(
        "The sortie stopped after item {seq}. To fly the rest of it later: agriops fly --connect {} {}{which} --resume-after {seq}",
        args.connect,
        args.plan.display()
    ))
}

/// Prints the flight summary and coverage of a recorded flight.
pub(super) fn report(tlog: &Path, plan: &Plan, sprayer: SprayerOutput, swath_m: f64) {
    match telemetry::read_tlog(tlog) {
        Ok(records) => {
            crate::cli::tlog::print_summary(&telemetry::summarize(&records, Some(plan), sprayer));
            let track = telemetry::track_from_records(&records, Some(plan), sprayer);
            match telemetry::coverage(&track, &plan.spray_legs(), swath_m) {
                Ok(c) => {
                    crate::cli::tlog::print_coverage(&c);
                    let out = tlog.with_extension("coverage.geojson");
                    if std::fs::write(&out, c.geojson.to_string()).is_ok() {
                        println!("Coverage GeoJSON: {}", out.display());
                    }
                }
                Err(e) => println!("Coverage: {e}"),
            }
        }
        Err(e) => println!("Could not read the flight record back: {e}"),
    }
}
