//! Pieces of the room page. Each renders signals it is handed; none owns browser objects.

mod chat;
mod control_button;
mod devices;
mod icon;
mod media_error;
mod share_link;
mod stats_panel;
mod status_line;
mod tiles;

pub use chat::ChatPanel;
pub use control_button::ControlButton;
pub use devices::DeviceMenus;
pub use icon::{Icon, IconView};
pub use media_error::MediaError;
pub use share_link::ShareLink;
pub use stats_panel::StatsPanel;
pub use status_line::StatusLine;
pub use tiles::{OnVideo, RemoteTiles};
