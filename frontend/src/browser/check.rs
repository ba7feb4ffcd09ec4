//! The browser measurements behind the connection check at `/check`.
//!
//! Throwaway `RTCPeerConnection`s that gather candidates, a loopback data channel through the
//! relay, a WebAudio level meter, a feature probe and the clipboard. The peer connections here
//! are never wired to the call: each lives only as long as one measurement and is closed (its
//! listeners removed) when the function returns, whichever way it returns. What the results
//! mean is decided in [`crate::call::check`].

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::future::{Either, select};
use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use gloo_timers::future::TimeoutFuture;
use js_sys::Reflect;
use shared::{IceServer, IceTransportPolicy};
use thiserror::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, AudioContextState, Event, EventTarget, HtmlMeterElement,
    MediaStream, MessageEvent, RtcDataChannel, RtcDataChannelEvent, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcSessionDescriptionInit,
};

use super::peer::{IceConfig, new_peer_connection};
use crate::call::check::Support;

/// How long gathering may take; a silent STUN or TURN server is given up on after this.
const GATHER_TIMEOUT_MS: u32 = 8_000;
/// How long the data channel through the relay may take to open and echo one message.
const LOOPBACK_TIMEOUT_MS: u32 = 10_000;
/// How often the level meter reads the microphone.
const METER_INTERVAL_MS: u32 = 100;
/// Samples per reading (the analyser's FFT size).
const METER_FFT_SIZE: u32 = 512;
/// Speech sits well below full scale: the RMS is scaled up so a normal voice fills the meter.
const METER_GAIN: f32 = 4.0;

/// Why a measurement could not be made. The check page puts the text in its sentence.
#[derive(Debug, Error)]
pub enum CheckError {
    /// The browser refused a step (its own message).
    #[error("{0}")]
    Browser(String),
    /// The data channel through the relay did not open and echo in time.
    #[error("timed out")]
    TimedOut,
}

impl From<JsValue> for CheckError {
    fn from(error: JsValue) -> Self {
        Self::Browser(describe(&error))
    }
}

fn describe(error: &JsValue) -> String {
    Reflect::get(error, &JsValue::from_str("message"))
        .ok()
        .and_then(|message| message.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// A peer connection closed when dropped, so every way out of a measurement releases it.
struct Throwaway(RtcPeerConnection);

impl Throwaway {
    fn new(servers: &[IceServer], relay_only: bool) -> Result<Self, CheckError> {
        let ice = IceConfig {
            servers: servers.to_vec(),
            policy: if relay_only {
                IceTransportPolicy::Relay
            } else {
                IceTransportPolicy::All
            },
        };
        Ok(Self(new_peer_connection(&ice)?))
    }

    /// `setLocalDescription(await createOffer())`.
    async fn offer(&self) -> Result<(), CheckError> {
        let offer: RtcSessionDescriptionInit = JsFuture::from(self.0.create_offer())
            .await?
            .unchecked_into();
        JsFuture::from(self.0.set_local_description(&offer)).await?;
        Ok(())
    }

    /// `setLocalDescription(await createAnswer())`.
    async fn answer(&self) -> Result<(), CheckError> {
        let answer: RtcSessionDescriptionInit = JsFuture::from(self.0.create_answer())
            .await?
            .unchecked_into();
        JsFuture::from(self.0.set_local_description(&answer)).await?;
        Ok(())
    }

    /// Sets the other connection's local description as this one's remote description.
    async fn take_remote(&self, other: &Self) -> Result<(), CheckError> {
        let description = other
            .0
            .local_description()
            .ok_or_else(|| CheckError::Browser("no local description".into()))?;
        let init = RtcSessionDescriptionInit::new(description.type_());
        init.set_sdp(&description.sdp());
        JsFuture::from(self.0.set_remote_description(&init)).await?;
        Ok(())
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The next `name` event on `target`. The listener is added now, so an event fired before the
/// future is awaited is not missed, and removed when the future is dropped.
fn next_event(target: &EventTarget, name: &'static str) -> impl Future<Output = Option<Event>> {
    let (sender, receiver) = oneshot::channel();
    let listener = EventListener::once(target, name, move |event| {
        // The receiver may be gone (the measurement timed out): nothing to tell then.
        let _gone = sender.send(event.clone());
    });
    async move {
        let _listener = listener;
        receiver.await.ok()
    }
}

/// `work`, or `None` if `timeout_ms` passes first.
async fn within<T>(timeout_ms: u32, work: impl Future<Output = T>) -> Option<T> {
    let work = std::pin::pin!(work);
    match select(work, TimeoutFuture::new(timeout_ms)).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// The candidate lines a throwaway peer connection gathers with `servers` (relay only, or all),
/// until gathering completes or [`GATHER_TIMEOUT_MS`] passes.
pub async fn gather_candidates(
    servers: &[IceServer],
    relay_only: bool,
) -> Result<Vec<String>, CheckError> {
    let pc = Throwaway::new(servers, relay_only)?;
    let found = Rc::new(RefCell::new(Vec::new()));
    let (complete, completed) = oneshot::channel::<()>();
    let complete = RefCell::new(Some(complete));
    let _listener = EventListener::new(&pc.0, "icecandidate", {
        let found = Rc::clone(&found);
        move |event| {
            let Some(event) = event.dyn_ref::<RtcPeerConnectionIceEvent>() else {
                return;
            };
            match event.candidate() {
                Some(candidate) if !candidate.candidate().is_empty() => {
                    found.borrow_mut().push(candidate.candidate());
                }
                Some(_) => {}
                // The end of gathering; the receiver may already have timed out.
                None => {
                    if let Some(complete) = complete.borrow_mut().take() {
                        let _gone = complete.send(());
                    }
                }
            }
        }
    });
    // A data channel gives the offer something to gather candidates for.
    pc.0.create_data_channel("check");
    pc.offer().await?;
    within(GATHER_TIMEOUT_MS, completed).await;
    Ok(found.take())
}

/// The round trip in milliseconds of one message over a data channel between two local peer
/// connections that may only use relayed candidates.
pub async fn relay_loopback(servers: &[IceServer]) -> Result<f64, CheckError> {
    let a = Throwaway::new(servers, true)?;
    let b = Throwaway::new(servers, true)?;
    let trickle = |from: &Throwaway, to: &Throwaway| {
        let to = to.0.clone();
        EventListener::new(&from.0, "icecandidate", move |event| {
            let Some(candidate) = event
                .dyn_ref::<RtcPeerConnectionIceEvent>()
                .and_then(RtcPeerConnectionIceEvent::candidate)
            else {
                return;
            };
            let added = to.add_ice_candidate_with_opt_rtc_ice_candidate(Some(&candidate));
            // A candidate the other side cannot use only makes the check slower or fail,
            // which the timeout reports.
            wasm_bindgen_futures::spawn_local(async move {
                let _ignored = JsFuture::from(added).await;
            });
        })
    };
    let echo_listeners: Rc<RefCell<Vec<EventListener>>> = Rc::default();
    let _listeners = [
        trickle(&a, &b),
        trickle(&b, &a),
        EventListener::new(&b.0, "datachannel", {
            let echo_listeners = Rc::clone(&echo_listeners);
            move |event| {
                let Some(channel) = event.dyn_ref::<RtcDataChannelEvent>().map(|e| e.channel())
                else {
                    return;
                };
                let echo = EventListener::new(&channel.clone(), "message", move |event| {
                    if let Some(text) = event
                        .dyn_ref::<MessageEvent>()
                        .and_then(|event| event.data().as_string())
                    {
                        let _ignored = channel.send_with_str(&text);
                    }
                });
                echo_listeners.borrow_mut().push(echo);
            }
        }),
    ];
    let channel: RtcDataChannel = a.0.create_data_channel("check");
    let opened = next_event(&channel, "open");
    a.offer().await?;
    b.take_remote(&a).await?;
    b.answer().await?;
    a.take_remote(&b).await?;
    let round_trip = async {
        opened.await;
        let echoed = next_event(&channel, "message");
        let sent = now_ms();
        channel.send_with_str("ping")?;
        echoed.await;
        Ok::<f64, CheckError>(now_ms() - sent)
    };
    let result = within(LOOPBACK_TIMEOUT_MS, round_trip)
        .await
        .unwrap_or(Err(CheckError::TimedOut));
    echo_listeners.borrow_mut().clear();
    result
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}

/// Feeds `meter` (a `<meter>` from 0 to 1) with the level of `stream`'s microphone until
/// dropped; does nothing where there is no microphone or no WebAudio.
pub struct LevelMeter {
    /// Reads the analyser every [`METER_INTERVAL_MS`]; dropping it stops.
    _timer: Option<Interval>,
    /// Closed on drop: an open `AudioContext` keeps audio hardware busy.
    context: Option<AudioContext>,
}

impl LevelMeter {
    pub fn start(stream: &MediaStream, meter: &HtmlMeterElement) -> Self {
        if stream.get_audio_tracks().length() == 0 {
            return Self::idle();
        }
        match Self::analyse(stream, meter) {
            Ok(started) => started,
            Err(error) => {
                super::warn("the microphone level meter could not start", &error);
                Self::idle()
            }
        }
    }

    fn idle() -> Self {
        Self {
            _timer: None,
            context: None,
        }
    }

    fn analyse(stream: &MediaStream, meter: &HtmlMeterElement) -> Result<Self, JsValue> {
        let context = AudioContext::new()?;
        let analyser: AnalyserNode = context.create_analyser()?;
        analyser.set_fft_size(METER_FFT_SIZE);
        context
            .create_media_stream_source(stream)?
            .connect_with_audio_node(&analyser)?;
        let mut samples = vec![0.0_f32; METER_FFT_SIZE as usize];
        let timer = Interval::new(METER_INTERVAL_MS, {
            let context = context.clone();
            let meter = meter.clone();
            move || {
                // Created without a click, the context may start suspended: ask again.
                if context.state() == AudioContextState::Suspended
                    && let Ok(resumed) = context.resume()
                {
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ignored = JsFuture::from(resumed).await;
                    });
                }
                analyser.get_float_time_domain_data(&mut samples);
                let energy: f32 = samples.iter().map(|sample| sample * sample).sum();
                let rms = (energy / samples.len() as f32).sqrt();
                meter.set_value(f64::from((rms * METER_GAIN).min(1.0)));
            }
        });
        Ok(Self {
            _timer: Some(timer),
            context: Some(context),
        })
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        if let Some(context) = self.context.take()
            && let Ok(closed) = context.close()
        {
            wasm_bindgen_futures::spawn_local(async move {
                let _ignored = JsFuture::from(closed).await;
            });
        }
    }
}

/// Whether `object[name]` is a function.
fn has_function(object: &JsValue, name: &str) -> bool {
    Reflect::get(object, &JsValue::from_str(name)).is_ok_and(|value| value.is_function())
}

/// What this browser offers of what the app uses. Probed by name, since a binding compiled in
/// does not mean the browser has the method.
pub fn browser_support() -> Support {
    let global: JsValue = js_sys::global().into();
    let devices = web_sys::window()
        .and_then(|window| {
            Reflect::get(&window.navigator(), &JsValue::from_str("mediaDevices")).ok()
        })
        .filter(|devices| !devices.is_undefined() && !devices.is_null());
    let device_can = |name: &str| {
        devices
            .as_ref()
            .is_some_and(|devices| has_function(devices, name))
    };
    let peer_connection = has_function(&global, "RTCPeerConnection");
    let prototype_has = |class: &str, name: &str| {
        Reflect::get(&global, &JsValue::from_str(class))
            .and_then(|class| Reflect::get(&class, &JsValue::from_str("prototype")))
            .ok()
            .filter(|prototype| prototype.is_object())
            .is_some_and(|prototype| {
                Reflect::has(&prototype, &JsValue::from_str(name)).unwrap_or(false)
            })
    };
    Support {
        get_user_media: device_can("getUserMedia"),
        peer_connection,
        data_channel: peer_connection
            && has_function(&global, "RTCDataChannel")
            && prototype_has("RTCPeerConnection", "createDataChannel"),
        web_socket: has_function(&global, "WebSocket"),
        display_media: device_can("getDisplayMedia"),
        sink_id: prototype_has("HTMLMediaElement", "setSinkId"),
    }
}

/// Puts `text` on the clipboard.
pub async fn copy_text(text: &str) -> Result<(), CheckError> {
    let window = web_sys::window().ok_or_else(|| CheckError::Browser("no window".into()))?;
    let clipboard = window.navigator().clipboard();
    // `navigator.clipboard` is undefined outside secure contexts.
    if JsValue::from(clipboard.clone()).is_undefined() {
        return Err(CheckError::Browser(
            "this page cannot reach the clipboard".into(),
        ));
    }
    JsFuture::from(clipboard.write_text(text)).await?;
    Ok(())
}
