//! The vehicle made ready for a flight, each with the pilot's consent where it changes the
//! vehicle: its fence acting on a breach, its RTL altitude, the sprayer's output, terrain data.

use super::*;

/// Refuses to fly with the uploaded fence switched off, unless the pilot lets it be switched on.
pub(super) async fn ensure_fence_on(args: &Args, vehicle: &Vehicle) -> anyhow::Result<()> {
    let setup = match vehicle.fence_setup().await {
        Ok(setup) => setup,
        Err(e) if args.fence_unchecked => {
            println!(
                "Warning: the vehicle's fence parameters could not be read ({e}); flying with --fence-unchecked."
            );
            return Ok(());
        }
        Err(e) => bail!(
            "the vehicle's fence parameters could not be read ({e}), so the uploaded fence is not known to be on; \
             pass --fence-unchecked to fly anyway"
        ),
    };
    if setup.active() {
        println!("Geofence on (breach action {}).", setup.action);
        return Ok(());
    }
    let consent = args.enable_fence
        || (!args.yes
            && std::io::stdin().is_terminal()
            && {
                let q = format!(
                    "The vehicle's geofence is off (enabled {}, polygon {}, action {}). Switch it on? [y/N]",
                    setup.enabled, setup.polygon, setup.action
                );
                tokio::task::spawn_blocking(move || ask(&q))
                    .await
                    .unwrap_or(false)
            });
    if !consent {
        bail!(
            "the vehicle's geofence is off (enabled {}, polygon {}, action {}): the field's fence would not act on a breach; \
             pass --enable-fence (or answer y) to switch it on",
            setup.enabled,
            setup.polygon,
            setup.action
        );
    }
    let after = vehicle
        .enable_fence()
        .await
        .context("switching the geofence on")?;
    if !after.active() {
        bail!("the vehicle did not switch its geofence on: {after:?}");
    }
    println!("Geofence switched on (breach action {}).", after.action);
    Ok(())
}

/// Shows the altitude RTL climbs to, and sets it when the pilot asked for it.
pub(super) async fn ensure_rtl_altitude(
    args: &Args,
    plan: &Plan,
    vehicle: &Vehicle,
) -> anyhow::Result<()> {
    if let Some(m) = args.rtl_alt_m {
        if !(1.0..=120.0).contains(&m) {
            bail!("--rtl-alt-m {m}: give 1 to 120 metres");
        }
        let got = vehicle
            .set_rtl_altitude_m(m)
            .await
            .context("setting the RTL altitude")?;
        if (got - m).abs() > 0.05 {
            bail!("the vehicle kept an RTL altitude of {got:.1} m instead of {m:.1} m");
        }
    }
    match vehicle.rtl_altitude_m().await {
        Ok(alt) => {
            let spray = plan
                .items
                .iter()
                .filter(|i| i.is_nav_with_position() && i.z > 0.0)
                .map(|i| f64::from(i.z))
                .fold(0.0, f64::max);
            println!("RTL climbs to {alt:.1} m above home (plan flies at {spray:.1} m).");
        }
        Err(e) => tracing::debug!(message = "RTL altitude not readable.", error = %e),
    }
    Ok(())
}

/// Checks ArduPilot's sprayer before a plan that uses it: refuses when it is off (the pump
/// would never run), sets SPRAY_SPEED_MIN when the pilot asked, and says how far each spray
/// leg runs dry at the speed the vehicle keeps.
pub(super) async fn ensure_sprayer(
    args: &Args,
    plan: &Plan,
    vehicle: &Vehicle,
) -> anyhow::Result<()> {
    if !plan.uses_sprayer() || vehicle.target().firmware != Firmware::ArduPilot {
        return Ok(());
    }
    if let Some(v) = args.spray_speed_min_mps {
        // ArduCopter's WPNAV_SPEED default (10 m/s) when the plan sets no speed.
        let spray_speed = plan.spray_speed_mps().unwrap_or(10.0).min(10.0);
        if !(0.0..spray_speed).contains(&v) {
            bail!(
                "--spray-speed-min-mps {v}: give 0 to under {spray_speed:.1} m/s (the plan's spray speed)"
            );
        }
        if let Some(now) = vehicle
            .spray_speed_min_mps()
            .await
            .context("reading SPRAY_SPEED_MIN")?
            && (now - v).abs() > 0.005
        {
            let got = vehicle
                .set_spray_speed_min_mps(v)
                .await
                .context("setting SPRAY_SPEED_MIN")?;
            if (got - v).abs() > 0.005 {
                bail!("the vehicle kept SPRAY_SPEED_MIN at {got:.2} m/s instead of {v:.2} m/s");
            }
        }
    }
    let Some(min) = vehicle.check_sprayer(plan).await? else {
        return Ok(());
    };
    println!(
        "Sprayer: the pump runs above {min:.2} m/s ground speed (SPRAY_SPEED_MIN), 0.1 s after the vehicle passes it.{}",
        if min > 0.5 {
            " Each spray leg starting from a turn begins dry until then; --spray-speed-min-mps 0.3 shortens that."
        } else {
            ""
        }
    );
    Ok(())
}

/// Checks ArduPilot's terrain following before a plan with terrain-frame altitudes: refuses
/// when it is off, sets TERRAIN_SPACING when the pilot asked, and says when the grid is
/// coarse or nothing serves terrain.
pub(super) async fn ensure_terrain(
    args: &Args,
    plan: &Plan,
    vehicle: &Vehicle,
) -> anyhow::Result<()> {
    if !plan.uses_terrain_frame() {
        return Ok(());
    }
    let Some((enabled, spacing)) = vehicle
        .terrain_setup()
        .await
        .context("reading TERRAIN_ENABLE and TERRAIN_SPACING")?
    else {
        return Ok(());
    };
    if !enabled {
        bail!(
            "the plan's altitudes are above the terrain, but the vehicle's terrain following is off \
             (TERRAIN_ENABLE 0): plan with --alt-frame relative or amsl, or switch it on"
        );
    }
    let spacing = match args.terrain_spacing_m {
        Some(n) if !(1..=1000).contains(&n) => {
            bail!("--terrain-spacing-m {n}: give 1 to 1000 metres")
        }
        Some(n) if (f64::from(n) - spacing).abs() > 0.5 => {
            let got = vehicle
                .set_terrain_spacing_m(n)
                .await
                .context("setting TERRAIN_SPACING")?;
            if (got - f64::from(n)).abs() > 0.5 {
                bail!("the vehicle kept TERRAIN_SPACING at {got:.0} m instead of {n} m");
            }
            got
        }
        _ => spacing,
    };
    println!(
        "Terrain following on: the vehicle keeps a {spacing:.0} m terrain grid (TERRAIN_SPACING).{}{}",
        if spacing > 30.0 {
            " That is coarse for a field: --terrain-spacing-m 10 asks for a finer one."
        } else {
            ""
        },
        if args.dem.is_empty() {
            " No --dem is served: the vehicle must have the terrain on its card."
        } else {
            ""
        }
    );
    Ok(())
}
