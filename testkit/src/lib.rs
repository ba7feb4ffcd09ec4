//! Stand-ins for what tests cannot reach: only Twilio's API, which is not reachable here.
//!
//! Everything else in the tests is real (server, WebSockets, Chromium, coturn, Redis).

pub mod twilio;
