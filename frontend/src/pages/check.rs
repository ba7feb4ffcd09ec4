//! The connectivity check at `/check`: camera and microphone, the signalling connection, STUN,
//! TURN and the browser's support, each as `#check-<name>` with `data-result` and a sentence.
//!
//! The checks start when the page mounts. The network ones run one after the other over a
//! single signalling socket: join a private random room (ICE servers are only handed to
//! members), measure `ping`→`pong`, ask for the ICE servers, leave, then gather with throwaway
//! peer connections ([`crate::browser::check`]). What each result says is decided in
//! [`crate::call::check`], which also writes the report.

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{Either, select};
use gloo_timers::future::TimeoutFuture;
use leptos::html;
use leptos::prelude::*;
use shared::{ClientMessage, IceServer, ServerMessage};

use crate::browser::check::{
    LevelMeter, browser_support, copy_text, gather_candidates, relay_loopback,
};
use crate::browser::location::signalling_url;
use crate::browser::media::{LocalMedia, open_camera_and_microphone, show_stream};
use crate::browser::random::random_bytes;
use crate::browser::socket::{SignallingSocket, SocketEvent};
use crate::call::check::{
    CheckName, Outcome, browser_outcome, media_outcome, report, signalling_outcome, stun_outcome,
    turn_outcome,
};
use crate::call::room_name::{self, RANDOM_BYTES};

/// How long the server may take to answer each step of the signalling check.
const SERVER_PATIENCE_MS: u32 = 10_000;

/// One signal per check, in [`CheckName::ALL`] order; `None` while it runs.
#[derive(Clone, Copy)]
struct Results([RwSignal<Option<Outcome>>; 5]);

impl Results {
    fn of(&self, name: CheckName) -> RwSignal<Option<Outcome>> {
        let index = CheckName::ALL
            .iter()
            .position(|each| *each == name)
            .expect("every name is in ALL");
        self.0[index]
    }

    fn set(&self, name: CheckName, outcome: Outcome) {
        // The page may be gone by the time a slow check ends.
        let _gone = self.of(name).try_set(Some(outcome));
    }

    fn report(&self) -> String {
        let lines: Vec<_> = CheckName::ALL
            .iter()
            .map(|name| (*name, self.of(*name).get()))
            .collect();
        report(&lines)
    }
}

/// The `/check` page.
#[component]
pub fn CheckPage() -> impl IntoView {
    let results = Results(std::array::from_fn(|_| RwSignal::new(None)));
    let preview = NodeRef::<html::Video>::new();
    let level = NodeRef::<html::Meter>::new();
    let copied = RwSignal::new(None::<String>);
    // The camera and the meter, released when the page goes.
    let media = StoredValue::new_local(None::<(LocalMedia, Option<LevelMeter>)>);
    on_cleanup(move || {
        media.try_update_value(|held| held.take());
    });

    results.set(CheckName::Browser, browser_outcome(browser_support()));
    Effect::new(move |started: Option<()>| {
        if started.is_some() {
            return;
        }
        leptos::task::spawn_local(async move {
            let opened = open_camera_and_microphone().await;
            let outcome = match &opened {
                Ok(local) => {
                    let tracks = local.tracks();
                    let has = |kind: &str| tracks.iter().any(|track| track.kind() == kind);
                    media_outcome(Ok((has("video"), has("audio"))))
                }
                Err(problem) => media_outcome(Err(problem.explanation())),
            };
            if let Ok(local) = opened {
                if let Some(video) = preview.get_untracked() {
                    show_stream(&video, Some(local.stream()));
                }
                let meter = level
                    .get_untracked()
                    .map(|meter| LevelMeter::start(local.stream(), &meter));
                media.try_update_value(|held| *held = Some((local, meter)));
            }
            results.set(CheckName::Media, outcome);
        });
        leptos::task::spawn_local(check_network(results));
    });

    let copy = move |_| {
        let text = results.report();
        leptos::task::spawn_local(async move {
            let said = match copy_text(&text).await {
                Ok(()) => "The report is on the clipboard.".to_owned(),
                Err(why) => format!("Could not copy ({why}): select the text below instead."),
            };
            let _gone = copied.try_set(Some(said));
        });
    };

    let line = move |name: CheckName| {
        let outcome = results.of(name);
        view! {
            <li
                id=name.id()
                class="check"
                data-result=move || outcome.read().as_ref().map(|o| o.verdict.as_str())
            >
                <span class="mark" aria-hidden="true"></span>
                <strong>{name.title()}</strong>
                " "
                <span class="sentence">
                    {move || {
                        outcome
                            .read()
                            .as_ref()
                            .map_or_else(|| "Checking…".to_owned(), |o| o.sentence.clone())
                    }}
                </span>
            </li>
        }
    };

    view! {
        <main class="page check-page">
            <h1>"Connection check"</h1>
            <p>"This page tests what a call needs. Green is fine, amber may cause trouble, red will stop calls."</p>
            <div class="check-media-preview">
                <video id="check-preview" node_ref=preview autoplay muted playsinline></video>
                <label for="check-mic-level">"Microphone level"</label>
                <meter id="check-mic-level" node_ref=level min="0" max="1" value="0"></meter>
            </div>
            <ul class="checks">
                {CheckName::ALL.into_iter().map(line).collect::<Vec<_>>()}
            </ul>
            <button id="copy-report" type="button" on:click=copy>"Copy report"</button>
            <p class="note" role="status">{move || copied.get()}</p>
            <pre id="check-report">{move || results.report()}</pre>
            <p><a href="/">"Back to the start page"</a></p>
        </main>
    }
}

/// Signalling, then STUN, then TURN.
async fn check_network(results: Results) {
    let servers = match check_signalling().await {
        Ok((rtt, servers)) => {
            results.set(CheckName::Signalling, signalling_outcome(Ok(rtt)));
            servers
        }
        Err(why) => {
            results.set(CheckName::Signalling, signalling_outcome(Err(why.clone())));
            results.set(
                CheckName::Stun,
                stun_outcome(Err(format!("no ICE servers: {why}"))),
            );
            results.set(
                CheckName::Turn,
                turn_outcome(Err(why), || Err("not tried".into())),
            );
            return;
        }
    };
    results.set(
        CheckName::Stun,
        stun_outcome(
            gather_candidates(&servers, false)
                .await
                .map_err(|error| error.to_string()),
        ),
    );
    let relay_candidates = gather_candidates(&servers, true)
        .await
        .map_err(|error| error.to_string());
    let has_relay = relay_candidates
        .as_ref()
        .is_ok_and(|lines| lines.iter().any(|line| line.contains(" typ relay")));
    let loopback = if has_relay {
        relay_loopback(&servers)
            .await
            .map_err(|error| error.to_string())
    } else {
        Err("no relay candidate".into())
    };
    results.set(
        CheckName::Turn,
        turn_outcome(relay_candidates, move || loopback),
    );
}

/// Joins a private random room, measures one `ping`→`pong`, fetches the ICE servers, leaves.
async fn check_signalling() -> Result<(f64, Vec<IceServer>), String> {
    let (sender, mut events) = mpsc::unbounded();
    let socket = SignallingSocket::connect(&signalling_url(), move |event| {
        let _gone = sender.unbounded_send(event);
    })
    .map_err(|_| "the connection could not be opened".to_owned())?;
    let room = room_name::from_random_bytes(random_bytes::<RANDOM_BYTES>());
    socket.send(&ClientMessage::Join { room, resume: None });
    wait_for(&mut events, |message| {
        matches!(message, ServerMessage::Joined { .. }).then_some(())
    })
    .await?;
    let started = now();
    socket.send(&ClientMessage::Ping);
    wait_for(&mut events, |message| {
        matches!(message, ServerMessage::Pong).then_some(())
    })
    .await?;
    let rtt = now() - started;
    socket.send(&ClientMessage::IceServers);
    let servers = wait_for(&mut events, |message| match message {
        ServerMessage::IceServers { ice_servers, .. } => Some(ice_servers),
        _ => None,
    })
    .await?;
    socket.send(&ClientMessage::Leave);
    Ok((rtt, servers))
}

/// The first server message `pick` accepts, within [`SERVER_PATIENCE_MS`].
async fn wait_for<T>(
    events: &mut mpsc::UnboundedReceiver<SocketEvent>,
    mut pick: impl FnMut(ServerMessage) -> Option<T>,
) -> Result<T, String> {
    let found = async {
        while let Some(event) = events.next().await {
            match event {
                SocketEvent::Message(message) => {
                    if let Some(found) = pick(message) {
                        return Ok(found);
                    }
                }
                SocketEvent::Closed { .. } => return Err("the connection closed".to_owned()),
            }
        }
        Err("the connection closed".to_owned())
    };
    match select(
        std::pin::pin!(found),
        TimeoutFuture::new(SERVER_PATIENCE_MS),
    )
    .await
    {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err("the server did not answer in time".to_owned()),
    }
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}
