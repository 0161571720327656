//! MAVLink links, mission protocol, launch commands, live vehicle state, .tlog recording and as-applied coverage.
