-- Staff alerts at parity with a farm's (issue 14): quiet hours and escalation per staff
-- channel, as migration 0016 gave `alert_channels`. Messages due in the channel's quiet hours
-- (Asia/Tokyo minutes after midnight, `quiet_from` to `quiet_to`, across midnight when
-- from > to) are held until they end. A channel with `escalate_after_min` is a second line:
-- its opening is queued that many minutes after the alert opened and sent only if nobody
-- acknowledged the alert by then and it has not cleared (and its resolution only then).
ALTER TABLE staff_alert_channels ADD COLUMN quiet_from BIGINT CHECK (quiet_from BETWEEN 0 AND 1439);
ALTER TABLE staff_alert_channels ADD COLUMN quiet_to BIGINT CHECK (quiet_to BETWEEN 0 AND 1439);
ALTER TABLE staff_alert_channels ADD COLUMN escalate_after_min BIGINT CHECK (escalate_after_min BETWEEN 1 AND 10080);
