//! `agriops demo`: the whole dashboard alive within a minute, on a fresh database with demo
//! users for every role, sample fields with a plan, and the project's own simulated rotary
//! parlors polled over Modbus by a real bridge that forwards to this server's ingest API.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use parlor_bridge::sim::{Framing, SimConfig};
use parlor_bridge::{Bridge, BridgeConfig, DeviceConfig, ForwardSettings, RegisterMap, Sink};

use super::serve::init_tracing;
use crate::http::{
    router::app,
    state::{AppState, Settings},
};
use crate::storage::{Db, NewField, NewPlan, NewUser, Role};

/// Sample fields compiled in (real MAFF fude polygons, with drawn exclusion and sensitive zones).
const SAMPLE_FIELDS: &[&str] = &[
    include_str!("../../../samples/fields/paddy_with_zones.geojson"),
    include_str!("../../../samples/fields/paddies_jp.geojson"),
];
/// Register map A (the simulated controller's layout).
const MAP_A: &str = include_str!("../../../parlor-bridge/maps/map_a.toml");

/// Options of `agriops demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Data directory (default: a new folder under the system temp dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Simulated parlor seconds per real second (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub speedup: f64,
    /// Simulated drone seconds per real second (a demo sortie takes a minute or two at 3).
    #[arg(long, default_value_t = 3.0)]
    pub drone_speed: f64,
    /// Map tile URL template; empty for a plain background (offline).
    #[arg(
        long,
        env = "AGRIOPS_TILE_URL",
        default_value = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
    )]
    pub tile_url: String,
}

/// The demo accounts: (username, password, role, display name).
const USERS: &[(&str, &str, Role, &str)] = &[
    ("admin", "demo-admin", Role::Admin, "管理者"),
    ("staff", "demo-staff", Role::Staff, "農務課 職員"),
    ("farmer", "demo-farmer", Role::Farmer, "高林 太郎"),
    ("dairy", "demo-dairy", Role::Dairy, "西那須野 花子"),
];

/// Runs the demo until Ctrl-C.
///
/// # Errors
/// The data directory, the database, a simulator or the bridge cannot start.
pub fn run(args: Args) -> anyhow::Result<()> {
    init_tracing();
    // Simulated drone seconds per real second, within what the simulator takes.
    let drone_speed = args.drone_speed.clamp(0.1, 50.0);
    let dir = match args.data_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "agriops-demo-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        )),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let db = Db::open_data_dir(&dir).await?;
        if !db.users().await?.is_empty() {
            anyhow::bail!(
                "{} already holds data: the demo wants a fresh folder",
                dir.display()
            );
        }
        let (token, demo_plan) = seed(&db).await?;

        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        let state = AppState::new(
            db.clone(),
            Settings {
                tile_url: args.tile_url,
                data_dir: dir.clone(),
                ..Settings::default()
            },
        );
        let server = tokio::spawn(crate::http::server::serve(
            listener,
            app(state),
            crate::http::server::ServerLimits::default(),
            std::future::pending(),
        ));

        // Two 60-bail rotaries behind one Modbus TCP gateway (unit ids 1 and 2).
        let map_path = dir.join("map_a.toml");
        std::fs::write(&map_path, MAP_A)?;
        let map = RegisterMap::load(&map_path)?;
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sim = parlor_bridge::sim::serve(
            sim_listener,
            map,
            SimConfig {
                parlors: 2,
                bails: 60,
                speedup: args.speedup.max(0.1),
                ..SimConfig::default()
            },
            Framing::Tcp,
            None,
        )?;
        let mut devices = Vec::new();
        for (unit, name) in [(1u8, "東ロータリー"), (2, "西ロータリー")] {
            let mut d = DeviceConfig::new(name, &format!("tcp:{}", sim.addr), unit, &map_path);
            d.farm = "西那須野牧場".to_owned();
            d.kpi_interval_s = 10;
            devices.push(d);
        }
        let url = format!("http://{addr}/api/v1/ingest/parlor");
        let cfg = BridgeConfig {
            bridge_id: "demo-bridge".to_owned(),
            store: None,
            server: None,
            mqtt: None,
            devices,
        };
        let bridge = Bridge::start(
            &cfg,
            Sink::Forward {
                store: dir.join("bridge-outbox.db"),
                settings: ForwardSettings {
                    url,
                    token: Some(token),
                    bridge_id: cfg.bridge_id.clone(),
                    batch_size: 200,
                    min_backoff: Duration::from_millis(500),
                    max_backoff: Duration::from_secs(10),
                    timeout: Duration::from_secs(10),
                },
            },
        )
        .await?;

        // A simulated spray drone standing at the demo plan's refill point.
        let drone = match demo_plan {
            Some((plan_file, home)) => {
                let plan_path = dir.join("demo.plan");
                std::fs::write(&plan_path, plan_file)?;
                let mut cfg = telemetry::SimConfig::new((home.1, home.0, 0.0));
                cfg.time_scale = drone_speed;
                let address = telemetry::LinkAddress::parse("udpin:127.0.0.1:0")?;
                let sim = telemetry::SimDrone::listen(&address, cfg).await?;
                if let Some(a) = sim.local_addr() {
                    register_drone(&db, &format!("udpout:{a}")).await?;
                }
                Some((sim, plan_path))
            }
            None => None,
        };

        println!("agriops demo: http://{addr}/   (data in {})", dir.display());
        println!("sign in as one of (demo passwords, never use them elsewhere):");
        for (user, password, role, _) in USERS {
            println!("  {user:<7} / {password:<12} ({})", role.as_str());
        }
        println!("two simulated rotary parlors feed the dairy pages.");
        if let Some((sim, plan_path)) = &drone
            && let Some(a) = sim.local_addr()
        {
            println!(
                "a simulated spray drone ({drone_speed}x speed) waits on udpin:{a}: sign in as farmer, open\n  the plan and choose \"{}\" to launch it from the browser and watch it live, or fly it with\n  agriops fly --connect udpout:{a} {} --sortie 1",
                crate::i18n::Msg::LaunchFlight.text(crate::i18n::Lang::Ja),
                plan_path.display()
            );
        }
        println!("Ctrl-C stops.");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            r = server => { r.context("server task")?.context("serving HTTP")?; }
        }
        bridge.stop().await;
        drop(sim);
        if let Some((d, _)) = drone {
            d.stop().await;
        }
        db.close().await;
        Ok(())
    })
}

/// The demo plan's QGC `.plan` text and its refill point (lon, lat).
type DemoPlan = (String, (f64, f64));

/// Registers the demo drone as the crop farm's vehicle and gives the demo farmer valid pilot
/// credentials, so the demo plan can be launched from the browser.
async fn register_drone(db: &Db, link_address: &str) -> anyhow::Result<()> {
    let farmer = db
        .user_by_username("farmer")
        .await?
        .context("the demo farmer")?;
    let farm = farmer.farm_id.context("the demo farmer's farm")?;
    let in_a_year = chrono::Utc::now().date_naive() + chrono::Duration::days(365);
    db.create_vehicle(&crate::storage::NewVehicle {
        farm_id: farm,
        registration_no: "JU-DEMO-0001",
        name: "デモ散布機（シミュレータ）",
        autopilot: "ardupilot",
        link_address,
        registration_expiry: Some(in_a_year),
        pump_servo: 9,
    })
    .await?;
    db.set_pilot_credentials(&crate::storage::PilotCredentials {
        user_id: farmer.id,
        licence_no: "DEMO-L-0001".to_owned(),
        licence_expiry: Some(in_a_year),
        permit_no: "DEMO-P-0001".to_owned(),
        permit_expiry: Some(in_a_year),
    })
    .await?;
    Ok(())
}

/// Fills a fresh database: farms in three districts, a user per role, sample fields with one
/// plan, and a bridge token for the dairy farm; returns the token and the demo plan.
async fn seed(db: &Db) -> anyhow::Result<(String, Option<DemoPlan>)> {
    let d = db.districts().await?;
    let crop = db
        .create_farm(d[0].id, "高林ファーム", "crop", "那須塩原市高林")
        .await?;
    let dairy = db
        .create_farm(d[1].id, "西那須野牧場", "dairy", "那須塩原市西富山")
        .await?;
    db.create_farm(d[2].id, "塩原アグリ", "mixed", "那須塩原市塩原")
        .await?;
    for (user, password, role, display) in USERS {
        let farm = match role {
            Role::Farmer => Some(crop.id),
            Role::Dairy => Some(dairy.id),
            _ => None,
        };
        let hash = crate::services::credentials::hash_password(password)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        db.create_user(&NewUser {
            username: user,
            display_name: display,
            password_hash: &hash,
            role: *role,
            farm_id: farm,
            lang: "ja",
        })
        .await?;
    }
    let mut first = None;
    for text in SAMPLE_FIELDS {
        let set = mission_planner::read_fields(text.as_bytes())?;
        for f in set.fields.into_iter().flatten() {
            let fc = crate::http::routes::fields::field_collection(&f, &f.id).to_string();
            let area_ha = {
                use geo::ChamberlainDuquetteArea;
                f.boundary.chamberlain_duquette_unsigned_area() / 10_000.0
            };
            let row = db
                .create_field(&NewField {
                    farm_id: crop.id,
                    name: &f.id,
                    crop: "水稲",
                    fude_polygon_id: None,
                    land_type: f.land_type.as_deref(),
                    geojson: &fc,
                    area_ha,
                })
                .await?;
            if first.is_none() {
                first = Some((row.id, f));
            }
        }
    }
    let mut demo_plan = None;
    if let Some((field_id, f)) = first {
        let cfg = mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0)?);
        let p = mission_planner::plan(&f, &cfg)?;
        let ap = mission_planner::Autopilot::ArduPilot;
        db.create_plan(&NewPlan {
            field_id,
            config_json: "{}",
            report_json: &serde_json::to_string(&p.report)?,
            plan_file: &mission_planner::to_qgc_plan(&p, ap, None),
            geojson: &mission_planner::to_geojson(&p),
            waypoints_file: &mission_planner::to_waypoints(&p, ap, None),
            kml_file: &mission_planner::to_kml(&p),
            autopilot: "ardupilot",
        })
        .await?;
        let home = p.frame.to_wgs84(p.refill);
        demo_plan = Some((mission_planner::to_qgc_plan(&p, ap, None), (home.x, home.y)));
    }
    let token = crate::services::credentials::new_token();
    db.create_bridge_token(
        dairy.id,
        "demo-bridge",
        &crate::services::credentials::token_hash(&token),
    )
    .await?;
    Ok((token, demo_plan))
}
