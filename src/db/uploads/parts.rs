//! The part ledger: which checksum each part was signed for.

use super::*;

/// Records the checksum each part is being signed for. Returns the parts already signed for
/// a different checksum; those are left as they were.
pub async fn record_part_checksums(
    pool: &Pool,
    upload_id: &str,
    parts: &[(u32, &str)],
) -> DbResult<Vec<u32>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    // One statement for the whole batch (at most MAX_SIGN_BATCH rows): on SQLite every
    // statement is a trip to the connection's thread and a turn at the write lock.
    let rows: Vec<String> = (0..parts.len())
        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO upload_parts (upload_id, part_number, checksum) VALUES {} \
         ON CONFLICT (upload_id, part_number) DO UPDATE SET checksum = upload_parts.checksum \
         RETURNING part_number, checksum",
        rows.join(", ")
    );
    let mut query = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql)).bind(upload_id);
    for &(part_number, checksum) in parts {
        query = query.bind(i64::from(part_number)).bind(checksum);
    }
    let recorded = query.fetch_all(pool.writer()).await?;
    Ok(parts
        .iter()
        .filter(|&&(n, checksum)| {
            recorded
                .iter()
                .any(|(m, held)| *m == i64::from(n) && held != checksum)
        })
        .map(|&(n, _)| n)
        .collect())
}

/// Signs a part for other content after all: the store refused (or never got) the first.
pub async fn replace_part_checksum(
    pool: &Pool,
    upload_id: &str,
    part_number: u32,
    checksum: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE upload_parts SET checksum = $1 WHERE upload_id = $2 AND part_number = $3")
        .bind(checksum)
        .bind(upload_id)
        .bind(i64::from(part_number))
        .execute(pool.writer())
        .await?;
    Ok(())
}
