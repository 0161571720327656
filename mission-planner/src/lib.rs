//! Spray-mission planner: field boundaries in, validated sprayable area, swaths, route, sorties and mission files out.
