//! Server-Sent Events read the way a page reads them.

use super::app::App;
use hoist::model::{EventCursor, Processing, UploadEvent};
use std::time::Duration;

/// Server-Sent Events as a test reads them: `(id, event)` pairs, each id the event's cursor.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    pub async fn open(app: &App, client: &reqwest::Client, last: Option<EventCursor>) -> Self {
        let mut request = client.get(format!("{}/events", app.base));
        if let Some(id) = last {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("hoist answers");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` if none comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<(EventCursor, UploadEvent)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.parse::<EventCursor>().expect("an event cursor"));
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(v.trim().to_owned());
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    return Some((id, serde_json::from_str(&data).expect("an event")));
                }
                continue; // a heartbeat comment
            }
            let chunk = tokio::time::timeout(wait, self.response.chunk())
                .await
                .ok()?;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk.ok()??));
        }
    }

    /// Events until `id`'s file is ready.
    pub async fn until_ready(&mut self, id: &str) -> Vec<(EventCursor, UploadEvent)> {
        let mut seen = Vec::new();
        while let Some((n, event)) = self.next(Duration::from_secs(60)).await {
            let ready = matches!(&event, UploadEvent::Changed { upload } if upload.id == id
                && upload.file.as_ref().is_some_and(|f| f.processing == Processing::Ready));
            seen.push((n, event));
            if ready {
                return seen;
            }
        }
        panic!("{id} never became ready on the stream: {seen:?}");
    }
}
