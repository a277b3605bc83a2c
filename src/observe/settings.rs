//! Logs and metrics, as settings.

use super::logs::LogFormat;
use axum::http::{header, HeaderMap};

#[derive(clap::Args, Clone, Debug)]
pub struct ObserveSettings {
    /// `text` for a person, `json` for a log collector (one object per line).
    #[arg(long, env = "HOIST_LOG_FORMAT", default_value = "text", value_enum)]
    pub log_format: LogFormat,
    /// When set, `/metrics` answers only a scraper that sends it as a bearer token.
    #[arg(long, env = "HOIST_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl ObserveSettings {
    /// Whether the scraper that sent `headers` may read `/metrics`. Without a token they are
    /// open only to a site that is not served over https: a site on the internet keeps its
    /// traffic figures (uploads per minute, who is failing) to itself until its operator
    /// chooses a token.
    pub fn may_scrape(&self, headers: &HeaderMap, public_https: bool) -> bool {
        let Some(expected) = self.metrics_token.as_deref().filter(|t| !t.is_empty()) else {
            return !public_https;
        };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        // Constant time: how long a wrong token takes says nothing of the right one.
        sent.is_some_and(|sent| {
            subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()).into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn settings(token: Option<&str>) -> ObserveSettings {
        ObserveSettings {
            log_format: LogFormat::Text,
            metrics_token: token.map(str::to_owned),
        }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    #[test]
    fn metrics_are_open_without_a_token_and_closed_with_one() {
        assert!(settings(None).may_scrape(&HeaderMap::new(), false));
        // A public site without a token: closed.
        assert!(!settings(None).may_scrape(&HeaderMap::new(), true));
        assert!(!settings(None).may_scrape(&bearer(""), true));
        for https in [false, true] {
            let guarded = settings(Some("s3cret"));
            assert!(!guarded.may_scrape(&HeaderMap::new(), https));
            assert!(!guarded.may_scrape(&bearer("s3cre"), https));
            assert!(!guarded.may_scrape(&bearer("s3cret!"), https));
            assert!(guarded.may_scrape(&bearer("s3cret"), https));
        }
    }
}
