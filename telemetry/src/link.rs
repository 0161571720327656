//! Links to a vehicle: address strings, the socket/serial transport (mavlink's `connect_async`),
//! our GCS heartbeat, vehicle discovery by HEARTBEAT, link health, stream-rate requests and
//! optional MAVLink 2 signing.
//!
//! Everything above the link talks through a [`Port`]: a channel pair (messages out, frames in).
//! A [`Link`] drives a port from a real transport; tests drive one from a fake vehicle.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mavlink::dialects::ardupilotmega::{self as apm, MavAutopilot, MavModeFlag, MavState, MavType};
use mavlink::{AsyncMavConnection, MavHeader};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::frame::{Frame, Msg};
use crate::mission_protocol::stored::Storage;
use crate::modes::Firmware;
use crate::record::{TlogWriter, now_us};

/// Capacity of the incoming-frame broadcast; a receiver that lags further loses frames.
const INBOX_CAPACITY: usize = 4096;

/// The two directions of a MAVLink conversation as channels: messages to send, frames received.
#[derive(Debug, Clone)]
pub struct Port {
    out: mpsc::UnboundedSender<Msg>,
    inbox: broadcast::Sender<Arc<Frame>>,
}

/// The far side of a [`Port`]: what a transport (or a fake vehicle) reads and feeds.
#[derive(Debug)]
pub struct PortPeer {
    /// Messages the GCS side sent.
    pub outgoing: mpsc::UnboundedReceiver<Msg>,
    /// Where received frames are published.
    pub inbox: broadcast::Sender<Arc<Frame>>,
}

impl Port {
    /// A new connected port / peer pair.
    pub fn pair() -> (Self, PortPeer) {
        let (out, outgoing) = mpsc::unbounded_channel();
        let (inbox, _) = broadcast::channel(INBOX_CAPACITY);
        (
            Self {
                out,
                inbox: inbox.clone(),
            },
            PortPeer { outgoing, inbox },
        )
    }

    /// Queues a message for sending.
    ///
    /// # Errors
    /// [`Error::LinkClosed`] if the transport is gone.
    pub fn send(&self, msg: Msg) -> Result<()> {
        self.out.send(msg).map_err(|_| Error::LinkClosed)
    }

    /// A receiver of every frame arriving from now on (subscribe before sending a request).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.inbox.subscribe()
    }
}

/// Waits until `pick` accepts a frame or `deadline` passes (`Ok(None)`).
///
/// # Errors
/// [`Error::LinkClosed`] if the inbox closed.
pub(crate) async fn recv_until<T>(
    rx: &mut broadcast::Receiver<Arc<Frame>>,
    deadline: tokio::time::Instant,
    mut pick: impl FnMut(&Frame) -> Option<T>,
) -> Result<Option<T>> {
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return Ok(None),
            Ok(Ok(frame)) => {
                if let Some(t) = pick(&frame) {
                    return Ok(Some(t));
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => return Err(Error::LinkClosed),
        }
    }
}

/// The vehicle's address on the link and its firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// Autopilot system id.
    pub system: u8,
    /// Autopilot component id.
    pub component: u8,
    /// Autopilot family.
    pub firmware: Firmware,
    /// Whose rules its mission storage follows (what a read-back must return).
    pub storage: Storage,
}

impl Target {
    /// A target whose storage rules are its firmware's own.
    pub fn new(system: u8, component: u8, firmware: Firmware) -> Self {
        Self {
            system,
            component,
            firmware,
            storage: Storage::of(firmware),
        }
    }
}

/// What a vehicle's HEARTBEAT says about it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VehicleInfo {
    /// Address and firmware.
    pub target: Target,
    /// MAV_AUTOPILOT name.
    pub autopilot: String,
    /// MAV_TYPE name.
    pub vehicle_type: String,
}

/// Waits for an autopilot HEARTBEAT (not a GCS, not a companion) on `port`.
///
/// # Errors
/// [`Error::NoVehicle`] after `timeout`.
pub async fn wait_vehicle(port: &Port, timeout: Duration) -> Result<VehicleInfo> {
    let mut rx = port.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    let found = recv_until(&mut rx, deadline, |f| match &f.msg {
        Msg::HEARTBEAT(hb)
            if hb.autopilot != MavAutopilot::MAV_AUTOPILOT_INVALID
                && !matches!(
                    hb.mavtype,
                    MavType::MAV_TYPE_GCS | MavType::MAV_TYPE_ONBOARD_CONTROLLER
                ) =>
        {
            Some(VehicleInfo {
                target: Target {
                    system: f.system_id(),
                    component: f.header.component_id,
                    firmware: Firmware::from_autopilot(hb.autopilot),
                    storage: Storage::from_autopilot(hb.autopilot),
                },
                autopilot: format!("{:?}", hb.autopilot)
                    .trim_start_matches("MAV_AUTOPILOT_")
                    .to_string(),
                vehicle_type: format!("{:?}", hb.mavtype)
                    .trim_start_matches("MAV_TYPE_")
                    .to_string(),
            })
        }
        _ => None,
    })
    .await?;
    let info = found.ok_or(Error::NoVehicle { waited: timeout })?;
    crate::events::vehicle_found(
        info.target.system,
        info.target.component,
        &info.autopilot,
        &info.vehicle_type,
    );
    Ok(info)
}

/// A parsed link address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAddress {
    /// `udpin:HOST:PORT`: listen for UDP; reply to whoever sent last.
    UdpIn(String),
    /// `udpout:HOST:PORT`: send UDP to HOST:PORT.
    UdpOut(String),
    /// `tcpout:HOST:PORT`: connect to a TCP server (e.g. a 4G MAVLink router, SITL).
    TcpOut(String),
    /// `tcpin:HOST:PORT`: accept one TCP connection.
    TcpIn(String),
    /// `serial:PORT:BAUD`: a USB/UART telemetry radio.
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        port: String,
        /// Baud rate, e.g. 57600.
        baud: u32,
    },
}

impl LinkAddress {
    /// Parses `udpin:`, `udpout:`, `tcpout:`, `tcpin:` and `serial:PORT:BAUD` addresses.
    ///
    /// # Errors
    /// [`Error::BadAddress`] saying what is wrong.
    pub fn parse(address: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadAddress {
            address: address.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = address
            .split_once(':')
            .ok_or_else(|| bad("expected SCHEME:…, e.g. udpin:0.0.0.0:14550"))?;
        let host_port = |rest: &str| -> Result<String> {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("expected HOST:PORT"))?;
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            port.parse::<u16>()
                .map_err(|_| bad("port is not a number 0-65535"))?;
            Ok(rest.to_string())
        };
        match scheme {
            "udpin" => Ok(Self::UdpIn(host_port(rest)?)),
            "udpout" => Ok(Self::UdpOut(host_port(rest)?)),
            "tcpout" => Ok(Self::TcpOut(host_port(rest)?)),
            "tcpin" => Ok(Self::TcpIn(host_port(rest)?)),
            "serial" => {
                let (port, baud) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("expected serial:PORT:BAUD"))?;
                let baud = baud
                    .parse::<u32>()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| bad("baud rate is not a positive number"))?;
                if port.is_empty() {
                    return Err(bad("empty serial port"));
                }
                Ok(Self::Serial {
                    port: port.to_string(),
                    baud,
                })
            }
            _ => Err(bad(
                "unknown scheme; use udpin, udpout, tcpin, tcpout or serial",
            )),
        }
    }

    /// The address in the form mavlink's `connect_async` takes.
    fn to_mavlink(&self) -> String {
        match self {
            Self::UdpIn(a) => format!("udpin:{a}"),
            Self::UdpOut(a) => format!("udpout:{a}"),
            Self::TcpOut(a) => format!("tcpout:{a}"),
            Self::TcpIn(a) => format!("tcpin:{a}"),
            Self::Serial { port, baud } => format!("serial:{port}:{baud}"),
        }
    }
}

impl std::fmt::Display for LinkAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_mavlink())
    }
}

/// How to open a [`Link`].
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Where the vehicle is.
    pub address: LinkAddress,
    /// Our system id (255 is the usual GCS id).
    pub system_id: u8,
    /// Our component id (190 = MAV_COMP_ID_MISSIONPLANNER).
    pub component_id: u8,
    /// How long to wait for the transport to open (a `tcpin:` waits for the peer to connect).
    pub connect_timeout: Duration,
    /// Period of our GCS heartbeat.
    pub heartbeat_period: Duration,
    /// MAVLink 2 signing key (sign outgoing, verify incoming; unsigned frames refused).
    pub signing_key: Option<[u8; 32]>,
    /// Record every received frame to this `.tlog`.
    pub tlog: Option<std::path::PathBuf>,
}

impl LinkConfig {
    /// A GCS config (255/190, 1 Hz heartbeat, 10 s connect timeout) for `address`.
    pub fn new(address: LinkAddress) -> Self {
        Self {
            address,
            system_id: 255,
            component_id: 190,
            connect_timeout: Duration::from_secs(10),
            heartbeat_period: Duration::from_secs(1),
            signing_key: None,
            tlog: None,
        }
    }
}

/// Health counters of a link.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkHealth {
    /// Frames received.
    pub frames: u64,
    /// Frames missing by sequence number (summed over senders).
    pub lost: u64,
    /// Time since the last vehicle heartbeat (filled in by [`Link::health`]).
    #[serde(skip)]
    pub since_vehicle_heartbeat: Option<Duration>,
    /// The transport's reader stopped (peer closed the connection, socket error).
    pub closed: bool,
    #[serde(skip)]
    last_seq: HashMap<(u32, u8), u8>,
    #[serde(skip)]
    last_vehicle_heartbeat: Option<Instant>,
    #[serde(skip)]
    vehicle: Option<(u8, u8)>,
}

impl LinkHealth {
    /// Counts a received frame and any sequence gap before it.
    pub fn observe(&mut self, frame: &Frame, now: Instant) {
        self.frames += 1;
        let key = (frame.header.system_id, frame.header.component_id);
        if let Some(last) = self.last_seq.insert(key, frame.header.sequence) {
            let gap = frame.header.sequence.wrapping_sub(last).wrapping_sub(1);
            if gap < 128 {
                self.lost += u64::from(gap);
            }
        }
        if let Msg::HEARTBEAT(_) = frame.msg
            && self.vehicle == Some((frame.system_id(), frame.header.component_id))
        {
            self.last_vehicle_heartbeat = Some(now);
        }
    }

    /// Packet loss in percent of frames expected.
    pub fn loss_pct(&self) -> f64 {
        let expected = self.frames + self.lost;
        if expected == 0 {
            0.0
        } else {
            100.0 * self.lost as f64 / expected as f64
        }
    }
}

/// An open link: transport tasks feeding a [`Port`], our heartbeat, health, optional recording.
#[derive(Debug)]
pub struct Link {
    port: Port,
    health: Arc<Mutex<LinkHealth>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Link {
    /// Opens the transport and starts the reader, writer and heartbeat tasks.
    ///
    /// # Errors
    /// [`Error::Io`] if the socket/port cannot be opened or the connect timeout passes.
    pub async fn connect(config: &LinkConfig) -> Result<Self> {
        let addr = config.address.to_mavlink();
        let conn =
            tokio::time::timeout(config.connect_timeout, mavlink::connect_async::<Msg>(&addr))
                .await
                .map_err(|_| {
                    Error::io(
                        format!("connect {addr}"),
                        std::io::ErrorKind::TimedOut.into(),
                    )
                })?
                .map_err(|e| Error::io(format!("connect {addr}"), e))?;
        let mut conn = conn;
        conn.set_allow_recv_any_version(true);
        if let Some(key) = config.signing_key {
            conn.setup_signing(Some(mavlink::SigningConfig::new(key, 0, true, false)));
        }
        let conn = Arc::new(conn);
        let (port, mut peer) = Port::pair();
        let health = Arc::new(Mutex::new(LinkHealth::default()));
        let mut tlog = match &config.tlog {
            Some(p) => Some(TlogWriter::create(Path::new(p))?),
            None => None,
        };

        let reader = {
            let conn = conn.clone();
            let inbox = peer.inbox.clone();
            let health = health.clone();
            tokio::spawn(async move {
                loop {
                    match conn.recv_raw().await {
                        Ok(raw) => {
                            let Ok(frame) = Frame::from_raw(&raw) else {
                                continue;
                            };
                            if let Some(w) = tlog.as_mut() {
                                let _ = w.write(now_us(), &frame.raw);
                                if w.n_frames() % 50 == 0 {
                                    let _ = w.flush();
                                }
                            }
                            if let Ok(mut h) = health.lock() {
                                h.observe(&frame, Instant::now());
                            }
                            let _ = inbox.send(Arc::new(frame));
                        }
                        Err(error) => {
                            crate::events::link_read_failed(&error);
                            if let Ok(mut h) = health.lock() {
                                h.closed = true;
                            }
                            break;
                        }
                    }
                }
                if let Some(mut w) = tlog {
                    let _ = w.flush();
                }
            })
        };
        let header = MavHeader {
            system_id: u32::from(config.system_id),
            component_id: config.component_id,
            sequence: 0,
        };
        let writer = {
            let conn = conn.clone();
            tokio::spawn(async move {
                while let Some(msg) = peer.outgoing.recv().await {
                    if let Err(error) = conn.send(&header, &msg).await {
                        crate::events::link_read_failed(&error);
                    }
                }
            })
        };
        let heartbeat = {
            let port = port.clone();
            let period = config.heartbeat_period;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    if port.send(gcs_heartbeat()).is_err() {
                        break;
                    }
                }
            })
        };
        Ok(Self {
            port,
            health,
            tasks: vec![reader, writer, heartbeat],
        })
    }

    /// The port to talk through.
    pub fn port(&self) -> &Port {
        &self.port
    }

    /// Waits for the vehicle's heartbeat and starts tracking its heartbeat for link health.
    ///
    /// # Errors
    /// [`Error::NoVehicle`] after `timeout`.
    pub async fn wait_vehicle(&self, timeout: Duration) -> Result<VehicleInfo> {
        let info = wait_vehicle(&self.port, timeout).await?;
        if let Ok(mut h) = self.health.lock() {
            h.vehicle = Some((info.target.system, info.target.component));
            h.last_vehicle_heartbeat = Some(Instant::now());
        }
        Ok(info)
    }

    /// A snapshot of the link's health.
    pub fn health(&self) -> LinkHealth {
        let mut h = self.health.lock().map(|h| h.clone()).unwrap_or_default();
        h.since_vehicle_heartbeat = h.last_vehicle_heartbeat.map(|t| t.elapsed());
        h
    }

    /// Checks that the vehicle's heartbeat is recent and the transport still open.
    ///
    /// # Errors
    /// [`Error::LinkLost`] if silent for longer than `timeout`, [`Error::LinkClosed`] if closed.
    pub fn check_alive(&self, timeout: Duration) -> Result<()> {
        let h = self.health();
        if h.closed {
            return Err(Error::LinkClosed);
        }
        match h.since_vehicle_heartbeat {
            Some(silent) if silent > timeout => Err(Error::LinkLost { silent }),
            _ => Ok(()),
        }
    }
}

impl Link {
    /// Stops the link's tasks and waits for them, so the `.tlog` is complete on return.
    pub async fn close(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Our GCS heartbeat.
pub fn gcs_heartbeat() -> Msg {
    Msg::HEARTBEAT(apm::HEARTBEAT_DATA {
        custom_mode: 0,
        mavtype: MavType::MAV_TYPE_GCS,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        base_mode: MavModeFlag::empty(),
        system_status: MavState::MAV_STATE_ACTIVE,
        mavlink_version: 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        for a in [
            "udpin:0.0.0.0:14550",
            "udpout:127.0.0.1:14550",
            "tcpout:127.0.0.1:5760",
            "tcpin:0.0.0.0:5760",
            "serial:/dev/ttyUSB0:57600",
        ] {
            assert_eq!(LinkAddress::parse(a).unwrap().to_string(), a);
        }
        for bad in [
            "",
            "udp:1.2.3.4:5",
            "udpin:1.2.3.4",
            "udpin::5",
            "tcpout:h:99999",
            "serial:/dev/x:fast",
            "serial::57600",
        ] {
            assert!(
                matches!(LinkAddress::parse(bad), Err(Error::BadAddress { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn loss_is_counted_from_sequence_gaps_across_the_wrap() {
        let mut h = LinkHealth::default();
        let now = Instant::now();
        for seq in [250u8, 251, 253, 254, 255, 0, 3] {
            let f = Frame::encode(
                MavHeader {
                    system_id: 1,
                    component_id: 1,
                    sequence: seq,
                },
                gcs_heartbeat(),
            );
            h.observe(&f, now);
        }
        assert_eq!(h.frames, 7);
        assert_eq!(h.lost, 3); // 252, 1, 2
        assert!((h.loss_pct() - 30.0).abs() < 1e-9);
    }
}
