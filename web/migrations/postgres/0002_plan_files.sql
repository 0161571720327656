-- Keep every mission file of a plan as it was made, so downloads never re-plan.
ALTER TABLE plans ADD COLUMN waypoints_file TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN kml_file TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN autopilot TEXT NOT NULL DEFAULT 'ardupilot';
