//! The options of `agriops plan` as a `PlanConfig`: the numbers checked, the prescription map
//! read, the terrain-following settings and the elevation model loaded.

use super::*;

/// The settings of the terrain pass, or `None` without `--dem`.
pub(super) fn terrain_config(a: &Args) -> anyhow::Result<Option<TerrainConfig>> {
    if a.dem.is_empty() {
        if a.alt_frame != AltFrameArg::Relative {
            bail!("--alt-frame amsl and terrain need an elevation model (--dem FILE)");
        }
        return Ok(None);
    }
    Ok(Some(TerrainConfig {
        frame: match a.alt_frame {
            AltFrameArg::Relative => AltitudeFrame::RelativeHome,
            AltFrameArg::Amsl => AltitudeFrame::Amsl,
            AltFrameArg::Terrain => AltitudeFrame::Terrain,
        },
        tolerance: Metres::new(a.terrain_tolerance_m).context("--terrain-tolerance-m")?,
        climb_rate: MetresPerSecond::new(a.climb_rate_mps).context("--climb-rate-mps")?,
        descent_rate: MetresPerSecond::new(a.descent_rate_mps).context("--descent-rate-mps")?,
        ..TerrainConfig::default()
    }))
}

/// Reads the elevation model from `--dem` files and tile folders (merged in name order; a
/// folder gives its `z/x/y.png` tiles).
///
/// # Errors
/// An unreadable file, or a model the planner refuses (named with the file).
pub(crate) fn load_dem(paths: &[PathBuf]) -> anyhow::Result<Dem> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                let rd = std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))?;
                for e in rd {
                    let path = e.with_context(|| format!("{}", d.display()))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path
                        .extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("png"))
                    {
                        files.push(path);
                    }
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut loaded = Vec::with_capacity(files.len());
    for f in &files {
        let bytes = std::fs::read(f).with_context(|| format!("Failed to read {}", f.display()))?;
        loaded.push((f.display().to_string(), bytes));
    }
    if loaded.is_empty() {
        bail!("--dem names no elevation files");
    }
    Ok(Dem::from_files(&loaded, &DemLimits::default())?)
}

/// Reads `--prescription`, with the files a Shapefile or TASKDATA keeps beside it.
pub(super) fn read_rx(path: &Path, options: &ReadOptions) -> anyhow::Result<Prescription> {
    let read =
        |p: &Path| std::fs::read(p).with_context(|| format!("Failed to read {}", p.display()));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rx = match ext.as_str() {
        "shp" => {
            let dbf = read(&path.with_extension("dbf"))?;
            let prj = std::fs::read_to_string(path.with_extension("prj")).ok();
            let cpg = std::fs::read_to_string(path.with_extension("cpg")).ok();
            read_shapefile(&read(path)?, &dbf, prj.as_deref(), cpg.as_deref(), options)
        }
        "xml" => {
            let xml = String::from_utf8_lossy(&read(path)?).into_owned();
            let dir = path.parent().unwrap_or(Path::new("."));
            let bin = |name: &str| std::fs::read(dir.join(name)).ok();
            read_taskdata(&xml, &bin, options)
        }
        _ => read_prescription(&read(path)?, options),
    };
    rx.with_context(|| format!("{}", path.display()))
}

pub(super) fn config(a: &Args) -> anyhow::Result<PlanConfig> {
    let mut c = PlanConfig::new(SwathWidth::new(a.swath_width)?);
    c.rate = match (a.rate_l_per_10a, a.rate_l_per_ha) {
        (Some(r), _) => ApplicationRate::from_l_per_10a(r)?,
        (None, Some(r)) => ApplicationRate::from_l_per_ha(r)?,
        (None, None) => c.rate,
    };
    c.tank = Litres::new(a.tank_l)?;
    c.endurance = Seconds::new(a.endurance_min * 60.0)?;
    c.spray_speed = MetresPerSecond::new(a.speed_mps)?;
    c.transit_speed = MetresPerSecond::new(a.transit_speed_mps)?;
    c.height = Metres::new(a.height_m)?;
    c.headland_passes = a.headland_passes;
    c.drift_buffer = Metres::new(a.drift_buffer_m)?;
    c.edge_margin = Metres::new(a.edge_margin_m)?;
    c.exclusion_clearance = Metres::new(a.clearance_m)?;
    c.fence_margin = Metres::new(a.fence_margin_m)?;
    c.fence_points = a.fence_points.0;
    c.refill = a.refill;
    c.heading_deg = a.heading_deg;
    c.rate_lag = Seconds::new(a.rate_lag_s)?;
    c.sprayer_lead = Seconds::new(a.sprayer_lead_s)?;
    c.pump_full_flow_l_min = a.pump_full_flow_l_min;
    if let Some(path) = &a.prescription {
        let options = ReadOptions::new(a.rate_column.as_deref(), a.rate_unit);
        c.prescription = Some(VariableRate {
            map: read_rx(path, &options)?,
            gap: a.gap,
        });
    }
    c.check()?;
    Ok(c)
}
