//! Pieces of the room page. Each renders signals it is handed; none owns browser objects.

mod chat;
mod media_error;
mod share_link;
mod status_line;

pub use chat::ChatPanel;
pub use media_error::MediaError;
pub use share_link::ShareLink;
pub use status_line::StatusLine;
