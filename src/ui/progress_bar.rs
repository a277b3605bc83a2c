use leptos::prelude::*;

/// An accessible progress bar: screen readers and tests read `aria-valuenow`.
#[component]
pub fn ProgressBar(
    #[prop(into)] label: Signal<String>,
    #[prop(into)] percent: Signal<u8>,
) -> impl IntoView {
    view! {
        <div
            class="progress"
            role="progressbar"
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=move || percent.get().to_string()
            aria-label=move || label.get()
        >
            <div class="progress-fill" style:width=move || format!("{}%", percent.get())></div>
        </div>
    }
}
