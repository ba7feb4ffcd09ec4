//! The device menus: `#camera-select`, `#mic-select`, `#speaker-select`, and `#device-notice`
//! for what happened to a device (a fallback, a failed switch, a failed share).

use leptos::prelude::*;

use crate::browser::devices::can_choose_speaker;
use crate::call::devices::DeviceKind;
use crate::session::SessionView;

/// The three menus, filled once access is granted; the speaker menu only where the browser
/// can choose one (`setSinkId`).
#[component]
pub fn DeviceMenus(
    view: SessionView,
    on_choose: impl Fn(DeviceKind, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let speaker = can_choose_speaker();
    view! {
        <div class="device-menus">
            <DeviceMenu view kind=DeviceKind::Camera id="camera-select" label="Camera" on_choose/>
            <DeviceMenu view kind=DeviceKind::Microphone id="mic-select" label="Microphone" on_choose/>
            <DeviceMenu view kind=DeviceKind::Speaker id="speaker-select" label="Speaker" on_choose hidden=!speaker/>
            <p id="device-notice" class="note" role="status" hidden=move || view.device_notice.read().is_none()>
                {move || view.device_notice.get()}
            </p>
        </div>
    }
}

/// One labelled `<select>` of the devices of `kind`, its device in use selected.
#[component]
fn DeviceMenu(
    view: SessionView,
    kind: DeviceKind,
    id: &'static str,
    label: &'static str,
    on_choose: impl Fn(DeviceKind, String) + Copy + Send + Sync + 'static,
    #[prop(optional)] hidden: bool,
) -> impl IntoView {
    let options = move || {
        let in_use = view.devices_in_use.read().of(kind).map(str::to_owned);
        view.devices
            .read()
            .of(kind)
            .iter()
            .map(|device| {
                let selected = in_use.as_deref() == Some(device.id.as_str());
                view! { <option value=device.id.clone() selected=selected>{device.label.clone()}</option> }
            })
            .collect_view()
    };
    view! {
        <label class="device-menu" hidden=hidden>
            <span>{label}</span>
            // Hidden itself too, not only through its label: the contract names the select.
            <select
                id=id
                hidden=hidden
                title=format!("Choose your {}", kind.noun())
                disabled=move || view.devices.read().of(kind).is_empty()
                on:change=move |event| on_choose(kind, event_target_value(&event))
            >
                {options}
            </select>
        </label>
    }
}
