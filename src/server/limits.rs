//! How fast anyone may ask: token buckets (GCRA, the `governor` crate) per client IP and per
//! caller (a guest session, or an account across all its sessions and tokens) on every server
//! function, and tighter ones on sign-in attempts. Past a limit the answer is 429 with
//! `Retry-After`, which the upload engine honours.
//!
//! The client's IP is the connection's peer, or — only when that peer is a proxy named in
//! `HOIST_TRUSTED_PROXIES` — the nearest address in `X-Forwarded-For` that is not one of them.

use super::{config::parse, guard::error_response, state::AppState};
use crate::{accounts::Caller, error::ApiError};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use std::{
    hash::Hash,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    time::Duration,
};

#[derive(clap::Args, Clone, Debug)]
pub struct LimitSettings {
    /// Server-function calls per second one caller (guest session or account) may make on
    /// average; 0 turns the limit off.
    #[arg(long, env = "HOIST_RATE_LIMIT", default_value = "50", value_parser = parse::number_in(0..=1_000_000u32))]
    pub rate: u32,
    /// Calls one caller may make at once before the average applies.
    #[arg(long, env = "HOIST_RATE_BURST", default_value = "500", value_parser = parse::number_in(1..=1_000_000u32))]
    pub burst: u32,
    /// Calls per second from one IP address, every caller behind it together (a file started
    /// counts as a call); 0 turns the limit off.
    #[arg(long, env = "HOIST_IP_RATE_LIMIT", default_value = "100", value_parser = parse::number_in(0..=1_000_000u32))]
    pub ip_rate: u32,
    /// Calls from one IP address at once before the average applies.
    #[arg(long, env = "HOIST_IP_RATE_BURST", default_value = "2000", value_parser = parse::number_in(1..=1_000_000u32))]
    pub ip_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed: addresses or networks
    /// (`10.0.0.0/8, 127.0.0.1`); empty believes no one.
    #[arg(long, env = "HOIST_TRUSTED_PROXIES", default_value = "", value_parser = networks)]
    pub trusted_proxies: ::std::vec::Vec<IpNet>,
}

/// Sign-in attempts: 10 at once for one email, then one every 30 s; 30 at once from one IP,
/// then one every 2 s. A person who mistypes a few times never waits; a guesser gets a few
/// thousand tries a day per account instead of millions.
const SIGN_IN_PER_EMAIL: (u32, Duration) = (10, Duration::from_secs(30));
const SIGN_IN_PER_IP: (u32, Duration) = (30, Duration::from_secs(2));

/// The connection's peer, put on each request by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The client's address as far as we can believe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub struct Limits {
    per_caller: Option<DefaultKeyedRateLimiter<String>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    sign_in_email: DefaultKeyedRateLimiter<String>,
    sign_in_ip: DefaultKeyedRateLimiter<IpAddr>,
    trusted: Vec<IpNet>,
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            per_caller: bucket(settings.rate, settings.burst),
            per_ip: bucket(settings.ip_rate, settings.ip_burst),
            sign_in_email: slow(SIGN_IN_PER_EMAIL),
            sign_in_ip: slow(SIGN_IN_PER_IP),
            trusted: settings.trusted_proxies.clone(),
        }
    }

    /// Charges `cost` calls to the IP's bucket: `Err` holds how long to wait.
    pub fn charge_ip(&self, ip: IpAddr, cost: u32) -> Result<(), Duration> {
        self.per_ip
            .as_ref()
            .map_or(Ok(()), |l| charge(l, &ip, cost))
    }

    fn charge_caller(&self, caller: &Caller) -> Result<(), Duration> {
        self.per_caller
            .as_ref()
            .map_or(Ok(()), |l| charge(l, &caller.owner(), 1))
    }

    /// One sign-in attempt for `email` from `ip`.
    pub fn sign_in_attempt(&self, email: &str, ip: IpAddr) -> Result<(), Duration> {
        charge(&self.sign_in_ip, &ip, 1)?;
        charge(&self.sign_in_email, &email.trim().to_lowercase(), 1)
    }

    /// Forgets buckets that are full again, so the maps hold only recent clients.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_caller {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        self.sign_in_email.retain_recent();
        self.sign_in_ip.retain_recent();
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        // Each proxy appends the address it heard from: walk back from the nearest until
        // an address no trusted proxy could have written.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map_while(|a| a.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(ip))
            .unwrap_or(peer)
    }
}

fn bucket<K: Hash + Eq + Clone>(rate: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

fn slow<K: Hash + Eq + Clone>((burst, every): (u32, Duration)) -> DefaultKeyedRateLimiter<K> {
    let quota = Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    DefaultKeyedRateLimiter::keyed(quota)
}

fn charge<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    cost: u32,
) -> Result<(), Duration> {
    let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
    match limiter.check_key_n(key, cost) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(not_until)) => Err(not_until.wait_time_from(limiter.clock().now())),
        // More than the whole burst at once: never allowed, so wait as if for a full bucket.
        Err(_) => Err(Duration::from_secs(1)),
    }
}

/// Finds the client's IP for every request and charges each server-function call to it.
/// Runs before the session middleware, so a flood is turned away before it costs a session or
/// token lookup.
pub async fn limit_ip(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let limits = &state.limits;
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |p| p.0.ip());
    let ip = limits.client_ip(peer, request.headers());
    request.extensions_mut().insert(ClientIp(ip));
    if is_call(&request) {
        if let Err(wait) = limits.charge_ip(ip, 1) {
            tracing::debug!(%ip, path = request.uri().path(), "rate limited (IP)");
            return too_many(request.uri().path(), wait);
        }
    }
    next.run(request).await
}

/// Charges each server-function call to its caller. Runs after the session middleware, which
/// names the caller.
pub async fn limit_caller(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let (true, Some(caller)) = (is_call(&request), request.extensions().get::<Caller>()) {
        if let Err(wait) = state.limits.charge_caller(caller) {
            tracing::debug!(path = request.uri().path(), "rate limited (caller)");
            return too_many(request.uri().path(), wait);
        }
    }
    next.run(request).await
}

/// A server-function call: what the limits count.
fn is_call(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path().starts_with("/api/")
}

/// A wait in the whole seconds `Retry-After` speaks, rounded up, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// 429 with `Retry-After`.
pub fn too_many(path: &str, wait: Duration) -> Response {
    let retry_after_secs = retry_after_secs(wait);
    let mut response = error_response(path, &ApiError::RateLimited { retry_after_secs });
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn networks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<IpNet>()
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{t:?} is not an IP address or network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &str) -> Limits {
        Limits::new(&LimitSettings {
            rate: 1,
            burst: 3,
            ip_rate: 0,
            ip_burst: 1,
            trusted_proxies: networks(trusted).unwrap(),
        })
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let h = forwarded("198.51.100.1, 203.0.113.7");
        // Not trusted: whatever the header says, the peer is the client.
        assert_eq!(limits("").client_ip(proxy, &h), proxy);
        // Trusted: the nearest address the proxy heard from; the spoofable left part is not.
        assert_eq!(limits("10.0.0.0/8").client_ip(proxy, &h), client);
        // A client talking to us directly cannot pose as someone else.
        assert_eq!(limits("10.0.0.0/8").client_ip(client, &h), client);
        // Two trusted proxies in a row are both skipped.
        let h = forwarded("203.0.113.7, 10.0.0.9");
        assert_eq!(limits("10.0.0.0/8").client_ip(proxy, &h), client);
    }

    #[test]
    fn a_burst_passes_and_the_next_call_is_told_when_to_come_back() {
        let l = limits("");
        let caller = Caller::Guest {
            session: "s".into(),
        };
        for _ in 0..3 {
            assert!(l.charge_caller(&caller).is_ok());
        }
        let wait = l.charge_caller(&caller).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another caller has its own bucket; the IP limit is off.
        let other = Caller::Guest {
            session: "t".into(),
        };
        assert!(l.charge_caller(&other).is_ok());
        assert!(l.charge_ip(IpAddr::from([1, 2, 3, 4]), 1000).is_ok());
    }

    #[test]
    fn networks_and_addresses_parse_and_nonsense_does_not() {
        assert_eq!(networks("").unwrap(), Vec::<IpNet>::new());
        assert_eq!(networks("10.0.0.0/8, ::1").unwrap().len(), 2);
        assert!(networks("proxy.local").is_err());
    }
}
