//! `agriops tlog summary FILE` and `agriops tlog coverage FILE --plan PLAN`: recorded flights.

use std::path::PathBuf;

use anyhow::Context;
use telemetry::{Coverage, FlightSummary, Plan, SprayerOutput};

/// Arguments of `agriops tlog`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with the record.
    #[command(subcommand)]
    pub command: TlogCommand,
}

/// The `tlog` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TlogCommand {
    /// Duration, distance, battery, items reached, spraying time, warnings.
    Summary {
        /// The `.tlog` file.
        file: PathBuf,
        /// The plan flown (gives the pump state when the vehicle did not report its servo).
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Servo output (1-16) that drives the pump.
        #[arg(long, default_value_t = 9)]
        pump_servo: u8,
    },
    /// As-applied coverage against the plan's spray legs: covered %, gaps, overlaps.
    Coverage {
        /// The `.tlog` file.
        file: PathBuf,
        /// The plan flown.
        #[arg(long)]
        plan: PathBuf,
        /// Fly only sortie N (1-based) of a whole-field plan.
        #[arg(long)]
        sortie: Option<usize>,
        /// Swath width, metres.
        #[arg(long, default_value_t = 5.0)]
        swath_m: f64,
        /// Write the sprayed, gap and overlap areas as GeoJSON here.
        #[arg(long)]
        geojson: Option<PathBuf>,
        /// Servo output (1-16) that drives the pump.
        #[arg(long, default_value_t = 9)]
        pump_servo: u8,
    },
}

/// Prints a flight summary.
pub fn print_summary(s: &FlightSummary) {
    println!("Flight summary");
    println!("  frames            {}", s.frames);
    println!(
        "  duration          {:.1} s (armed {:.1} s)",
        s.duration_s, s.armed_s
    );
    println!("  distance flown    {:.0} m", s.distance_m);
    if let Some(a) = s.max_rel_alt_m {
        println!("  max altitude      {a:.1} m above home");
    }
    let pct = |p: Option<f64>| p.map_or("?".to_string(), |p| format!("{p:.0} %"));
    println!(
        "  battery           {} → {}",
        pct(s.battery_pct.0),
        pct(s.battery_pct.1)
    );
    if let Some(v) = s.min_battery_v {
        println!("  lowest voltage    {v:.2} V");
    }
    println!(
        "  items reached     {}",
        s.reached_up_to
            .map_or("none".to_string(), |r| format!("up to {r}"))
    );
    println!("  spraying          {:.1} s", s.spraying_s);
    println!("  modes             {}", s.modes.join(" → "));
    for w in &s.warnings {
        println!("  warning           {w}");
    }
}

/// Prints a coverage report.
pub fn print_coverage(c: &Coverage) {
    println!("As-applied coverage");
    println!("  planned           {:.0} m²", c.target_m2);
    println!("  sprayed           {:.0} m²", c.sprayed_m2);
    println!(
        "  covered           {:.1} % ({:.0} m²)",
        c.covered_pct, c.covered_m2
    );
    println!("  gaps              {:.0} m²", c.gaps_m2);
    println!("  overlaps          {:.0} m²", c.overlaps_m2);
    println!("  off target        {:.0} m²", c.off_target_m2);
}

/// Runs `agriops tlog`.
///
/// # Errors
/// Unreadable or empty record, malformed plan, no spray legs in the plan.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        TlogCommand::Summary {
            file,
            plan,
            json,
            pump_servo,
        } => {
            let records = telemetry::read_tlog(&file)?;
            let plan = plan.map(|p| Plan::read(&p)).transpose()?;
            let sprayer = SprayerOutput {
                servo: pump_servo,
                ..SprayerOutput::default()
            };
            let s = telemetry::summarize(&records, plan.as_ref(), sprayer);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&s).context("summary to JSON")?
                );
            } else {
                print_summary(&s);
            }
        }
        TlogCommand::Coverage {
            file,
            plan,
            sortie,
            swath_m,
            geojson,
            pump_servo,
        } => {
            let records = telemetry::read_tlog(&file)?;
            let mut p = Plan::read(&plan)?;
            if let Some(n) = sortie {
                p = p.sortie(n, &plan)?;
            }
            let sprayer = SprayerOutput {
                servo: pump_servo,
                ..SprayerOutput::default()
            };
            let track = telemetry::track_from_records(&records, Some(&p), sprayer);
            let c = telemetry::coverage(&track, &p.spray_legs(), swath_m)?;
            print_coverage(&c);
            if let Some(out) = geojson {
                std::fs::write(&out, c.geojson.to_string())
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("GeoJSON written to {}", out.display());
            }
        }
    }
    Ok(())
}
