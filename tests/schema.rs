//! The two databases' migrations describe one schema: the same tables, columns (with their
//! kind of value and whether they may be empty) and indexes, so that every statement the app
//! runs means the same on both.

use hoist::db::{self, testing};
use std::collections::BTreeSet;

/// `(table, column, kind, may be NULL)` and the named indexes.
type Schema = (BTreeSet<(String, String, String, bool)>, BTreeSet<String>);

async fn sqlite_schema(pool: &db::Pool) -> Schema {
    let columns: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, lower(p.type), p.\"notnull\", p.pk
         FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
    )
    .fetch_all(pool)
    .await
    .expect("SQLite's columns");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(pool)
    .await
    .expect("SQLite's indexes");
    let columns = columns
        .into_iter()
        // A primary key is never NULL, whatever SQLite's table_info says of a rowid alias.
        .map(|(table, column, kind, not_null, pk)| (table, column, kind, not_null == 0 && pk == 0))
        .collect();
    (columns, indexes.into_iter().collect())
}

async fn postgres_schema(pool: &db::Pool) -> Schema {
    let columns: Vec<(String, String, String, i32)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text,
           CASE data_type WHEN 'bigint' THEN 'integer' ELSE data_type::text END,
           CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL's columns");
    let indexes: Vec<String> = sqlx::query_scalar(
        // Not the indexes behind keys and UNIQUE constraints, which SQLite names itself.
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = 'public'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL's indexes");
    let columns = columns
        .into_iter()
        .map(|(table, column, kind, nullable)| (table, column, kind, nullable == 1))
        .collect();
    (columns, indexes.into_iter().collect())
}

#[tokio::test]
async fn both_databases_have_the_same_tables_columns_and_indexes_after_their_migrations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = db::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .expect("SQLite");
    let server = testing::required_postgres_server();
    let name = format!("hoist_schema_{}", uuid::Uuid::new_v4().simple());
    let postgres = db::connect(&testing::create_postgres_database(&server, &name).await)
        .await
        .expect("PostgreSQL");

    let (sqlite_columns, sqlite_indexes) = sqlite_schema(&sqlite).await;
    let (postgres_columns, postgres_indexes) = postgres_schema(&postgres).await;
    assert!(
        sqlite_columns.len() > 50 && sqlite_indexes.len() > 10,
        "read too little of SQLite's schema: {sqlite_columns:?} {sqlite_indexes:?}"
    );
    let only = |a: &BTreeSet<_>, b: &BTreeSet<_>| a.difference(b).cloned().collect::<Vec<_>>();
    assert!(
        sqlite_columns == postgres_columns,
        "columns only in SQLite: {:?}\ncolumns only in PostgreSQL: {:?}",
        only(&sqlite_columns, &postgres_columns),
        only(&postgres_columns, &sqlite_columns)
    );
    assert_eq!(sqlite_indexes, postgres_indexes, "named indexes");
}
