//! Watching the vehicle while a test flies it: the live state a test waits on, and the
//! observer that records every report.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telemetry::{Msg, Port};

use super::{Observed, PUMP_OFF_PWM, PUMP_ON_MARGIN, Sample, measure::pumping, observe};

/// The vehicle's live reports: (pump running, custom mode, current item), updated as they come.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live {
    /// Since when the pump has run without a break.
    pub pumping_since: Option<Instant>,
    /// HEARTBEAT custom_mode.
    pub mode: u32,
    /// MISSION_CURRENT.seq.
    pub current: u16,
}

/// Follows `port`'s reports of the vehicle (system 1, component 1) into a [`Live`].
pub fn live(port: &Port) -> Arc<Mutex<Live>> {
    let state = Arc::new(Mutex::new(Live::default()));
    let mut rx = port.subscribe();
    let s = state.clone();
    tokio::spawn(async move {
        loop {
            let f = match rx.recv().await {
                Ok(f) => f,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if f.system_id() != 1 || f.header.component_id != 1 {
                continue;
            }
            let mut l = s.lock().expect("live");
            match &f.msg {
                Msg::HEARTBEAT(h) => l.mode = h.custom_mode,
                Msg::MISSION_CURRENT(c) => l.current = c.seq,
                Msg::SERVO_OUTPUT_RAW(o) if o.port == 0 => {
                    if o.servo9_raw > PUMP_OFF_PWM + PUMP_ON_MARGIN {
                        l.pumping_since.get_or_insert_with(Instant::now);
                    } else {
                        l.pumping_since = None;
                    }
                }
                _ => {}
            }
        }
    });
    state
}

/// Waits until the pump has run for `held` without a break.
pub async fn until_pumping(live: &Arc<Mutex<Live>>, held: Duration, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let since = live.lock().expect("live").pumping_since;
        if since.is_some_and(|t| t.elapsed() >= held) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the pump never ran for {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first report received after `t` with the pump off, and how long after `t` it came.
pub fn pump_off_after(samples: &[Sample], t: Instant) -> Option<(Sample, Duration)> {
    samples
        .iter()
        .find(|s| s.at > t && !pumping(s))
        .map(|s| (*s, s.at - t))
}

/// Observes `port` from now until the returned sender fires.
pub fn watch(
    port: &Port,
    home: (f64, f64),
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Observed>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    (tx, tokio::spawn(observe(port.clone(), home, rx, false)))
}
