-- Where a field is, as a farmer and a spray record name it: the address and the 地番 (lot
-- number) of the land register. Empty until the farmer fills them in; a fude polygon's own
-- MAFF id stays in fude_polygon_id.
ALTER TABLE fields ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE fields ADD COLUMN chiban TEXT NOT NULL DEFAULT '';
