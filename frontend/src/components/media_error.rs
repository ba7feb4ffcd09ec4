//! Why the camera did not start, and a button to try again.

use leptos::prelude::*;

use crate::call::media_problem::MediaProblem;

/// `#media-error` with the explanation and `#retry-media`, shown only while there is a problem.
#[component]
pub fn MediaError(
    #[prop(into)] problem: Signal<Option<MediaProblem>>,
    on_retry: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <div id="media-error" class="panel alert" role="alert" hidden=move || problem.read().is_none()>
            <p>{move || problem.read().as_ref().map(MediaProblem::explanation)}</p>
            <button id="retry-media" type="button" on:click=move |_| on_retry()>
                "Try again"
            </button>
        </div>
    }
}
