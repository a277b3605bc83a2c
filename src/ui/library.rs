//! The library: every file this browser has uploaded, with its status and a download link.

use crate::{api::list_uploads, format, model::UploadStatus, model::UploadView};
use leptos::prelude::*;

#[component]
pub fn Library(version: RwSignal<u32>) -> impl IntoView {
    let uploads = Resource::new(move || version.get(), |_| list_uploads());
    view! {
        <section class="library">
            <h2>"Library"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    uploads
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(list) if list.is_empty() => {
                                view! { <p class="empty">"No files yet."</p> }.into_any()
                            }
                            Ok(list) => view! { <UploadTable uploads=list/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn UploadTable(uploads: Vec<UploadView>) -> impl IntoView {
    view! {
        <table>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Time"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                {uploads.into_iter().map(|upload| view! { <UploadRow upload/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn UploadRow(upload: UploadView) -> impl IntoView {
    let time = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
    let download = (upload.status == UploadStatus::Uploaded).then(|| {
        let href = format!("/files/{}/download", upload.id);
        view! { <a href=href download=upload.name.clone()>"Download"</a> }
    });
    view! {
        <tr data-upload-id=upload.id.clone() data-status=upload.status.as_str()>
            <td class="name">
                {upload.name.clone()}
                // Why it was rejected or expired, where the person looks for their file.
                {upload.reason.clone().map(|why| view! { <small class="reason">{why}</small> })}
            </td>
            <td>{format::bytes(upload.size)}</td>
            <td>{upload.content_type.clone()}</td>
            <td class="status" title=upload.reason.clone().unwrap_or_default()>
                {upload.status.as_str()}
            </td>
            <td>{time}</td>
            <td>{download}</td>
        </tr>
    }
}
