//! Bridge ingest: a batch's checks and its storage, shared by the HTTP API and the MQTT sources
//! ([`mqtt`]).

pub mod mqtt;

use parlor_bridge::wire::{IngestBatch, Record, WIRE_VERSION};
use prometheus_client::metrics::counter::Counter;

use crate::error::AppError;
use crate::storage::{Db, IngestOutcome, StorageError};
use crate::validate::{Lines, MAX_KEY, MAX_NAME, check_text};

/// The counters the ingest grows (registered for `/metrics` by whoever owns the registry).
#[derive(Debug, Clone, Default)]
pub struct IngestMetrics {
    /// Batches accepted (new, not replays).
    pub batches: Counter,
    /// Batches recognised as replays of an earlier batch.
    pub replays: Counter,
    /// Milking events stored.
    pub milking_events: Counter,
}

/// The ingest service: where checked batches are stored and counted. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// The database batches go to.
    pub db: Db,
    /// The counters it grows.
    pub metrics: IngestMetrics,
}

impl Ingest {
    /// Stores a batch [`validate_batch`] accepted for the token's farm, once (the batch key and
    /// every record's dedupe key), and counts it in the metrics. The HTTP and the MQTT ingest both
    /// go through it.
    ///
    /// # Errors
    /// The database failed; nothing of the batch is stored then.
    pub async fn store_batch(
        &self,
        token_id: i64,
        farm_id: i64,
        batch: &IngestBatch,
    ) -> Result<IngestOutcome, StorageError> {
        let out = self.db.ingest_batch(token_id, farm_id, batch).await?;
        if out.replay {
            self.metrics.replays.inc();
        } else {
            self.metrics.batches.inc();
            self.metrics.milking_events.inc_by(out.milkings);
        }
        tracing::info!(
            message = "Bridge batch ingested.",
            farm_id,
            batch = %batch.batch_key,
            accepted = out.accepted,
            duplicates = out.duplicates,
            replay = out.replay
        );
        Ok(out)
    }
}

/// Refuses a batch the server must not store: an unknown wire version, an empty batch key,
/// text that breaks the shared text rules, or a physically impossible value (named
/// `records[i].field`, in `lang`). The HTTP and the MQTT ingest both go through it.
///
/// # Errors
/// [`AppError::BadInput`] naming the first offending field.
pub fn validate_batch(lang: crate::i18n::Lang, batch: &IngestBatch) -> Result<(), AppError> {
    if batch.version == 0 || batch.version > WIRE_VERSION {
        return Err(AppError::BadInput(format!(
            "version: this server reads wire versions 1..={WIRE_VERSION}, got {}",
            batch.version
        )));
    }
    if batch.batch_key.is_empty() {
        return Err(AppError::BadInput(
            "batch_key: must be 1 to 200 characters".to_owned(),
        ));
    }
    check_batch_text(lang, batch)?;
    crate::services::plausible::check_batch(lang, batch, chrono::Utc::now())?;
    Ok(())
}

/// The most alarm names one interval may carry (a map has at most 16 alarm bits, plus the
/// summary bit and the platform fault).
const MAX_ALARMS: usize = 32;

/// Every string of `batch` through the shared text check: keys up to [`MAX_KEY`] characters,
/// names and states up to [`MAX_NAME`], one line each, no control characters.
fn check_batch_text(lang: crate::i18n::Lang, batch: &IngestBatch) -> Result<(), AppError> {
    let key = |label: &str, v: &str| check_text(lang, label, v, MAX_KEY, Lines::One);
    let name = |label: &str, v: &str| check_text(lang, label, v, MAX_NAME, Lines::One);
    key("batch_key", &batch.batch_key)?;
    name("bridge_id", &batch.bridge_id)?;
    for (i, rec) in batch.records.iter().enumerate() {
        let (k, parlor, farm) = match rec {
            Record::Milking(m) => (&m.key, &m.parlor, &m.farm),
            Record::Interval(r) => (&r.key, &r.parlor, &r.farm),
            Record::Gap(g) => (&g.key, &g.parlor, &g.farm),
            Record::Session(s) => (&s.key, &s.parlor, &s.farm),
            Record::Bails(b) => (&b.key, &b.parlor, &b.farm),
        };
        key(&format!("records[{i}].key"), k)?;
        name(&format!("records[{i}].parlor"), parlor)?;
        name(&format!("records[{i}].farm"), farm)?;
        if let Record::Interval(r) = rec {
            name(&format!("records[{i}].state"), &r.state)?;
            if r.alarms.len() > MAX_ALARMS {
                return Err(AppError::BadInput(format!(
                    "records[{i}].alarms: at most {MAX_ALARMS} names"
                )));
            }
            for (j, a) in r.alarms.iter().enumerate() {
                name(&format!("records[{i}].alarms[{j}]"), a)?;
            }
        }
        if let Record::Bails(b) = rec {
            for (j, bail) in b.bails.iter().enumerate() {
                name(&format!("records[{i}].bails[{j}].state"), &bail.state)?;
            }
        }
    }
    Ok(())
}
