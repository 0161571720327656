//! The telemetry frame reader against pymavlink's decoding of `../shared/mavlink/golden`:
//! every must-decode frame comes out with the same header and fields (floats by bit pattern),
//! corrupted segments yield nothing, and chunked input decodes like whole input.

use serde_json::Value;
use telemetry::mavlink::dialects::ardupilotmega::MavMessage as Msg;
use telemetry::{Frame, FrameDecoder};

/// A field value in comparable form.
#[derive(Debug, PartialEq)]
enum F {
    Int(i128),
    F32(u32),
    Str(String),
    Ints(Vec<i128>),
}

fn i<T: Into<i128>>(v: T) -> F {
    F::Int(v.into())
}

fn f(v: f32) -> F {
    F::F32(v.to_bits())
}

/// Every field pymavlink reports for the message types in the golden stream.
fn fields(msg: &Msg) -> Option<Vec<(&'static str, F)>> {
    Some(match msg {
        Msg::HEARTBEAT(m) => vec![
            ("type", i(m.mavtype as u32)),
            ("autopilot", i(m.autopilot as u32)),
            ("base_mode", i(m.base_mode.bits())),
            ("custom_mode", i(m.custom_mode)),
            ("system_status", i(m.system_status as u32)),
            ("mavlink_version", i(m.mavlink_version)),
        ],
        Msg::MISSION_ITEM_REACHED(m) => vec![("seq", i(m.seq))],
        Msg::MISSION_CURRENT(m) => vec![
            ("seq", i(m.seq)),
            ("total", i(m.total)),
            ("mission_state", i(m.mission_state as u32)),
            ("mission_mode", i(m.mission_mode)),
        ],
        Msg::STATUSTEXT(m) => vec![
            ("severity", i(m.severity as u32)),
            (
                "text",
                F::Str(
                    String::from_utf8_lossy(&m.text[..])
                        .trim_end_matches('\0')
                        .to_string(),
                ),
            ),
            ("id", i(m.id)),
            ("chunk_seq", i(m.chunk_seq)),
        ],
        Msg::SYS_STATUS(m) => vec![
            (
                "onboard_control_sensors_present",
                i(m.onboard_control_sensors_present.bits()),
            ),
            (
                "onboard_control_sensors_enabled",
                i(m.onboard_control_sensors_enabled.bits()),
            ),
            (
                "onboard_control_sensors_health",
                i(m.onboard_control_sensors_health.bits()),
            ),
            ("load", i(m.load)),
            ("voltage_battery", i(m.voltage_battery)),
            ("current_battery", i(m.current_battery)),
            ("battery_remaining", i(m.battery_remaining)),
            ("drop_rate_comm", i(m.drop_rate_comm)),
            ("errors_comm", i(m.errors_comm)),
            ("errors_count1", i(m.errors_count1)),
            ("errors_count2", i(m.errors_count2)),
            ("errors_count3", i(m.errors_count3)),
            ("errors_count4", i(m.errors_count4)),
            (
                "onboard_control_sensors_present_extended",
                i(m.onboard_control_sensors_present_extended.bits()),
            ),
            (
                "onboard_control_sensors_enabled_extended",
                i(m.onboard_control_sensors_enabled_extended.bits()),
            ),
            (
                "onboard_control_sensors_health_extended",
                i(m.onboard_control_sensors_health_extended.bits()),
            ),
        ],
        Msg::GLOBAL_POSITION_INT(m) => vec![
            ("time_boot_ms", i(m.time_boot_ms)),
            ("lat", i(m.lat)),
            ("lon", i(m.lon)),
            ("alt", i(m.alt)),
            ("relative_alt", i(m.relative_alt)),
            ("vx", i(m.vx)),
            ("vy", i(m.vy)),
            ("vz", i(m.vz)),
            ("hdg", i(m.hdg)),
        ],
        Msg::ATTITUDE(m) => vec![
            ("time_boot_ms", i(m.time_boot_ms)),
            ("roll", f(m.roll)),
            ("pitch", f(m.pitch)),
            ("yaw", f(m.yaw)),
            ("rollspeed", f(m.rollspeed)),
            ("pitchspeed", f(m.pitchspeed)),
            ("yawspeed", f(m.yawspeed)),
        ],
        Msg::GPS_RAW_INT(m) => vec![
            ("time_usec", i(m.time_usec)),
            ("fix_type", i(m.fix_type as u32)),
            ("lat", i(m.lat)),
            ("lon", i(m.lon)),
            ("alt", i(m.alt)),
            ("eph", i(m.eph)),
            ("epv", i(m.epv)),
            ("vel", i(m.vel)),
            ("cog", i(m.cog)),
            ("satellites_visible", i(m.satellites_visible)),
            ("alt_ellipsoid", i(m.alt_ellipsoid)),
            ("h_acc", i(m.h_acc)),
            ("v_acc", i(m.v_acc)),
            ("vel_acc", i(m.vel_acc)),
            ("hdg_acc", i(m.hdg_acc)),
            ("yaw", i(m.yaw)),
        ],
        Msg::VFR_HUD(m) => vec![
            ("airspeed", f(m.airspeed)),
            ("groundspeed", f(m.groundspeed)),
            ("heading", i(m.heading)),
            ("throttle", i(m.throttle)),
            ("alt", f(m.alt)),
            ("climb", f(m.climb)),
        ],
        Msg::BATTERY_STATUS(m) => vec![
            ("id", i(m.id)),
            ("battery_function", i(m.battery_function as u32)),
            ("type", i(m.mavtype as u32)),
            ("temperature", i(m.temperature)),
            (
                "voltages",
                F::Ints(m.voltages.iter().map(|v| i128::from(*v)).collect()),
            ),
            ("current_battery", i(m.current_battery)),
            ("current_consumed", i(m.current_consumed)),
            ("energy_consumed", i(m.energy_consumed)),
            ("battery_remaining", i(m.battery_remaining)),
            ("time_remaining", i(m.time_remaining)),
            ("charge_state", i(m.charge_state as u32)),
            (
                "voltages_ext",
                F::Ints(m.voltages_ext.iter().map(|v| i128::from(*v)).collect()),
            ),
            ("mode", i(m.mode as u32)),
            ("fault_bitmask", i(m.fault_bitmask.bits())),
        ],
        _ => return None,
    })
}

/// pymavlink's value of field `name` in comparable form.
fn expected(seg: &Value, name: &str, like: &F) -> F {
    let v = &seg["fields"][name];
    match like {
        F::F32(_) => match seg["f32_bits"][name].as_str() {
            Some(hex) => {
                F::F32(u32::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex bits"))
            }
            None => F::F32((v.as_f64().expect("float field") as f32).to_bits()),
        },
        F::Str(_) => F::Str(v.as_str().expect("string field").to_string()),
        F::Ints(_) => F::Ints(
            v.as_array()
                .expect("array field")
                .iter()
                .map(|x| i128::from(x.as_i64().expect("int")))
                .collect(),
        ),
        F::Int(_) => F::Int(
            v.as_i64()
                .map(i128::from)
                .or_else(|| v.as_u64().map(i128::from))
                .expect("int field"),
        ),
    }
}

/// `../shared` beside the checkout (or `AGRIOPS_SHARED`); `None` (a printed SKIP) when absent,
/// a panic when `AGRIOPS_REQUIRE_SHARED=1` insists the test runs.
fn require_shared(test: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("AGRIOPS_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("AGRIOPS_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("{test}: ../shared is absent but AGRIOPS_REQUIRE_SHARED=1");
    }
    eprintln!("SKIP {test}: ../shared is absent beside the checkout (set AGRIOPS_SHARED)");
    None
}

fn decode_chunked(bytes: &[u8]) -> Vec<Frame> {
    let mut d = FrameDecoder::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut k = 0usize;
    while pos < bytes.len() {
        let n = (1 + (k * 37) % 97).min(bytes.len() - pos); // uneven chunks, 1..97 bytes
        d.push(&bytes[pos..pos + n]);
        pos += n;
        k += 1;
        while let Some(f) = d.next_frame() {
            out.push(f);
        }
    }
    out
}

#[test]
fn golden_frames_decode_like_pymavlink() {
    let Some(shared) = require_shared("golden_frames_decode_like_pymavlink") else {
        return;
    };
    let dir = shared.join("mavlink/golden");
    let bin = std::fs::read(dir.join("golden.bin")).expect("golden.bin");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("golden.json")).expect("golden.json"))
            .expect("json");
    let segments = doc["segments"].as_array().expect("segments");

    let whole = telemetry::decode_all(&bin);
    let chunked = decode_chunked(&bin);
    assert_eq!(
        whole.iter().map(|f| &f.raw).collect::<Vec<_>>(),
        chunked.iter().map(|f| &f.raw).collect::<Vec<_>>(),
        "chunked input must decode exactly like whole input"
    );

    // Walk the segments in stream order; each decoded frame must be the next frame segment.
    let mut next = 0usize;
    let (mut n_must, mut n_matched, mut n_fields) = (0, 0, 0);
    for seg in segments {
        let kind = seg["kind"].as_str().unwrap();
        let hex = seg["hex"].as_str().unwrap();
        let raw: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap())
            .collect();
        let must = seg["must_decode"].as_bool().unwrap_or(false);
        n_must += usize::from(must);
        let matched = whole.get(next).is_some_and(|f| f.raw == raw);
        if !kind.starts_with("frame") {
            assert!(
                !matched,
                "corrupted segment {} ({kind}) came out as a frame",
                seg["index"]
            );
            continue;
        }
        if !matched {
            assert!(
                !must,
                "must-decode frame {} ({}) at offset {} was not decoded",
                seg["index"], seg["name"], seg["offset"]
            );
            continue;
        }
        let frame = &whole[next];
        next += 1;
        n_matched += 1;
        let at = format!(
            "segment {} ({} at offset {})",
            seg["index"], seg["name"], seg["offset"]
        );
        assert_eq!(frame.msg_name(), seg["name"].as_str().unwrap(), "{at}");
        assert_eq!(
            u64::from(frame.header.sequence),
            seg["seq"].as_u64().unwrap(),
            "{at}: seq"
        );
        assert_eq!(
            u64::from(frame.header.system_id),
            seg["sysid"].as_u64().unwrap(),
            "{at}: sysid"
        );
        assert_eq!(
            u64::from(frame.header.component_id),
            seg["compid"].as_u64().unwrap(),
            "{at}: compid"
        );
        let got =
            fields(&frame.msg).unwrap_or_else(|| panic!("{at}: no field table for this message"));
        let names = seg["fields"].as_object().unwrap();
        assert_eq!(
            got.len(),
            names.len(),
            "{at}: pymavlink has fields {:?}",
            names.keys().collect::<Vec<_>>()
        );
        for (name, value) in &got {
            assert_eq!(*value, expected(seg, name, value), "{at}: field {name}");
            n_fields += 1;
        }
    }
    assert_eq!(
        next,
        whole.len(),
        "decoded frame {next} matches no valid frame of the stream (bogus decode)"
    );
    let pymavlink = doc["pymavlink_decoded"].as_array().unwrap().len();
    eprintln!(
        "golden: {} frames decoded ({n_matched} matched, {n_fields} fields compared), {n_must} must-decode; pymavlink decoded {pymavlink}",
        whole.len()
    );
    assert!(n_matched >= n_must);
}

trait Name {
    fn msg_name(&self) -> &'static str;
}

impl Name for Frame {
    fn msg_name(&self) -> &'static str {
        use telemetry::mavlink::Message;
        self.msg.message_name()
    }
}
