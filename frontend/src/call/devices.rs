//! Cameras, microphones and speakers: the lists the device menus show, which device is in use,
//! and which one to fall back to when the one in use goes away.
//!
//! Plain data built from `enumerateDevices()` entries; the browser layer
//! ([`crate::browser::devices`]) reads the browser and the session carries the decisions out.
//! Labels are empty until the person has granted camera or microphone access, so the lists are
//! only read after `getUserMedia` succeeded; a device without a label still gets a name
//! ("Camera 2") so that no menu entry is blank.

/// The three kinds of device a person can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

impl DeviceKind {
    pub const ALL: [Self; 3] = [Self::Camera, Self::Microphone, Self::Speaker];

    /// The kind of an `enumerateDevices()` entry (`MediaDeviceInfo.kind`), if it is one we use.
    pub fn from_browser(kind: &str) -> Option<Self> {
        match kind {
            "videoinput" => Some(Self::Camera),
            "audioinput" => Some(Self::Microphone),
            "audiooutput" => Some(Self::Speaker),
            _ => None,
        }
    }

    /// The word for a person, as in "Your camera".
    pub fn noun(self) -> &'static str {
        match self {
            Self::Camera => "camera",
            Self::Microphone => "microphone",
            Self::Speaker => "speaker",
        }
    }

    fn unnamed(self, number: usize) -> String {
        match self {
            Self::Camera => format!("Camera {number}"),
            Self::Microphone => format!("Microphone {number}"),
            Self::Speaker => format!("Speaker {number}"),
        }
    }
}

/// One device as the menus show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `MediaDeviceInfo.deviceId`: what `getUserMedia` and `setSinkId` take.
    pub id: String,
    /// The browser's label, or "Camera 2" when the browser gives none.
    pub label: String,
}

/// The id the browser gives the system's default microphone or speaker (cameras have none).
pub const DEFAULT_ID: &str = "default";

/// Every device of each kind, in the browser's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceLists {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
    pub speakers: Vec<Device>,
}

impl DeviceLists {
    /// Builds the lists from `(kind, deviceId, label)` of each `enumerateDevices()` entry;
    /// entries of other kinds, and entries without an id (no permission yet), are left out.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Self {
        let mut lists = Self::default();
        for (kind, id, label) in entries {
            let Some(kind) = DeviceKind::from_browser(kind) else {
                continue;
            };
            if id.is_empty() {
                continue;
            }
            let list = lists.of_mut(kind);
            let label = if label.trim().is_empty() {
                kind.unnamed(list.len() + 1)
            } else {
                label.to_owned()
            };
            list.push(Device {
                id: id.to_owned(),
                label,
            });
        }
        lists
    }

    /// The devices of one kind.
    pub fn of(&self, kind: DeviceKind) -> &[Device] {
        match kind {
            DeviceKind::Camera => &self.cameras,
            DeviceKind::Microphone => &self.microphones,
            DeviceKind::Speaker => &self.speakers,
        }
    }

    fn of_mut(&mut self, kind: DeviceKind) -> &mut Vec<Device> {
        match kind {
            DeviceKind::Camera => &mut self.cameras,
            DeviceKind::Microphone => &mut self.microphones,
            DeviceKind::Speaker => &mut self.speakers,
        }
    }

    /// The device with this id, if the list has it.
    pub fn find(&self, kind: DeviceKind, id: &str) -> Option<&Device> {
        self.of(kind).iter().find(|device| device.id == id)
    }

    /// The device to use instead of `lost`: the system's default if there is one (and it is
    /// not the lost one), else the first other device of that kind; `None` when no other is
    /// left.
    pub fn fallback(&self, kind: DeviceKind, lost: &str) -> Option<&Device> {
        let others = || self.of(kind).iter().filter(|device| device.id != lost);
        others()
            .find(|device| device.id == DEFAULT_ID)
            .or_else(|| others().next())
    }
}

/// Which device of each kind is in use (`None`: not known yet, or the browser's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicesInUse {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
}

impl DevicesInUse {
    pub fn of(&self, kind: DeviceKind) -> Option<&str> {
        match kind {
            DeviceKind::Camera => self.camera.as_deref(),
            DeviceKind::Microphone => self.microphone.as_deref(),
            DeviceKind::Speaker => self.speaker.as_deref(),
        }
    }

    pub fn set(&mut self, kind: DeviceKind, id: Option<String>) {
        match kind {
            DeviceKind::Camera => self.camera = id,
            DeviceKind::Microphone => self.microphone = id,
            DeviceKind::Speaker => self.speaker = id,
        }
    }

    /// The kinds whose device in use is missing from `lists` (unplugged), with its id.
    pub fn vanished(&self, lists: &DeviceLists) -> Vec<(DeviceKind, String)> {
        DeviceKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let id = self.of(kind)?;
                lists
                    .find(kind, id)
                    .is_none()
                    .then(|| (kind, id.to_owned()))
            })
            .collect()
    }
}

/// What the page says after the device in use went away: which one it uses now, or that none
/// is left and what to do.
pub fn fallback_sentence(kind: DeviceKind, now_using: Option<&Device>) -> String {
    let noun = kind.noun();
    match now_using {
        Some(device) => format!(
            "Your {noun} was disconnected, so the call now uses {}. Pick another {noun} in the \
             menu if you prefer.",
            device.label
        ),
        None => format!("Your {noun} was disconnected and no other {noun} was found. Connect one."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> DeviceLists {
        DeviceLists::from_entries([
            ("audioinput", "default", "Default - Headset"),
            ("audioinput", "mic-1", "Headset"),
            ("audioinput", "mic-2", "Built-in microphone"),
            ("videoinput", "cam-1", "Front camera"),
            ("videoinput", "cam-2", ""),
            ("audiooutput", "default", "Default"),
            ("audiooutput", "out-1", "Speakers"),
        ])
    }

    /// Entries land in their kind's list in order; a device without a label gets a name.
    #[test]
    fn entries_are_sorted_by_kind_and_named() {
        let lists = lists();
        assert_eq!(lists.cameras.len(), 2);
        assert_eq!(lists.cameras[1].label, "Camera 2");
        assert_eq!(lists.microphones[2].id, "mic-2");
        assert_eq!(lists.speakers[1].label, "Speakers");
    }

    /// Before permission the browser lists devices without ids: they are not offered.
    #[test]
    fn entries_without_an_id_are_left_out() {
        let lists = DeviceLists::from_entries([("videoinput", "", ""), ("bogus", "x", "y")]);
        assert_eq!(lists, DeviceLists::default());
    }

    /// The system default is preferred; a lost default falls back to the first other device;
    /// with nothing left there is no fallback.
    #[test]
    fn the_fallback_is_the_default_else_the_first_other() {
        let lists = lists();
        assert_eq!(
            lists.fallback(DeviceKind::Microphone, "mic-1").unwrap().id,
            "default"
        );
        assert_eq!(
            lists
                .fallback(DeviceKind::Microphone, "default")
                .unwrap()
                .id,
            "mic-1"
        );
        assert_eq!(
            lists.fallback(DeviceKind::Camera, "cam-1").unwrap().id,
            "cam-2"
        );
        let one = DeviceLists::from_entries([("videoinput", "cam-1", "Front camera")]);
        assert_eq!(one.fallback(DeviceKind::Camera, "cam-1"), None);
    }

    /// Only devices in use that left the list count as vanished.
    #[test]
    fn vanished_devices_are_found() {
        let in_use = DevicesInUse {
            camera: Some("cam-2".to_owned()),
            microphone: Some("mic-1".to_owned()),
            speaker: None,
        };
        let after = DeviceLists::from_entries([
            ("audioinput", "mic-1", "Headset"),
            ("videoinput", "cam-1", "Front camera"),
        ]);
        assert_eq!(
            in_use.vanished(&after),
            vec![(DeviceKind::Camera, "cam-2".to_owned())]
        );
        assert!(in_use.vanished(&lists()).is_empty());
    }

    /// The sentence names the device now in use, or says what to do when none is left.
    #[test]
    fn the_sentence_says_what_happened() {
        let lists = lists();
        let text = fallback_sentence(DeviceKind::Camera, lists.cameras.first());
        assert!(text.starts_with("Your camera was disconnected"), "{text}");
        assert!(text.contains("Front camera"), "{text}");
        let none = fallback_sentence(DeviceKind::Microphone, None);
        assert!(none.ends_with("Connect one."), "{none}");
    }
}
