//! Passwords: Argon2id with the `argon2` crate's defaults, which are OWASP's first
//! recommendation (19 MiB of memory, 2 passes, 1 lane). Hashing is deliberately slow and
//! memory-hungry, so it runs on the blocking pool, only a few at a time, behind a queue of
//! bounded length: past it the answer is "busy, come back" (429) rather than a wait that
//! grows with the flood. Sign-ins and sign-ups queue apart: sign-ups may use only some of the
//! hashing slots, so a flood of sign-ups never keeps a person from signing in.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Hashes computed at once; more wait their turn.
const AT_ONCE: usize = 2;
/// Of those, the most that sign-ups may take: the rest stay free for sign-ins.
const SIGN_UPS_AT_ONCE: usize = 1;
/// Sign-ins waiting or hashing at most: a few seconds of work at the slowest.
const SIGN_INS_QUEUED: usize = 64;
/// Sign-ups waiting or hashing at most.
const SIGN_UPS_QUEUED: usize = 8;

/// Who a hash is for, which decides its queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Signing in, and the operator's commands.
    SignIn,
    /// Making an account from the web.
    SignUp,
}

/// The queue was full: nothing was hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password hashes waiting")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    sign_up_slots: Arc<Semaphore>,
    queued: Arc<[AtomicUsize; 2]>,
    /// Checked against when the email is unknown, so a wrong email costs what a wrong
    /// password costs and the answer's timing tells nothing.
    decoy: Arc<str>,
}

/// A place in a lane's queue, given up when the hash is done or its caller gone.
struct Queued(Arc<[AtomicUsize; 2]>, usize);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0[self.1].fetch_sub(1, Ordering::SeqCst);
    }
}

impl Passwords {
    pub fn new() -> Result<Self, String> {
        let decoy = hash_now(&uuid::Uuid::new_v4().to_string())?;
        Ok(Self {
            slots: Arc::new(Semaphore::new(AT_ONCE)),
            sign_up_slots: Arc::new(Semaphore::new(SIGN_UPS_AT_ONCE)),
            queued: Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]),
            decoy: decoy.into(),
        })
    }

    pub async fn hash(&self, password: &str, lane: Lane) -> Result<String, HashError> {
        let password = password.to_string();
        self.run(lane, move || hash_now(&password))
            .await?
            .map_err(HashError::Failed)
    }

    /// Whether `password` matches `stored`; with `stored` unknown, checks a decoy and says no.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.decoy.to_string(), str::to_string);
        let password = password.to_string();
        let matches = self
            .run(Lane::SignIn, move || {
                PasswordHash::new(&stored).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (index, bound) = match lane {
            Lane::SignIn => (0, SIGN_INS_QUEUED),
            Lane::SignUp => (1, SIGN_UPS_QUEUED),
        };
        let queued = Queued(self.queued.clone(), index);
        if self.queued[index].fetch_add(1, Ordering::SeqCst) >= bound {
            return Err(HashError::Busy);
        }
        let lane_permit: Option<OwnedSemaphorePermit> = match lane {
            Lane::SignIn => None,
            Lane::SignUp => Some(acquire(&self.sign_up_slots).await?),
        };
        let permit = acquire(&self.slots).await?;
        // The permits and the place in the queue go with the work, not with the caller: a
        // caller that hangs up does not free a slot while its hash still runs.
        tokio::task::spawn_blocking(move || {
            let done = work();
            drop((permit, lane_permit, queued));
            done
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))
    }
}

async fn acquire(semaphore: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, HashError> {
    semaphore
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| HashError::Failed(e.to_string()))
}

fn hash_now(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_matches_its_hash_and_nothing_else() {
        let passwords = Passwords::new().unwrap();
        let stored = passwords.hash("correct horse", Lane::SignIn).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let verify = |p: &'static str, s: Option<String>| {
            let passwords = passwords.clone();
            async move { passwords.verify(p, s.as_deref()).await.unwrap() }
        };
        assert!(verify("correct horse", Some(stored.clone())).await);
        assert!(!verify("correct horsf", Some(stored)).await);
        assert!(!verify("correct horse", None).await);
        assert!(!verify("correct horse", Some("not a hash".into())).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_sign_ups_is_turned_away_and_leaves_sign_ins_a_slot() {
        let passwords = Passwords::new().unwrap();
        let flood: Vec<_> = (0..40)
            .map(|_| {
                let p = passwords.clone();
                tokio::spawn(async move { p.hash("a new password", Lane::SignUp).await })
            })
            .collect();
        // The flood has its queue filled (it is admitted in order, so once one is refused the
        // rest of the queue is taken).
        let stored = passwords.hash("mine", Lane::SignIn).await.unwrap();
        let began = std::time::Instant::now();
        assert!(passwords.verify("mine", Some(&stored)).await.unwrap());
        let took = began.elapsed();
        let mut busy = 0;
        for f in flood {
            busy += usize::from(matches!(f.await.unwrap(), Err(HashError::Busy)));
        }
        assert!(busy >= 40 - SIGN_UPS_QUEUED, "{busy} of 40 turned away");
        // One sign-up hash at most ran beside it.
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        assert_eq!(passwords.queued[0].load(Ordering::SeqCst), 0);
        assert_eq!(passwords.queued[1].load(Ordering::SeqCst), 0);
    }
}
