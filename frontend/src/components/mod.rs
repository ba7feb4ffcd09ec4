//! Pieces of the room page. Each renders signals it is handed; none owns browser objects.

mod devices;
mod media_error;
mod screen_share;
mod share_link;
mod status_line;

pub use devices::DeviceMenus;
pub use media_error::MediaError;
pub use screen_share::ScreenShareButton;
pub use share_link::ShareLink;
pub use status_line::StatusLine;
