//! Admission: whether an owner (and a guest's network) may start more uploads, and the
//! insert that takes them in only if so.

use super::*;

/// What an owner may hold: bytes kept or on their way, and unfinished uploads; for a guest,
/// also what all guests of its network may hold together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub quota: u64,
    pub max_active: u64,
    /// Uploads of any status the owner may have.
    pub max_files: u64,
    pub network: Option<NetworkAllowance>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkAllowance {
    /// An IPv4 address, or an IPv6 /64.
    pub key: String,
    pub quota: u64,
    /// Uploads of any status all guests of the network may have.
    pub max_files: u64,
}

/// Why a new upload was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its size on top of `used` (kept and reserved) would pass the quota.
    Quota { used: u64 },
    /// The owner has `active` unfinished uploads, the most allowed.
    Active { active: u64 },
    /// Its size on top of what the guests of its network keep (`used`) would pass their quota.
    Network { used: u64 },
    /// The owner, or the guests of its network, have as many uploads as they may.
    Files,
}

/// New uploads in one write transaction, each admitted only if it fits the owner's allowance
/// beside everything the owner holds at that instant, the batch's earlier files included.
/// The check and the insert are one statement in a transaction that holds the owner and the
/// guest's network (see [`crate::db::WriteTx::hold`]), so concurrent starts of the same owner
/// or network are serialised: together they can never pass the quota. Each row
/// carries the checksum its only part is signed for when the browser sent one (a starting
/// upload has no part signed yet, so there is no conflict).
pub async fn insert_many(
    pool: &Pool,
    rows: &[(&UploadRow, Option<&str>)],
    allowance: &Allowance,
) -> DbResult<Vec<Result<(), Refused>>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let limit = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let quota = limit(allowance.quota);
    let max_active = limit(allowance.max_active);
    let net = allowance.network.as_ref().map(|n| n.key.as_str());
    let net_quota = allowance
        .network
        .as_ref()
        .map_or(i64::MAX, |n| limit(n.quota));
    let max_files = limit(allowance.max_files);
    let net_max_files = allowance
        .network
        .as_ref()
        .map_or(i64::MAX, |n| limit(n.max_files));
    let mut holds: Vec<&str> = rows.iter().map(|(row, _)| row.owner.as_str()).collect();
    let net_hold = net.map(network_key);
    holds.extend(net_hold.as_deref());
    let mut tx = pool.writer().begin_holding(&holds).await?;
    let mut admitted = Vec::with_capacity(rows.len());
    for (row, first_part) in rows {
        let query = sqlx::query(concat!(
            "INSERT INTO uploads (",
            columns!(),
            ", guest_net) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16 WHERE ",
            held_bytes!("owner", "$2"),
            " + $6 <= $17 ",
            "AND (SELECT COUNT(*) FROM uploads WHERE owner = $2 AND status = 'uploading') < $18 ",
            "AND ($16 IS NULL OR ",
            held_bytes!("net", "$16"),
            " + $6 <= $19) AND ",
            held_files!("owner", "$2"),
            " < $20 AND ($16 IS NULL OR ",
            held_files!("net", "$16"),
            " < $21)"
        ));
        let done = bind_row(query, row)
            .bind(net)
            .bind(quota)
            .bind(max_active)
            .bind(net_quota)
            .bind(max_files)
            .bind(net_max_files)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            let files = (max_files, net_max_files);
            let refused = refusal(&mut tx, row, (quota, max_active), files, net).await?;
            admitted.push(Err(refused));
            continue;
        }
        if let Some(checksum) = first_part {
            sqlx::query(
                "INSERT INTO upload_parts (upload_id, part_number, checksum) VALUES ($1, 1, $2)",
            )
            .bind(&row.id)
            .bind(checksum)
            .execute(&mut *tx)
            .await?;
        }
        // Started: the owner's other tabs show it at once.
        // What was inserted is what the page shows: no read back.
        crate::db::events::record_view(&mut tx, &row.owner, row.view(), row.created_at).await?;
        admitted.push(Ok(()));
    }
    tx.commit().await?;
    Ok(admitted)
}

/// The key a guest network's admissions serialise on (beside the owners', which name no
/// network).
pub fn network_key(net: &str) -> String {
    format!("net:{net}")
}

/// Which limit a refused row met, read inside the transaction that refused it.
async fn refusal(
    tx: &mut Conn,
    row: &UploadRow,
    (quota, max_active): (i64, i64),
    (max_files, net_max_files): (i64, i64),
    net: Option<&str>,
) -> DbResult<Refused> {
    let (used, active, files, net_files): (i64, i64, i64, i64) = sqlx::query_as(concat!(
        "SELECT ",
        held_bytes!("owner", "$1"),
        ", (SELECT COUNT(*) FROM uploads WHERE owner = $1 AND status = 'uploading'), ",
        held_files!("owner", "$1"),
        ", ",
        held_files!("net", "$2"),
    ))
    .bind(&row.owner)
    .bind(net)
    .fetch_one(&mut *tx)
    .await?;
    if files >= max_files || net.is_some() && net_files >= net_max_files {
        return Ok(Refused::Files);
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    if active >= max_active {
        return Ok(Refused::Active {
            active: count(active),
        });
    }
    if used.saturating_add(row.size) > quota || net.is_none() {
        return Ok(Refused::Quota { used: count(used) });
    }
    let net_used: i64 = sqlx::query_scalar(concat!("SELECT ", held_bytes!("net", "$1")))
        .bind(net)
        .fetch_one(&mut *tx)
        .await?;
    Ok(Refused::Network {
        used: count(net_used),
    })
}
