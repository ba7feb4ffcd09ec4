//! The live stats panel, `#stats` (the room's `#stats-toggle` in the control bar shows or hides
//! it): one row per call (`.stats-row[data-peer]`) listing its numbers (each an element with its
//! `data-stat` name, the value with its unit), and the last minute of the first call's bitrate
//! and round trip drawn as an inline SVG.
//!
//! The panel only renders what the session reads each second ([`crate::call::stats`],
//! [`crate::call::stats_history`]); it never touches `getStats()` itself, so hiding it costs
//! nothing and the numbers are already there when it opens.

use leptos::prelude::*;

use crate::call::stats::{Reading, Stat, bitrate};
use crate::call::stats_history::{History, Series};
use crate::session::ui::TileView;

/// The graph's drawing box (SVG user units); the element scales to the panel's width.
const GRAPH_WIDTH: f64 = 300.0;
const GRAPH_HEIGHT: f64 = 80.0;

/// The panel, shown while `open`.
#[component]
pub fn StatsPanel(
    #[prop(into)] tiles: Signal<Vec<TileView>>,
    #[prop(into)] history: Signal<History>,
    #[prop(into)] open: Signal<bool>,
) -> impl IntoView {
    let several = move || tiles.read().len() > 1;
    // Before any call, one empty row says what will be shown.
    let empty = move || {
        tiles
            .read()
            .is_empty()
            .then(|| view! { <dl class="stats-list">{stat_cells(Signal::stored(None))}</dl> })
    };
    let rows = view! {
        {empty}
        <For each=move || tiles.get() key=|tile| tile.key let(tile)>
            {
                let stats = tile.stats.clone();
                let reading = Signal::derive(move || stats.get());
                let peer = tile.peer.clone();
                let name = tile.clone();
                view! {
                    <dl class="stats-list stats-row" data-peer=move || peer.get().as_str().to_owned()>
                        <dt class="stats-peer" hidden=move || !several()>"With"</dt>
                        <dd class="stats-peer" hidden=move || !several()>{move || name.initial()}</dd>
                        {stat_cells(reading)}
                    </dl>
                }
            }
        </For>
    };
    // Both bitrates share one scale so they can be compared; the round trip has its own.
    let bitrate_top = Memo::new(move |_| {
        let history = history.read();
        history
            .max(Series::BitrateIn)
            .max(history.max(Series::BitrateOut))
    });
    let rtt_top = Memo::new(move |_| history.read().max(Series::Rtt));
    let line = move |series: Series, top: Memo<f64>| {
        move || {
            history
                .read()
                .path(series, top.get(), GRAPH_WIDTH, GRAPH_HEIGHT)
        }
    };
    view! {
        <section id="stats" class="stats-panel" aria-label="Call statistics" hidden=move || !open.get()>
            {rows}
            <div class="stats-graph">
                <svg
                    viewBox=format!("0 0 {GRAPH_WIDTH} {GRAPH_HEIGHT}")
                    preserveAspectRatio="none"
                    role="img"
                    aria-label="Bitrate received and sent, and round trip, over the last 60 seconds"
                >
                    <path class="line-bitrate-in" fill="none" d=line(Series::BitrateIn, bitrate_top)></path>
                    <path class="line-bitrate-out" fill="none" d=line(Series::BitrateOut, bitrate_top)></path>
                    <path class="line-rtt" fill="none" d=line(Series::Rtt, rtt_top)></path>
                </svg>
                <p class="stats-legend">
                    <span class="key-bitrate-in">"received"</span>
                    ", "
                    <span class="key-bitrate-out">"sent"</span>
                    {move || format!(" (top {})", bitrate(bitrate_top.get()))}
                    "; "
                    <span class="key-rtt">"round trip"</span>
                    {move || format!(" (top {:.0} ms)", rtt_top.get())}
                    "; last 60 s"
                </p>
            </div>
        </section>
    }
}

/// One call's numbers, each as its `data-stat` element.
fn stat_cells(stats: Signal<Option<Reading>>) -> impl IntoView {
    Stat::ALL
        .iter()
        .map(|&stat| {
            view! {
                <dt>{stat.label()}</dt>
                <dd data-stat=stat.name()>{move || stat.text(stats.read().as_ref())}</dd>
            }
        })
        .collect_view()
}
