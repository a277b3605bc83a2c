//! Failed sign-ins, counted so that a guesser is slowed down without locking the owner out.
//!
//! A failure is charged per (email, network) — strict — and per email from every network
//! together — loose, so that many networks together still get only so many guesses. Only
//! failures count: an attempt takes its charge before the password is checked (so that many
//! guesses sent at once cannot all pass the check) and gets it back when the password was
//! right or could not be checked. A network the account signed in from lately is familiar:
//! guesses from elsewhere that spend the loose bound do not shut it out.
//!
//! Each bound is a GCRA bucket (as `governor` keeps), here by hand because `governor` cannot
//! give a charge back.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// Failures from one network for one email: 10 at once, then one every 30 s.
const PER_EMAIL_AND_NETWORK: Rate = Rate::new(10, Duration::from_secs(30));
/// Failures for one email from all networks together: 100 at once, then 100 an hour.
const PER_EMAIL: Rate = Rate::new(100, Duration::from_secs(36));
/// How long a sign-in makes its network familiar.
const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Familiar networks remembered at most (each one took a right password to make); past this,
/// new ones are not remembered until old ones lapse.
const MAX_FAMILIAR: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Rate {
    burst: u32,
    every: Duration,
}

impl Rate {
    const fn new(burst: u32, every: Duration) -> Self {
        Self { burst, every }
    }
}

/// The theoretical arrival time of each key's next charge (GCRA): a key with none is full.
struct Buckets<K>(HashMap<K, Instant>);

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// Whether one more charge fits; `Err` holds how long until it would.
    fn fits(&self, key: &K, rate: Rate, now: Instant) -> Result<Instant, Duration> {
        let next = self.0.get(key).map_or(now, |t| (*t).max(now)) + rate.every;
        let limit = now + rate.every * rate.burst;
        if next > limit {
            Err(next - limit)
        } else {
            Ok(next)
        }
    }

    fn give_back(&mut self, key: &K, rate: Rate) {
        if let Some(at) = self.0.get_mut(key) {
            if let Some(earlier) = at.checked_sub(rate.every) {
                *at = earlier;
            }
        }
    }

    fn forget_full(&mut self, now: Instant) {
        self.0.retain(|_, at| *at > now);
        self.0.shrink_to_fit();
    }
}

#[derive(Default)]
struct Tables {
    pair: Buckets<(String, IpAddr)>,
    email: Buckets<String>,
    familiar: HashMap<(String, IpAddr), Instant>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

#[derive(Default)]
pub struct SignInFailures(Mutex<Tables>);

/// A sign-in attempt whose failure has been charged ahead; settle it with its outcome.
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    email: String,
    network: IpAddr,
    /// Whether the loose per-email bound was charged too (not from a familiar network).
    overall: bool,
}

impl SignInFailures {
    /// Charges a failure of `email` (normalised by the caller) from `network` ahead of the
    /// check, or says how long to wait.
    pub fn attempt(&self, email: String, network: IpAddr) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let pair = (email, network);
        let pair_next = t.pair.fits(&pair, PER_EMAIL_AND_NETWORK, now)?;
        let familiar = t.familiar.get(&pair).is_some_and(|until| *until > now);
        let email_next = if familiar {
            None
        } else {
            Some(t.email.fits(&pair.0, PER_EMAIL, now)?)
        };
        t.pair.0.insert(pair.clone(), pair_next);
        if let Some(next) = email_next {
            t.email.0.insert(pair.0.clone(), next);
        }
        let (email, network) = pair;
        Ok(Attempt {
            email,
            network,
            overall: !familiar,
        })
    }

    /// The password was right: nothing was a failure, and the network is now familiar.
    pub fn succeeded(&self, attempt: Attempt) {
        let now = Instant::now();
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let pair = self.give_back(&mut t, attempt);
        if t.familiar.len() < MAX_FAMILIAR || t.familiar.contains_key(&pair) {
            t.familiar.insert(pair, now + FAMILIAR_FOR);
        }
    }

    /// The password could not be checked (the server was busy, or failed): not a failure.
    pub fn unjudged(&self, attempt: Attempt) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        self.give_back(&mut t, attempt);
    }

    fn give_back(&self, t: &mut Tables, attempt: Attempt) -> (String, IpAddr) {
        let pair = (attempt.email, attempt.network);
        t.pair.give_back(&pair, PER_EMAIL_AND_NETWORK);
        if attempt.overall {
            t.email.give_back(&pair.0, PER_EMAIL);
        }
        pair
    }

    /// Forgets buckets that are full again and familiar networks that have lapsed.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.pair.forget_full(now);
        t.email.forget_full(now);
        t.familiar.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(n: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, n])
    }

    fn fail(f: &SignInFailures, email: &str, network: IpAddr) -> Result<(), Duration> {
        f.attempt(email.into(), network).map(drop)
    }

    #[test]
    fn failures_from_one_network_stop_there_and_the_owner_still_gets_in_from_another() {
        let f = SignInFailures::default();
        for _ in 0..10 {
            assert!(fail(&f, "v@x", net(1)).is_ok());
        }
        let wait = fail(&f, "v@x", net(1)).unwrap_err();
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        let owner = f.attempt("v@x".into(), net(2)).expect("another network");
        f.succeeded(owner);
        // A right password costs nothing: the owner signs in as often as they like.
        for _ in 0..50 {
            let owner = f.attempt("v@x".into(), net(2)).expect("still");
            f.succeeded(owner);
        }
        // Another email from the guesser's network has its own bound.
        assert!(fail(&f, "w@x", net(1)).is_ok());
    }

    #[test]
    fn many_networks_together_meet_the_loose_bound_but_a_familiar_network_does_not() {
        let f = SignInFailures::default();
        let owner = f.attempt("v@x".into(), net(250)).expect("first");
        f.succeeded(owner);
        let mut refused = 0;
        for n in 0..200u8 {
            refused += usize::from(fail(&f, "v@x", net(n % 200)).is_err());
        }
        assert_eq!(refused, 100, "100 failures pass from all networks together");
        assert!(
            fail(&f, "v@x", net(201)).is_err(),
            "a new network is refused too"
        );
        // The owner's network is familiar: the guesses elsewhere do not shut it out.
        let owner = f.attempt("v@x".into(), net(250)).expect("familiar");
        f.succeeded(owner);
    }

    #[test]
    fn an_attempt_that_could_not_be_judged_is_given_back() {
        let f = SignInFailures::default();
        for _ in 0..100 {
            let a = f
                .attempt("v@x".into(), net(1))
                .expect("given back each time");
            f.unjudged(a);
        }
        f.forget_idle();
        assert!(f.0.lock().unwrap().pair.0.is_empty());
    }
}
