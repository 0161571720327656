//! What the role homes read: a farm's open work (plans not yet flown, documents not yet
//! signed) and its parlors' newest state with their open alerts, one query each.

use chrono::{DateTime, Utc};

use super::{Db, StorageError, on_pool};

/// One piece of a farm's open work.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkItem {
    /// `sortie` (a plan with no completed flight), `logbook` or `record` (a flight whose
    /// newest 飛行日誌 or 農薬使用記録 is unsigned).
    pub kind: String,
    /// The plan (for `sortie`) or the flight.
    pub id: i64,
    /// The field's name, when the item has a field.
    pub field_name: Option<String>,
    /// When the plan or flight was made.
    pub at: DateTime<Utc>,
}

/// A parlor's newest state and its open alerts.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ParlorNow {
    /// The parlor.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The newest interval's platform state, before the first report `None`.
    pub state: Option<String>,
    /// When the newest interval ended.
    pub last_at: Option<DateTime<Utc>>,
    /// The newest rolling cows/h.
    pub cows_per_hour: Option<f64>,
    /// Alerts opened and not resolved.
    pub open_alerts: i64,
    /// The kind of the newest open alert (`parlor_offline`, …).
    pub alert_kind: Option<String>,
    /// When the newest open alert opened.
    pub alert_since: Option<DateTime<Utc>>,
}

/// What reached one district since a moment: new flights, spray records and parlor reports.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DistrictChanges {
    /// The district.
    pub id: i64,
    /// Its Japanese name.
    pub name_ja: String,
    /// Its English name.
    pub name_en: String,
    /// Farms in it.
    pub farms: i64,
    /// Parlors in it.
    pub parlors: i64,
    /// Flights stored since.
    pub flights: i64,
    /// Spray record versions saved since.
    pub records: i64,
    /// Parlor intervals that ended since.
    pub parlor_reports: i64,
}

impl Db {
    /// A farm's open work, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn open_work(&self, farm_id: i64) -> Result<Vec<WorkItem>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, WorkItem>(
            "SELECT 'sortie' AS kind, p.id AS id, f.name AS field_name, p.created_at AS at \
               FROM plans p JOIN fields f ON f.id = p.field_id \
              WHERE f.farm_id = $1 AND NOT EXISTS (SELECT 1 FROM flights fl \
                    WHERE fl.plan_id = p.id AND fl.status = 'completed') \
             UNION ALL \
             SELECT 'logbook', fl.id, f.name, fl.created_at \
               FROM flights fl LEFT JOIN fields f ON f.id = fl.field_id \
              WHERE fl.farm_id = $1 AND EXISTS (SELECT 1 FROM flight_logbooks l \
                    WHERE l.flight_id = fl.id AND l.signed_at IS NULL AND l.version = \
                    (SELECT MAX(l2.version) FROM flight_logbooks l2 WHERE l2.flight_id = fl.id)) \
             UNION ALL \
             SELECT 'record', fl.id, f.name, fl.created_at \
               FROM flights fl LEFT JOIN fields f ON f.id = fl.field_id \
              WHERE fl.farm_id = $1 AND EXISTS (SELECT 1 FROM spray_records r \
                    WHERE r.flight_id = fl.id AND r.signed_at IS NULL AND r.version = \
                    (SELECT MAX(r2.version) FROM spray_records r2 WHERE r2.flight_id = fl.id)) \
             ORDER BY at DESC, id DESC")
            .bind(farm_id).fetch_all(pool).await?))
    }

    /// Each parlor of a farm with its newest state and open alerts, those with alerts first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlors_now(&self, farm_id: i64) -> Result<Vec<ParlorNow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ParlorNow>(
            "SELECT p.id, p.name, \
               (SELECT i.state FROM parlor_intervals i WHERE i.parlor_id = p.id \
                 ORDER BY i.start_t DESC LIMIT 1) AS state, \
               (SELECT i.end_t FROM parlor_intervals i WHERE i.parlor_id = p.id \
                 ORDER BY i.start_t DESC LIMIT 1) AS last_at, \
               (SELECT i.cows_per_hour_rolling FROM parlor_intervals i WHERE i.parlor_id = p.id \
                 ORDER BY i.start_t DESC LIMIT 1) AS cows_per_hour, \
               (SELECT COUNT(*) FROM alerts a WHERE a.parlor_id = p.id AND a.resolved_at IS NULL) \
                 AS open_alerts, \
               (SELECT r.kind FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
                 WHERE a.parlor_id = p.id AND a.resolved_at IS NULL \
                 ORDER BY a.opened_at DESC LIMIT 1) AS alert_kind, \
               (SELECT MAX(a.opened_at) FROM alerts a WHERE a.parlor_id = p.id \
                 AND a.resolved_at IS NULL) AS alert_since \
             FROM parlors p WHERE p.farm_id = $1 \
             ORDER BY open_alerts DESC, p.name, p.id")
            .bind(farm_id).fetch_all(pool).await?))
    }

    /// Every district with what reached it since `since`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn district_changes(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<DistrictChanges>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, DistrictChanges>(
            "SELECT d.id, d.name_ja, d.name_en, \
               (SELECT COUNT(*) FROM farms f WHERE f.district_id = d.id) AS farms, \
               (SELECT COUNT(*) FROM parlors p JOIN farms f ON f.id = p.farm_id \
                 WHERE f.district_id = d.id) AS parlors, \
               (SELECT COUNT(*) FROM flights fl JOIN farms f ON f.id = fl.farm_id \
                 WHERE f.district_id = d.id AND fl.created_at >= $1) AS flights, \
               (SELECT COUNT(*) FROM spray_records r JOIN farms f ON f.id = r.farm_id \
                 WHERE f.district_id = d.id AND r.created_at >= $1) AS records, \
               (SELECT COUNT(*) FROM parlor_intervals i JOIN parlors p ON p.id = i.parlor_id \
                 JOIN farms f ON f.id = p.farm_id \
                 WHERE f.district_id = d.id AND i.end_t >= $1) AS parlor_reports \
             FROM districts d ORDER BY d.id")
            .bind(since).fetch_all(pool).await?))
    }
}
