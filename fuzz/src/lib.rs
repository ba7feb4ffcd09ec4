//! Fuzzing on stable Rust: `arbitrary` inputs from a seeded fast generator, many millions of
//! them, each run under `catch_unwind`.
//!
//! Why not cargo-fuzz: a nightly toolchain does install here (rustup reaches its channel), and
//! `cargo install cargo-fuzz` builds, but libFuzzer needs every crate under test rebuilt with
//! sanitizer coverage on nightly — the backend's and the frontend's whole dependency trees
//! (tokio, axum, reqwest, leptos) — which a CI run on a fresh machine would pay for each time.
//! These targets take an [`arbitrary::Unstructured`], the very input a `fuzz_target!` gets,
//! so they could be handed to libFuzzer unchanged; the driver here ([`driver`]) is coverage-
//! blind but runs on stable, in the ordinary test command, and replays any failure from its
//! seed and index.
//!
//! Targets ([`targets`]), each with the property it checks:
//! - `parse`: `ClientMessage::parse` on any bytes, any string, and near-valid JSON (valid
//!   messages mutated) never panics, and what it accepts serialises and parses back the same;
//! - `registry`: random joins, leaves, resumes and relays with changing capacities, through the
//!   presence interface on the in-memory store, agree with a plain model of rooms;
//! - `call`: random server messages and page events through the frontend's room reducer and
//!   perfect negotiation never panic and never leave two peer connections for one person.

pub mod driver;
pub mod targets;
