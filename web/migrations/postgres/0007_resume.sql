-- Where a launched flight got to in its sortie (the last plan item reached, counted in the
-- sortie's own items) and, for a resumed flight, the item it resumed after; the launch page
-- offers to resume an interrupted sortie from there.
ALTER TABLE flight_gonogo ADD COLUMN resumed_after BIGINT;
ALTER TABLE flight_gonogo ADD COLUMN plan_item_reached BIGINT;
