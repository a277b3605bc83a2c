//! One upload in the library, as a table row or as a card of the grid, and what its owner can
//! do with it there: open, download, copy its link, delete, select.

use super::{
    rows::{Row, Rows},
    selection::Selection,
};
use crate::{
    api::delete_upload,
    format,
    model::{Processing, Scan, UploadStatus, UploadView, Visibility},
    ui::{progress_bar::ProgressBar, type_icon::TypeIcon},
};
use leptos::prelude::*;

#[component]
pub fn UploadRow(row: Row, rows: Rows, selection: Selection) -> impl IntoView {
    let view = row.view.clone();
    let cells = move || view.with(cells);
    view! {
        <tr
            data-upload-id=row.id.clone()
            data-status=status_of(&row)
            data-processing=processing_of(&row)
        >
            <td class="select"><SelectBox row=row.clone() selection/></td>
            {cells}
            <td class="actions"><Actions row=row.clone() rows/></td>
        </tr>
    }
}

/// The grid's card: the picture first, then the name and state.
#[component]
pub fn UploadCard(row: Row, rows: Rows, selection: Selection) -> impl IntoView {
    let view = row.view.clone();
    let body = move || {
        view.with(|u| {
            view! {
                <div class="card-picture">{picture(u, 160)}</div>
                <div class="card-name">{name_link(u)}</div>
                <div class="card-facts">
                    <span class="status">{u.status_word()}</span>
                    " · "{format::bytes(u.size)}
                </div>
            }
        })
    };
    view! {
        <li
            class="card"
            data-upload-id=row.id.clone()
            data-status=status_of(&row)
            data-processing=processing_of(&row)
        >
            <SelectBox row=row.clone() selection/>
            {body}
            <div class="card-actions"><Actions row=row.clone() rows/></div>
        </li>
    }
}

fn status_of(row: &Row) -> Signal<&'static str> {
    let view = row.view.clone();
    Signal::derive(move || view.with(|u| u.status.as_str()))
}

fn processing_of(row: &Row) -> Signal<Option<&'static str>> {
    let view = row.view.clone();
    Signal::derive(move || view.with(|u| u.file.as_ref().map(|f| f.processing.as_str())))
}

#[component]
fn SelectBox(row: Row, selection: Selection) -> impl IntoView {
    let id = StoredValue::new(row.id.clone());
    let label = row.view.with_untracked(|u| format!("Select {}", u.name));
    view! {
        <input
            type="checkbox"
            class="select-box"
            aria-label=label
            prop:checked=move || selection.has(&id.get_value())
            on:change=move |ev| selection.set(id.get_value(), event_target_checked(&ev))
        />
    }
}

/// Download, copy the link, delete: whichever the upload's state allows. Redrawn only when
/// its status or audience changes, not with every event about it.
#[component]
fn Actions(row: Row, rows: Rows) -> impl IntoView {
    let view = row.view.clone();
    let state = Memo::new(move |_| {
        view.with(|u| {
            let audience = u.file.as_ref().map(|f| f.visibility).unwrap_or_default();
            let infected = u.file.as_ref().is_some_and(|f| f.scan == Scan::Infected);
            (u.status, u.name.clone(), audience, infected)
        })
    });
    let id = row.id;
    move || {
        let (status, name, audience, infected) = state.get();
        // An infected file's bytes are gone: nothing to download or share.
        let arrived = status == UploadStatus::Uploaded && !infected;
        let download = arrived.then(|| {
            let href = format!("/files/{id}/download");
            view! { <a href=href download=name.clone()>"Download"</a> }
        });
        let copy = (arrived && audience != Visibility::Private)
            .then(|| view! { <CopyLink id=id.clone() name=name.clone() audience/> });
        // Uploads still on their way are cancelled from the upload list above.
        let delete = (status != UploadStatus::Uploading)
            .then(|| view! { <DeleteButton id=id.clone() name rows/> });
        view! { {download} {copy} {delete} }
    }
}

/// The thumbnail or poster the server made, else a badge for the type.
fn picture(upload: &UploadView, side: u32) -> AnyView {
    if upload.file.as_ref().is_some_and(|f| f.thumbnail) {
        let src = format!("/files/{}/thumbnail", upload.id);
        view! { <img class="thumbnail" src=src alt="" loading="lazy" width=side height=side/> }
            .into_any()
    } else {
        view! { <TypeIcon name=upload.name.clone() content_type=upload.content_type.clone()/> }
            .into_any()
    }
}

fn name_link(upload: &UploadView) -> AnyView {
    if upload.status == UploadStatus::Uploaded {
        let page = format!("/files/{}", upload.id);
        view! { <a href=page>{upload.name.clone()}</a> }.into_any()
    } else {
        upload.name.clone().into_any()
    }
}

/// How far processing has got, for a file that is not ready yet: the steps done and, while a
/// transcode runs, its percentage with a bar.
fn steps(upload: &UploadView) -> Option<impl IntoView> {
    let file = upload.file.as_ref()?;
    let running = matches!(file.processing, Processing::Queued | Processing::Processing);
    if upload.status != UploadStatus::Uploaded || !running || file.jobs_total == 0 {
        return None;
    }
    let steps = format!(
        "Processing: {} of {} steps done",
        file.jobs_done, file.jobs_total
    );
    let bar = file.progress.map(|percent| {
        let label = format!("Processing progress for {}", upload.name);
        view! {
            <span class="processing-percent">{format!("processing {percent} %")}</span>
            <ProgressBar label=Signal::derive(move || label.clone()) percent=Signal::derive(move || percent)/>
        }
    });
    Some(view! { <small class="steps">{steps}</small> {bar} })
}

/// Where the malware scan stands, when files are scanned.
fn scan(upload: &UploadView) -> Option<impl IntoView> {
    let file = upload.file.as_ref()?;
    let label = file.scan.label(file.scan_detail.as_deref())?;
    let class = format!("scan scan-{}", file.scan.as_str());
    Some(view! { <small class=class>{label}</small> })
}

/// Every cell of a row but its box and actions, drawn from the upload as it is now.
fn cells(upload: &UploadView) -> impl IntoView {
    let time = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
    let reason = upload
        .reason
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| upload.file.as_ref().and_then(|f| f.error.clone()));
    let details = upload
        .file
        .as_ref()
        .map(format::media_details)
        .filter(|d| !d.is_empty());
    view! {
        <td class="preview">{picture(upload, 64)}</td>
        <td class="name">
            {name_link(upload)}
            {details.map(|d| view! { <small class="details">{d}</small> })}
            {steps(upload)}
            {scan(upload)}
            // Why it was rejected, expired or failed, where the person looks for their file.
            {reason.clone().map(|why| view! { <small class="reason">{why}</small> })}
        </td>
        <td>{format::bytes(upload.size)}</td>
        <td>{upload.content_type.clone()}</td>
        <td class="status" title=reason.unwrap_or_default()>
            {upload.status_word()}
        </td>
        <td>{time}</td>
    }
}

/// "Copy link": the address that opens the file for others, put on the clipboard. A link
/// file's address carries its key, which only its owner may read: it is asked for on click.
#[component]
fn CopyLink(id: String, name: String, audience: Visibility) -> impl IntoView {
    let said = RwSignal::new(None::<Copied>);
    let copy = move |_| {
        let id = id.clone();
        leptos::task::spawn_local(async move {
            said.set(Some(copy_link(id, audience).await));
        });
    };
    let label = format!("Copy the link to {name}");
    view! {
        <button type="button" class="link" aria-label=label on:click=copy>
            "Copy link"
        </button>
        <span role="status" class="copied">
            {move || match said.get() {
                Some(Copied::Yes) => view! { "Link copied" }.into_any(),
                // No clipboard here (an address that is not https): the link, to copy by hand.
                Some(Copied::ByHand(link)) => view! {
                    <input type="text" readonly value=link aria-label="Link to share"/>
                }
                .into_any(),
                Some(Copied::Failed(why)) => view! { <span class="error">{why}</span> }.into_any(),
                None => ().into_any(),
            }}
        </span>
    }
}

/// What became of a "Copy link".
#[derive(Clone, Debug, PartialEq, Eq)]
enum Copied {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    Yes,
    /// The clipboard refused (a page not served over https): the link, to copy by hand.
    ByHand(String),
    /// No link to copy, and why.
    Failed(String),
}

async fn copy_link(id: String, audience: Visibility) -> Copied {
    let path = match audience {
        Visibility::Public => format!("/files/{id}"),
        _ => match crate::api::files::get_file(id, None).await {
            Ok(page) => match page.share_path {
                Some(path) => path,
                None => return Copied::Failed("This file is private now: it has no link.".into()),
            },
            Err(e) => return Copied::Failed(e.to_string()),
        },
    };
    clipboard(path).await
}

#[cfg(feature = "hydrate")]
async fn clipboard(path: String) -> Copied {
    let Some(window) = web_sys::window() else {
        return Copied::ByHand(path);
    };
    let link = format!("{}{path}", window.location().origin().unwrap_or_default());
    let written = window.navigator().clipboard().write_text(&link);
    match wasm_bindgen_futures::JsFuture::from(written).await {
        Ok(_) => Copied::Yes,
        Err(_) => Copied::ByHand(link),
    }
}

#[cfg(not(feature = "hydrate"))]
async fn clipboard(path: String) -> Copied {
    Copied::ByHand(path)
}

/// "Delete", then a second, explicit "Delete for good" or "Keep": a file is not lost to one
/// stray click.
#[component]
fn DeleteButton(id: String, name: String, rows: Rows) -> impl IntoView {
    let asking = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirm = move |_| {
        let id = id.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match delete_upload(id.clone()).await {
                // The feed says so too (and tells other tabs); this tab need not wait for it.
                Ok(()) => rows.remove(&id),
                Err(e) => {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    let label = format!("Delete {name} for good");
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button type="button" class="link" on:click=move |_| asking.set(true)>
                        "Delete"
                    </button>
                }
            }
        >
            <span class="confirm" role="group" aria-label=label.clone()>
                "Delete for good? "
                <button type="button" class="danger" on:click=confirm.clone() disabled=move || busy.get()>
                    "Delete for good"
                </button>
                <button type="button" class="link" on:click=move |_| asking.set(false)>
                    "Keep"
                </button>
            </span>
        </Show>
        {move || error.get().map(|e| view! { <small class="error" role="alert">{e}</small> })}
    }
}
