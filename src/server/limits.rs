//! How fast anyone may ask: token buckets (GCRA, the `governor` crate) per client IP and per
//! caller (a guest session, or an account across all its sessions and tokens) on every server
//! function, and tighter ones on sign-in attempts. Past a limit the answer is 429 with
//! `Retry-After`, which the upload engine honours.
//!
//! The client's IP is the connection's peer, or — only when that peer is a proxy named in
//! `HOIST_TRUSTED_PROXIES` — the nearest address in `X-Forwarded-For` that is not one of them.
//! Every per-client bucket is keyed by the client's network ([`network_key`]: an IPv4 address
//! or an IPv6 /64), since a host holds a whole /64 and could otherwise take a fresh bucket for
//! each of its addresses.

use super::{
    config::parse,
    failures::{Attempt, SignInFailures},
    guard::error_response,
    state::AppState,
};
use crate::{
    accounts::{network_key, Caller},
    error::ApiError,
};
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
    /// Sign-ups per hour from one network (an IPv4 address or an IPv6 /64), after
    /// `HOIST_SIGN_UP_BURST`; 0 turns the limit off.
    #[arg(long, env = "HOIST_SIGN_UP_LIMIT", default_value = "5", value_parser = parse::number_in(0..=1_000_000u32))]
    pub sign_up_rate: u32,
    /// Sign-ups from one network at once before the hourly rate applies.
    #[arg(long, env = "HOIST_SIGN_UP_BURST", default_value = "10", value_parser = parse::number_in(1..=1_000_000u32))]
    pub sign_up_burst: u32,
}

/// Sign-in attempts, right or wrong, from one network: 30 at once, then one every 2 s — each
/// costs a password hash. Failures are counted apart, per email ([`SignInFailures`]).
const SIGN_IN_PER_NETWORK: (u32, Duration) = (30, Duration::from_secs(2));

/// The connection's peer, put on each request by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The client's address as far as we can believe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub struct Limits {
    per_caller: Option<DefaultKeyedRateLimiter<String>>,
    /// Keyed by network, as every bucket below keyed by an address.
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    sign_in_failures: SignInFailures,
    sign_in_network: DefaultKeyedRateLimiter<IpAddr>,
    sign_up_network: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trusted: Vec<IpNet>,
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            per_caller: bucket(settings.rate, settings.burst),
            per_ip: bucket(settings.ip_rate, settings.ip_burst),
            sign_in_failures: SignInFailures::default(),
            sign_in_network: slow(SIGN_IN_PER_NETWORK),
            sign_up_network: NonZeroU32::new(settings.sign_up_rate).map(|_| {
                slow((
                    settings.sign_up_burst,
                    Duration::from_secs(3600) / settings.sign_up_rate,
                ))
            }),
            trusted: settings.trusted_proxies.clone(),
        }
    }

    /// Charges `cost` calls to the bucket of the IP's network: `Err` holds how long to wait.
    pub fn charge_ip(&self, ip: IpAddr, cost: u32) -> Result<(), Duration> {
        self.per_ip
            .as_ref()
            .map_or(Ok(()), |l| charge(l, &network_key(ip), cost))
    }

    fn charge_caller(&self, caller: &Caller) -> Result<(), Duration> {
        self.per_caller
            .as_ref()
            .map_or(Ok(()), |l| charge(l, &caller.owner(), 1))
    }

    /// One sign-in attempt for `email` from `ip`, charged as a failure until it is settled
    /// with [`Self::sign_in_succeeded`] or [`Self::sign_in_unjudged`].
    pub fn sign_in_attempt(&self, email: &str, ip: IpAddr) -> Result<Attempt, Duration> {
        let network = network_key(ip);
        charge(&self.sign_in_network, &network, 1)?;
        self.sign_in_failures
            .attempt(email.trim().to_lowercase(), network)
    }

    pub fn sign_in_succeeded(&self, attempt: Attempt) {
        self.sign_in_failures.succeeded(attempt);
    }

    /// The password was wrong: the failure charged ahead stays charged.
    pub fn sign_in_failed(&self, _attempt: Attempt) {}

    /// The password was never checked: the attempt was no failure.
    pub fn sign_in_unjudged(&self, attempt: Attempt) {
        self.sign_in_failures.unjudged(attempt);
    }

    /// One sign-up from `ip`'s network.
    pub fn sign_up_attempt(&self, ip: IpAddr) -> Result<(), Duration> {
        self.sign_up_network
            .as_ref()
            .map_or(Ok(()), |l| charge(l, &network_key(ip), 1))
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
        self.sign_in_failures.forget_idle();
        self.sign_in_network.retain_recent();
        if let Some(l) = &self.sign_up_network {
            l.retain_recent();
        }
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`; the proxies are named
        // as IPv4.
        let peer = peer.to_canonical();
        let trusted = |ip: &IpAddr| self.trusted.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        // Each proxy appends the address it heard from: walk back from the nearest. The first
        // address no trusted proxy could be is the client. An entry that does not parse was
        // written by the hop we reached last (or by whoever it let write it), so nothing left
        // of it can be believed: that hop is the client. A header that is not text is junk too.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .collect();
        let mut nearest = peer;
        for entry in entries.into_iter().rev() {
            match address(entry) {
                Some(ip) if trusted(&ip) => nearest = ip,
                Some(ip) => return ip,
                None => return nearest,
            }
        }
        nearest
    }
}

/// An `X-Forwarded-For` entry: an address, or an address with a port as some proxies write it.
fn address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip: IpAddr| ip.to_canonical())
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

/// A server-function call, or any call on Companion's `/s3` routes (each signs, lists or
/// starts something): what the limits count.
fn is_call(request: &Request) -> bool {
    let path = request.uri().path();
    (request.method() == Method::POST && path.starts_with("/api/")) || path.starts_with("/s3/")
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

/// Rate-limit buckets that have filled up again are forgotten, on the background schedule, so
/// the limiters remember only recent clients.
pub struct IdleBuckets(pub std::sync::Arc<Limits>);

impl crate::background::Pass for IdleBuckets {
    const NAME: &'static str = "rate-limit buckets";

    async fn pass(&self) -> Result<(), String> {
        self.0.forget_idle();
        Ok(())
    }
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
            sign_up_rate: 5,
            sign_up_burst: 10,
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
        // A proxy seen through a dual-stack socket is still the proxy.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(
            limits("10.0.0.0/8").client_ip(mapped, &forwarded("203.0.113.7")),
            client
        );
        // A port, as some proxies add it, is no junk.
        let h = forwarded("198.51.100.1, 203.0.113.7:4431");
        assert_eq!(limits("10.0.0.0/8").client_ip(proxy, &h), client);
    }

    #[test]
    fn nothing_left_of_an_entry_that_does_not_parse_is_believed() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let inner: IpAddr = "10.0.0.9".parse().unwrap();
        let l = limits("10.0.0.0/8");
        for junk in [
            "198.51.100.7, x",
            "198.51.100.7,",
            "198.51.100.7, , ",
            "198.51.100.7, 2001:db8::zz",
        ] {
            assert_eq!(l.client_ip(proxy, &forwarded(junk)), proxy, "{junk:?}");
        }
        // Junk behind a trusted inner proxy: the inner proxy wrote it, so it is the client.
        let h = forwarded("198.51.100.7, x, 10.0.0.9");
        assert_eq!(l.client_ip(proxy, &h), inner);
        // Junk left of the client the proxy named does not matter.
        let h = forwarded("x, 198.51.100.7");
        assert_eq!(
            l.client_ip(proxy, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Two headers read as one list, the later nearer.
        let mut h = forwarded("198.51.100.7");
        h.append("x-forwarded-for", HeaderValue::from_static("junk"));
        assert_eq!(l.client_ip(proxy, &h), proxy);
        // A header that is not text names no one.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"198.51.100.7, \xff").unwrap(),
        );
        assert_eq!(l.client_ip(proxy, &h), proxy);
    }

    #[test]
    fn every_address_of_one_ipv6_64_shares_one_bucket() {
        let l = Limits::new(&LimitSettings {
            rate: 0,
            burst: 1,
            ip_rate: 1,
            ip_burst: 3,
            trusted_proxies: Vec::new(),
            sign_up_rate: 0,
            sign_up_burst: 1,
        });
        for n in 1..=3u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 1, 2, n, n, n, n]);
            assert!(l.charge_ip(ip, 1).is_ok());
        }
        assert!(l
            .charge_ip("2001:db8:1:2:ffff::1".parse().unwrap(), 1)
            .is_err());
        assert!(l.charge_ip("2001:db8:1:3::1".parse().unwrap(), 1).is_ok());
        // Sign-up off: never refused.
        assert!((0..100).all(|_| l.sign_up_attempt(IpAddr::from([1, 2, 3, 4])).is_ok()));
    }

    #[test]
    fn sign_ups_from_one_network_are_few() {
        let l = limits("");
        let ip = |n: u16| IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, n]);
        let passed = (0..30)
            .filter(|n| l.sign_up_attempt(ip(*n)).is_ok())
            .count();
        assert_eq!(passed, 10);
        let wait = l.sign_up_attempt(ip(99)).unwrap_err();
        assert!(wait > Duration::from_secs(600), "{wait:?}");
        assert!(l.sign_up_attempt(IpAddr::from([1, 2, 3, 4])).is_ok());
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
