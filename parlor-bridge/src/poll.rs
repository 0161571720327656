//! Source: reads parlors over Modbus (TCP, RTU over TCP, serial RTU) following their register maps.
//!
//! Reads are planned per group (fast platform status, slower totals, bail blocks): registers
//! that sit together in the map are merged into as few requests as possible (≤ 125 registers,
//! ≤ 2000 bits; bail blocks are never split), and each device runs in its own task with its own
//! timeout, so one dead parlor never stalls another.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_modbus::client::{Client as _, Context};
use tokio_modbus::prelude::SlaveContext as _;
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

use crate::error::BridgeError;
use crate::milking::{BailReading, Sample};
use crate::register_map::{Field, Kind, RegisterMap, Table, Value};

/// How to reach a device, parsed from an address string.
///
/// Forms: `tcp:HOST:PORT` (or plain `HOST:PORT`), `rtu-tcp:HOST:PORT` (RTU frames over TCP,
/// as behind serial-to-Ethernet gateways), `serial:PATH:BAUD[:PARITY]` (RTU on RS-485;
/// parity `N`, `E` (default) or `O`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Modbus TCP (MBAP header).
    Tcp(SocketAddr),
    /// RTU framing (CRC) over a TCP stream.
    RtuOverTcp(SocketAddr),
    /// RTU on a serial port.
    Serial {
        /// Device path.
        path: String,
        /// Baud rate.
        baud: u32,
        /// Parity: `N`, `E` or `O`.
        parity: char,
    },
}

impl Transport {
    /// Parses an address string (see the type's doc for the forms).
    ///
    /// # Errors
    /// [`BridgeError::Address`] naming what is wrong.
    pub fn parse(address: &str) -> Result<Transport, BridgeError> {
        let bad = |reason: &str| BridgeError::Address {
            address: address.to_string(),
            reason: reason.to_string(),
        };
        let sock = |s: &str| -> Result<SocketAddr, BridgeError> {
            let s = s.trim_start_matches("//");
            s.parse::<SocketAddr>()
                .or_else(|_| {
                    std::net::ToSocketAddrs::to_socket_addrs(s)
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or(())
                })
                .map_err(|()| bad("expected HOST:PORT"))
        };
        if let Some(rest) = address.strip_prefix("tcp:") {
            Ok(Transport::Tcp(sock(rest)?))
        } else if let Some(rest) = address
            .strip_prefix("rtu-tcp:")
            .or_else(|| address.strip_prefix("rtu+tcp:"))
        {
            Ok(Transport::RtuOverTcp(sock(rest)?))
        } else if let Some(rest) = address.strip_prefix("serial:") {
            let mut parts = rest.rsplitn(3, ':').collect::<Vec<_>>();
            parts.reverse();
            let (path, baud, parity) = match parts.as_slice() {
                [p, b, par] if par.len() == 1 && b.parse::<u32>().is_ok() => (
                    p.to_string(),
                    b.parse().unwrap_or(19200),
                    par.chars().next().unwrap_or('E'),
                ),
                [p, b] if b.parse::<u32>().is_ok() => {
                    (p.to_string(), b.parse().unwrap_or(19200), 'E')
                }
                [..] => (rest.to_string(), 19200, 'E'),
            };
            let parity = parity.to_ascii_uppercase();
            if !matches!(parity, 'N' | 'E' | 'O') {
                return Err(bad("parity must be N, E or O"));
            }
            if path.is_empty() {
                return Err(bad("missing serial device path"));
            }
            Ok(Transport::Serial { path, baud, parity })
        } else {
            Ok(Transport::Tcp(sock(address)?))
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Tcp(a) => write!(f, "tcp:{a}"),
            Transport::RtuOverTcp(a) => write!(f, "rtu-tcp:{a}"),
            Transport::Serial { path, baud, parity } => write!(f, "serial:{path}:{baud}:{parity}"),
        }
    }
}

/// The polling groups, each on its own schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Fast platform status (state, speed, alarms, occupancy).
    Status,
    /// Slower totals (counters, clock, heartbeat, sessions).
    Totals,
    /// Per-bail blocks and bits (completed milkings).
    Bails,
}

/// The group a platform quantity is polled in.
pub fn group_of(field: &Field) -> Group {
    if field.kind == Kind::Counter
        || matches!(
            field.quantity.as_str(),
            "controller_clock" | "session_cows" | "map_id" | "reserved"
        )
    {
        Group::Totals
    } else {
        Group::Status
    }
}

/// One Modbus read request of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBlock {
    /// The table (decides the function code).
    pub table: Table,
    /// First wire address.
    pub start: u16,
    /// Registers or bits.
    pub count: u16,
}

impl fmt::Display for ReadBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FC{:02} {}+{}",
            self.table.function_code(),
            self.start,
            self.count
        )
    }
}

/// Spans of addresses the map defines, per table (reads never leave these, so they never touch unmapped addresses).
fn mapped_spans(map: &RegisterMap) -> BTreeMap<Table, Vec<(u32, u32)>> {
    let mut spans: BTreeMap<Table, Vec<(u32, u32)>> = BTreeMap::new();
    for f in &map.registers {
        spans.entry(f.table).or_default().push((
            u32::from(f.address),
            u32::from(f.address) + u32::from(f.words().max(1)),
        ));
    }
    for v in spans.values_mut() {
        v.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (s, e) in v.drain(..) {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *v = merged;
    }
    spans
}

/// Plans the reads of the platform fields in `groups`: as few requests as possible, each within
/// one contiguous mapped span and within the per-read limits, never splitting a value.
pub fn plan_platform(map: &RegisterMap, groups: &[Group]) -> Vec<ReadBlock> {
    let spans = mapped_spans(map);
    let mut out = Vec::new();
    for (table, spans) in &spans {
        let max = u32::from(if table.is_bits() {
            map.max_bits_per_read
        } else {
            map.max_registers_per_read
        });
        let mut fields: Vec<&Field> = map
            .registers
            .iter()
            .filter(|f| f.table == *table && groups.contains(&group_of(f)))
            .collect();
        fields.sort_by_key(|f| f.address);
        for &(s, e) in spans {
            let mut cur: Option<(u32, u32)> = None;
            for f in fields
                .iter()
                .filter(|f| u32::from(f.address) >= s && u32::from(f.address) < e)
            {
                let a = u32::from(f.address);
                let end = a + u32::from(f.words().max(1));
                cur = match cur {
                    Some((cs, ce)) if end - cs <= max => Some((cs, ce.max(end))),
                    Some((cs, ce)) => {
                        out.push(ReadBlock {
                            table: *table,
                            start: cs as u16,
                            count: (ce - cs) as u16,
                        });
                        Some((a, end))
                    }
                    None => Some((a, end)),
                };
            }
            if let Some((cs, ce)) = cur {
                out.push(ReadBlock {
                    table: *table,
                    start: cs as u16,
                    count: (ce - cs) as u16,
                });
            }
        }
    }
    out
}

/// Plans the reads of `n_bails` bail blocks (whole bails per request) and bail bits.
pub fn plan_bails(map: &RegisterMap, n_bails: u16) -> Vec<ReadBlock> {
    let mut out = Vec::new();
    if let Some(b) = &map.bails {
        let per = (map.max_registers_per_read / b.stride).max(1);
        let mut first = 0u16;
        while first < n_bails {
            let n = per.min(n_bails - first);
            out.push(ReadBlock {
                table: b.table,
                start: b.base + first * b.stride,
                count: n * b.stride,
            });
            first += n;
        }
    }
    for bb in &map.bail_bits {
        let mut first = 0u16;
        while first < n_bails {
            let n = map.max_bits_per_read.min(n_bails - first);
            out.push(ReadBlock {
                table: bb.table,
                start: bb.base + first,
                count: n,
            });
            first += n;
        }
    }
    out
}

/// Words (or bits as 0/1 words) read in one cycle, by table.
#[derive(Debug, Clone, Default)]
pub struct Image {
    blocks: Vec<(ReadBlock, Vec<u16>)>,
}

impl Image {
    /// Adds a block read from the device.
    pub fn insert(&mut self, block: ReadBlock, words: Vec<u16>) {
        self.blocks.push((block, words));
    }

    /// The words at `table:address..address+n`, if one block covers them.
    pub fn get(&self, table: Table, address: u16, n: u16) -> Option<&[u16]> {
        let a = u32::from(address);
        let n = u32::from(n.max(1));
        self.blocks.iter().find_map(|(b, w)| {
            let s = u32::from(b.start);
            (b.table == table && a >= s && a + n <= s + w.len() as u32)
                .then(|| &w[(a - s) as usize..(a - s + n) as usize])
        })
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

impl Image {
    /// Adds every block of `other`.
    pub fn extend(&mut self, other: Image) {
        self.blocks.extend(other.blocks);
    }
}

/// Decodes every platform field present in `image`.
pub fn decode_platform(map: &RegisterMap, image: &Image) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for f in &map.registers {
        if let Some(w) = image.get(f.table, f.address, f.words())
            && let Ok(v) = f.decode(w)
        {
            out.insert(f.quantity.clone(), v);
        }
    }
    out
}

/// Decodes every bail block present in `image` into bail readings and per-bail values (for probing).
pub fn decode_bails(
    map: &RegisterMap,
    image: &Image,
    n_bails: u16,
) -> Vec<(u16, BTreeMap<String, Value>)> {
    let mut out = Vec::new();
    let Some(b) = &map.bails else { return out };
    for i in 0..n_bails {
        let block_start = b.base + i * b.stride;
        let Some(words) = image.get(b.table, block_start, b.stride) else {
            continue;
        };
        let mut vals = BTreeMap::new();
        for f in &b.fields {
            let o = usize::from(f.address);
            if let Ok(v) = f.decode(&words[o..]) {
                vals.insert(f.quantity.clone(), v);
            }
        }
        out.push((b.first_bail + i, vals));
    }
    out
}

/// Turns decoded per-bail values into the readings the milking transform needs.
pub fn bail_readings(
    map: &RegisterMap,
    bails: &[(u16, BTreeMap<String, Value>)],
) -> Vec<BailReading> {
    let Some(layout) = &map.bails else {
        return Vec::new();
    };
    let seq_field = layout.field("milking_seq");
    bails
        .iter()
        .filter_map(|(bail, v)| {
            let seq = v.get("milking_seq")?;
            let (seq, seq_bits) = match seq {
                Value::Counter(crate::register_map::CounterSample::Int { raw, bits, .. }) => {
                    (*raw, *bits)
                }
                other => (
                    other.as_f64()? as u64,
                    seq_field.and_then(|f| f.ty.int_bits()).unwrap_or(16),
                ),
            };
            let num = |q: &str| v.get(q).and_then(Value::as_f64);
            let id = |q: &str| match v.get(q) {
                Some(Value::Id(i)) => Some(*i),
                Some(o) => o.as_f64().map(|x| x as u64),
                None => None,
            };
            Some(BailReading {
                bail: *bail,
                seq,
                seq_bits,
                last_cow_id: id("last_cow_id").unwrap_or(0),
                last_yield_kg: num("last_yield")?,
                last_duration_s: num("last_duration"),
                last_conductivity: num("last_conductivity"),
                cow_id: id("cow_id"),
                state: match v.get("bail_state") {
                    Some(Value::Label(l)) => Some(l.clone()),
                    _ => None,
                },
            })
        })
        .collect()
}

/// The state of every bail decoded this cycle, as the wire's latest-wins snapshot.
///
/// A bail without a `bail_state` register is `unknown`; it raises an alarm when kicked off
/// or when its last milking's conductivity is above `high_conductivity_ms_cm`.
pub fn bail_snapshot(
    parlor: &str,
    farm: &str,
    unit: u8,
    t: chrono::DateTime<chrono::Utc>,
    entrance_bail: Option<u16>,
    bails: &[(u16, BTreeMap<String, Value>)],
    high_conductivity_ms_cm: f64,
) -> crate::wire::BailSnapshot {
    let states = bails
        .iter()
        .map(|(bail, v)| {
            let state = match v.get("bail_state") {
                Some(Value::Label(l)) => l.clone(),
                _ => "unknown".to_owned(),
            };
            let cow_id = match v.get("cow_id") {
                Some(Value::Id(i)) => *i,
                Some(o) => o.as_f64().map_or(0, |x| x as u64),
                None => 0,
            };
            let high = v
                .get("last_conductivity")
                .and_then(Value::as_f64)
                .is_some_and(|c| c > high_conductivity_ms_cm);
            crate::wire::BailState {
                bail: *bail,
                alarm: state == "kicked_off" || high,
                state,
                cow_id,
                current_yield_kg: v.get("current_yield").and_then(Value::as_f64),
            }
        })
        .collect();
    crate::wire::BailSnapshot {
        key: format!("{parlor}/{}", t.timestamp_millis()),
        parlor: parlor.to_owned(),
        farm: farm.to_owned(),
        unit,
        t,
        entrance_bail,
        bails: states,
    }
}

/// Counts bails with their `bail_occupied` bit set in `image`.
pub fn occupied_from_bits(map: &RegisterMap, image: &Image, n_bails: u16) -> Option<u32> {
    let bb = map
        .bail_bits
        .iter()
        .find(|b| b.quantity == "bail_occupied")?;
    let bits = image.get(bb.table, bb.base, n_bails)?;
    Some(bits.iter().filter(|b| **b != 0).count() as u32)
}

/// An open Modbus connection to one endpoint (shared by the units behind it on a serial bus).
pub struct Connection {
    transport: Transport,
    ctx: Option<Context>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("transport", &self.transport)
            .field("connected", &self.ctx.is_some())
            .finish()
    }
}

/// A connection that the device tasks of one serial bus share.
pub type SharedConnection = Arc<tokio::sync::Mutex<Connection>>;

fn exception_name(code: ExceptionCode) -> String {
    format!("{code:?}")
}

impl Connection {
    /// A connection (not yet opened) to `transport`.
    pub fn new(transport: Transport) -> Connection {
        Connection {
            transport,
            ctx: None,
        }
    }

    /// The endpoint.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Drops the link; the next read reconnects.
    pub async fn disconnect(&mut self) {
        if let Some(mut c) = self.ctx.take() {
            let _ = tokio::time::timeout(Duration::from_millis(200), c.disconnect()).await;
        }
    }

    async fn connect(
        &mut self,
        device: &str,
        timeout: Duration,
    ) -> Result<&mut Context, BridgeError> {
        if self.ctx.is_none() {
            let transport_err = |source: std::io::Error| BridgeError::Transport {
                device: device.to_string(),
                source,
            };
            let timed_out = || BridgeError::Timeout {
                device: device.to_string(),
                request: "connect".into(),
                timeout_ms: timeout.as_millis() as u64,
            };
            let ctx = match &self.transport {
                Transport::Tcp(a) => {
                    let s = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a))
                        .await
                        .map_err(|_| timed_out())?
                        .map_err(transport_err)?;
                    let _ = s.set_nodelay(true);
                    tokio_modbus::client::tcp::attach(s)
                }
                Transport::RtuOverTcp(a) => {
                    let s = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a))
                        .await
                        .map_err(|_| timed_out())?
                        .map_err(transport_err)?;
                    let _ = s.set_nodelay(true);
                    tokio_modbus::client::rtu::attach(s)
                }
                Transport::Serial { path, baud, parity } => {
                    let parity = match parity {
                        'N' => tokio_serial::Parity::None,
                        'O' => tokio_serial::Parity::Odd,
                        _ => tokio_serial::Parity::Even,
                    };
                    let builder = tokio_serial::new(path.as_str(), *baud).parity(parity);
                    let port = tokio_serial::SerialStream::open(&builder)
                        .map_err(|e| transport_err(std::io::Error::other(e.to_string())))?;
                    tokio_modbus::client::rtu::attach(port)
                }
            };
            self.ctx = Some(ctx);
        }
        self.ctx.as_mut().ok_or_else(|| BridgeError::Transport {
            device: device.to_string(),
            source: std::io::Error::other("not connected"),
        })
    }

    /// Reads one block from `unit`, checking that the reply has as many values as asked.
    ///
    /// On a transport failure, timeout or malformed reply the link is dropped so the next read
    /// starts clean; an exception reply keeps it.
    ///
    /// # Errors
    /// [`BridgeError::Exception`] when the device refuses; [`BridgeError::Transport`],
    /// [`BridgeError::Timeout`] or [`BridgeError::Protocol`] when the exchange fails.
    pub async fn read(
        &mut self,
        device: &str,
        unit: u8,
        block: ReadBlock,
        timeout: Duration,
    ) -> Result<Vec<u16>, BridgeError> {
        let result = self.read_inner(device, unit, block, timeout).await;
        if let Err(e) = &result
            && !e.is_exception()
        {
            self.disconnect().await;
        }
        result
    }

    async fn read_inner(
        &mut self,
        device: &str,
        unit: u8,
        block: ReadBlock,
        timeout: Duration,
    ) -> Result<Vec<u16>, BridgeError> {
        let ctx = self.connect(device, timeout).await?;
        ctx.set_slave(Slave(unit));
        let req = match block.table {
            Table::Coil => Request::ReadCoils(block.start, block.count),
            Table::Discrete => Request::ReadDiscreteInputs(block.start, block.count),
            Table::Holding => Request::ReadHoldingRegisters(block.start, block.count),
            Table::Input => Request::ReadInputRegisters(block.start, block.count),
        };
        let reply = tokio::time::timeout(timeout, ctx.call(req))
            .await
            .map_err(|_| BridgeError::Timeout {
                device: device.to_string(),
                request: block.to_string(),
                timeout_ms: timeout.as_millis() as u64,
            })?;
        let response = match reply {
            Ok(Ok(r)) => r,
            Ok(Err(code)) => {
                return Err(BridgeError::Exception {
                    device: device.to_string(),
                    request: block.to_string(),
                    code: u8::from(code),
                    name: exception_name(code),
                });
            }
            Err(tokio_modbus::Error::Transport(source)) => {
                return Err(BridgeError::Transport {
                    device: device.to_string(),
                    source,
                });
            }
            Err(tokio_modbus::Error::Protocol(p)) => {
                return Err(BridgeError::Protocol {
                    device: device.to_string(),
                    message: p.to_string(),
                });
            }
        };
        let n = usize::from(block.count);
        let short = |got: usize| BridgeError::Protocol {
            device: device.to_string(),
            message: format!("{block}: reply has {got} values"),
        };
        match response {
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                if bits.len() < n {
                    return Err(short(bits.len()));
                }
                Ok(bits[..n].iter().map(|b| u16::from(*b)).collect())
            }
            Response::ReadHoldingRegisters(w) | Response::ReadInputRegisters(w) => {
                if w.len() != n {
                    return Err(short(w.len()));
                }
                Ok(w)
            }
            other => Err(BridgeError::Protocol {
                device: device.to_string(),
                message: format!("{block}: unexpected reply {other:?}"),
            }),
        }
    }
}

/// The result of reading blocks: the image, and the first error when some block failed.
#[derive(Debug, Default)]
pub struct CycleResult {
    /// What was read.
    pub image: Image,
    /// Reads that failed (the cycle stops at the first transport failure).
    pub errors: Vec<BridgeError>,
}

/// Reads the platform registers of `unit` once; the value of `quantity` if the map has it and the read succeeded.
pub async fn read_platform_quantity(
    conn: &mut Connection,
    device: &str,
    unit: u8,
    map: &RegisterMap,
    quantity: &str,
    timeout: Duration,
) -> Option<Value> {
    let plan = plan_platform(map, &[Group::Status, Group::Totals]);
    let res = read_blocks(conn, device, unit, &plan, timeout).await;
    decode_platform(map, &res.image).remove(quantity)
}

/// Reads `blocks` in order from `unit`; stops at the first non-exception failure.
pub async fn read_blocks(
    conn: &mut Connection,
    device: &str,
    unit: u8,
    blocks: &[ReadBlock],
    timeout: Duration,
) -> CycleResult {
    let mut res = CycleResult::default();
    for b in blocks {
        match conn.read(device, unit, *b, timeout).await {
            Ok(w) => res.image.insert(*b, w),
            Err(e) => {
                let fatal = !e.is_exception();
                res.errors.push(e);
                if fatal {
                    break;
                }
            }
        }
    }
    res
}

/// Reads everything a map defines once (all groups and bails) and decodes it; for commissioning.
///
/// # Errors
/// The first read error, or [`BridgeError::DeviceData`] when the bail count is unknown.
pub async fn probe(
    conn: &mut Connection,
    map: &RegisterMap,
    unit: u8,
    bails: Option<u16>,
    timeout: Duration,
) -> Result<(Sample, Vec<(u16, BTreeMap<String, Value>)>, Vec<ReadBlock>), BridgeError> {
    let device = conn.transport().to_string();
    let plan = plan_platform(map, &[Group::Status, Group::Totals]);
    let mut res = read_blocks(conn, &device, unit, &plan, timeout).await;
    if let Some(e) = res.errors.pop() {
        return Err(e);
    }
    let platform = decode_platform(map, &res.image);
    let n = bail_count(&platform, bails).ok_or_else(|| BridgeError::DeviceData {
        device: device.clone(),
        message: "the map has no bail_count register; pass the number of bails".into(),
    })?;
    map.check_bails(n)
        .map_err(|message| BridgeError::DeviceData {
            device: device.clone(),
            message,
        })?;
    let bail_plan = plan_bails(map, n);
    let mut br = read_blocks(conn, &device, unit, &bail_plan, timeout).await;
    if let Some(e) = br.errors.pop() {
        return Err(e);
    }
    let per_bail = decode_bails(map, &br.image, n);
    let sample = Sample {
        t: chrono::Utc::now(),
        occupied_bits: occupied_from_bits(map, &br.image, n),
        bails: bail_readings(map, &per_bail),
        platform,
        bail_count: n,
    };
    let mut all = plan;
    all.extend(bail_plan);
    Ok((sample, per_bail, all))
}

/// The number of bails: the device's `bail_count` register, else the configured number.
pub fn bail_count(platform: &BTreeMap<String, Value>, configured: Option<u16>) -> Option<u16> {
    platform
        .get("bail_count")
        .and_then(Value::as_f64)
        .filter(|n| *n >= 1.0 && *n <= 1000.0)
        .map(|n| n as u16)
        .or(configured)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn map_a() -> RegisterMap {
        RegisterMap::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/map_a.toml")).unwrap()
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(
            Transport::parse("127.0.0.1:502").unwrap(),
            Transport::Tcp("127.0.0.1:502".parse().unwrap())
        );
        assert_eq!(
            Transport::parse("rtu-tcp:127.0.0.1:5030").unwrap(),
            Transport::RtuOverTcp("127.0.0.1:5030".parse().unwrap())
        );
        assert_eq!(
            Transport::parse("serial:/dev/ttyUSB0:9600:N").unwrap(),
            Transport::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 9600,
                parity: 'N'
            }
        );
        assert!(Transport::parse("tcp:nowhere").is_err());
        assert!(Transport::parse("serial:/dev/x:9600:Q").is_err());
    }

    #[test]
    fn map_a_plans_few_requests() {
        let m = map_a();
        // Status and totals together: the whole platform block in one FC04 read of 28.
        let all = plan_platform(&m, &[Group::Status, Group::Totals]);
        assert_eq!(
            all,
            vec![ReadBlock {
                table: Table::Input,
                start: 0,
                count: 28
            }]
        );
        // Status alone stays within the span and skips the trailing totals.
        let st = plan_platform(&m, &[Group::Status]);
        assert_eq!(st.len(), 1);
        assert!(st[0].count < 28);
        // 60 bails: five reads of 120 holding registers, plus one read per bail bit set.
        let b = plan_bails(&m, 60);
        let regs: Vec<_> = b.iter().filter(|r| r.table == Table::Holding).collect();
        assert_eq!(regs.len(), 5);
        assert!(regs.iter().all(|r| r.count == 120));
        assert_eq!(b.iter().filter(|r| r.table == Table::Discrete).count(), 2);
    }

    #[test]
    fn plans_respect_limits_for_any_bail_count() {
        let m = map_a();
        for n in [1u16, 12, 13, 24, 99, 100] {
            let b = plan_bails(&m, n);
            let covered: u32 = b
                .iter()
                .filter(|r| r.table == Table::Holding)
                .map(|r| u32::from(r.count))
                .sum();
            assert_eq!(covered, u32::from(n) * 10);
            assert!(
                b.iter()
                    .all(|r| r.count <= if r.table.is_bits() { 2000 } else { 125 })
            );
            assert!(
                b.iter()
                    .filter(|r| r.table == Table::Holding)
                    .all(|r| r.count % 10 == 0)
            );
        }
    }
}
