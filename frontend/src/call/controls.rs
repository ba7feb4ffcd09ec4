//! The person's controls (microphone and camera) and what the other side says of theirs.
//!
//! [`Controls`] is the local state: what the buttons show and what goes to the other side as a
//! [`PeerMessage::State`]. [`RemoteControls`] is what the other side last said, decoded from
//! the data channel. [`shortcut`] maps a key press to a control, except while the person types.

use shared::PeerMessage;

/// The local controls. Both off at the start: microphone on, camera on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Controls {
    pub muted: bool,
    pub camera_off: bool,
}

impl Controls {
    /// The message telling the other side this state.
    pub fn message(self) -> PeerMessage {
        PeerMessage::state(self.muted, self.camera_off)
    }

    /// The state after `toggle`.
    pub fn toggled(self, toggle: Toggle) -> Self {
        match toggle {
            Toggle::Mute => Self {
                muted: !self.muted,
                ..self
            },
            Toggle::Camera => Self {
                camera_off: !self.camera_off,
                ..self
            },
        }
    }
}

/// One of the two controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    Mute,
    Camera,
}

/// What the other person said of their controls. Unknown (both off) until they say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteControls {
    pub muted: bool,
    pub camera_off: bool,
}

impl RemoteControls {
    /// Decodes one data-channel text: `Some` for a state message of our version, `None` for
    /// anything else (ignored).
    pub fn from_text(text: &str) -> Option<Self> {
        match PeerMessage::parse(text)? {
            PeerMessage::State {
                muted, camera_off, ..
            } => Some(Self { muted, camera_off }),
            _ => None,
        }
    }
}

/// The control a key press toggles: `m` the microphone, `v` the camera (either case, without
/// Ctrl, Alt or Meta), never while the focus is in a text field (`typing`).
pub fn shortcut(key: &str, modified: bool, typing: bool) -> Option<Toggle> {
    if modified || typing {
        return None;
    }
    match key {
        "m" | "M" => Some(Toggle::Mute),
        "v" | "V" => Some(Toggle::Camera),
        _ => None,
    }
}

/// Whether an element with this tag name (and `contenteditable`) takes typed text.
pub fn takes_text(tag_name: &str, content_editable: bool) -> bool {
    content_editable
        || matches!(
            tag_name.to_ascii_lowercase().as_str(),
            "input" | "textarea" | "select"
        )
}

/// The placeholder's letter for the other person: their id's first character in upper case,
/// or `?`.
pub fn initial(peer: Option<&str>) -> String {
    peer.and_then(|id| id.chars().next())
        .map_or_else(|| "?".to_owned(), |first| first.to_uppercase().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggles_flip_one_control_each() {
        let start = Controls::default();
        let muted = start.toggled(Toggle::Mute);
        assert_eq!(
            muted,
            Controls {
                muted: true,
                camera_off: false
            }
        );
        let both = muted.toggled(Toggle::Camera);
        assert_eq!(
            both,
            Controls {
                muted: true,
                camera_off: true
            }
        );
        assert_eq!(both.toggled(Toggle::Mute).toggled(Toggle::Camera), start);
    }

    #[test]
    fn the_message_carries_the_state() {
        let controls = Controls {
            muted: true,
            camera_off: false,
        };
        assert_eq!(
            controls.message().to_json(),
            r#"{"type":"state","v":1,"muted":true,"camera_off":false}"#
        );
    }

    #[test]
    fn received_state_is_decoded_and_the_rest_ignored() {
        assert_eq!(
            RemoteControls::from_text(r#"{"type":"state","v":1,"muted":true,"camera_off":true}"#),
            Some(RemoteControls {
                muted: true,
                camera_off: true
            })
        );
        assert_eq!(
            RemoteControls::from_text(r#"{"type":"state","v":9,"muted":true,"camera_off":true}"#),
            None
        );
        assert_eq!(RemoteControls::from_text("garbage"), None);
    }

    #[test]
    fn shortcuts_work_except_while_typing() {
        assert_eq!(shortcut("m", false, false), Some(Toggle::Mute));
        assert_eq!(shortcut("V", false, false), Some(Toggle::Camera));
        assert_eq!(shortcut("m", false, true), None);
        assert_eq!(shortcut("m", true, false), None);
        assert_eq!(shortcut("x", false, false), None);
        assert!(takes_text("INPUT", false));
        assert!(takes_text("textarea", false));
        assert!(takes_text("div", true));
        assert!(!takes_text("BUTTON", false));
    }

    #[test]
    fn the_initial_is_the_first_letter_upper_cased() {
        assert_eq!(initial(Some("b7e912")), "B");
        assert_eq!(initial(Some("")), "?");
        assert_eq!(initial(None), "?");
    }
}
