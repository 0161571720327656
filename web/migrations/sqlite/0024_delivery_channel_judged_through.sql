-- Delivery attempts name their channel (issue 14). Attempts were counted per channel kind and
-- target, and a browser's target is only its push service's label, so several browsers on one
-- push service shared one count: a browser could be marked failed without ever being tried.
-- Each attempt now stores the channel it was made on, and a message's attempts are counted per
-- (alert, event, channel). The kind and target stay, so the alert pages show every attempt as
-- before.
--
-- Old rows are backfilled where the channel can be known: first from the message's own queue
-- rows (the one channel of that kind and target the alert's event was queued for), then, for
-- attempts older than the queue, from the farm's channels (the one channel of that kind and
-- target). What stays NULL is an attempt that several channels could have made (browsers on
-- one push service): it is shown, but counts for no channel, so every such channel's message
-- gets its own tries (at least once, as a crashed server's claim).
ALTER TABLE alert_deliveries ADD COLUMN channel_id INTEGER REFERENCES alert_channels(id);
UPDATE alert_deliveries SET channel_id = (
    SELECT o.channel_id FROM alert_outbox o JOIN alert_channels c ON c.id = o.channel_id
    WHERE o.farm_id = alert_deliveries.farm_id AND o.alert_id = alert_deliveries.alert_id
      AND o.event = alert_deliveries.event
      AND c.kind = alert_deliveries.channel AND c.target = alert_deliveries.target)
WHERE (SELECT COUNT(*) FROM alert_outbox o JOIN alert_channels c ON c.id = o.channel_id
       WHERE o.farm_id = alert_deliveries.farm_id AND o.alert_id = alert_deliveries.alert_id
         AND o.event = alert_deliveries.event
         AND c.kind = alert_deliveries.channel AND c.target = alert_deliveries.target) = 1;
UPDATE alert_deliveries SET channel_id = (
    SELECT c.id FROM alert_channels c
    WHERE c.farm_id = alert_deliveries.farm_id
      AND c.kind = alert_deliveries.channel AND c.target = alert_deliveries.target)
WHERE channel_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE o.alert_id = alert_deliveries.alert_id
                  AND o.event = alert_deliveries.event)
  AND (SELECT COUNT(*) FROM alert_channels c WHERE c.farm_id = alert_deliveries.farm_id
       AND c.kind = alert_deliveries.channel AND c.target = alert_deliveries.target) = 1;
CREATE INDEX alert_deliveries_message ON alert_deliveries(alert_id, event, channel_id);

ALTER TABLE staff_alert_deliveries ADD COLUMN channel_id INTEGER REFERENCES staff_alert_channels(id);
UPDATE staff_alert_deliveries SET channel_id = (
    SELECT o.channel_id FROM staff_alert_outbox o
    JOIN staff_alert_channels c ON c.id = o.channel_id
    WHERE o.alert_id = staff_alert_deliveries.alert_id AND o.event = staff_alert_deliveries.event
      AND c.kind = staff_alert_deliveries.channel AND c.target = staff_alert_deliveries.target)
WHERE (SELECT COUNT(*) FROM staff_alert_outbox o
       JOIN staff_alert_channels c ON c.id = o.channel_id
       WHERE o.alert_id = staff_alert_deliveries.alert_id
         AND o.event = staff_alert_deliveries.event
         AND c.kind = staff_alert_deliveries.channel
         AND c.target = staff_alert_deliveries.target) = 1;
CREATE INDEX staff_alert_deliveries_message
    ON staff_alert_deliveries(alert_id, event, channel_id);

-- The staff rule's newest judged Asia/Tokyo day (`YYYY-MM-DD`): the judge catches up every
-- day after it (at most 14 days back), so a day the server was down over is judged too.
-- NULL before the first judgment and after the rule is switched on again: then only the
-- newest day is judged.
ALTER TABLE staff_alert_rule ADD COLUMN judged_through TEXT
    CHECK (judged_through IS NULL OR length(judged_through) = 10);
