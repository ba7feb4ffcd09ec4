//! What a page load costs, read from the page itself: the app's `app-interactive` mark (set
//! once the app is mounted) and the Resource Timing entries of everything the page fetched.
//! Used by the page benchmark (`scripts/bench page`); nothing here asserts a speed.

use anyhow::Context;
use serde::Deserialize;

use crate::Browser;

/// `performance.getEntriesByName('app-interactive')[0].startTime`, awaited: milliseconds from
/// navigation start until the app was mounted and interactive.
pub async fn interactive_ms(browser: &Browser) -> anyhow::Result<f64> {
    browser
        .wait_for(
            "return performance.getEntriesByName('app-interactive').length > 0;",
            "app-interactive mark",
        )
        .await?;
    browser
        .eval("return performance.getEntriesByName('app-interactive')[0].startTime;")
        .await?
        .as_f64()
        .context("mark time")
}

/// One file the page fetched (the document itself included), as Resource Timing saw it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fetched {
    /// Its absolute URL.
    pub name: String,
    /// Bytes on the wire for the body (compressed, as the server sent it); 0 from the cache.
    pub encoded_body_size: f64,
}

/// Every file the current page fetched so far: the navigation entry, then each resource.
pub async fn fetched(browser: &Browser) -> anyhow::Result<Vec<Fetched>> {
    let entries = browser
        .eval(
            "return [...performance.getEntriesByType('navigation'), \
                     ...performance.getEntriesByType('resource')] \
               .map(e => ({ name: e.name, encodedBodySize: e.encodedBodySize }));",
        )
        .await?;
    serde_json::from_value(entries).context("resource timing entries")
}

/// Where the time to interactive went on one load, in milliseconds from navigation start
/// (`None`: the page has no such entry, e.g. a file served from the memory cache).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Timeline {
    /// The document received (`responseEnd` of the navigation entry).
    pub document: Option<f64>,
    /// The JavaScript glue received (Trunk's `frontend-*.js`).
    pub glue: Option<f64>,
    /// The wasm received (`frontend-*_bg.wasm`).
    pub wasm: Option<f64>,
    /// The wasm compiled and instantiated: the app's `app-start` mark, first thing in `main`.
    pub start: Option<f64>,
    /// The app mounted: the `app-interactive` mark.
    pub interactive: Option<f64>,
    /// The first paint with content (`first-contentful-paint`).
    pub paint: Option<f64>,
}

/// The [`Timeline`] of the current page; call it after [`interactive_ms`].
pub async fn timeline(browser: &Browser) -> anyhow::Result<Timeline> {
    let value = browser
        .eval(
            "const end = (pick) => { \
               const e = performance.getEntriesByType('resource').find(pick); \
               return e ? e.responseEnd : null; }; \
             const mark = (name) => { \
               const e = performance.getEntriesByName(name)[0]; \
               return e ? e.startTime : null; }; \
             const nav = performance.getEntriesByType('navigation')[0]; \
             return { \
               document: nav ? nav.responseEnd : null, \
               glue: end(e => /\\/frontend-[^/]*\\.js$/.test(e.name)), \
               wasm: end(e => e.name.endsWith('.wasm')), \
               start: mark('app-start'), \
               interactive: mark('app-interactive'), \
               paint: mark('first-contentful-paint') };",
        )
        .await?;
    serde_json::from_value(value).context("page timeline")
}
