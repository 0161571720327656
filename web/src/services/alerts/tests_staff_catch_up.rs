//! The staff judge catches up: a server down over several day boundaries judges every day it
//! missed once it runs again (each day once, at most `CATCH_UP_DAYS` back), and running again
//! changes nothing.

use chrono::{Duration, NaiveDate};

use super::service::run_once;
use super::staff::{self, CATCH_UP_DAYS, StaffRuleInput, days_to_judge};
use super::tests::{SECRET, webhook_receiver};
use super::tests_outbox::cfg;
use super::tests_staff::{day, next_morning, report, silent_district};
use crate::i18n::Lang;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, on_exec};

#[test]
fn the_days_to_judge_run_from_the_last_judged_one_bounded() {
    let d = day();
    let back = |n: i64| d - Duration::days(n);
    assert_eq!(days_to_judge(d, None), [d], "first: only the newest");
    assert_eq!(days_to_judge(d, Some(d)), [d], "the newest again");
    assert_eq!(days_to_judge(d, Some(back(3))), [back(2), back(1), d]);
    let long = days_to_judge(d, Some(back(40)));
    assert_eq!(long.len(), usize::try_from(CATCH_UP_DAYS).unwrap());
    assert_eq!(
        (long[0], long[long.len() - 1]),
        (back(CATCH_UP_DAYS - 1), d)
    );
    // The hour moved later: the newest day is one already judged.
    assert_eq!(days_to_judge(d, Some(d + Duration::days(1))), [d]);
}

/// The staff outbox's rows, by day of the alert they announce.
async fn queued_days(db: &Db) -> Vec<String> {
    on_exec!(db.on(), e => sqlx::query_scalar::<_, String>(
        "SELECT a.day FROM staff_alert_outbox o JOIN staff_alerts a ON a.id = o.alert_id \
         ORDER BY a.day, o.id")
        .fetch_all(e).await.unwrap())
}

async fn three_days_missed_while_down_are_each_judged_once(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let d = day();
    let (_, _, busy, staff_user) = silent_district(db, "catch-up", d).await;
    let mut tx = db.begin().await.unwrap();
    tx.insert_staff_alert_channel(
        "webhook",
        &hook_url,
        Some(SECRET),
        staff_user,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let client = reqwest::Client::new();
    let c = cfg(1);
    // The day before is judged while the server runs: nothing is missing.
    let before = next_morning(d - Duration::days(1));
    assert_eq!(run_once(db, &c, &client, before).await.unwrap(), 0);
    // Then the server is down for three days; the other farm keeps reporting, ours is silent.
    let days: Vec<NaiveDate> = (0..3).map(|k| d + Duration::days(k)).collect();
    for later_day in &days[1..] {
        let ten = staff::day_bounds(*later_day).0 + Duration::hours(10);
        report(db, busy, ten).await;
    }
    let keys: Vec<String> = days
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    // The clock moves three days ahead in one step: each missed day is judged and opens.
    let back = next_morning(days[2]);
    assert_eq!(run_once(db, &c, &client, back).await.unwrap(), 3);
    let mut alerts: Vec<String> = db
        .staff_alerts(10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.day)
        .collect();
    alerts.sort();
    assert_eq!(alerts, keys, "one alert per missed day");
    assert_eq!(
        queued_days(db).await,
        keys,
        "one message per day and channel"
    );
    let mut hooked: Vec<String> = hook
        .accepted
        .lock()
        .await
        .iter()
        .map(|h| h["day"].as_str().unwrap_or("").to_owned())
        .collect();
    hooked.sort();
    assert_eq!(hooked, keys);
    assert_eq!(
        db.staff_judged_through().await.unwrap().as_deref(),
        Some(keys[2].as_str())
    );
    // Running again, then later the same morning: nothing changes.
    for later in [back, back + Duration::minutes(1), back + Duration::hours(3)] {
        assert_eq!(run_once(db, &c, &client, later).await.unwrap(), 0);
    }
    assert_eq!(db.staff_alerts(10).await.unwrap().len(), 3);
    assert_eq!(queued_days(db).await, keys);
    assert_eq!(hook.accepted.lock().await.len(), 3);
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
    // Switched off and on again, the rule forgets its judged days: the days it was off for
    // are not caught up, the newest is judged first.
    let district = db.districts().await.unwrap()[0].id;
    for enabled in [false, true] {
        let input = StaffRuleInput {
            enabled,
            after_hour: "6".into(),
            districts: vec![district.to_string()],
        };
        staff::save_rule(db, Lang::Ja, &input, staff_user)
            .await
            .unwrap();
    }
    assert_eq!(db.staff_judged_through().await.unwrap(), None);
    let week_later = next_morning(days[2] + Duration::days(7));
    run_once(db, &c, &client, week_later).await.unwrap();
    let newest = (days[2] + Duration::days(7)).format("%Y-%m-%d").to_string();
    let opened: Vec<String> = db
        .staff_alerts(20)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.day)
        .filter(|d| !keys.contains(d))
        .collect();
    assert!(opened.iter().all(|d| *d == newest), "{opened:?}");
    assert_eq!(
        db.staff_judged_through().await.unwrap().as_deref(),
        Some(newest.as_str())
    );
}

both_backends!(staff_catch_up, |db| {
    three_days_missed_while_down_are_each_judged_once(db).await;
});
