//! Companion's S3 routes, as `@uppy/aws-s3` 5 (`endpoint`) and 6 (`companionEndpoint`) call
//! them, so an unmodified Uppy front-end uploads into Hoist. Each route is a Hoist upload call
//! by another name: the same rules, quota, death row and verification as the page's own.
//!
//! Who may call: whoever may call the page's server functions (a guest cookie while guests may
//! upload, an account's cookie, an API token); the same rate limits. The upload id decides
//! which upload a call is about; the `key` a client echoes back is only compared with the one
//! this server answered, never used. Errors answer `{"message": …}` (Uppy 5 shows it) and carry
//! the same sentence as the HTTP/1.1 reason phrase (Uppy 6 shows only `statusText`).

use crate::{
    accounts::Caller,
    error::ApiError,
    model::PartToSign,
    server::{limits::ClientIp, state::AppState},
    uploads::{Layout, NewUpload},
};
use axum::{
    extract::{FromRequestParts, Path, Query, State},
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// What Uppy sends to start a multipart upload.
#[derive(Deserialize)]
pub struct Create {
    filename: String,
    #[serde(rename = "type", default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// `?key=`: the key this server answered at the start, echoed back.
#[derive(Deserialize)]
pub struct EchoedKey {
    key: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    upload_id: String,
    key: String,
}

#[derive(Serialize)]
pub struct Signed {
    url: String,
    method: String,
    headers: Map<String, Value>,
    expires: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Part {
    part_number: u32,
    size: u64,
    #[serde(rename = "ETag")]
    etag: String,
}

/// An error as both Uppy versions can show it.
pub struct Refused(ApiError);

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        // Uppy 5 turns a 401 into "Authorization required" and drops the sentence.
        let status = match self.0.status_code() {
            401 => StatusCode::FORBIDDEN,
            code => StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        };
        let message = self.0.to_string();
        let mut response = (status, Json(json!({ "message": message }))).into_response();
        // A reason phrase is ASCII without control characters; anything else is left out.
        let phrase: String = message
            .chars()
            .map(|c| match c {
                '’' | '‘' => '\'',
                '“' | '”' => '"',
                '—' | '–' => '-',
                c => c,
            })
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .collect();
        if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
            response.extensions_mut().insert(phrase);
        }
        response
    }
}

type Answer<T> = Result<Json<T>, Refused>;

/// The key this server names an upload by to a Companion client: its id, which the client
/// only echoes back.
fn key_of(upload_id: &str) -> String {
    upload_id.to_string()
}

/// The upload a call names, with the caller who owns it: the path's `{upload_id}` (and
/// `{part}`), its echoed key checked against the one answered (any other: not found, as for
/// an unknown upload).
pub struct Named {
    owner: String,
    upload_id: String,
    part: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Named {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refused> {
        let Path(mut path) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        let Query(echoed) = Query::<EchoedKey>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::Malformed(e.body_text()))?;
        let upload_id = path.remove("upload_id").ok_or(ApiError::NotFound)?;
        if echoed.key.as_deref() != Some(key_of(&upload_id).as_str()) {
            return Err(ApiError::NotFound.into());
        }
        let owner = parts
            .extensions
            .get::<Caller>()
            .ok_or_else(ApiError::internal)?
            .owner();
        Ok(Self {
            owner,
            upload_id,
            part: path.remove("part"),
        })
    }
}

/// The file's size from Uppy's metadata: a number (Uppy 6) or its decimal text (Uppy 5).
fn size_of(metadata: &Map<String, Value>) -> Option<u64> {
    match metadata.get("size")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `POST /s3/multipart`: starts an upload for one file.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Json(body): Json<Create>,
) -> Answer<Started> {
    if caller.account().is_none() && !state.accounts.settings.guest_uploads {
        return Err(ApiError::SignInRequired.into());
    }
    let size = size_of(&body.metadata).ok_or(ApiError::SizeNeeded)?;
    let request = NewUpload {
        name: body.filename,
        size,
        content_type: body
            .content_type
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into()),
        checksum: None,
        sha256: None,
        layout: Layout::Companion,
    };
    let allowance = caller.allowance(&state.accounts.settings, ip);
    let started = state
        .uploads
        .start(&caller.owner(), allowance, request)
        .await
        .map_err(super::ssr::failed)?;
    Ok(Json(Started {
        key: key_of(&started.upload_id),
        upload_id: started.upload_id,
    }))
}

/// `GET /s3/multipart/{uploadId}/{partNumber}`: one part's URL.
pub async fn sign(State(state): State<AppState>, named: Named) -> Answer<Signed> {
    let part_number: u32 = named
        .part
        .and_then(|p| p.parse().ok())
        .ok_or(ApiError::NotFound)?;
    let part = PartToSign {
        part_number,
        checksum: None,
    };
    let mut signed = state
        .uploads
        .sign_parts(&named.owner, &named.upload_id, &[part])
        .await
        .map_err(super::ssr::failed)?;
    let signed = signed.pop().ok_or(ApiError::NotFound)?.request;
    Ok(Json(Signed {
        url: signed.url,
        method: signed.method,
        headers: signed
            .headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        expires: signed.valid_for_secs,
    }))
}

/// `GET /s3/multipart/{uploadId}`: the parts the store holds (every one, in order).
pub async fn list(State(state): State<AppState>, named: Named) -> Answer<Vec<Part>> {
    let parts = state
        .uploads
        .stored_parts(&named.owner, &named.upload_id)
        .await
        .map_err(super::ssr::failed)?;
    Ok(Json(
        parts
            .into_iter()
            .map(|p| Part {
                part_number: p.part_number,
                size: p.size,
                etag: p.etag,
            })
            .collect(),
    ))
}

/// `POST /s3/multipart/{uploadId}/complete`: the client's list of parts is not read; the
/// server asks the store which parts it holds and verifies them, as for the page's uploads.
pub async fn complete(State(state): State<AppState>, named: Named) -> Answer<Value> {
    let view = state
        .uploads
        .complete(&named.owner, &named.upload_id)
        .await
        .map_err(super::ssr::failed)?;
    Ok(Json(json!({
        "location": format!("{}/files/{}", state.config.public_url(), view.id),
        "key": key_of(&view.id),
    })))
}

/// `DELETE /s3/multipart/{uploadId}`: abandons the upload (Uppy 5 also sends it after any
/// failure). Answered `{}` again for an upload already gone.
pub async fn abort(State(state): State<AppState>, named: Named) -> Answer<Value> {
    match state.uploads.abort(&named.owner, &named.upload_id).await {
        Ok(_) | Err(crate::uploads::UploadError::Closed(_)) => Ok(Json(json!({}))),
        Err(e) => Err(super::ssr::failed(e).into()),
    }
}
