-- Quiet hours and escalation per channel (a channel is one person's address): messages due in
-- the channel's quiet hours (Asia/Tokyo minutes after midnight, `quiet_from` to `quiet_to`,
-- across midnight when from > to) are held until they end, except a critical rule's. A
-- channel with `escalate_after_min` is a second line: it gets an alert's opening only if
-- nobody acknowledged the alert within that many minutes (and its resolution only then).
ALTER TABLE alert_channels ADD COLUMN quiet_from BIGINT CHECK (quiet_from BETWEEN 0 AND 1439);
ALTER TABLE alert_channels ADD COLUMN quiet_to BIGINT CHECK (quiet_to BETWEEN 0 AND 1439);
ALTER TABLE alert_channels ADD COLUMN escalate_after_min BIGINT CHECK (escalate_after_min BETWEEN 1 AND 10080);
-- `critical` messages pass quiet hours.
ALTER TABLE alert_rules ADD COLUMN severity TEXT NOT NULL DEFAULT 'warning' CHECK (severity IN ('warning', 'critical'));
