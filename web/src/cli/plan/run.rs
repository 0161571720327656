//! The run of `agriops plan`: the files read (a large GeoJSON streamed a round of fields at a
//! time), each field planned on the thread pool, the missions written in the chosen formats,
//! and the failures summed up.

use super::*;

/// What fitting the fence to the vehicle changed, for the lines after the table; `None` when
/// the full fence is uploaded.
pub(super) fn fence_note(r: &mission_planner::PlanReport) -> Option<String> {
    if r.fence_points == r.fence_points_full && r.fence_exclusions_dropped == 0 {
        return None;
    }
    let mut note = format!(
        "{}: fence fitted to the vehicle, {} → {} vertices, at most {:.2} m beyond the boundary",
        r.field_id, r.fence_points_full, r.fence_points, r.fence_shift_m
    );
    if r.fence_exclusions_dropped > 0 {
        note.push_str(&format!(
            "; {} exclusion zone(s) left out of the fence (the mission still keeps clear of them)",
            r.fence_exclusions_dropped
        ));
    }
    Some(note)
}

/// A file-system-safe version of a field id.
pub(super) fn file_stem(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "field".into() } else { s }
}

pub(super) fn write_outputs(
    out: &Path,
    stem: &str,
    p: &mission_planner::Plan,
    formats: &[Format],
    ap: Autopilot,
) -> anyhow::Result<()> {
    let write = |name: String, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))
    };
    for f in formats {
        match f {
            Format::Plan => {
                write(format!("{stem}.plan"), to_qgc_plan(p, ap, None))?;
                for s in &p.sorties {
                    write(
                        format!("{stem}_sortie{}.plan", s.index),
                        to_qgc_plan(p, ap, Some(s.index)),
                    )?;
                }
            }
            Format::Waypoints => write(format!("{stem}.waypoints"), to_waypoints(p, ap, None))?,
            Format::Kml => write(format!("{stem}.kml"), to_kml(p))?,
            Format::Geojson => write(format!("{stem}.geojson"), to_geojson(p))?,
        }
    }
    Ok(())
}

pub(super) enum Job {
    Field {
        file: PathBuf,
        field: Field,
        stem: String,
    },
    Bad {
        file: PathBuf,
        error: PlanError,
    },
    BadFile(String),
}

/// GeoJSON files at least this large are read feature by feature (two passes, see
/// `mission_planner::scan_fields`) instead of whole, so a city's parcels plan in memory that
/// does not grow with their number.
pub(super) const STREAM_FROM_BYTES: u64 = 8 << 20;

/// Fields planned in one parallel round; the reader thread keeps the next round ready.
pub(super) const ROUND: usize = 256;

/// Reads every input file and sends its fields, in file and document order, until the
/// receiver hangs up.
pub(super) struct Reader {
    stems: HashMap<String, usize>,
    stream_from: u64,
}

impl Reader {
    fn job(&mut self, file: &Path, field: Result<Field, PlanError>) -> Job {
        match field {
            Ok(field) => {
                let base = file_stem(&field.id);
                let n = self.stems.entry(base.clone()).or_insert(0);
                *n += 1;
                let stem = if *n == 1 { base } else { format!("{base}_{n}") };
                Job::Field {
                    file: file.to_path_buf(),
                    field,
                    stem,
                }
            }
            Err(error) => Job::Bad {
                file: file.to_path_buf(),
                error,
            },
        }
    }

    /// Sends the fields of one file; `false` when the receiver has hung up.
    fn send_file(
        &mut self,
        file: &Path,
        tx: &std::sync::mpsc::SyncSender<Job>,
        bar: &ProgressBar,
    ) -> bool {
        let bad = |e: String| {
            tx.send(Job::BadFile(format!("{}: {e}", file.display())))
                .is_ok()
        };
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        if size >= self.stream_from && looks_like_geojson(file) {
            let open = || std::fs::File::open(file).map_err(|e| e.to_string());
            let scanned = open().and_then(|f| {
                mission_planner::scan_fields(f, &mission_planner::FieldLimits::DEFAULT)
                    .map_err(|e| e.to_string())
            });
            match scanned {
                Err(e) => return bad(e),
                Ok(Some(scan)) => {
                    bar.inc_length(scan.n_field_features() as u64);
                    let reader = match open() {
                        Ok(r) => r,
                        Err(e) => return bad(e),
                    };
                    let mut open_rx = true;
                    let walked = scan.for_each_field(reader, |f| {
                        let job = self.job(file, f);
                        open_rx = tx.send(job).is_ok();
                        open_rx
                    });
                    return match walked {
                        Err(e) if open_rx => bad(e.to_string()),
                        _ => open_rx,
                    };
                }
                // Not a FeatureCollection: read it whole below.
                Ok(None) => {}
            }
        }
        let parsed = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|b| read_fields(&b).map_err(|e| e.to_string()));
        match parsed {
            Err(e) => bad(e),
            Ok(set) => {
                bar.inc_length(set.fields.len() as u64);
                for f in set.fields {
                    let job = self.job(file, f);
                    if tx.send(job).is_err() {
                        return false;
                    }
                }
                true
            }
        }
    }
}

/// True when the file's first non-blank byte opens a JSON object.
pub(super) fn looks_like_geojson(file: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = head[..n]
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&head[..n]);
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// What planning needs besides the job.
pub(super) struct Planner<'a> {
    cfg: &'a PlanConfig,
    dem: Option<&'a Dem>,
    terrain: Option<&'a TerrainConfig>,
    out: &'a Path,
    formats: &'a [Format],
    autopilot: Autopilot,
}

impl Planner<'_> {
    fn plan(&self, job: &Job, bar: &ProgressBar) -> Result<mission_planner::PlanReport, String> {
        let (file, field, stem) = match job {
            Job::BadFile(e) => return Err(e.clone()),
            Job::Bad { file, error } => return Err(format!("{}: {error}", file.display())),
            Job::Field { file, field, stem } => (file, field, stem),
        };
        let p = plan(field, self.cfg)
            .and_then(|p| match (self.dem, self.terrain) {
                (Some(d), Some(t)) => apply_terrain(&p, d, t),
                _ => Ok(p),
            })
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(t) = &p.terrain {
            let r = &t.report;
            if r.raised_spray_m > 0.0 {
                bar.suspend(|| {
                    eprintln!(
                        "warning: field {}: {:.0} m of spray legs fly up to {:.1} m above spray height: the ground is steeper than the vehicle climbs or descends at spray speed",
                        p.field_id, r.raised_spray_m, r.max_raise_m
                    )
                });
            }
        }
        write_outputs(self.out, stem, &p, self.formats, self.autopilot)
            .map_err(|e| format!("{e:#}"))?;
        Ok(p.report)
    }
}

pub(super) fn run_streaming_from(args: Args, stream_from: u64) -> anyhow::Result<()> {
    let cfg = config(&args)?;
    let terrain = terrain_config(&args)?;
    let dem = match &terrain {
        Some(_) => Some(load_dem(&args.dem)?),
        None => None,
    };
    let autopilot = match args.autopilot {
        AutopilotArg::Ardupilot => Autopilot::ArduPilot,
        AutopilotArg::Px4 => Autopilot::Px4Actuator,
        AutopilotArg::Px4Servo => Autopilot::Px4Servo {
            servo: args.servo,
            pwm_on: mission_planner::SERVO_PWM_FULL,
            pwm_off: mission_planner::SERVO_PWM_OFF,
        },
        AutopilotArg::ArdupilotServo => Autopilot::ArduPilotServo {
            servo: args.servo,
            pwm_on: mission_planner::SERVO_PWM_FULL,
            pwm_off: mission_planner::SERVO_PWM_OFF,
        },
    };
    if cfg.prescription.is_some() && autopilot == Autopilot::ArduPilot {
        bail!(
            "ArduPilot's DO_SPRAYER cannot change the rate (its pump follows ground speed at one \
             SPRAY_PUMP_RATE): use --autopilot ardupilot-servo with the pump on a servo output \
             whose SERVOn_FUNCTION is 0"
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("Failed to create {}", args.out.display()))?;
    if let Some(t) = &terrain
        && !t.frame.supported_by(autopilot)
    {
        eprintln!(
            "warning: PX4 does not fly terrain-frame mission items; the missions use AMSL altitudes"
        );
    }
    // Progress goes to stderr, and only to a terminal: stdout stays the table or the JSON
    // Lines, whatever it is piped into. The length grows as each file is read.
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} fields, {elapsed} (eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let planner = Planner {
        cfg: &cfg,
        dem: dem.as_ref(),
        terrain: terrain.as_ref(),
        out: &args.out,
        formats: &args.format,
        autopilot,
    };
    let mut n_inputs = 0usize;
    let mut n_failed = 0usize;
    // Only fields that have them keep a note or a zone table until the end.
    let mut notes: Vec<String> = Vec::new();
    let mut zone_tables: Vec<String> = Vec::new();
    if !args.json {
        println!("{}", mission_planner::PlanReport::table_header());
    }
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(2 * ROUND);
        let files = &args.files;
        let reader_bar = bar.clone();
        scope.spawn(move || {
            let mut reader = Reader {
                stems: HashMap::new(),
                stream_from,
            };
            for file in files {
                reader_bar.set_message(file.display().to_string());
                if !reader.send_file(file, &tx, &reader_bar) {
                    break;
                }
            }
        });
        loop {
            let round: Vec<Job> = rx.iter().take(ROUND).collect();
            if round.is_empty() {
                break;
            }
            let results: Vec<_> = round
                .par_iter()
                .map(|job| {
                    let r = planner.plan(job, &bar);
                    bar.inc(1);
                    r
                })
                .collect();
            for r in results {
                n_inputs += 1;
                match r {
                    Ok(rep) => {
                        if args.json {
                            println!("{}", serde_json::to_string(&rep)?);
                        } else {
                            println!("{}", rep.table_row());
                            notes.extend(fence_note(&rep));
                            if !rep.zones.is_empty() {
                                zone_tables.push(format!(
                                    "\n{}: per zone\n{}",
                                    rep.field_id,
                                    rep.zone_table()
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {e}"));
                        n_failed += 1;
                    }
                }
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if !args.json {
        if !notes.is_empty() {
            println!();
            for n in notes {
                println!("{n}");
            }
        }
        for t in zone_tables {
            print!("{t}");
        }
    }
    match failure_summary(n_failed, n_inputs, &args.out) {
        Some(summary) => bail!("{summary}"),
        None => Ok(()),
    }
}

/// The closing line of a run with failures: how many of how many inputs failed, and what
/// became of the rest (never "the others were planned" when there were none).
pub(super) fn failure_summary(n_failed: usize, n_inputs: usize, out: &Path) -> Option<String> {
    let n_planned = n_inputs.saturating_sub(n_failed);
    match (n_failed, n_planned) {
        (0, _) => None,
        (_, 0) => Some(format!(
            "{n_failed} of {n_inputs} inputs (files and fields) failed; nothing was planned"
        )),
        (_, 1) => Some(format!(
            "{n_failed} of {n_inputs} inputs (files and fields) failed; the other one was planned and written to {}",
            out.display()
        )),
        _ => Some(format!(
            "{n_failed} of {n_inputs} inputs (files and fields) failed; the other {n_planned} were planned and written to {}",
            out.display()
        )),
    }
}
