//! One component per route: the start page, a room, the connection check, and "not found".

pub mod address;
mod check;
mod home;
mod not_found;
mod room;

pub use address::{Address, Route};
pub use check::CheckPage;
pub use home::HomePage;
pub use not_found::NotFound;
pub use room::RoomPage;
