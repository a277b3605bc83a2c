//! Passwords: Argon2id with the `argon2` crate's defaults, which are OWASP's first
//! recommendation (19 MiB of memory, 2 passes, 1 lane). Hashing is deliberately slow and
//! memory-hungry, so it runs on the blocking pool and only a few at a time: a flood of
//! sign-ins waits instead of exhausting memory.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes computed at once; more wait their turn.
const AT_ONCE: usize = 2;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Checked against when the email is unknown, so a wrong email costs what a wrong
    /// password costs and the answer's timing tells nothing.
    decoy: Arc<str>,
}

impl Passwords {
    pub fn new() -> Result<Self, String> {
        let decoy = hash_now(&uuid::Uuid::new_v4().to_string())?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(AT_ONCE)),
            decoy: decoy.into(),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, String> {
        let password = password.to_string();
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `stored`; with `stored` unknown, checks a decoy and says no.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.decoy.to_string(), str::to_string);
        let password = password.to_string();
        let matches = self
            .run(move || {
                PasswordHash::new(&stored).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await
            .unwrap_or(false);
        known && matches
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| e.to_string())
    }
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
        let stored = passwords.hash("correct horse").await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(passwords.verify("correct horse", Some(&stored)).await);
        assert!(!passwords.verify("correct horsf", Some(&stored)).await);
        assert!(!passwords.verify("correct horse", None).await);
        assert!(!passwords.verify("correct horse", Some("not a hash")).await);
    }
}
