//! Register maps: a vendor's TOML file → a validated [`RegisterMap`] the poller and decoder follow.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::decode::{self, RawValue, Scaling, ShortWords, ValueType, WordOrder};
use crate::error::{BridgeError, line_col, toml_error};

/// A Modbus data table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Coils, read with FC01 (bits).
    Coil,
    /// Discrete inputs, read with FC02 (bits).
    Discrete,
    /// Input registers, read with FC04.
    Input,
    /// Holding registers, read with FC03.
    Holding,
}

impl Table {
    /// Parses `coil`, `discrete`, `input`, `holding`.
    pub fn parse(s: &str) -> Option<Table> {
        Some(match s.to_ascii_lowercase().as_str() {
            "coil" | "coils" => Table::Coil,
            "discrete" | "discrete_input" | "discrete_inputs" => Table::Discrete,
            "input" | "input_register" | "input_registers" => Table::Input,
            "holding" | "holding_register" | "holding_registers" => Table::Holding,
            _ => return None,
        })
    }

    /// True for the bit tables (coils, discrete inputs).
    pub fn is_bits(self) -> bool {
        matches!(self, Table::Coil | Table::Discrete)
    }

    /// The largest quantity one read may ask for (2000 bits or 125 registers).
    pub fn max_per_read(self) -> u16 {
        if self.is_bits() { 2000 } else { 125 }
    }

    /// The Modbus read function code for this table.
    pub fn function_code(self) -> u8 {
        match self {
            Table::Coil => 1,
            Table::Discrete => 2,
            Table::Holding => 3,
            Table::Input => 4,
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Table::Coil => "coil",
            Table::Discrete => "discrete",
            Table::Input => "input",
            Table::Holding => "holding",
        })
    }
}

/// What a field's number means over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A measurement that may go up and down.
    Gauge,
    /// A monotonic count that wraps modulo 2^bits and resets to 0 on a controller restart.
    Counter,
    /// A code with named values.
    Enum,
    /// Named bits.
    Bitfield,
    /// An identifier (cow number, map id).
    Id,
}

/// The canonical platform states every vendor's enum is mapped to.
pub const PLATFORM_STATES: [&str; 5] = ["off", "running", "stopped", "washing", "fault"];
/// The canonical bail states.
pub const BAIL_STATES: [&str; 5] = ["empty", "prep", "milking", "done", "kicked_off"];
/// Quantities of platform registers the bridge understands.
pub const PLATFORM_QUANTITIES: &[&str] = &[
    "map_id",
    "bail_count",
    "platform_state",
    "rotation_time",
    "rotation_count",
    "cows_milked_total",
    "milk_total",
    "alarm_bits",
    "occupied_bails",
    "milk_temp",
    "vacuum",
    "wash_phase",
    "entrance_bail",
    "controller_clock",
    "heartbeat",
    "kickoffs_total",
    "reattach_total",
    "platform_stops_total",
    "idle_bails_total",
    "go_around_total",
    "session_number",
    "session_cows",
    "reserved",
    "platform_running",
    "wash_active",
    "alarm_active",
];
/// Quantities of per-bail fields the bridge understands.
pub const BAIL_QUANTITIES: &[&str] = &[
    "cow_id",
    "bail_state",
    "current_yield",
    "last_cow_id",
    "last_yield",
    "last_duration",
    "last_conductivity",
    "milking_seq",
    "bail_flags",
    "reserved",
];
/// Quantities of per-bail bits.
pub const BAIL_BIT_QUANTITIES: &[&str] = &["bail_occupied", "cups_on"];

/// One value in the map: where it is, how it is encoded, what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The vendor's name.
    pub name: String,
    /// The canonical meaning the bridge binds to (e.g. `cows_milked_total`).
    pub quantity: String,
    /// The table it lives in.
    pub table: Table,
    /// Wire (0-based) address; for a bail field, the offset inside the bail block.
    pub address: u16,
    /// Encoding.
    pub ty: ValueType,
    /// Word order of multi-register values.
    pub word_order: WordOrder,
    /// Scale, offset and unit conversion to canonical units.
    pub scaling: Scaling,
    /// The unit as the map states it.
    pub unit: String,
    /// What the number means over time.
    pub kind: Kind,
    /// Width of a counter in bits (modulus of its wrap), from the type unless given.
    pub counter_bits: Option<u32>,
    /// Enum values → canonical labels (vendor names mapped to the canonical vocabulary).
    pub labels: BTreeMap<u64, String>,
    /// Bit index → name, for bit fields.
    pub bits: BTreeMap<u32, String>,
    /// 1-based line of the entry in the map file.
    pub line: usize,
}

/// A counter reading, before differencing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CounterSample {
    /// An integer counter: the raw count, its modulus in bits and the canonical amount per count.
    Int {
        /// Raw count as read.
        raw: u64,
        /// Width; the counter wraps modulo 2^bits.
        bits: u32,
        /// Canonical amount per count (kg per count for a milk total ×100 is 0.01).
        per_count: f64,
    },
    /// A float total, already in canonical units.
    Float(f64),
}

/// A decoded value in canonical units.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A measurement in the quantity's canonical unit.
    Number(f64),
    /// A counter sample.
    Counter(CounterSample),
    /// An enum label (canonical when the map maps it), or `unknown(N)`.
    Label(String),
    /// Bit field: the raw mask and the names of the bits that are set.
    Flags(u64, Vec<String>),
    /// An identifier.
    Id(u64),
    /// A single bit.
    Bit(bool),
}

impl Value {
    /// The value as a number, if it is one (counters give their canonical total, bits 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            Value::Counter(CounterSample::Int { raw, per_count, .. }) => {
                Some(*raw as f64 * per_count)
            }
            Value::Counter(CounterSample::Float(v)) => Some(*v),
            Value::Id(v) => Some(*v as f64),
            Value::Bit(b) => Some(f64::from(u8::from(*b))),
            Value::Flags(m, _) => Some(*m as f64),
            Value::Label(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v:.3}"),
            Value::Counter(CounterSample::Int {
                raw,
                bits,
                per_count,
            }) => {
                if (*per_count - 1.0).abs() < f64::EPSILON {
                    write!(f, "{raw} (counter/{bits})")
                } else {
                    write!(
                        f,
                        "{:.3} (raw {raw}, counter/{bits})",
                        *raw as f64 * per_count
                    )
                }
            }
            Value::Counter(CounterSample::Float(v)) => write!(f, "{v:.3} (float total)"),
            Value::Label(l) => f.write_str(l),
            Value::Flags(m, names) => write!(f, "{m:#06x} [{}]", names.join(",")),
            Value::Id(v) => write!(f, "{v}"),
            Value::Bit(b) => write!(f, "{b}"),
        }
    }
}

impl Field {
    /// Words this field spans (0 for a bit).
    pub fn words(&self) -> u16 {
        self.ty.words()
    }

    /// Decodes the field from its words (a bit comes as one word, 0 or 1).
    ///
    /// # Errors
    /// [`ShortWords`] when too few words are given.
    pub fn decode(&self, words: &[u16]) -> Result<Value, ShortWords> {
        let raw = decode::decode(self.ty, self.word_order, words)?;
        Ok(self.interpret(raw))
    }

    /// Interprets a raw number according to the field's kind.
    pub fn interpret(&self, raw: RawValue) -> Value {
        match self.kind {
            Kind::Id => Value::Id(raw.as_u64()),
            Kind::Enum => {
                let code = raw.as_u64();
                Value::Label(
                    self.labels
                        .get(&code)
                        .cloned()
                        .unwrap_or_else(|| format!("unknown({code})")),
                )
            }
            Kind::Bitfield => {
                let mask = raw.as_u64();
                let names = self
                    .bits
                    .iter()
                    .filter(|(bit, _)| **bit < 64 && mask & (1u64 << **bit) != 0)
                    .map(|(_, n)| n.clone())
                    .collect();
                Value::Flags(mask, names)
            }
            Kind::Counter => match (raw, self.counter_bits) {
                (RawValue::Float(v), _) => {
                    Value::Counter(CounterSample::Float(self.scaling.apply(f64::from(v))))
                }
                (r, Some(bits)) => Value::Counter(CounterSample::Int {
                    raw: r.as_u64() & mask(bits),
                    bits,
                    per_count: self.scaling.scale * self.scaling.to_canonical,
                }),
                (r, None) => Value::Number(self.scaling.apply(r.as_f64())),
            },
            Kind::Gauge if self.ty == ValueType::Bool => Value::Bit(raw.as_u64() != 0),
            Kind::Gauge => Value::Number(self.scaling.apply(raw.as_f64())),
        }
    }

    /// Encodes a canonical value into wire words (for simulators and tests).
    pub fn encode(&self, value: &Value) -> Vec<u16> {
        let raw = match value {
            Value::Number(v) => self.raw_number(*v),
            Value::Counter(CounterSample::Int { raw, .. }) => RawValue::Unsigned(*raw),
            Value::Counter(CounterSample::Float(v)) => self.raw_number(*v),
            Value::Label(l) => RawValue::Unsigned(
                self.labels
                    .iter()
                    .find(|(_, v)| *v == l)
                    .map_or(0, |(k, _)| *k),
            ),
            Value::Flags(m, _) => RawValue::Unsigned(*m),
            Value::Id(v) => RawValue::Unsigned(*v),
            Value::Bit(b) => RawValue::Unsigned(u64::from(*b)),
        };
        decode::encode(self.ty, self.word_order, raw)
    }

    fn raw_number(&self, v: f64) -> RawValue {
        let r = self.scaling.invert(v);
        match self.ty {
            ValueType::F32 => RawValue::Float(r as f32),
            ValueType::I16 => RawValue::Signed(r.round().clamp(-32768.0, 32767.0) as i64),
            ValueType::I32 => {
                RawValue::Signed(r.round().clamp(-2_147_483_648.0, 2_147_483_647.0) as i64)
            }
            ValueType::U16 => RawValue::Unsigned(r.round().clamp(0.0, 65535.0) as u64),
            ValueType::U32 => RawValue::Unsigned(r.round().clamp(0.0, 4_294_967_295.0) as u64),
            ValueType::U64 => RawValue::Unsigned(r.round().max(0.0) as u64),
            ValueType::Bool => RawValue::Unsigned(u64::from(r != 0.0)),
        }
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The repeating per-bail block: bail `b` starts at `base + (b - first_bail) * stride`.
#[derive(Debug, Clone, PartialEq)]
pub struct BailLayout {
    /// The register table of the blocks.
    pub table: Table,
    /// Wire address of the first bail's block.
    pub base: u16,
    /// Registers per bail.
    pub stride: u16,
    /// Number of the first bail (usually 1).
    pub first_bail: u16,
    /// The fields inside one block (addresses are offsets).
    pub fields: Vec<Field>,
}

impl BailLayout {
    /// The field bound to `quantity`, if any.
    pub fn field(&self, quantity: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.quantity == quantity)
    }
}

/// One bit per bail: bail `b` at `base + (b - first_bail)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BailBits {
    /// The vendor's name.
    pub name: String,
    /// `bail_occupied` or `cups_on`.
    pub quantity: String,
    /// Coil or discrete table.
    pub table: Table,
    /// Wire address of the first bail's bit.
    pub base: u16,
    /// Number of the first bail.
    pub first_bail: u16,
    /// 1-based line in the map file.
    pub line: usize,
}

/// A validated register map: which values a parlor controller has, where, and what they mean.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterMap {
    /// Where the map came from.
    pub path: PathBuf,
    /// The map's short name (`[meta] map`).
    pub name: String,
    /// The vendor (`[meta] vendor`).
    pub vendor: String,
    /// Value of the `map_id` register, if the vendor has one.
    pub map_id: Option<u64>,
    /// Largest register count per read (≤ 125).
    pub max_registers_per_read: u16,
    /// Largest bit count per read (≤ 2000).
    pub max_bits_per_read: u16,
    /// Platform values.
    pub registers: Vec<Field>,
    /// Per-bail blocks, if any.
    pub bails: Option<BailLayout>,
    /// Per-bail bits.
    pub bail_bits: Vec<BailBits>,
    /// Non-fatal remarks found while loading (e.g. vendor enum values with no canonical meaning).
    pub warnings: Vec<String>,
}

// ------------------------------------------------------------------ raw TOML

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    register: Vec<Spanned<RawField>>,
    bails: Option<Spanned<RawBails>>,
    #[serde(default)]
    bail_bits: Vec<Spanned<RawBailBits>>,
    /// Simulator hints (parlormap.py): `[sim.aliases.<quantity>] canonical = "vendor name"`.
    #[serde(default)]
    sim: RawSim,
}

/// `[meta]`: descriptive keys are free-form; the ones below are used.
#[derive(Debug, Default, Deserialize)]
struct RawMeta {
    map: Option<String>,
    vendor: Option<String>,
    map_id: Option<u64>,
    address_base: Option<i64>,
    default_word_order: Option<String>,
    max_registers_per_read: Option<u16>,
    max_bits_per_read: Option<u16>,
    max_bails: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
struct RawSim {
    #[serde(default)]
    aliases: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    quantity: Option<String>,
    table: Option<String>,
    address: Option<i64>,
    offset: Option<i64>,
    #[serde(rename = "type")]
    ty: String,
    word_order: Option<String>,
    scale: Option<f64>,
    value_offset: Option<f64>,
    unit: Option<String>,
    kind: Option<String>,
    counter_bits: Option<u32>,
    #[serde(rename = "enum")]
    enum_: Option<BTreeMap<String, String>>,
    bits: Option<BTreeMap<String, String>>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBails {
    table: String,
    base: i64,
    stride: i64,
    first_bail: Option<i64>,
    #[serde(default)]
    field: Vec<Spanned<RawField>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBailBits {
    name: String,
    quantity: Option<String>,
    table: String,
    base: i64,
    first_bail: Option<i64>,
}

struct Ctx<'a> {
    path: &'a Path,
    src: &'a str,
    aliases: &'a BTreeMap<String, BTreeMap<String, String>>,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        line_col(self.src, s.span().start).0
    }

    fn err(&self, line: usize, message: impl Into<String>) -> BridgeError {
        BridgeError::Invalid {
            path: self.path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// Maps a vendor enum name to the canonical vocabulary of `quantity`, if it has one.
    fn canonical_label(&self, quantity: &str, name: &str) -> Option<String> {
        let vocab: &[&str] = match quantity {
            "platform_state" => &PLATFORM_STATES,
            "bail_state" => &BAIL_STATES,
            _ => return Some(name.to_string()),
        };
        if vocab.contains(&name) {
            return Some(name.to_string());
        }
        self.aliases
            .get(quantity)
            .and_then(|m| m.iter().find(|(_, vendor)| *vendor == name))
            .map(|(canon, _)| canon.clone())
            .filter(|c| vocab.contains(&c.as_str()))
            .or_else(|| {
                let lower = name.to_ascii_lowercase();
                vocab.contains(&lower.as_str()).then_some(lower)
            })
    }

    #[allow(clippy::too_many_lines)]
    fn field(
        &mut self,
        raw: &Spanned<RawField>,
        bail_table: Option<Table>,
        address_base: i64,
        default_wo: WordOrder,
    ) -> Result<Field, BridgeError> {
        let line = self.line(raw);
        let r = raw.get_ref();
        let quantity = r.quantity.clone().unwrap_or_else(|| r.name.clone());
        let vocab = if bail_table.is_some() {
            BAIL_QUANTITIES
        } else {
            PLATFORM_QUANTITIES
        };
        if !vocab.contains(&quantity.as_str()) {
            return Err(self.err(
                line,
                format!(
                    "{}: unknown quantity {quantity:?}; known: {}",
                    r.name,
                    vocab.join(", ")
                ),
            ));
        }
        let table = match (bail_table, &r.table) {
            (Some(t), None) => t,
            (Some(t), Some(s)) => {
                if Table::parse(s) != Some(t) {
                    return Err(self.err(
                        line,
                        format!(
                            "{}: bail fields live in the bail block's table ({t})",
                            r.name
                        ),
                    ));
                }
                t
            }
            (None, Some(s)) => Table::parse(s).ok_or_else(|| {
                self.err(
                    line,
                    format!(
                        "{}: unknown table {s:?} (coil, discrete, input, holding)",
                        r.name
                    ),
                )
            })?,
            (None, None) => return Err(self.err(line, format!("{}: missing `table`", r.name))),
        };
        let ty = ValueType::parse(&r.ty).ok_or_else(|| {
            self.err(
                line,
                format!(
                    "{}: unknown type {:?} (u16, i16, u32, i32, u64, f32, bool)",
                    r.name, r.ty
                ),
            )
        })?;
        if ty == ValueType::Bool && !table.is_bits() {
            return Err(self.err(
                line,
                format!("{}: bool values live in coil or discrete tables", r.name),
            ));
        }
        if ty != ValueType::Bool && table.is_bits() {
            return Err(self.err(
                line,
                format!("{}: a {ty} cannot live in the {table} bit table", r.name),
            ));
        }
        let address = if bail_table.is_some() {
            let off = r
                .offset
                .or(r.address)
                .ok_or_else(|| self.err(line, format!("{}: missing `offset`", r.name)))?;
            if off < 0 {
                return Err(self.err(line, format!("{}: negative offset {off}", r.name)));
            }
            off
        } else {
            let a = r
                .address
                .ok_or_else(|| self.err(line, format!("{}: missing `address`", r.name)))?;
            let wire = a - address_base;
            if wire < 0 {
                return Err(self.err(
                    line,
                    format!(
                        "{}: address {a} is below the map's address_base {address_base}",
                        r.name
                    ),
                ));
            }
            wire
        };
        let span = i64::from(ty.words().max(1));
        if address + span > 65536 {
            return Err(self.err(
                line,
                format!("{}: address {address} + {span} is beyond 65535", r.name),
            ));
        }
        let word_order = match &r.word_order {
            None => default_wo,
            Some(s) => WordOrder::parse(s).ok_or_else(|| {
                self.err(
                    line,
                    format!(
                        "{}: word_order {s:?} is not ABCD/big, CDAB/little, BADC or DCBA",
                        r.name
                    ),
                )
            })?,
        };
        let kind = match r.kind.as_deref().unwrap_or("gauge") {
            "gauge" => Kind::Gauge,
            "counter" => Kind::Counter,
            "enum" => Kind::Enum,
            "bitfield" | "bits" => Kind::Bitfield,
            "id" => Kind::Id,
            other => {
                return Err(self.err(
                    line,
                    format!(
                        "{}: unknown kind {other:?} (gauge, counter, enum, bitfield, id)",
                        r.name
                    ),
                ));
            }
        };
        let scale = r.scale.unwrap_or(1.0);
        if !scale.is_finite() || scale == 0.0 {
            return Err(self.err(line, format!("{}: scale must be a non-zero number", r.name)));
        }
        let unit = r.unit.clone().unwrap_or_default();
        let to_canonical = match decode::canonical_unit(&quantity) {
            Some(canon) => decode::unit_factor(canon, &unit).ok_or_else(|| {
                self.err(
                    line,
                    format!(
                        "{}: no conversion from {unit:?} to the canonical {canon}",
                        r.name
                    ),
                )
            })?,
            None => 1.0,
        };
        let counter_bits = match (kind, r.counter_bits, ty.int_bits()) {
            (Kind::Counter, Some(b), Some(w)) if b == 0 || b > w => {
                return Err(self.err(
                    line,
                    format!("{}: counter_bits {b} does not fit a {ty}", r.name),
                ));
            }
            (Kind::Counter, Some(b), _) => Some(b),
            (Kind::Counter, None, w) => w,
            _ => None,
        };
        let mut labels = BTreeMap::new();
        if let Some(e) = &r.enum_ {
            if kind != Kind::Enum {
                return Err(self.err(
                    line,
                    format!("{}: `enum` values given but kind is not \"enum\"", r.name),
                ));
            }
            for (k, v) in e {
                let code: u64 = k.trim().parse().map_err(|_| {
                    self.err(line, format!("{}: enum key {k:?} is not a number", r.name))
                })?;
                match self.canonical_label(&quantity, v) {
                    Some(c) => {
                        labels.insert(code, c);
                    }
                    None => {
                        self.warnings.push(format!(
                            "{}:{line}: {}: value {code} = {v:?} has no canonical {quantity} meaning",
                            self.path.display(),
                            r.name
                        ));
                        labels.insert(code, v.clone());
                    }
                }
            }
            let vocab: &[&str] = match quantity.as_str() {
                "platform_state" => &PLATFORM_STATES,
                "bail_state" => &BAIL_STATES,
                _ => &[],
            };
            if !vocab.is_empty() && !labels.values().any(|l| vocab.contains(&l.as_str())) {
                return Err(self.err(
                    line,
                    format!("{}: no enum value names a canonical {quantity} ({}); name them so or map them in [sim.aliases.{quantity}]", r.name, vocab.join(", ")),
                ));
            }
        } else if kind == Kind::Enum {
            return Err(self.err(
                line,
                format!("{}: kind \"enum\" needs an `enum` table", r.name),
            ));
        }
        let mut bits = BTreeMap::new();
        if let Some(b) = &r.bits {
            if kind != Kind::Bitfield {
                return Err(self.err(
                    line,
                    format!("{}: `bits` given but kind is not \"bitfield\"", r.name),
                ));
            }
            let width = u32::from(ty.words()) * 16;
            for (k, v) in b {
                let bit: u32 = k.trim().parse().map_err(|_| {
                    self.err(line, format!("{}: bit {k:?} is not a number", r.name))
                })?;
                if bit >= width {
                    return Err(self.err(
                        line,
                        format!("{}: bit {bit} is beyond the {width}-bit {ty}", r.name),
                    ));
                }
                bits.insert(bit, v.clone());
            }
        }
        Ok(Field {
            name: r.name.clone(),
            quantity,
            table,
            address: address as u16,
            ty,
            word_order,
            scaling: Scaling {
                scale,
                offset: r.value_offset.unwrap_or(0.0),
                to_canonical,
            },
            unit,
            kind,
            counter_bits,
            labels,
            bits,
            line,
        })
    }
}

impl RegisterMap {
    /// Loads and validates a map file.
    ///
    /// # Errors
    /// [`BridgeError::Io`] when the file cannot be read, [`BridgeError::Syntax`] for bad TOML
    /// or an unknown key, [`BridgeError::Invalid`] for overlaps, out-of-range addresses and
    /// unknown names; each names the line.
    pub fn load(path: &Path) -> Result<RegisterMap, BridgeError> {
        let src = std::fs::read_to_string(path).map_err(|source| BridgeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        RegisterMap::parse(&src, path)
    }

    /// Parses and validates map text; `path` is only used in messages.
    ///
    /// # Errors
    /// As [`RegisterMap::load`], except for I/O.
    #[allow(clippy::too_many_lines)]
    pub fn parse(src: &str, path: &Path) -> Result<RegisterMap, BridgeError> {
        let raw: RawMap = toml::from_str(src).map_err(|e| toml_error(path, src, &e))?;
        let mut cx = Ctx {
            path,
            src,
            aliases: &raw.sim.aliases,
            warnings: Vec::new(),
        };
        let meta = &raw.meta;
        let address_base = meta.address_base.unwrap_or(0);
        if address_base != 0 && address_base != 1 {
            return Err(cx.err(
                0,
                format!("[meta] address_base must be 0 or 1, not {address_base}"),
            ));
        }
        let default_wo = match &meta.default_word_order {
            None => WordOrder::Abcd,
            Some(s) => WordOrder::parse(s).ok_or_else(|| {
                cx.err(
                    0,
                    format!(
                        "[meta] default_word_order {s:?} is not ABCD/big, CDAB/little, BADC or DCBA"
                    ),
                )
            })?,
        };
        let max_registers_per_read = meta.max_registers_per_read.unwrap_or(125);
        let max_bits_per_read = meta.max_bits_per_read.unwrap_or(2000);
        if !(1..=125).contains(&max_registers_per_read) || !(1..=2000).contains(&max_bits_per_read)
        {
            return Err(cx.err(
                0,
                "[meta] max_registers_per_read must be 1..=125 and max_bits_per_read 1..=2000",
            ));
        }
        let mut registers = Vec::new();
        for r in &raw.register {
            registers.push(cx.field(r, None, address_base, default_wo)?);
        }
        // Duplicates and overlaps among platform values.
        for (i, a) in registers.iter().enumerate() {
            for b in &registers[..i] {
                if a.quantity == b.quantity && a.quantity != "reserved" {
                    return Err(cx.err(
                        a.line,
                        format!(
                            "{}: quantity {} is already bound by {} (line {})",
                            a.name, a.quantity, b.name, b.line
                        ),
                    ));
                }
                if a.table == b.table
                    && overlaps(a.address, a.words().max(1), b.address, b.words().max(1))
                {
                    return Err(cx.err(
                        a.line,
                        format!(
                            "{}: {} {}..{} overlaps {} (line {})",
                            a.name,
                            a.table,
                            a.address,
                            a.address + a.words().max(1) - 1,
                            b.name,
                            b.line
                        ),
                    ));
                }
            }
        }
        let bails = match &raw.bails {
            None => None,
            Some(sb) => {
                let line = cx.line(sb);
                let b = sb.get_ref();
                let table = Table::parse(&b.table)
                    .ok_or_else(|| cx.err(line, format!("[bails] unknown table {:?}", b.table)))?;
                if table.is_bits() {
                    return Err(cx.err(
                        line,
                        "[bails] blocks live in a register table (input or holding)",
                    ));
                }
                let base = b.base - address_base;
                if !(0..65536).contains(&base) {
                    return Err(cx.err(line, format!("[bails] base {} is out of range", b.base)));
                }
                if !(1..=125).contains(&b.stride) {
                    return Err(cx.err(
                        line,
                        format!(
                            "[bails] stride {} must be 1..=125 (one bail per read at most)",
                            b.stride
                        ),
                    ));
                }
                let first_bail = b.first_bail.unwrap_or(1);
                if !(0..=1000).contains(&first_bail) {
                    return Err(cx.err(
                        line,
                        format!("[bails] first_bail {first_bail} is out of range"),
                    ));
                }
                let mut fields: Vec<Field> = Vec::new();
                for f in &b.field {
                    let field = cx.field(f, Some(table), 0, default_wo)?;
                    let end = i64::from(field.address) + i64::from(field.words());
                    if end > b.stride {
                        return Err(cx.err(
                            field.line,
                            format!(
                                "{}: offset {}..{} exceeds the stride {}",
                                field.name,
                                field.address,
                                end - 1,
                                b.stride
                            ),
                        ));
                    }
                    for g in &fields {
                        if g.quantity == field.quantity && g.quantity != "reserved" {
                            return Err(cx.err(
                                field.line,
                                format!(
                                    "{}: quantity {} is already bound by {} (line {})",
                                    field.name, field.quantity, g.name, g.line
                                ),
                            ));
                        }
                        if overlaps(field.address, field.words(), g.address, g.words()) {
                            return Err(cx.err(
                                field.line,
                                format!(
                                    "{}: offset {} overlaps {} (line {})",
                                    field.name, field.address, g.name, g.line
                                ),
                            ));
                        }
                    }
                    fields.push(field);
                }
                Some(BailLayout {
                    table,
                    base: base as u16,
                    stride: b.stride as u16,
                    first_bail: first_bail as u16,
                    fields,
                })
            }
        };
        let mut bail_bits = Vec::new();
        for sb in &raw.bail_bits {
            let line = cx.line(sb);
            let b = sb.get_ref();
            let quantity = b.quantity.clone().unwrap_or_else(|| b.name.clone());
            if !BAIL_BIT_QUANTITIES.contains(&quantity.as_str()) {
                return Err(cx.err(
                    line,
                    format!(
                        "{}: unknown bail bit quantity {quantity:?}; known: {}",
                        b.name,
                        BAIL_BIT_QUANTITIES.join(", ")
                    ),
                ));
            }
            let table = Table::parse(&b.table)
                .ok_or_else(|| cx.err(line, format!("{}: unknown table {:?}", b.name, b.table)))?;
            if !table.is_bits() {
                return Err(cx.err(
                    line,
                    format!("{}: bail bits live in a coil or discrete table", b.name),
                ));
            }
            let base = b.base - address_base;
            if !(0..65536).contains(&base) {
                return Err(cx.err(line, format!("{}: base {} is out of range", b.name, b.base)));
            }
            bail_bits.push(BailBits {
                name: b.name.clone(),
                quantity,
                table,
                base: base as u16,
                first_bail: b.first_bail.unwrap_or(1).clamp(0, 1000) as u16,
                line,
            });
        }
        let map = RegisterMap {
            path: path.to_path_buf(),
            name: meta.map.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            vendor: meta.vendor.clone().unwrap_or_default(),
            map_id: meta.map_id,
            max_registers_per_read,
            max_bits_per_read,
            registers,
            bails,
            bail_bits,
            warnings: cx.warnings,
        };
        // The smallest parlor (24 bails, or max_bails when given) must fit without overlaps.
        map.check_bails(meta.max_bails.unwrap_or(24))
            .map_err(|message| BridgeError::Invalid {
                path: path.to_path_buf(),
                line: 0,
                message,
            })?;
        Ok(map)
    }

    /// Checks that `n_bails` bail blocks and bits fit the address space and overlap no platform value.
    ///
    /// # Errors
    /// A message naming the overlapping entry and its line.
    pub fn check_bails(&self, n_bails: u16) -> Result<(), String> {
        if let Some(b) = &self.bails {
            let len = u32::from(b.stride) * u32::from(n_bails);
            if u32::from(b.base) + len > 65536 {
                return Err(format!(
                    "{n_bails} bails × stride {} from {} run past register 65535",
                    b.stride, b.base
                ));
            }
            for r in self.registers.iter().filter(|r| r.table == b.table) {
                if overlaps_u32(
                    u32::from(r.address),
                    u32::from(r.words()),
                    u32::from(b.base),
                    len,
                ) {
                    return Err(format!(
                        "{} (line {}) overlaps the bail blocks {}..{} of {n_bails} bails",
                        r.name,
                        r.line,
                        b.base,
                        u32::from(b.base) + len - 1
                    ));
                }
            }
        }
        for (i, bb) in self.bail_bits.iter().enumerate() {
            if u32::from(bb.base) + u32::from(n_bails) > 65536 {
                return Err(format!(
                    "{} (line {}): {n_bails} bits from {} run past 65535",
                    bb.name, bb.line, bb.base
                ));
            }
            for r in self.registers.iter().filter(|r| r.table == bb.table) {
                if overlaps_u32(
                    u32::from(r.address),
                    1,
                    u32::from(bb.base),
                    u32::from(n_bails),
                ) {
                    return Err(format!(
                        "{} (line {}) overlaps the bail bits {} (line {})",
                        r.name, r.line, bb.name, bb.line
                    ));
                }
            }
            for other in &self.bail_bits[..i] {
                if other.table == bb.table
                    && overlaps_u32(
                        u32::from(bb.base),
                        u32::from(n_bails),
                        u32::from(other.base),
                        u32::from(n_bails),
                    )
                {
                    return Err(format!(
                        "{} (line {}) overlaps {} (line {}) for {n_bails} bails",
                        bb.name, bb.line, other.name, other.line
                    ));
                }
            }
        }
        Ok(())
    }

    /// The platform field bound to `quantity`, if any.
    pub fn field(&self, quantity: &str) -> Option<&Field> {
        self.registers.iter().find(|f| f.quantity == quantity)
    }

    /// Checks that the map has what milking events need (bail blocks with `milking_seq` and `last_yield`).
    ///
    /// # Errors
    /// [`BridgeError::Invalid`] naming what is missing.
    pub fn require_milking_fields(&self) -> Result<(), BridgeError> {
        let missing = |what: &str| BridgeError::Invalid {
            path: self.path.clone(),
            line: 0,
            message: format!("the map lacks {what}, which milking events need"),
        };
        let b = self
            .bails
            .as_ref()
            .ok_or_else(|| missing("a [bails] block"))?;
        for q in ["milking_seq", "last_yield"] {
            if b.field(q).is_none() {
                return Err(missing(&format!("the bail field `{q}`")));
            }
        }
        Ok(())
    }
}

fn overlaps(a: u16, an: u16, b: u16, bn: u16) -> bool {
    overlaps_u32(u32::from(a), u32::from(an), u32::from(b), u32::from(bn))
}

fn overlaps_u32(a: u32, an: u32, b: u32, bn: u32) -> bool {
    a < b + bn && b < a + an
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_map_a() -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/map_a.toml");
        std::fs::read_to_string(p).expect("maps/map_a.toml")
    }

    fn check_err(src: &str, expect_line: usize, expect_text: &str) {
        match RegisterMap::parse(src, Path::new("t.toml")) {
            Err(BridgeError::Invalid { line, message, .. })
            | Err(BridgeError::Syntax { line, message, .. }) => {
                assert_eq!(line, expect_line, "{message}");
                assert!(
                    message.contains(expect_text),
                    "{message:?} lacks {expect_text:?}"
                );
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn map_a_loads() {
        let m = RegisterMap::parse(&shared_map_a(), Path::new("map_a.toml")).unwrap();
        assert_eq!(m.map_id, Some(0xA001));
        assert_eq!(m.registers.len(), 23);
        let b = m.bails.as_ref().unwrap();
        assert_eq!((b.base, b.stride, b.fields.len()), (1000, 10, 8));
        let milk = m.field("milk_total").unwrap();
        assert_eq!(milk.counter_bits, Some(32));
        let v = milk.decode(&[0x0001, 0x0000]).unwrap();
        assert_eq!(v.as_f64(), Some(655.36));
        let st = m.field("platform_state").unwrap();
        assert_eq!(st.decode(&[3]).unwrap(), Value::Label("washing".into()));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn errors_name_the_line() {
        let head = "[meta]\nmap = \"t\"\n";
        check_err(
            &format!(
                "{head}[[register]]\nname = \"x\"\nquantity = \"cows_milked_total\"\ntable = \"input\"\naddress = 0\ntype = \"u32\"\n[[register]]\nname = \"y\"\nquantity = \"heartbeat\"\ntable = \"input\"\naddress = 1\ntype = \"u16\"\n"
            ),
            9,
            "overlaps x",
        );
        check_err(
            &format!(
                "{head}[[register]]\nname = \"x\"\nquantity = \"cows_milked_totl\"\ntable = \"input\"\naddress = 0\ntype = \"u32\"\n"
            ),
            3,
            "unknown quantity",
        );
        check_err(
            &format!(
                "{head}[[register]]\nname = \"x\"\ntable = \"input\"\naddress = 0\ntype = \"u16\"\nscael = 2\n"
            ),
            8,
            "unknown field",
        );
        check_err(
            &format!(
                "{head}[[register]]\nname = \"heartbeat\"\ntable = \"input\"\naddress = 65535\ntype = \"u32\"\n"
            ),
            3,
            "beyond 65535",
        );
        check_err(
            &format!(
                "{head}[[register]]\nname = \"vacuum\"\ntable = \"coil\"\naddress = 0\ntype = \"u16\"\n"
            ),
            3,
            "bit table",
        );
        check_err(
            &format!(
                "{head}[[register]]\nname = \"milk_total\"\ntable = \"input\"\naddress = 0\ntype = \"f32\"\nkind = \"counter\"\nunit = \"furlong\"\n"
            ),
            3,
            "no conversion",
        );
        check_err(
            &format!(
                "{head}[bails]\ntable = \"holding\"\nbase = 0\nstride = 4\n[[bails.field]]\nname = \"milking_seq\"\noffset = 3\ntype = \"u32\"\n"
            ),
            7,
            "exceeds the stride",
        );
        check_err(
            &format!(
                "{head}[[register]]\nname = \"platform_state\"\ntable = \"input\"\naddress = 0\ntype = \"u16\"\nkind = \"enum\"\nenum = {{ \"0\" = \"idle\", \"1\" = \"go\" }}\n"
            ),
            3,
            "canonical platform_state",
        );
        check_err("[meta\n", 1, "");
    }

    #[test]
    fn registers_overlapping_bail_blocks_are_rejected() {
        let src = "[[register]]\nname = \"heartbeat\"\ntable = \"holding\"\naddress = 1100\ntype = \"u16\"\n[bails]\ntable = \"holding\"\nbase = 1000\nstride = 10\n[[bails.field]]\nname = \"milking_seq\"\noffset = 0\ntype = \"u16\"\n";
        match RegisterMap::parse(src, Path::new("t.toml")) {
            Err(BridgeError::Invalid { message, .. }) => {
                assert!(message.contains("heartbeat (line 1)"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_based_addresses_and_aliases() {
        let src = "[meta]\naddress_base = 1\n[[register]]\nname = \"st\"\nquantity = \"platform_state\"\ntable = \"holding\"\naddress = 1\ntype = \"u16\"\nkind = \"enum\"\nenum = { \"0\" = \"IDLE\", \"7\" = \"RUN\", \"9\" = \"SERVICE\" }\n[sim.aliases.platform_state]\noff = \"IDLE\"\nrunning = \"RUN\"\n";
        let m = RegisterMap::parse(src, Path::new("t.toml")).unwrap();
        let f = m.field("platform_state").unwrap();
        assert_eq!(f.address, 0);
        assert_eq!(f.decode(&[7]).unwrap(), Value::Label("running".into()));
        assert_eq!(f.decode(&[9]).unwrap(), Value::Label("SERVICE".into()));
        assert_eq!(m.warnings.len(), 1);
    }
}
