//! `/files/{id}`: one file. An image is shown, a video or audio plays (from a short-lived
//! presigned GET: the store answers Range, so seeking fetches only what it needs), with what
//! processing found. Its owner edits the title, description and audience here and copies the
//! link to share it; anyone else sees it only if it is public or they hold that link.

use super::file_jobs::{follow_file, Jobs};
use crate::{
    api::files::{get_file, DescribeFile, NewShareLink},
    format,
    model::{FilePage, Scan, UploadView, Visibility, MAX_DESCRIPTION, MAX_TITLE},
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn FilePageView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let describe = ServerAction::<DescribeFile>::new();
    let page = Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                query.read().get("key"),
                describe.version().get(),
            )
        },
        |(id, key, _)| get_file(id, key),
    );
    // As on the home page: tells scripts and tests that the page is interactive.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <main class="file-page" data-hydrated=move || hydrated.get().then_some("true")>
            <header class="page-head">
                <a href="/">"Back to uploads"</a>
            </header>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Ok(file) => view! { <FileView file describe/> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
        </main>
    }
}

#[component]
fn FileView(file: FilePage, describe: ServerAction<DescribeFile>) -> impl IntoView {
    let upload = file.upload.clone();
    // A visitor came with the link's key; the file's own links carry it on.
    let key = use_query_map().read_untracked().get("key");
    // Only a key as the server makes them (32 hex digits) goes into the file's own links.
    let suffix = key
        .filter(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|k| format!("?key={k}"))
        .unwrap_or_default();
    let content = format!("/files/{}/content{suffix}", upload.id);
    let download = format!("/files/{}/download{suffix}", upload.id);
    let title = upload
        .file
        .as_ref()
        .map_or_else(|| upload.name.clone(), |f| f.title.clone());
    let description = upload
        .file
        .as_ref()
        .map(|f| f.description.clone())
        .unwrap_or_default();
    // The file as it is now: its owner's page follows its events (processing, the ladder's
    // rungs, the scan) without a reload.
    let current = RwSignal::new(upload.clone());
    let jobs = RwSignal::new(file.jobs.clone());
    if let Some(after) = file.events_after.filter(|_| file.mine) {
        follow_file(after, current, jobs);
    }
    let infected = Memo::new(move |_| {
        current.with(|u| u.file.as_ref().is_some_and(|f| f.scan == Scan::Infected))
    });
    let rungs = Memo::new(move |_| current.with(|u| u.file.as_ref().map_or(0, |f| f.rungs)));
    let laddered = Memo::new(move |_| rungs.get() > 0);
    // An infected file's bytes are deleted: nothing to show, play or download. The player is
    // drawn again only when the ladder first appears (a new rung is the player's business).
    let shown = move || {
        laddered.track();
        (!infected.get()).then(|| {
            let upload = current.get_untracked();
            view! { <div class="media">{media(&upload, content.clone(), &suffix, rungs)}</div> }
        })
    };
    let name = upload.name.clone();
    let download = move || {
        (!infected.get()).then(|| {
            view! { <p><a class="button" href=download.clone() download=name.clone()>"Download"</a></p> }
        })
    };
    let processing = move || current.with(|u| u.file.as_ref().map(|f| f.processing.as_str()));
    let scan = move || current.with(|u| u.file.as_ref().map(|f| f.scan.as_str()));
    let id = upload.id.clone();
    view! {
        <article data-upload-id=id data-processing=processing data-scan=scan>
            <h1>{title}</h1>
            {(!description.is_empty()).then(|| view! { <p class="description">{description}</p> })}
            {shown}
            {move || view! { <Facts upload=current.get()/> }}
            {file.mine.then(|| view! { <Jobs jobs name=upload.name.clone()/> })}
            {download}
            {file.mine.then(|| view! { <OwnerControls upload file=file.clone() describe/> })}
        </article>
    }
}

/// The element that shows the file, by its type.
fn media(upload: &UploadView, src: String, suffix: &str, rungs: Memo<u32>) -> AnyView {
    let t = upload.content_type.as_str();
    let label = upload.name.clone();
    if t.starts_with("video/") {
        let poster = upload
            .file
            .as_ref()
            .filter(|f| f.thumbnail)
            .map(|_| format!("/files/{}/thumbnail{suffix}", upload.id));
        if upload.file.as_ref().is_some_and(|f| f.rungs > 0) {
            // Its ladder: played by /player.js (hls.js, loaded on this page only), with the
            // file as uploaded to fall back on.
            let master = format!("/files/{}/hls/index.m3u8{suffix}", upload.id);
            return view! {
                <video
                    id="player"
                    controls
                    preload="metadata"
                    poster=poster
                    aria-label=label
                    data-hls=master
                    data-original=src
                    data-quality="quality"
                    data-rungs=move || rungs.get().to_string()
                ></video>
                <select id="quality" class="quality" aria-label="Quality" disabled hidden></select>
                <script type="module" src="/player.js"></script>
            }
            .into_any();
        }
        view! { <video controls preload="metadata" src=src poster=poster aria-label=label></video> }
            .into_any()
    } else if t.starts_with("audio/") {
        view! { <audio controls preload="metadata" src=src aria-label=label></audio> }.into_any()
    } else if t.starts_with("image/") && t != "image/svg+xml" {
        view! { <img src=src alt=label/> }.into_any()
    } else {
        view! { <p class="empty">"No preview for this type of file."</p> }.into_any()
    }
}

#[component]
fn Facts(upload: UploadView) -> impl IntoView {
    let file = upload.file.clone();
    let details = file.as_ref().map(format::media_details).unwrap_or_default();
    let error = file.as_ref().and_then(|f| f.error.clone());
    let sha = file.as_ref().and_then(|f| f.sha256.clone());
    let scan = file.as_ref().and_then(|f| {
        let label = f.scan.label(f.scan_detail.as_deref())?;
        Some(match f.scan {
            Scan::Infected => format!("{label}. The file has been deleted."),
            _ => label,
        })
    });
    let scan_class = file
        .as_ref()
        .map(|f| format!("scan scan-{}", f.scan.as_str()));
    view! {
        <dl class="facts">
            <dt>"Name"</dt><dd>{upload.name.clone()}</dd>
            <dt>"Size"</dt><dd>{format::bytes(upload.size)}</dd>
            <dt>"Type"</dt><dd>{upload.content_type.clone()}</dd>
            <dt>"Status"</dt><dd class="status">{upload.status_word()}</dd>
            {(!details.is_empty()).then(|| view! { <dt>"Media"</dt><dd class="details">{details}</dd> })}
            {error.map(|e| view! { <dt>"Problem"</dt><dd class="reason">{e}</dd> })}
            {scan.map(|s| view! { <dt>"Malware scan"</dt><dd class=scan_class>{s}</dd> })}
            {sha.map(|s| view! { <dt>"SHA-256"</dt><dd><code>{s}</code></dd> })}
        </dl>
    }
}

#[component]
fn OwnerControls(
    upload: UploadView,
    file: FilePage,
    describe: ServerAction<DescribeFile>,
) -> impl IntoView {
    let info = upload.file.clone();
    let title = info
        .as_ref()
        .map_or_else(|| upload.name.clone(), |f| f.title.clone());
    let description = info
        .as_ref()
        .map(|f| f.description.clone())
        .unwrap_or_default();
    let current = info.as_ref().map(|f| f.visibility).unwrap_or_default();
    let share = file
        .share_path
        .clone()
        .filter(|_| current != Visibility::Private);
    let options = Visibility::ALL
        .into_iter()
        .map(|v| view! { <option value=v.as_str() selected=v == current>{v.label()}</option> })
        .collect_view();
    let error = move || {
        describe
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    let id = upload.id.clone();
    view! {
        <section class="owner">
            <h2>"Your file"</h2>
            <ActionForm action=describe attr:class="describe-form">
                <input type="hidden" name="upload_id" value=upload.id.clone()/>
                <label>"Title"
                    <input type="text" name="title" value=title required maxlength=MAX_TITLE.to_string()/>
                </label>
                <label>"Description"
                    <textarea name="description" maxlength=MAX_DESCRIPTION.to_string()>{description}</textarea>
                </label>
                <label>"Who can see it"
                    <select name="visibility">{options}</select>
                </label>
                <button type="submit" class="button">"Save"</button>
            </ActionForm>
            {error}
            {share.map(|path| view! { <ShareLink path id=id.clone()/> })}
        </section>
    }
}

/// The file's link, whole, to copy, and a way to replace it: a link passed on too far is
/// taken back by making a new one.
#[component]
fn ShareLink(path: String, id: String) -> impl IntoView {
    let renew = ServerAction::<NewShareLink>::new();
    let path = Memo::new(move |_| {
        renew
            .value()
            .get()
            .and_then(Result::ok)
            .and_then(|page| page.share_path)
            .unwrap_or_else(|| path.clone())
    });
    // The origin is the page's own; on the server the path alone is rendered until hydration.
    let origin = RwSignal::new(String::new());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(o) = web_sys::window().and_then(|w| w.location().origin().ok()) {
            origin.set(o);
        }
    });
    let link = move || format!("{}{}", origin.get(), path.get());
    let error = move || {
        renew
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    view! {
        <p class="share">
            <label>"Link to share"
                <input type="text" readonly value=link aria-label="Link to share"/>
            </label>
        </p>
        <ActionForm action=renew attr:class="new-link-form">
            <input type="hidden" name="upload_id" value=id/>
            <button type="submit" class="button">"New link"</button>
        </ActionForm>
        {error}
    }
}
