//! The owner's view of a file's processing on its page: every job and where it stands (queued,
//! running with its percentage and a bar, done, skipped or failed with the reason), following
//! the file's events live. An event says how the file stands now; the jobs list is asked for
//! again after it, at most once a second.

use crate::{
    api::files::file_jobs,
    model::{EventCursor, JobView, UploadEvent, UploadView},
    ui::{live, progress_bar::ProgressBar},
};
use leptos::prelude::*;

/// Follows the owner's events from `after`, keeping `current` (this file as it is now) and
/// `jobs` up to date until the page is left.
pub fn follow_file(
    after: EventCursor,
    current: RwSignal<UploadView>,
    jobs: RwSignal<Vec<JobView>>,
) {
    let id = current.with_untracked(|u| u.id.clone());
    let asking = StoredValue::new(false);
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    live::follow(
        after,
        move |event| {
            let UploadEvent::Changed { upload } = event else {
                return;
            };
            if upload.id != id {
                return;
            }
            current.set(*upload);
            if asking.get_value() {
                return;
            }
            asking.set_value(true);
            let id = id.clone();
            leptos::task::spawn_local(async move {
                live::pause(1000).await;
                if let Ok(now) = file_jobs(id).await {
                    jobs.set(now);
                }
                asking.set_value(false);
            });
        },
        stopped,
    );
    on_cleanup(move || {
        let _ = stop.send(());
    });
}

/// The jobs, as a list.
#[component]
pub fn Jobs(jobs: RwSignal<Vec<JobView>>, name: String) -> impl IntoView {
    let name = StoredValue::new(name);
    view! {
        <section class="jobs" aria-label="Processing">
            <h2>"Processing"</h2>
            <ul>
                {move || {
                    jobs.get()
                        .into_iter()
                        .map(|job| view! { <Job job name=name.get_value()/> })
                        .collect_view()
                }}
            </ul>
        </section>
    }
}

#[component]
fn Job(job: JobView, name: String) -> impl IntoView {
    let state = match (job.state.as_str(), job.progress) {
        ("running", Some(percent)) => format!("processing {percent} %"),
        (state, _) => state.to_string(),
    };
    let bar = job.progress.filter(|_| job.state == "running").map(|percent| {
        let label = format!("Processing progress for {name}");
        view! {
            <ProgressBar label=Signal::derive(move || label.clone()) percent=Signal::derive(move || percent)/>
        }
    });
    view! {
        <li class="job" data-kind=job.kind.clone() data-state=job.state.clone()>
            <span class="job-name">{job.label()}</span>
            " "
            <span class="job-state">{state}</span>
            {bar}
            {job.reason.map(|why| view! { <small class="reason">{why}</small> })}
        </li>
    }
}
