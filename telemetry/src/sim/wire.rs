//! The simulator's transports: the core task that owns the vehicle, and UDP or TCP framing.

use super::*;

pub(super) fn header(config: &SimConfig) -> MavHeader {
    MavHeader {
        system_id: u32::from(config.system_id),
        component_id: config.component_id,
        sequence: 0,
    }
}

pub(super) fn spawn_core(
    config: SimConfig,
    mut input: mpsc::UnboundedReceiver<Incoming>,
    out: mpsc::UnboundedSender<Msg>,
) -> (JoinHandle<()>, Arc<Mutex<SimSnapshot>>) {
    let mut sim = Sim::new(config, out);
    let snapshot = Arc::new(Mutex::new(sim.snapshot()));
    let shared = snapshot.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(sim.cfg.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(sim.cfg.heartbeat_period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = false;
        loop {
            tokio::select! {
                m = input.recv() => match m {
                    Some((from, m)) => {
                        let first = !heard;
                        heard = true;
                        sim.gcs = from;
                        sim.handle(m);
                        if first {
                            // A udpin peer is known only from its first message: say hello now.
                            sim.heartbeat();
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => sim.step(),
                _ = heartbeat.tick() => sim.heartbeat(),
            }
            if let Ok(mut s) = shared.lock() {
                *s = sim.snapshot();
            }
            if sim.out.is_closed() {
                break;
            }
        }
    });
    (task, snapshot)
}

/// Decodes `bytes` and hands every whole frame to the simulator; false once it has stopped.
pub(super) fn forward_frames(
    decoder: &mut FrameDecoder,
    bytes: &[u8],
    input: &mpsc::UnboundedSender<Incoming>,
) -> bool {
    decoder.push(bytes);
    while let Some(f) = decoder.next_frame() {
        if input
            .send(((f.system_id(), f.header.component_id), f.msg))
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Encodes `m` under `header` and advances its sequence number.
pub(super) fn encode_next(header: &mut MavHeader, m: Msg) -> Frame {
    let frame = Frame::encode(*header, m);
    header.sequence = header.sequence.wrapping_add(1);
    frame
}

/// UDP transport: decode what arrives, answer the last sender.
pub(super) async fn run_udp(
    sock: UdpSocket,
    mut header: MavHeader,
    input: mpsc::UnboundedSender<Incoming>,
    mut out: mpsc::UnboundedReceiver<Msg>,
) {
    let mut buf = vec![0u8; 65_536];
    let mut decoder = FrameDecoder::new();
    let mut peer: Option<SocketAddr> = None;
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                peer = Some(from);
                if !forward_frames(&mut decoder, &buf[..n], &input) {
                    return;
                }
            }
            m = out.recv() => {
                let Some(m) = m else { return };
                if let Some(p) = peer {
                    let frame = encode_next(&mut header, m);
                    if let Err(error) = sock.send_to(&frame.raw, p).await {
                        crate::events::link_read_failed(&error);
                    }
                }
            }
        }
    }
}

/// TCP transport: one connection at a time; output while nobody is connected is dropped.
pub(super) async fn run_tcp(
    listener: TcpListener,
    mut header: MavHeader,
    input: mpsc::UnboundedSender<Incoming>,
    mut out: mpsc::UnboundedReceiver<Msg>,
) {
    let mut buf = vec![0u8; 8192];
    let mut conn: Option<(TcpStream, FrameDecoder)> = None;
    loop {
        match conn.as_mut() {
            None => {
                tokio::select! {
                    r = listener.accept() => {
                        if let Ok((stream, _)) = r {
                            let _ = stream.set_nodelay(true);
                            conn = Some((stream, FrameDecoder::new()));
                        }
                    }
                    m = out.recv() => if m.is_none() { return },
                }
            }
            Some((stream, decoder)) => {
                tokio::select! {
                    r = stream.read(&mut buf) => match r {
                        Ok(0) | Err(_) => conn = None,
                        Ok(n) => if !forward_frames(decoder, &buf[..n], &input) {
                            return;
                        },
                    },
                    m = out.recv() => {
                        let Some(m) = m else { return };
                        let frame = encode_next(&mut header, m);
                        if stream.write_all(&frame.raw).await.is_err() {
                            conn = None;
                        }
                    }
                }
            }
        }
    }
}
