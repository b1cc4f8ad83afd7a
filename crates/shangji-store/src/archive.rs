//! The portable archive: every table of the database — records, custom fields and values,
//! settings, users, teams, the whole history, everything the migrations create but sqlx's own
//! bookkeeping — in one zip file:
//!
//! - `manifest.json`: the archive format, the schema version (the latest migration applied),
//!   the app version, when, the dialect it came from, and per table its columns, row count and
//!   SHA-256;
//! - `tables/<table>.jsonl`: one JSON array per row, the columns in the order of their names,
//!   the rows in the order of the primary key (of every column where there is none).
//!
//! A value is written the same way whichever dialect holds it — integers, text, booleans as
//! 0 / 1, dates as `YYYY-MM-DD`, NULL as `null` — so the same data has the same checksum on
//! SQLite and on PostgreSQL (text is ordered bytewise on both). A table's checksum is the
//! SHA-256 of its file. The tables are found in the schema, so a new table is archived
//! without anything added here.
//!
//! Export reads in one snapshot (a read transaction on SQLite, `REPEATABLE READ` on
//! PostgreSQL) while the application runs on. Restore checks the manifest first (format,
//! schema version), loads an empty database in one transaction — tables in foreign-key order,
//! SQLite's checks deferred, a self-referencing table's rows parents first —, checking every
//! table's file against its count and checksum as it is read, so that the archive is read once
//! and nothing is committed unless all of it matched; moves the identity sequences past the
//! ids, and compares every table's count and checksum, read back from the database, with the
//! manifest. On SQLite the load sets the loaded tables' plain indexes and triggers aside and
//! puts them back before committing: the indexes are built once from all rows, and the tables
//! the triggers write are loaded from the archive like the others. On PostgreSQL, tables the
//! schema's own triggers write while others load (the directory version, the analytics
//! projection's dirty list) are loaded again after the others.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::db::{Db, Pool};
use crate::error::StoreError;

mod sqlite_file;

/// The archive format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// SQLite binds at most this many parameters per statement: binding numbered parameters
/// costs time quadratic in their number.
const SQLITE_PARAMETERS: usize = 400;
/// Rows per PostgreSQL insert (one JSON parameter).
const POSTGRES_ROWS: usize = 2_000;
/// The page cache of the connection loading SQLite, in KiB (the pool's connections keep
/// 8 MiB): the tables' pages written in the load's one transaction stay in memory.
const LOAD_CACHE_KIB: i64 = 256 * 1024;
/// Bytes of rows handed at once between the database side and the file side.
const CHUNK_BYTES: usize = 256 * 1024;

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The latest migration applied to the database it came from.
    pub schema_version: i64,
    pub app_version: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// `sqlite` or `postgres`.
    pub dialect: String,
    pub tables: Vec<TableSum>,
}

impl Manifest {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// One table: its columns (by name), rows and the SHA-256 of its rows as archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSum {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
    pub sha256: String,
}

/// A restore that went through: what was loaded.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read or write the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a shangji archive, or a damaged one: {0}")]
    NotAnArchive(String),
    #[error("the archive was altered or damaged: table {table} does not match its checksum")]
    Checksum { table: String },
    #[error("the archive is of format {found}, newer than this shangji reads ({supported}): upgrade shangji to restore it")]
    NewerFormat { found: u32, supported: u32 },
    #[error("the archive's schema version {found} is newer than this shangji's ({supported}): upgrade shangji to restore it")]
    NewerSchema { found: i64, supported: i64 },
    #[error("the target database is not empty (table {table} has {rows} rows): restore only into a new, empty database")]
    NotEmpty { table: String, rows: i64 },
    #[error("the archive does not fit the target database: {0}")]
    SchemaMismatch(String),
    #[error("the restored database differs from the archive: {0}")]
    Verification(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ArchiveError {
    fn from(e: sqlx::Error) -> Self {
        ArchiveError::Store(e.into())
    }
}

impl From<zip::result::ZipError> for ArchiveError {
    fn from(e: zip::result::ZipError) -> Self {
        match e {
            zip::result::ZipError::Io(io) => ArchiveError::Io(io),
            other => ArchiveError::NotAnArchive(other.to_string()),
        }
    }
}

/// A table as the schema describes it.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    /// By name.
    columns: Vec<String>,
    /// PostgreSQL's type of each column (`text`, `bigint`…); empty on SQLite.
    types: Vec<String>,
    /// The primary key's columns, else every column.
    order: Vec<String>,
    /// Tables this one refers to (itself excluded).
    refers_to: BTreeSet<String>,
    /// A column referring to another of the same table: (column, referred column).
    self_ref: Option<(String, String)>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The latest migration this build knows.
pub fn latest_schema_version() -> i64 {
    crate::db::latest_migration()
}

impl Db {
    /// The tables to archive, each referenced table before those referring to it.
    async fn archive_tables(&self) -> Result<Vec<Table>, ArchiveError> {
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        let mut keys: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        let mut refs: Vec<(String, String, String, String)> = Vec::new();
        match self.pool() {
            Pool::Sqlite(p) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?;
                for name in names {
                    let cols = sqlx::query("SELECT name, pk FROM pragma_table_info(?)")
                        .bind(&name)
                        .fetch_all(p)
                        .await?;
                    let mut t = new_table(&name);
                    for c in cols {
                        let col: String = c.try_get("name")?;
                        let pk: i64 = c.try_get("pk")?;
                        if pk > 0 {
                            keys.entry(name.clone())
                                .or_default()
                                .push((pk, col.clone()));
                        }
                        t.columns.push(col);
                    }
                    let fks = sqlx::query(
                        "SELECT \"table\" AS ref_table, \"from\" AS col, \"to\" AS ref_col FROM pragma_foreign_key_list(?)",
                    )
                    .bind(&name)
                    .fetch_all(p)
                    .await?;
                    for f in fks {
                        let ref_col: Option<String> = f.try_get("ref_col")?;
                        refs.push((
                            name.clone(),
                            f.try_get("col")?,
                            f.try_get("ref_table")?,
                            ref_col.unwrap_or_else(|| "id".into()),
                        ));
                    }
                    tables.insert(name, t);
                }
            }
            Pool::Postgres(p) => {
                let cols = sqlx::query(
                    "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS ty
                     FROM information_schema.columns c
                     JOIN information_schema.tables t
                       ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                       AND c.table_name <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?;
                let mut types: HashMap<(String, String), String> = HashMap::new();
                for c in cols {
                    let (name, col): (String, String) = (c.try_get("t")?, c.try_get("c")?);
                    types.insert((name.clone(), col.clone()), c.try_get("ty")?);
                    tables
                        .entry(name.clone())
                        .or_insert_with(|| new_table(&name))
                        .columns
                        .push(col);
                }
                for t in tables.values_mut() {
                    t.columns.sort();
                    t.types = t
                        .columns
                        .iter()
                        .map(|c| types[&(t.name.clone(), c.clone())].clone())
                        .collect();
                }
                let pks = sqlx::query(
                    "SELECT cl.relname::text AS t, a.attname::text AS c, k.n AS n
                     FROM pg_constraint con
                     JOIN pg_class cl ON cl.oid = con.conrelid
                     CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                     WHERE con.contype = 'p' AND con.connamespace = current_schema()::regnamespace",
                )
                .fetch_all(p)
                .await?;
                for k in pks {
                    keys.entry(k.try_get("t")?)
                        .or_default()
                        .push((k.try_get("n")?, k.try_get("c")?));
                }
                let fks = sqlx::query(
                    "SELECT cl.relname::text AS t, a.attname::text AS c, rcl.relname::text AS rt, ra.attname::text AS rc
                     FROM pg_constraint con
                     JOIN pg_class cl ON cl.oid = con.conrelid
                     JOIN pg_class rcl ON rcl.oid = con.confrelid
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
                     JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1]
                     WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace",
                )
                .fetch_all(p)
                .await?;
                for f in fks {
                    refs.push((
                        f.try_get("t")?,
                        f.try_get("c")?,
                        f.try_get("rt")?,
                        f.try_get("rc")?,
                    ));
                }
            }
        }
        for t in tables.values_mut() {
            t.columns.sort();
            t.order = match keys.get_mut(&t.name) {
                Some(k) => {
                    k.sort();
                    k.iter().map(|(_, c)| c.clone()).collect()
                }
                None => t.columns.clone(),
            };
        }
        for (table, col, ref_table, ref_col) in refs {
            let Some(t) = tables.get_mut(&table) else {
                continue;
            };
            if table == ref_table {
                t.self_ref = Some((col, ref_col));
            } else {
                t.refers_to.insert(ref_table);
            }
        }
        Ok(in_reference_order(tables))
    }

    /// The migration version the database is at (0 when it was never migrated).
    async fn applied_version(&self) -> Result<i64, ArchiveError> {
        let exists: i64 = match self.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                    .fetch_one(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'")
                    .fetch_one(p)
                    .await?
            }
        };
        if exists == 0 {
            return Ok(0);
        }
        let v: Option<i64> = crate::on_pool!(self, p => sqlx::query_scalar(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success"
        )
        .fetch_one(p)
        .await?);
        Ok(v.unwrap_or(0))
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64, ArchiveError> {
        self.applied_version().await
    }

    /// Writes the whole database to `path` as an archive (through a temporary file beside it,
    /// renamed when complete), read in one snapshot.
    pub async fn export_archive(
        &self,
        path: &Path,
        app_version: &str,
        now: OffsetDateTime,
    ) -> Result<Manifest, ArchiveError> {
        let tables = self.archive_tables().await?;
        let schema_version = self.applied_version().await?;
        let manifest_of = |tables: Vec<TableSum>| Manifest {
            format: FORMAT_VERSION,
            schema_version,
            app_version: app_version.to_string(),
            created_at: crate::db::ms(now),
            dialect: self.dialect().to_string(),
            tables,
        };
        let partial = partial_path(path);
        let written = match sqlite_file::file_of(self).await? {
            Some(file) => {
                self.export_file(&file, &tables, &partial, manifest_of)
                    .await
            }
            None => self.export_streamed(&tables, &partial, manifest_of).await,
        };
        match written {
            Ok(m) => {
                std::fs::rename(&partial, path)?;
                Ok(m)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// A SQLite file's archive, read on connections of their own sharing one snapshot: the
    /// first one's tables go straight into the archive, each other's into a part of its own,
    /// copied in whole at the end.
    async fn export_file(
        &self,
        file: &Path,
        tables: &[Table],
        partial: &Path,
        manifest_of: impl FnOnce(Vec<TableSum>) -> Manifest,
    ) -> Result<Manifest, ArchiveError> {
        let conns = sqlite_file::snapshot(self, file, sqlite_file::CONNECTIONS).await?;
        let parts: Vec<PathBuf> = (1..conns.len()).map(|k| part_path(partial, k)).collect();
        let written = async {
            let mut zips = vec![new_zip(partial)?];
            for part in &parts {
                zips.push(new_zip(part)?);
            }
            let (sums, zips) = sqlite_file::dump(conns, tables, zips).await?;
            let manifest = manifest_of(sums);
            let bytes = manifest_bytes(&manifest)?;
            let parts = parts.clone();
            tokio::task::spawn_blocking(move || close_archive(zips, &parts, &bytes))
                .await
                .map_err(|e| ArchiveError::Io(std::io::Error::other(e.to_string())))??;
            Ok(manifest)
        }
        .await;
        for part in &parts {
            let _ = std::fs::remove_file(part);
        }
        written
    }

    /// An archive read in one transaction (PostgreSQL, an in-memory SQLite database), the
    /// lines written by a thread of its own.
    async fn export_streamed(
        &self,
        tables: &[Table],
        partial: &Path,
        manifest_of: impl FnOnce(Vec<TableSum>) -> Manifest,
    ) -> Result<Manifest, ArchiveError> {
        let (out, writer) = zip_writer(partial.to_path_buf());
        let manifest = self.dump_one(tables, Some(&out)).await.map(manifest_of);
        if let Ok(m) = &manifest {
            let _ = out.send(Chunk::Manifest(manifest_bytes(m)?)).await;
        }
        drop(out);
        let written = joined(writer).await;
        let manifest = manifest?;
        written?;
        Ok(manifest)
    }

    /// Every table's count and checksum as they stand, computed as an archive would be.
    pub async fn table_sums(&self) -> Result<Vec<TableSum>, ArchiveError> {
        let tables = self.archive_tables().await?;
        self.dump(&tables).await
    }

    /// Every table of `tables` read in one snapshot, each row's line hashed: a SQLite file
    /// on connections of its own, sharing the snapshot.
    async fn dump(&self, tables: &[Table]) -> Result<Vec<TableSum>, ArchiveError> {
        match sqlite_file::file_of(self).await? {
            Some(file) => {
                let conns = sqlite_file::snapshot(self, &file, sqlite_file::CONNECTIONS).await?;
                Ok(sqlite_file::dump(conns, tables, vec![]).await?.0)
            }
            None => self.dump_one(tables, None).await,
        }
    }

    /// Every table of `tables` read in one transaction, each row's line hashed and, with
    /// `out`, sent to the archive's writer.
    async fn dump_one(
        &self,
        tables: &[Table],
        out: Option<&mpsc::Sender<Chunk>>,
    ) -> Result<Vec<TableSum>, ArchiveError> {
        match self.pool() {
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let sums = dump_with::<sqlx::Sqlite>(&mut *tx, tables, out, false).await;
                tx.rollback().await?;
                sums
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let sums = dump_with::<sqlx::Postgres>(&mut *tx, tables, out, true).await;
                tx.rollback().await?;
                sums
            }
        }
    }

    /// Restores the archive at `path` into this database, which must be empty (only what
    /// the migrations put there); migrates it to the archive's schema version first when it
    /// is behind, and leaves it there (run the migrations afterwards to bring it up to date).
    pub async fn restore_archive(&self, path: &Path) -> Result<Restored, ArchiveError> {
        let manifest = {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || readable_manifest(&path))
                .await
                .map_err(|e| ArchiveError::Io(std::io::Error::other(e.to_string())))??
        };
        let at = self.applied_version().await?;
        if at > manifest.schema_version {
            return Err(ArchiveError::SchemaMismatch(format!(
                "the database is at schema version {at}, the archive at {}: restore into a new database",
                manifest.schema_version
            )));
        }
        if at < manifest.schema_version {
            self.migrate_to(manifest.schema_version).await?;
        }
        let tables = self.archive_tables().await?;
        self.check_empty(&tables).await?;
        check_fit(&manifest, &tables)?;
        self.load(path, &tables, &manifest).await?;
        self.reset_sequences().await?;
        // Tables the schema's triggers wrote while others loaded (on PostgreSQL, whose load
        // keeps its triggers) are loaded again; then they are compared again, and everything
        // when they have triggers of their own.
        let differing = differences(&manifest, &self.dump(&tables).await?);
        if !differing.is_empty() {
            let again: Vec<Table> = tables
                .iter()
                .filter(|t| differing.contains(&t.name))
                .cloned()
                .collect();
            self.load(path, &again, &manifest).await?;
            let triggered = self.tables_with_triggers().await?;
            let check = if again.iter().any(|t| triggered.contains(&t.name)) {
                &tables
            } else {
                &again
            };
            let still = differences(&manifest, &self.dump(check).await?);
            if !still.is_empty() {
                return Err(ArchiveError::Verification(format!(
                    "table(s) {} do not match the archive's counts and checksums",
                    still.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(Restored { manifest })
    }

    /// Refuses a database with rows beyond those a freshly migrated one has.
    async fn check_empty(&self, tables: &[Table]) -> Result<(), ArchiveError> {
        let fresh = Db::connect_and_migrate("sqlite::memory:").await?;
        for t in tables {
            let rows = self.count_rows(&t.name).await?;
            if rows == 0 {
                continue;
            }
            let seeded = fresh.count_rows(&t.name).await.unwrap_or(0);
            if rows > seeded {
                fresh.close().await;
                return Err(ArchiveError::NotEmpty {
                    table: t.name.clone(),
                    rows,
                });
            }
        }
        fresh.close().await;
        Ok(())
    }

    /// The tables that have triggers of their own (beside foreign keys).
    async fn tables_with_triggers(&self) -> Result<HashSet<String>, ArchiveError> {
        let names: Vec<String> = match self.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_scalar("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'")
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(
                    "SELECT DISTINCT cl.relname::text FROM pg_trigger tg JOIN pg_class cl ON cl.oid = tg.tgrelid
                     WHERE NOT tg.tgisinternal AND cl.relnamespace = current_schema()::regnamespace",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(names.into_iter().collect())
    }

    async fn count_rows(&self, table: &str) -> Result<i64, ArchiveError> {
        let sql = format!("SELECT COUNT(*) FROM {}", quote(table));
        Ok(crate::on_pool!(self, p => sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await?))
    }

    /// Loads `tables` from the archive in one transaction, emptying each first (the rows the
    /// migrations seed, or what triggers wrote), each table's file checked against the
    /// manifest as it is read: nothing is committed unless every table matched.
    async fn load(
        &self,
        path: &Path,
        tables: &[Table],
        manifest: &Manifest,
    ) -> Result<(), ArchiveError> {
        let sums: HashMap<&str, &TableSum> = manifest
            .tables
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let _writer = self.writer().await;
        match self.pool() {
            Pool::Sqlite(p) => {
                let mut conn = p.acquire().await?;
                let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                    .fetch_one(&mut *conn)
                    .await?;
                sqlx::query(&format!("PRAGMA cache_size = -{LOAD_CACHE_KIB}"))
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                let loaded = async {
                    sqlx::query("PRAGMA defer_foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    for t in tables.iter().rev() {
                        let sql = format!("DELETE FROM {}", quote(&t.name));
                        sqlx::query(&sql).execute(&mut *conn).await?;
                    }
                    let aside = set_aside(&mut conn, tables).await?;
                    for t in tables {
                        load_sqlite(&mut conn, path, t, sums.get(t.name.as_str()).copied()).await?;
                    }
                    for sql in aside {
                        sqlx::query(&sql).execute(&mut *conn).await?;
                    }
                    Ok::<(), ArchiveError>(())
                }
                .await;
                let ended = match loaded {
                    Ok(()) => sqlx::query("COMMIT")
                        .execute(&mut *conn)
                        .await
                        .map(|_| ())
                        .map_err(ArchiveError::from),
                    Err(e) => {
                        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                        Err(e)
                    }
                };
                let reset = sqlx::query(&format!("PRAGMA cache_size = {cache}"))
                    .execute(&mut *conn)
                    .await;
                ended?;
                reset?;
                Ok(())
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                for t in tables.iter().rev() {
                    let sql = format!("DELETE FROM {}", quote(&t.name));
                    sqlx::query(&sql).execute(&mut *tx).await?;
                }
                for t in tables {
                    load_postgres(&mut tx, path, t, sums.get(t.name.as_str()).copied()).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }
}

/// Takes away, for a load inside the transaction, what `tables` are loaded faster without,
/// and returns the statements that put it back: their plain indexes (neither unique nor a
/// constraint's), built once from all rows afterwards instead of row by row, and their
/// triggers, whose tables are loaded from the archive too — so that what they would write
/// is not written twice.
async fn set_aside(
    conn: &mut sqlx::SqliteConnection,
    tables: &[Table],
) -> Result<Vec<String>, ArchiveError> {
    let loaded: HashSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let objects = sqlx::query(
        "SELECT m.type AS kind, m.name AS name, m.tbl_name AS tbl, m.sql AS sql FROM sqlite_master m
         WHERE m.sql IS NOT NULL AND (m.type = 'trigger' OR (m.type = 'index' AND NOT EXISTS (
             SELECT 1 FROM pragma_index_list(m.tbl_name) il WHERE il.name = m.name AND il.\"unique\")))
         ORDER BY m.type, m.name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut restore = Vec::new();
    for o in objects {
        let (kind, name, table, sql): (String, String, String, String) = (
            o.try_get("kind")?,
            o.try_get("name")?,
            o.try_get("tbl")?,
            o.try_get("sql")?,
        );
        if !loaded.contains(table.as_str()) {
            continue;
        }
        let drop = match kind.as_str() {
            "index" => format!("DROP INDEX {}", quote(&name)),
            _ => format!("DROP TRIGGER {}", quote(&name)),
        };
        sqlx::query(&drop).execute(&mut *conn).await?;
        restore.push(sql);
    }
    Ok(restore)
}

fn new_table(name: &str) -> Table {
    Table {
        name: name.to_string(),
        columns: vec![],
        types: vec![],
        order: vec![],
        refers_to: BTreeSet::new(),
        self_ref: None,
    }
}

/// Tables ordered so that each comes after those it refers to (by name among equals; a
/// cycle, which the schema does not have, is broken by name).
fn in_reference_order(mut tables: BTreeMap<String, Table>) -> Vec<Table> {
    let mut out = Vec::new();
    let mut placed: HashSet<String> = HashSet::new();
    while !tables.is_empty() {
        let ready: Vec<String> = tables
            .values()
            .filter(|t| {
                t.refers_to
                    .iter()
                    .all(|r| placed.contains(r) || !tables.contains_key(r))
            })
            .map(|t| t.name.clone())
            .collect();
        let next = if ready.is_empty() {
            vec![tables.keys().next().cloned().unwrap_or_default()]
        } else {
            ready
        };
        for name in next {
            if let Some(t) = tables.remove(&name) {
                placed.insert(name);
                out.push(t);
            }
        }
    }
    out
}

/// The names of the tables counted `now` whose count or checksum differs from the
/// manifest's.
fn differences(manifest: &Manifest, now: &[TableSum]) -> BTreeSet<String> {
    let archived: HashMap<&str, &TableSum> = manifest
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    now.iter()
        .filter(|n| {
            archived
                .get(n.name.as_str())
                .is_none_or(|t| n.rows != t.rows || n.sha256 != t.sha256)
        })
        .map(|n| n.name.clone())
        .collect()
}

/// The archive's tables and columns are the database's.
fn check_fit(manifest: &Manifest, tables: &[Table]) -> Result<(), ArchiveError> {
    let here: HashMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    for t in &manifest.tables {
        match here.get(t.name.as_str()) {
            None => {
                return Err(ArchiveError::SchemaMismatch(format!(
                    "the database has no table {}",
                    t.name
                )))
            }
            Some(h) if h.columns != t.columns => {
                return Err(ArchiveError::SchemaMismatch(format!(
                    "table {}: the archive has columns {:?}, the database {:?}",
                    t.name, t.columns, h.columns
                )))
            }
            Some(_) => {}
        }
    }
    let archived: HashSet<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
    if let Some(missing) = tables.iter().find(|t| !archived.contains(t.name.as_str())) {
        return Err(ArchiveError::SchemaMismatch(format!(
            "the archive has no table {} although its schema version has it",
            missing.name
        )));
    }
    Ok(())
}

// ---- Reading rows ----

/// A row's column written as the archive's canonical JSON value.
trait Canon {
    fn canon(&self, i: usize, out: &mut Vec<u8>) -> Result<(), ArchiveError>;
}

fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), ArchiveError> {
    serde_json::to_writer(out, v).map_err(|e| ArchiveError::Io(std::io::Error::other(e)))
}

fn unsupported(row_col: &str, ty: &str) -> ArchiveError {
    ArchiveError::Store(StoreError::Corrupt(format!(
        "column {row_col} has type {ty}, which archives do not carry"
    )))
}

impl Canon for sqlx::sqlite::SqliteRow {
    fn canon(&self, i: usize, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
        let raw = self.try_get_raw(i)?;
        if raw.is_null() {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        // Decoded by the value's storage class (SQLite types values, not columns), which is
        // all `try_get` would check, without copying the text.
        fn decode<'r, T: sqlx::Decode<'r, sqlx::Sqlite>>(
            raw: sqlx::sqlite::SqliteValueRef<'r>,
        ) -> Result<T, ArchiveError> {
            T::decode(raw).map_err(|e| ArchiveError::from(sqlx::Error::Decode(e)))
        }
        let kind = match raw.type_info().name() {
            "INTEGER" => 0,
            "TEXT" => 1,
            "REAL" => 2,
            other => return Err(unsupported(self.columns()[i].name(), other)),
        };
        match kind {
            0 => push_json(out, &decode::<i64>(raw)?),
            1 => push_json(out, &decode::<&str>(raw)?),
            _ => push_json(out, &decode::<f64>(raw)?),
        }
    }
}

impl Canon for sqlx::postgres::PgRow {
    fn canon(&self, i: usize, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
        if self.try_get_raw(i)?.is_null() {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        let col = &self.columns()[i];
        match col.type_info().name() {
            "INT8" => push_json(out, &self.try_get::<i64, _>(i)?),
            "INT4" => push_json(out, &self.try_get::<i32, _>(i)?),
            "INT2" => push_json(out, &self.try_get::<i16, _>(i)?),
            "BOOL" => push_json(out, &i64::from(self.try_get::<bool, _>(i)?)),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => {
                push_json(out, &self.try_get::<String, _>(i)?)
            }
            "DATE" => push_json(out, &self.try_get::<time::Date, _>(i)?.to_string()),
            "FLOAT8" => push_json(out, &self.try_get::<f64, _>(i)?),
            "FLOAT4" => push_json(out, &f64::from(self.try_get::<f32, _>(i)?)),
            other => Err(unsupported(col.name(), other)),
        }
    }
}

/// The select that reads a table in the archive's order: columns by name, rows by key, text
/// compared bytewise (`COLLATE "C"` on PostgreSQL, as SQLite does), NULLs first.
fn select_sql(t: &Table, postgres: bool) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
    let order: Vec<String> = t
        .order
        .iter()
        .map(|c| {
            let ty = t
                .columns
                .iter()
                .position(|x| x == c)
                .and_then(|i| t.types.get(i))
                .map(String::as_str)
                .unwrap_or("");
            match (postgres, ty) {
                (true, "text" | "character varying" | "character") => {
                    format!("{} COLLATE \"C\" NULLS FIRST", quote(c))
                }
                (true, _) => format!("{} NULLS FIRST", quote(c)),
                (false, _) => quote(c),
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        quote(&t.name),
        order.join(", ")
    )
}

async fn dump_with<DB>(
    conn: &mut DB::Connection,
    tables: &[Table],
    out: Option<&mpsc::Sender<Chunk>>,
    postgres: bool,
) -> Result<Vec<TableSum>, ArchiveError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    DB::Row: Canon,
{
    let mut sums = Vec::with_capacity(tables.len());
    for t in tables {
        sums.push(dump_table::<DB>(conn, t, out, postgres).await?);
    }
    Ok(sums)
}

/// One table read in the archive's order, each row's line hashed and, with `out`, sent
/// to the archive's writer as the table's file.
async fn dump_table<DB>(
    conn: &mut DB::Connection,
    t: &Table,
    out: Option<&mpsc::Sender<Chunk>>,
    postgres: bool,
) -> Result<TableSum, ArchiveError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    DB::Row: Canon,
{
    if let Some(out) = out {
        send(out, Chunk::Table(t.name.clone())).await?;
    }
    let sql = select_sql(t, postgres);
    let mut rows = sqlx::query::<DB>(&sql).fetch(&mut *conn);
    let (mut hasher, mut count, mut buf) = (Sha256::new(), 0u64, Vec::with_capacity(CHUNK_BYTES));
    while let Some(row) = rows.try_next().await? {
        let start = buf.len();
        buf.push(b'[');
        for i in 0..t.columns.len() {
            if i > 0 {
                buf.push(b',');
            }
            row.canon(i, &mut buf)?;
        }
        buf.extend_from_slice(b"]\n");
        hasher.update(&buf[start..]);
        count += 1;
        if buf.len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES));
            if let Some(out) = out {
                send(out, Chunk::Lines(full)).await?;
            }
        }
    }
    drop(rows);
    if let (Some(out), false) = (out, buf.is_empty()) {
        send(out, Chunk::Lines(buf)).await?;
    }
    Ok(TableSum {
        name: t.name.clone(),
        columns: t.columns.clone(),
        rows: count,
        sha256: hex(&hasher.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- The file ----

enum Chunk {
    /// A table's file begins.
    Table(String),
    Lines(Vec<u8>),
    Manifest(Vec<u8>),
}

async fn send(out: &mpsc::Sender<Chunk>, chunk: Chunk) -> Result<(), ArchiveError> {
    out.send(chunk)
        .await
        .map_err(|_| ArchiveError::Io(std::io::Error::other("the archive writer stopped")))
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// The `k`th part beside the archive being written.
fn part_path(partial: &Path, k: usize) -> PathBuf {
    let mut name = partial.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{k}"));
    partial.with_file_name(name)
}

/// A zip being written.
type ZipFile = zip::ZipWriter<std::io::BufWriter<std::fs::File>>;

fn new_zip(path: &Path) -> Result<ZipFile, ArchiveError> {
    let file = std::fs::File::create(path)?;
    Ok(zip::ZipWriter::new(std::io::BufWriter::with_capacity(
        1 << 20,
        file,
    )))
}

/// How a table's file is stored: compressed fast (the lines are repetitive: about a fifth
/// of their size at the lowest level).
fn entry_options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true)
}

fn manifest_bytes(m: &Manifest) -> Result<Vec<u8>, ArchiveError> {
    serde_json::to_vec_pretty(m)
        .map_err(|e| ArchiveError::Io(std::io::Error::other(format!("manifest: {e}"))))
}

/// Completes the archive: the first of `zips`, the others (the `parts` written beside it)
/// copied into it as compressed, then the manifest; written to the disk before it returns.
fn close_archive(
    zips: Vec<ZipFile>,
    parts: &[PathBuf],
    manifest: &[u8],
) -> Result<(), ArchiveError> {
    let mut zips = zips.into_iter();
    let Some(mut zip) = zips.next() else {
        return Err(ArchiveError::Io(std::io::Error::other(
            "no archive to close",
        )));
    };
    for (part, path) in zips.zip(parts) {
        part.finish()?;
        let mut part = open_zip(path)?;
        for i in 0..part.len() {
            zip.raw_copy_file(part.by_index_raw(i)?)?;
        }
    }
    zip.start_file("manifest.json", entry_options().large_file(false))?;
    zip.write_all(manifest)?;
    let file = zip
        .finish()?
        .into_inner()
        .map_err(|e| ArchiveError::Io(e.into_error()))?;
    file.sync_all()?;
    Ok(())
}

/// A writer of the archive at `path` on a blocking thread, and what to send it; the
/// archive must end with its manifest.
fn zip_writer(
    path: PathBuf,
) -> (
    mpsc::Sender<Chunk>,
    tokio::task::JoinHandle<Result<(), ArchiveError>>,
) {
    let (tx, rx) = mpsc::channel::<Chunk>(16);
    let writer = tokio::task::spawn_blocking(move || write_zip(&path, rx));
    (tx, writer)
}

async fn joined(
    writer: tokio::task::JoinHandle<Result<(), ArchiveError>>,
) -> Result<(), ArchiveError> {
    writer
        .await
        .map_err(|e| ArchiveError::Io(std::io::Error::other(e.to_string())))?
}

fn entry_name(table: &str) -> String {
    format!("tables/{table}.jsonl")
}

/// Writes what the database side sends into the archive (on a blocking thread).
fn write_zip(path: &Path, mut rx: mpsc::Receiver<Chunk>) -> Result<(), ArchiveError> {
    let mut zip = new_zip(path)?;
    while let Some(chunk) = rx.blocking_recv() {
        match chunk {
            Chunk::Table(name) => zip.start_file(entry_name(&name), entry_options())?,
            Chunk::Lines(bytes) => zip.write_all(&bytes)?,
            Chunk::Manifest(bytes) => return close_archive(vec![zip], &[], &bytes),
        }
    }
    Err(ArchiveError::Io(std::io::Error::other(
        "the export stopped before its end",
    )))
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<std::fs::File>, ArchiveError> {
    let file = std::fs::File::open(path)?;
    zip::ZipArchive::new(file).map_err(|e| match e {
        zip::result::ZipError::Io(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            ArchiveError::Io(io)
        }
        other => ArchiveError::NotAnArchive(other.to_string()),
    })
}

/// The manifest of the archive at `path`, read without checking the tables.
pub fn read_manifest(path: &Path) -> Result<Manifest, ArchiveError> {
    let mut zip = open_zip(path)?;
    let mut entry = zip
        .by_name("manifest.json")
        .map_err(|_| ArchiveError::NotAnArchive("it has no manifest.json".into()))?;
    let mut text = String::new();
    entry
        .read_to_string(&mut text)
        .map_err(|e| ArchiveError::NotAnArchive(format!("manifest.json: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| ArchiveError::NotAnArchive(format!("manifest.json: {e}")))
}

/// Reads the archive at `path` whole: its manifest, versions this build can restore, and
/// every table against its count and checksum.
pub async fn check_archive(path: &Path) -> Result<Manifest, ArchiveError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || check_archive_blocking(&path))
        .await
        .map_err(|e| ArchiveError::Io(std::io::Error::other(e.to_string())))?
}

/// The manifest of the archive at `path` when this build reads its format and schema.
fn readable_manifest(path: &Path) -> Result<Manifest, ArchiveError> {
    let manifest = read_manifest(path)?;
    if manifest.format > FORMAT_VERSION {
        return Err(ArchiveError::NewerFormat {
            found: manifest.format,
            supported: FORMAT_VERSION,
        });
    }
    if manifest.schema_version > latest_schema_version() {
        return Err(ArchiveError::NewerSchema {
            found: manifest.schema_version,
            supported: latest_schema_version(),
        });
    }
    Ok(manifest)
}

fn check_archive_blocking(path: &Path) -> Result<Manifest, ArchiveError> {
    let manifest = readable_manifest(path)?;
    let mut zip = open_zip(path)?;
    for t in &manifest.tables {
        let entry = zip.by_name(&entry_name(&t.name)).map_err(|_| {
            ArchiveError::NotAnArchive(format!("it has no file for table {}", t.name))
        })?;
        let mut reader = BufReader::with_capacity(1 << 20, entry);
        let (mut hasher, mut rows) = (Sha256::new(), 0u64);
        loop {
            let buf = reader.fill_buf().map_err(|e| damaged(&t.name, e))?;
            if buf.is_empty() {
                break;
            }
            rows += buf.iter().filter(|b| **b == b'\n').count() as u64;
            hasher.update(buf);
            let n = buf.len();
            reader.consume(n);
        }
        if rows != t.rows || hex(&hasher.finalize()) != t.sha256 {
            return Err(ArchiveError::Checksum {
                table: t.name.clone(),
            });
        }
    }
    Ok(manifest)
}

fn damaged(table: &str, e: std::io::Error) -> ArchiveError {
    ArchiveError::NotAnArchive(format!("table {table}: {e}"))
}

/// A batch of a table's lines as read from the archive: the bytes, and where each line ends
/// (its newline left out).
struct Lines {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl Lines {
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|e| e + 1));
        starts.zip(&self.ends).map(|(s, e)| &self.text[s..*e])
    }
}

/// Streams a table's lines from the archive in batches of `batch` lines (on a blocking
/// thread), hashing them as they go by: with `expected`, the table's count and SHA-256 in the
/// manifest, a file that does not match ends in [`ArchiveError::Checksum`] after its last
/// batch — so a load that reads the archive checks it in the same pass, and commits only
/// what matched.
fn read_rows(
    path: PathBuf,
    table: String,
    batch: usize,
    expected: Option<(u64, String)>,
) -> mpsc::Receiver<Result<Lines, ArchiveError>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let read = || -> Result<(), ArchiveError> {
            let mut zip = open_zip(&path)?;
            let entry = zip.by_name(&entry_name(&table)).map_err(|_| {
                ArchiveError::NotAnArchive(format!("it has no file for table {table}"))
            })?;
            let mut reader = BufReader::with_capacity(1 << 20, entry);
            let (mut hasher, mut rows) = (Sha256::new(), 0u64);
            loop {
                let mut lines = Lines {
                    text: Vec::with_capacity(CHUNK_BYTES),
                    ends: Vec::with_capacity(batch.min(4096)),
                };
                while lines.ends.len() < batch {
                    let start = lines.text.len();
                    let n = reader
                        .read_until(b'\n', &mut lines.text)
                        .map_err(|e| damaged(&table, e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&lines.text[start..]);
                    if lines.text.last() == Some(&b'\n') {
                        rows += 1;
                        lines.ends.push(lines.text.len() - 1);
                    } else {
                        lines.ends.push(lines.text.len());
                    }
                }
                if lines.ends.is_empty() {
                    break;
                }
                if tx.blocking_send(Ok(lines)).is_err() {
                    return Ok(());
                }
            }
            match expected {
                Some((n, sha)) if n != rows || hex(&hasher.finalize()) != sha => {
                    Err(ArchiveError::Checksum { table })
                }
                _ => Ok(()),
            }
        };
        if let Err(e) = read() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// What went wrong loading a table: when its file does not match its checksum, that — an
/// altered archive is told as such, whichever row gave out first —, else `e`. Reads what is
/// left of the file to know.
async fn settle(
    batches: &mut mpsc::Receiver<Result<Lines, ArchiveError>>,
    e: ArchiveError,
) -> ArchiveError {
    if matches!(e, ArchiveError::Checksum { .. }) {
        return e;
    }
    while let Some(batch) = batches.recv().await {
        if let Err(c @ ArchiveError::Checksum { .. }) = batch {
            return c;
        }
    }
    e
}

fn parse_row(table: &str, line: &[u8], columns: usize) -> Result<Vec<Value>, ArchiveError> {
    let row: Vec<Value> = serde_json::from_slice(line)
        .map_err(|e| ArchiveError::NotAnArchive(format!("table {table}: {e}")))?;
    if row.len() != columns {
        return Err(ArchiveError::NotAnArchive(format!(
            "table {table}: a row of {} values for {columns} columns",
            row.len()
        )));
    }
    Ok(row)
}

fn parse_rows(t: &Table, lines: &Lines) -> Result<Vec<Vec<Value>>, ArchiveError> {
    let rows = lines
        .iter()
        .map(|l| parse_row(&t.name, l, t.columns.len()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parents_first(t, rows))
}

/// A self-referencing table's rows, each after the row it refers to.
fn parents_first(t: &Table, rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let Some((col, ref_col)) = &t.self_ref else {
        return rows;
    };
    let (Some(c), Some(r)) = (
        t.columns.iter().position(|x| x == col),
        t.columns.iter().position(|x| x == ref_col),
    ) else {
        return rows;
    };
    let present: HashSet<String> = rows.iter().map(|row| row[r].to_string()).collect();
    let mut placed: HashSet<String> = HashSet::new();
    let (mut out, mut left) = (Vec::with_capacity(rows.len()), rows);
    while !left.is_empty() {
        let before = left.len();
        let (ready, waiting): (Vec<_>, Vec<_>) = left.into_iter().partition(|row| {
            row[c].is_null()
                || placed.contains(&row[c].to_string())
                || !present.contains(&row[c].to_string())
        });
        for row in ready {
            placed.insert(row[r].to_string());
            out.push(row);
        }
        left = waiting;
        if left.len() == before {
            // A loop of references: as they are; the database says what is wrong.
            out.append(&mut left);
        }
    }
    out
}

/// A table's lines from the archive, all of them at once when the table refers to itself,
/// checked against `expected` (see [`read_rows`]).
fn table_batches(
    path: &Path,
    t: &Table,
    batch: usize,
    expected: Option<&TableSum>,
) -> mpsc::Receiver<Result<Lines, ArchiveError>> {
    let size = if t.self_ref.is_some() {
        usize::MAX >> 1
    } else {
        batch
    };
    let expected = expected.map(|e| (e.rows, e.sha256.clone()));
    read_rows(path.to_path_buf(), t.name.clone(), size, expected)
}

async fn load_sqlite(
    conn: &mut sqlx::SqliteConnection,
    path: &Path,
    t: &Table,
    expected: Option<&TableSum>,
) -> Result<(), ArchiveError> {
    let n = t.columns.len();
    let per_statement = (SQLITE_PARAMETERS / n.max(1)).max(1);
    let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote(&t.name),
        cols.join(", ")
    );
    let one = format!("({})", vec!["?"; n].join(", "));
    let statement = |rows: usize| format!("{head}{}", vec![one.as_str(); rows].join(", "));
    let full = statement(per_statement);
    let mut batches = table_batches(path, t, per_statement * 64, expected);
    let loaded = async {
        while let Some(lines) = batches.recv().await {
            let rows = parse_rows(t, &lines?)?;
            for group in rows.chunks(per_statement) {
                let partial;
                let sql = if group.len() == per_statement {
                    &full
                } else {
                    partial = statement(group.len());
                    &partial
                };
                let mut q = sqlx::query::<sqlx::Sqlite>(sql);
                for v in group.iter().flatten() {
                    q = match v {
                        Value::Null => q.bind(None::<i64>),
                        Value::Bool(b) => q.bind(i64::from(*b)),
                        Value::Number(x) => match x.as_i64() {
                            Some(i) => q.bind(i),
                            None => q.bind(x.as_f64()),
                        },
                        Value::String(s) => q.bind(s.as_str()),
                        other => {
                            return Err(ArchiveError::NotAnArchive(format!(
                                "table {}: unexpected value {other}",
                                t.name
                            )))
                        }
                    };
                }
                q.execute(&mut *conn).await?;
            }
        }
        Ok(())
    }
    .await;
    match loaded {
        Ok(()) => Ok(()),
        Err(e) => Err(settle(&mut batches, e).await),
    }
}

async fn load_postgres(
    conn: &mut sqlx::PgConnection,
    path: &Path,
    t: &Table,
    expected: Option<&TableSum>,
) -> Result<(), ArchiveError> {
    let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
    let sql = format!(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{table}, $1::json)",
        table = quote(&t.name),
        cols = cols.join(", ")
    );
    let keys: Vec<String> = t
        .columns
        .iter()
        .map(|c| serde_json::to_string(c).unwrap_or_default())
        .collect();
    let mut batches = table_batches(path, t, POSTGRES_ROWS, expected);
    let loaded = async {
        while let Some(lines) = batches.recv().await {
            let rows = parse_rows(t, &lines?)?;
            for group in rows.chunks(POSTGRES_ROWS) {
                let mut json = Vec::with_capacity(group.len() * 64 * keys.len());
                json.push(b'[');
                for (i, row) in group.iter().enumerate() {
                    if i > 0 {
                        json.push(b',');
                    }
                    json.push(b'{');
                    for (j, v) in row.iter().enumerate() {
                        if j > 0 {
                            json.push(b',');
                        }
                        json.extend_from_slice(keys[j].as_bytes());
                        json.push(b':');
                        push_json(&mut json, v)?;
                    }
                    json.push(b'}');
                }
                json.push(b']');
                let json = String::from_utf8(json)
                    .map_err(|e| ArchiveError::NotAnArchive(e.to_string()))?;
                sqlx::query(&sql).bind(json).execute(&mut *conn).await?;
            }
        }
        Ok(())
    }
    .await;
    match loaded {
        Ok(()) => Ok(()),
        Err(e) => Err(settle(&mut batches, e).await),
    }
}

/// Restores the archive at `path` into a new SQLite database at `scratch` and compares it
/// with the manifest; the scratch database is removed afterwards.
pub async fn verify_by_restoring(path: &Path, scratch: &Path) -> Result<Restored, ArchiveError> {
    remove_sqlite_files(scratch);
    let url = format!("sqlite://{}", scratch.display());
    let db = Db::connect(&url).await?;
    let restored = db.restore_archive(path).await;
    db.close().await;
    remove_sqlite_files(scratch);
    restored
}

fn remove_sqlite_files(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}
