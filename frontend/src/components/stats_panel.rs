//! The live stats panel, `#stats` (the room's `#stats-toggle` in the control bar shows or hides
//! it): it lists the call's numbers (each an element with its `data-stat` name, the value with its unit) and draws the
//! last minute of bitrate and round trip as an inline SVG.
//!
//! The panel only renders what the session reads each second ([`crate::call::stats`],
//! [`crate::call::stats_history`]); it never touches `getStats()` itself, so hiding it costs
//! nothing and the numbers are already there when it opens.

use leptos::prelude::*;

use crate::call::stats::{Reading, Stat, bitrate};
use crate::call::stats_history::{History, Series};

/// The graph's drawing box (SVG user units); the element scales to the panel's width.
const GRAPH_WIDTH: f64 = 300.0;
const GRAPH_HEIGHT: f64 = 80.0;

/// The panel, shown while `open`.
#[component]
pub fn StatsPanel(
    #[prop(into)] stats: Signal<Option<Reading>>,
    #[prop(into)] history: Signal<History>,
    #[prop(into)] open: Signal<bool>,
) -> impl IntoView {
    let rows = Stat::ALL
        .iter()
        .map(|&stat| {
            view! {
                <dt>{stat.label()}</dt>
                <dd data-stat=stat.name()>{move || stat.text(stats.read().as_ref())}</dd>
            }
        })
        .collect_view();
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
            <dl class="stats-list">{rows}</dl>
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
