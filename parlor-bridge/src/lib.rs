//! Rotary milking-parlor bridge: Modbus polling by register maps, milking events, throughput, store-and-forward.

pub mod wire;
