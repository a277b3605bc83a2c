//! A stand-in for S3 that keeps everything in memory and checks no signature: for
//! `bench/load.sh`'s control-plane figure (`BENCH_STORE=stub`), where the store's own CPU would
//! otherwise share this machine's two cores with the Hoist being measured. It answers the calls
//! Hoist and the load generator make — multipart create/part PUT/list/complete/abort, HEAD,
//! ranged GET, DELETE, and the bucket's CORS and lifecycle questions — path-style, one bucket.
//! Never a test double: the tests run against Garage.
//!
//!   cargo run --release --no-default-features --features ssr --example store_stub -- --port 9000

use axum::{
    body::Bytes,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use clap::Parser;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    port: u16,
}

struct Part {
    bytes: Bytes,
    etag: String,
    crc32c: Option<String>,
}

struct Upload {
    key: String,
    content_type: Option<String>,
    parts: BTreeMap<u32, Part>,
}

struct Object {
    bytes: Bytes,
    content_type: Option<String>,
}

#[derive(Default)]
struct Store {
    uploads: Mutex<HashMap<String, Upload>>,
    objects: Mutex<HashMap<String, Object>>,
    next: AtomicU64,
}

type Shared = Arc<Store>;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let store = Shared::default();
    let app = Router::new().fallback(move |method, uri, headers, body| {
        let store = store.clone();
        async move { answer(&store, method, uri, headers, body) }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .expect("the port is free");
    axum::serve(listener, app).await.expect("serving");
}

fn answer(store: &Store, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    // Path style: /bucket or /bucket/key.
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    if key.is_empty() {
        return bucket_call(bucket, &method, &query);
    }
    let upload_id = query.get("uploadId").cloned();
    match (method, upload_id) {
        (Method::POST, None) if query.contains_key("uploads") => {
            let id = format!("stub-{}", store.next.fetch_add(1, Ordering::Relaxed));
            let upload = Upload {
                key: key.to_owned(),
                content_type: text_header(&headers, header::CONTENT_TYPE),
                parts: BTreeMap::new(),
            };
            lock(&store.uploads).insert(id.clone(), upload);
            xml(format!(
                "<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{}</Key>\
                 <UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                escape(key)
            ))
        }
        (Method::PUT, Some(id)) => {
            let Some(number) = query.get("partNumber").and_then(|n| n.parse().ok()) else {
                return error(StatusCode::BAD_REQUEST, "InvalidArgument");
            };
            let etag = format!("\"{:x}\"", store.next.fetch_add(1, Ordering::Relaxed));
            let crc32c = text_header(&headers, "x-amz-checksum-crc32c");
            let mut uploads = lock(&store.uploads);
            let Some(upload) = uploads.get_mut(&id).filter(|u| u.key == key) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload");
            };
            let part = Part {
                bytes: body,
                etag: etag.clone(),
                crc32c: crc32c.clone(),
            };
            upload.parts.insert(number, part);
            let mut response = StatusCode::OK.into_response();
            set(&mut response, header::ETAG.as_str(), &etag);
            if let Some(value) = crc32c {
                set(&mut response, "x-amz-checksum-crc32c", &value);
            }
            response
        }
        (Method::GET, Some(id)) => {
            let uploads = lock(&store.uploads);
            let Some(upload) = uploads.get(&id).filter(|u| u.key == key) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload");
            };
            let parts: String = upload
                .parts
                .iter()
                .map(|(n, p)| {
                    let checksum = p.crc32c.as_deref().map_or(String::new(), |c| {
                        format!("<ChecksumCRC32C>{c}</ChecksumCRC32C>")
                    });
                    format!(
                        "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag><Size>{}</Size>\
                         {checksum}</Part>",
                        escape(&p.etag),
                        p.bytes.len()
                    )
                })
                .collect();
            xml(format!(
                "<ListPartsResult><Bucket>{bucket}</Bucket><Key>{}</Key><UploadId>{id}</UploadId>\
                 <IsTruncated>false</IsTruncated>{parts}</ListPartsResult>",
                escape(key)
            ))
        }
        (Method::POST, Some(id)) => {
            let Some(upload) = lock(&store.uploads).remove(&id).filter(|u| u.key == key) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload");
            };
            let mut whole = Vec::new();
            for part in upload.parts.values() {
                whole.extend_from_slice(&part.bytes);
            }
            let object = Object {
                bytes: whole.into(),
                content_type: upload.content_type,
            };
            lock(&store.objects).insert(key.to_owned(), object);
            xml(format!(
                "<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{}</Key>\
                 <ETag>\"{id}\"</ETag></CompleteMultipartUploadResult>",
                escape(key)
            ))
        }
        (Method::DELETE, Some(id)) => match lock(&store.uploads).remove(&id) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => error(StatusCode::NOT_FOUND, "NoSuchUpload"),
        },
        (Method::PUT, None) => {
            let object = Object {
                bytes: body,
                content_type: text_header(&headers, header::CONTENT_TYPE),
            };
            lock(&store.objects).insert(key.to_owned(), object);
            StatusCode::OK.into_response()
        }
        (Method::DELETE, None) => {
            lock(&store.objects).remove(key);
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::HEAD | Method::GET, None) => read(store, key, &headers),
        _ => error(StatusCode::NOT_IMPLEMENTED, "NotImplemented"),
    }
}

/// The bucket-level questions Hoist asks at start-up and in its sweep.
fn bucket_call(bucket: &str, method: &Method, query: &HashMap<String, String>) -> Response {
    match *method {
        // A rule already letting every origin PUT and read the ETag: Hoist leaves it be.
        Method::GET if query.contains_key("cors") => xml(
            "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>\
             <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>\
             <AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule>\
             </CORSConfiguration>"
                .to_owned(),
        ),
        Method::GET if query.contains_key("uploads") => xml(format!(
            "<ListMultipartUploadsResult><Bucket>{bucket}</Bucket><IsTruncated>false\
             </IsTruncated></ListMultipartUploadsResult>"
        )),
        Method::HEAD => StatusCode::OK.into_response(),
        _ => error(StatusCode::NOT_IMPLEMENTED, "NotImplemented"),
    }
}

/// HEAD or GET of an object, with `Range: bytes=a-b` answered 206.
fn read(store: &Store, key: &str, headers: &HeaderMap) -> Response {
    let objects = lock(&store.objects);
    let Some(object) = objects.get(key) else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey");
    };
    let total = object.bytes.len();
    let range = text_header(headers, header::RANGE).and_then(|r| {
        let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
        let a: usize = a.parse().ok()?;
        let b: usize = b.parse::<usize>().ok().unwrap_or(total.saturating_sub(1));
        (a < total).then_some((a, b.min(total - 1)))
    });
    let (status, body, content_range) = match range {
        Some((a, b)) => (
            StatusCode::PARTIAL_CONTENT,
            object.bytes.slice(a..=b),
            Some(format!("bytes {a}-{b}/{total}")),
        ),
        None => (StatusCode::OK, object.bytes.clone(), None),
    };
    let mut response = (status, body).into_response();
    if let Some(range) = content_range {
        set(&mut response, header::CONTENT_RANGE.as_str(), &range);
    }
    if let Some(content_type) = &object.content_type {
        set(&mut response, header::CONTENT_TYPE.as_str(), content_type);
    }
    response
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn text_header(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn xml(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}"),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str) -> Response {
    let mut response = xml(format!(
        "<Error><Code>{code}</Code><Message>{code}</Message></Error>"
    ));
    *response.status_mut() = status;
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
