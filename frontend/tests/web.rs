//! Browser tests, run in headless Chromium by wasm-bindgen-test-runner (flags for fake media
//! and loopback ICE in `frontend/webdriver.json`). They drive real `RTCPeerConnection`s,
//! `getUserMedia` and the Leptos components; no network is needed.

#![cfg(target_arch = "wasm32")]

// The tests inspect the session through its test hooks.
#[cfg(not(feature = "test-hooks"))]
compile_error!("the browser tests need `--features test-hooks`");

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{FakeServer, Recorder, room, wait_until};
use frontend::browser::media::{LocalMedia, open_camera_and_microphone};
use frontend::browser::peer::{IceConfig, PeerConnection, PeerEvent};
use frontend::call::negotiation::DescriptionKind;
use frontend::call::route::Route;
use frontend::call::status::CallPhase;
use frontend::session::Session;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use shared::{ClientMessage, IceCandidate, PeerId, ServerMessage};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    HtmlButtonElement, HtmlElement, HtmlInputElement, HtmlVideoElement, RtcPeerConnection,
    RtcPeerConnectionState,
};

wasm_bindgen_test_configure!(run_in_browser);

/// Generous for loopback ICE (measured at ~100 ms) on a loaded two-core machine.
const CALL_TIMEOUT_MS: u32 = 15_000;

async fn media() -> LocalMedia {
    open_camera_and_microphone()
        .await
        .expect("fake camera and microphone (see webdriver.json)")
}

fn phase(session: &Session) -> Option<CallPhase> {
    session.view().phase.get_untracked()
}

fn connected(session: &Session) -> bool {
    matches!(phase(session), Some(CallPhase::Connected(_)))
}

/// Inbound RTP packets received so far, as (audio, video), from `getStats()`.
async fn packets_received(peer: &RtcPeerConnection) -> (f64, f64) {
    let report: web_sys::RtcStatsReport = JsFuture::from(peer.get_stats())
        .await
        .expect("getStats")
        .unchecked_into();
    let field = |value: &JsValue, name: &str| js_sys::Reflect::get(value, &name.into()).ok();
    let (mut audio, mut video) = (0.0, 0.0);
    for value in report.values().into_iter().flatten() {
        if field(&value, "type").and_then(|t| t.as_string()).as_deref() != Some("inbound-rtp") {
            continue;
        }
        let packets = field(&value, "packetsReceived")
            .and_then(|packets| packets.as_f64())
            .unwrap_or(0.0);
        match field(&value, "kind")
            .and_then(|kind| kind.as_string())
            .as_deref()
        {
            Some("audio") => audio += packets,
            Some("video") => video += packets,
            _ => {}
        }
    }
    (audio, video)
}

/// Waits until `who`'s current call has received audio and video packets. (Receiver tracks
/// are `live` from the moment they exist, so their state proves nothing; packets do.)
async fn assert_receives_media(session: &Session, who: &str) {
    let peer = session.peer_connection().expect("a call").raw().clone();
    let mut waited = 0;
    loop {
        let (audio, video) = packets_received(&peer).await;
        if audio > 0.0 && video > 0.0 {
            return;
        }
        assert!(
            waited < CALL_TIMEOUT_MS,
            "{who} received no media: {audio} audio and {video} video packets"
        );
        TimeoutFuture::new(50).await;
        waited += 50;
    }
}

/// Two sessions in one room: both ready, with media on.
async fn two_ready_sessions() -> (Rc<FakeServer>, Rc<Session>, Rc<Session>) {
    let server = Rc::new(FakeServer::default());
    let alice = server.connect("a1");
    let bob = server.connect("b2");
    alice.use_media(media().await);
    bob.use_media(media().await);
    assert!(
        wait_until(2000, || untrack(|| alice.view().can_call())
            && untrack(|| bob.view().can_call()))
        .await,
        "both sides ready to call"
    );
    (server, alice, bob)
}

/// Getting media gives a camera and a microphone track; dropping it stops them.
#[wasm_bindgen_test]
async fn local_media_has_both_kinds_and_stops_on_drop() {
    let media = media().await;
    let tracks = media.tracks();
    let kinds: Vec<String> = tracks.iter().map(|track| track.kind()).collect();
    assert!(
        kinds.contains(&"audio".to_owned()) && kinds.contains(&"video".to_owned()),
        "{kinds:?}"
    );
    drop(media);
    assert!(
        tracks
            .iter()
            .all(|track| track.ready_state() == web_sys::MediaStreamTrackState::Ended)
    );
}

/// Server messages move the status: connecting → waiting → ready → peer-left; full is final.
#[wasm_bindgen_test]
async fn messages_drive_the_status() {
    let (session, server) = Recorder::session();
    let sent = &server.sent;
    let ui = session.view();
    assert_eq!(untrack(|| ui.status()).state, "connecting-signalling");
    assert_eq!(
        *sent.borrow(),
        vec![ClientMessage::Join {
            room: room(),
            resume: None
        }]
    );

    server.deliver(ServerMessage::Joined {
        room: room(),
        you: PeerId::new("a"),
        peers: Vec::new(),
        resume: shared::ResumeToken::new("token-a".to_owned()),
        upload_kbps: None,
    });
    assert_eq!(untrack(|| ui.status()).state, "waiting");
    assert!(
        untrack(|| ui.status())
            .sentence
            .starts_with("Waiting for someone — share this link")
    );
    assert_eq!(sent.borrow().last(), Some(&ClientMessage::IceServers));

    server.deliver(ServerMessage::PeerJoined {
        peer: PeerId::new("b"),
    });
    server.deliver(ServerMessage::Ready { room: room() });
    assert_eq!(untrack(|| ui.status()).state, "ready");
    assert!(!untrack(|| ui.can_call()), "no media yet");

    server.deliver(ServerMessage::PeerLeft {
        peer: PeerId::new("b"),
    });
    assert_eq!(untrack(|| ui.status()).state, "peer-left");
    assert!(
        untrack(|| ui.status())
            .sentence
            .contains("The other person left")
    );

    server.deliver(ServerMessage::error(
        shared::ErrorCode::IceUnavailable,
        "none",
    ));
    assert!(ui.notice.get_untracked().is_some());

    server.deliver(ServerMessage::Full {
        room: room(),
        capacity: 2,
    });
    assert_eq!(untrack(|| ui.status()).state, "full");
    assert!(
        untrack(|| ui.status())
            .sentence
            .contains("This room is full")
    );
}

/// A real caller's offer and an early candidate reach the session in the same tick: the
/// candidate waits for the remote description, then the call connects with audio and video.
#[wasm_bindgen_test]
async fn remote_candidates_wait_for_the_remote_description() {
    let (callee, server) = Recorder::session();
    let sent = &server.sent;
    server.deliver(ServerMessage::Joined {
        room: room(),
        you: PeerId::new("b"),
        peers: vec![PeerId::new("a")],
        resume: shared::ResumeToken::new("token-b".to_owned()),
        upload_kbps: None,
    });
    callee.use_media(media().await);

    // The caller: a bare peer connection from the browser layer, signalling by hand.
    let caller_candidates = Rc::new(RefCell::new(Vec::<Option<IceCandidate>>::new()));
    let caller = PeerConnection::new(&IceConfig::default(), {
        let candidates = Rc::clone(&caller_candidates);
        move |event| {
            if let PeerEvent::LocalCandidate(candidate) = event {
                candidates.borrow_mut().push(candidate);
            }
        }
    })
    .expect("peer connection");
    let caller_media = media().await;
    caller.add_tracks(&caller_media.tracks(), caller_media.stream());
    let (kind, offer) = caller.set_local_description().await.expect("offer");
    assert_eq!(kind, DescriptionKind::Offer);
    assert!(
        wait_until(5000, || !caller_candidates.borrow().is_empty()).await,
        "caller gathers"
    );

    let first = caller_candidates.borrow()[0].clone();
    server.deliver(ServerMessage::Offer {
        sdp: offer,
        from: PeerId::new("a"),
        to: None,
    });
    server.deliver(ServerMessage::Candidate {
        candidate: first,
        from: PeerId::new("a"),
        to: None,
    });
    assert_eq!(
        callee.pending_remote_candidates(),
        1,
        "held until the offer is set"
    );

    let answer = || {
        sent.borrow().iter().find_map(|message| match message {
            ClientMessage::Answer { sdp, to } => Some((sdp.clone(), to.clone())),
            _ => None,
        })
    };
    assert!(
        wait_until(5000, || answer().is_some()).await,
        "callee answers"
    );
    let (answer_sdp, to) = answer().expect("answer");
    assert_eq!(to, Some(PeerId::new("a")), "answer addressed to the caller");
    assert_eq!(
        callee.pending_remote_candidates(),
        0,
        "flushed after the offer"
    );
    caller
        .set_remote_description(DescriptionKind::Answer, &answer_sdp)
        .await
        .expect("answer accepted");

    // Trickle the rest both ways, end-of-candidates (null) included.
    let rest: Vec<_> = caller_candidates.borrow().iter().skip(1).cloned().collect();
    for candidate in rest {
        server.deliver(ServerMessage::Candidate {
            candidate,
            from: PeerId::new("a"),
            to: None,
        });
    }
    server.deliver(ServerMessage::Candidate {
        candidate: None,
        from: PeerId::new("a"),
        to: None,
    });
    let callee_candidates: Vec<Option<IceCandidate>> = sent
        .borrow()
        .iter()
        .filter_map(|message| match message {
            ClientMessage::Candidate { candidate, .. } => Some(candidate.clone()),
            _ => None,
        })
        .collect();
    for candidate in &callee_candidates {
        let _end_marker_may_fail = caller.add_remote_candidate(candidate.as_ref()).await;
    }

    assert!(
        wait_until(CALL_TIMEOUT_MS, || connected(&callee)).await,
        "callee connects: {:?}",
        phase(&callee)
    );
    assert!(
        wait_until(CALL_TIMEOUT_MS, || caller.raw().connection_state()
            == RtcPeerConnectionState::Connected)
        .await,
        "caller connects"
    );
    assert_receives_media(&callee, "callee").await;
    caller.close();
    callee.stop();
    assert_eq!(
        callee
            .peer_connection()
            .map(|peer| peer.raw().connection_state()),
        None,
        "stop drops the call"
    );
}

/// One side presses Call: both connect directly, each receiving audio and video, and the
/// page hook points at the live connection.
#[wasm_bindgen_test]
async fn a_call_connects_both_ways() {
    let (server, alice, bob) = two_ready_sessions().await;
    alice.call();
    assert_eq!(phase(&alice), Some(CallPhase::Connecting));
    assert!(wait_until(CALL_TIMEOUT_MS, || connected(&alice) && connected(&bob)).await);
    assert_receives_media(&alice, "alice").await;
    assert_receives_media(&bob, "bob").await;
    assert_eq!(
        server.count_sent("a1", |m| matches!(m, ClientMessage::Offer { .. })),
        1
    );
    assert_eq!(
        server.count_sent("b2", |m| matches!(m, ClientMessage::Answer { .. })),
        1
    );
    // Gathering may finish after ICE connects: wait for the end marker rather than assume.
    assert!(
        wait_until(5000, || server.count_sent("a1", |m| matches!(
            m,
            ClientMessage::Candidate {
                candidate: None,
                ..
            }
        )) == 1)
        .await,
        "end of candidates sent as null"
    );
    assert!(
        wait_until(5000, || phase(&alice)
            == Some(CallPhase::Connected(Some(Route::Direct))))
        .await,
        "route from getStats: {:?}",
        phase(&alice)
    );
    assert_eq!(untrack(|| alice.view().status()).route, Some(Route::Direct));
    let hook =
        js_sys::Reflect::get(&web_sys::window().unwrap(), &"__peerConnection".into()).unwrap();
    assert!(hook.is_instance_of::<web_sys::RtcPeerConnection>());
    alice.stop();
    bob.stop();
}

/// Both press Call at the same moment: perfect negotiation still ends in one working call.
#[wasm_bindgen_test]
async fn simultaneous_calls_end_in_one_call() {
    let (server, alice, bob) = two_ready_sessions().await;
    alice.call();
    bob.call();
    assert!(
        wait_until(CALL_TIMEOUT_MS, || connected(&alice) && connected(&bob)).await,
        "both connect: {:?} / {:?}",
        phase(&alice),
        phase(&bob)
    );
    assert_receives_media(&alice, "alice").await;
    assert_receives_media(&bob, "bob").await;
    for session in [&alice, &bob] {
        let peer = session.peer_connection().expect("a call");
        assert_eq!(
            peer.raw().get_transceivers().length(),
            2,
            "one audio and one video line"
        );
        assert!(peer.is_stable());
    }
    assert!(server.count_sent("a1", |m| matches!(m, ClientMessage::Offer { .. })) >= 1);
    assert!(server.count_sent("b2", |m| matches!(m, ClientMessage::Offer { .. })) >= 1);
    alice.stop();
    bob.stop();
}

/// Hang up closes the old connection on both sides, both are ready again, and a new call
/// connects.
#[wasm_bindgen_test]
async fn hang_up_then_call_again() {
    let (server, alice, bob) = two_ready_sessions().await;
    alice.call();
    assert!(wait_until(CALL_TIMEOUT_MS, || connected(&alice) && connected(&bob)).await);
    let old_alice = alice.peer_connection().expect("call").raw().clone();
    let old_bob = bob.peer_connection().expect("call").raw().clone();

    alice.hang_up();
    assert_eq!(phase(&alice), None);
    assert_eq!(old_alice.connection_state(), RtcPeerConnectionState::Closed);
    assert!(
        wait_until(2000, || phase(&bob).is_none()).await,
        "the other side hears it"
    );
    assert_eq!(old_bob.connection_state(), RtcPeerConnectionState::Closed);
    assert_eq!(
        untrack(|| bob.view().status()).state,
        "hung-up",
        "'They hung up.' is shown"
    );
    assert!(
        !bob.view().peer_left.get_untracked(),
        "hanging up is not leaving"
    );
    assert_eq!(
        server.count_sent("a1", |m| matches!(m, ClientMessage::HangUp { .. })),
        1
    );
    assert_eq!(
        server.count_sent("a1", |m| *m == ClientMessage::Leave),
        0,
        "nobody left the room"
    );
    assert!(
        wait_until(2000, || untrack(|| alice.view().can_call())
            && untrack(|| bob.view().can_call()))
        .await
    );
    let hook =
        js_sys::Reflect::get(&web_sys::window().unwrap(), &"__peerConnection".into()).unwrap();
    assert!(hook.is_null(), "hook cleared after hang-up");

    bob.call();
    assert!(wait_until(CALL_TIMEOUT_MS, || connected(&alice) && connected(&bob)).await);
    assert_receives_media(&alice, "alice").await;
    assert_receives_media(&bob, "bob").await;
    alice.stop();
    bob.stop();
}

/// A fresh `<div>` in the body to mount a component into; remove it after unmounting.
fn container() -> HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let container: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&container).unwrap();
    container
}

fn exists(id: &str) -> bool {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .get_element_by_id(id)
        .is_some()
}

fn by_id<T: JsCast>(id: &str) -> T {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("#{id} exists"))
        .dyn_into::<T>()
        .unwrap_or_else(|_| panic!("#{id} has the expected type"))
}

/// The start page has its buttons and explains an invalid room name.
#[wasm_bindgen_test]
async fn start_page_validates_room_names() {
    let container = container();
    let handle = leptos::mount::mount_to(container.clone(), || {
        // The app gives the pages the address they move with.
        provide_context(frontend::pages::Address::follow_history());
        view! { <frontend::pages::HomePage/> }
    });
    assert_eq!(
        by_id::<HtmlButtonElement>("start-call")
            .text_content()
            .unwrap()
            .trim(),
        "Start a call"
    );
    let input = by_id::<HtmlInputElement>("room-name");
    input.set_value("not a name!");
    by_id::<HtmlButtonElement>("join-room").click();
    assert!(
        wait_until(1000, || by_id::<HtmlElement>("room-name-error")
            .text_content()
            .unwrap_or_default()
            .contains("letters, digits"))
        .await,
        "the reason is shown"
    );
    drop(handle);
    container.remove();
}

/// The room page honours the DOM contract, joins on load, and says so when the server is
/// unreachable (the test server has no `/ws`).
#[wasm_bindgen_test]
async fn room_page_dom_contract() {
    let window = web_sys::window().unwrap();
    let original = window.location().href().unwrap();
    window
        .history()
        .unwrap()
        .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/room/test-room"))
        .unwrap();
    let container = container();
    let handle = leptos::mount::mount_to(container.clone(), frontend::App);
    assert!(
        wait_until(2000, || exists("status")).await,
        "the room page renders"
    );
    let status = by_id::<HtmlElement>("status");
    let state = || status.get_attribute("data-state").unwrap_or_default();
    assert!(
        ["connecting-signalling", "offline"].contains(&state().as_str()),
        "{}",
        state()
    );
    assert_eq!(
        by_id::<HtmlButtonElement>("get-video")
            .text_content()
            .unwrap()
            .trim(),
        "Get Video"
    );
    let call = by_id::<HtmlButtonElement>("call");
    assert_eq!(call.text_content().unwrap().trim(), "Call");
    assert!(call.has_attribute("disabled"));
    assert!(by_id::<HtmlButtonElement>("hang-up").has_attribute("disabled"));
    assert_eq!(
        by_id::<HtmlButtonElement>("copy-link")
            .text_content()
            .unwrap()
            .trim(),
        "Copy link"
    );
    assert!(
        by_id::<HtmlElement>("room-link")
            .text_content()
            .unwrap()
            .ends_with("/room/test-room")
    );
    let local = by_id::<HtmlVideoElement>("local-video");
    let remote = by_id::<HtmlVideoElement>("remote-video");
    assert!(local.muted() && local.has_attribute("muted"));
    assert!(!remote.muted() && !remote.has_attribute("muted"));
    assert!(remote.autoplay() && remote.has_attribute("playsinline"));
    assert!(
        wait_until(5000, || state() == "offline").await,
        "lost server is reported: {}",
        state()
    );
    assert!(status.text_content().unwrap().contains("Reconnecting"));

    by_id::<HtmlButtonElement>("get-video").click();
    let local_for_wait = local.clone();
    assert!(
        wait_until(5000, move || local_for_wait.src_object().is_some()).await,
        "preview shown"
    );
    drop(handle);
    container.remove();
    window
        .history()
        .unwrap()
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&original))
        .unwrap();
}
