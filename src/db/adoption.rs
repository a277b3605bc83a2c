//! Signing in hands a guest's uploads to the account — as many as fit. Each is taken, oldest
//! first, only if the account's quota and its limit of unfinished uploads still hold with it;
//! the rest stay the guest's. The check and the handing over happen in the sign-in's
//! [`super::write`] transaction, the one every upload admission queues on, so no start
//! running at the same moment can slip past either limit beside them.

use super::{Conn, DbResult};
use std::collections::HashSet;

/// Whose uploads to take, and the limit of unfinished uploads the account has.
#[derive(Clone, Copy, Debug)]
pub struct Guest<'a> {
    /// The guest's `owner` (`guest:<session>`).
    pub owner: &'a str,
    pub max_active: u64,
}

/// What stayed with the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stayed {
    pub files: u64,
    pub bytes: u64,
    pub over_quota: bool,
    pub over_active: bool,
}

const OVER_QUOTA: i64 = 1;
const OVER_ACTIVE: i64 = 2;

impl Stayed {
    /// As the session row keeps it.
    pub fn reasons(&self) -> i64 {
        (if self.over_quota { OVER_QUOTA } else { 0 })
            | (if self.over_active { OVER_ACTIVE } else { 0 })
    }

    pub fn from_row((files, bytes, reasons): (i64, i64, i64)) -> Self {
        Self {
            files: u64::try_from(files).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
            over_quota: reasons & OVER_QUOTA != 0,
            over_active: reasons & OVER_ACTIVE != 0,
        }
    }
}

/// Moves what fits of `guest`'s uploads to the account `account_id`, inside `tx` (a
/// [`super::write`] transaction). Closed uploads (aborted, rejected, expired) hold no bytes
/// and go with the rest, so the library keeps saying what became of them.
pub async fn adopt(
    tx: &mut Conn,
    guest: Guest<'_>,
    account_id: &str,
    now: i64,
) -> DbResult<Stayed> {
    let account = format!("account:{account_id}");
    let (quota, used, active): (i64, i64, i64) = sqlx::query_as(concat!(
        "SELECT COALESCE((SELECT quota FROM accounts WHERE id = $1), 0), ",
        super::uploads::held_bytes!("owner", "$2"),
        ", (SELECT COUNT(*) FROM uploads WHERE owner = $2 AND status = 'uploading')"
    ))
    .bind(account_id)
    .bind(&account)
    .fetch_one(&mut *tx)
    .await?;
    let held: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT id, object_key, size, status FROM uploads
         WHERE owner = $1 AND status IN ('uploading', 'uploaded') ORDER BY created_at, id",
    )
    .bind(guest.owner)
    .fetch_all(&mut *tx)
    .await?;
    // An object the account holds already costs it nothing more (the quota counts each
    // stored object once, as `held` does).
    let shared: Vec<(String, i64)> = sqlx::query_as(
        "SELECT DISTINCT a.object_key, a.size FROM uploads a JOIN uploads g
           ON g.object_key = a.object_key AND g.size = a.size
         WHERE a.owner = $1 AND g.owner = $2
           AND a.status IN ('uploading', 'uploaded') AND g.status IN ('uploading', 'uploaded')",
    )
    .bind(&account)
    .bind(guest.owner)
    .fetch_all(&mut *tx)
    .await?;
    let mut objects: HashSet<(String, i64)> = shared.into_iter().collect();
    let max_active = i64::try_from(guest.max_active).unwrap_or(i64::MAX);
    let (mut used, mut active) = (used, active);
    let mut stayed = Stayed::default();
    let mut taken = Vec::with_capacity(held.len());
    for (id, key, size, status) in held {
        let object = (key, size);
        let cost = if objects.contains(&object) { 0 } else { size };
        let unfinished = status == "uploading";
        let fits_quota = used.saturating_add(cost) <= quota;
        let fits_active = !unfinished || active < max_active;
        if fits_quota && fits_active {
            used = used.saturating_add(cost);
            active += i64::from(unfinished);
            objects.insert(object);
            taken.push(id);
        } else {
            stayed.files += 1;
            stayed.bytes += u64::try_from(size).unwrap_or(0);
            stayed.over_quota |= !fits_quota;
            stayed.over_active |= fits_quota && !fits_active;
        }
    }
    // No longer a guest's: they stop counting against the guests of its network.
    for id in &taken {
        sqlx::query("UPDATE uploads SET owner = $1, guest_net = NULL WHERE id = $2")
            .bind(&account)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let closed: Vec<String> = sqlx::query_scalar(
        "UPDATE uploads SET owner = $1, guest_net = NULL
         WHERE owner = $2 AND status NOT IN ('uploading', 'uploaded') RETURNING id",
    )
    .bind(&account)
    .bind(guest.owner)
    .fetch_all(&mut *tx)
    .await?;
    // The account's other tabs and devices show them at once.
    for id in taken.iter().chain(&closed) {
        super::views::changed(tx, id, now).await?;
    }
    Ok(stayed)
}
