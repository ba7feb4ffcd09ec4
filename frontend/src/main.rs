//! Entry point: mounts [`frontend::App`] on `<body>`. Everything else lives in the library so
//! tests can reach it.

fn main() {
    // The page benchmark reads two marks: `app-start` (the wasm is compiled and running) and
    // `app-interactive`; the time between them is the app building its first view.
    mark("app-start");
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(frontend::App);
    // The page is interactive once mounted (client-side rendering builds the whole view
    // synchronously). The call benchmark reads this mark; it costs nothing otherwise.
    mark("app-interactive");
}

/// A `performance.mark`, for the benchmarks.
fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        let _ = performance.mark(name);
    }
}
