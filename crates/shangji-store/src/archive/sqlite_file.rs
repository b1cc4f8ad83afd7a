//! Reading a SQLite file for an archive, on connections of its own (rusqlite's): each row's
//! values are borrowed from SQLite as they are written into the line, where the pool's
//! connections copy every value and hand the rows over from a thread of their own. The
//! connections share one snapshot, and each one writes the tables it reads into a zip of its
//! own on its own thread — reading, encoding, hashing and compressing side by side —; the
//! first one's zip is the archive, the others' are copied into it whole.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};

use super::{
    entry_name, entry_options, hex, push_json, quote, select_sql, unsupported, ArchiveError, Table,
    TableSum, ZipFile, CHUNK_BYTES,
};
use crate::db::Db;

/// Connections a dump of a SQLite file reads on at once.
pub(super) const CONNECTIONS: usize = 2;

impl From<rusqlite::Error> for ArchiveError {
    fn from(e: rusqlite::Error) -> Self {
        ArchiveError::Store(crate::error::StoreError::Unavailable(e.to_string()))
    }
}

/// The file of `db` when it is a SQLite file (not in memory).
pub(super) async fn file_of(db: &Db) -> Result<Option<PathBuf>, ArchiveError> {
    let crate::db::Pool::Sqlite(pool) = db.pool() else {
        return Ok(None);
    };
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(pool)
            .await?;
    Ok((!file.is_empty()).then(|| PathBuf::from(file)))
}

/// Up to `n` connections to the SQLite `file` of `db`, each in a read transaction begun
/// while a write lock was held, so that no write can commit between their beginnings and
/// they all read the same snapshot — the CLI's backup runs in another process than the
/// server. One when the lock cannot be had within 0.1 s (a long write elsewhere): a backup
/// waits for no one.
pub(super) async fn snapshot(
    db: &Db,
    file: &Path,
    n: usize,
) -> Result<Vec<rusqlite::Connection>, ArchiveError> {
    let crate::db::Pool::Sqlite(pool) = db.pool() else {
        return Err(ArchiveError::Io(std::io::Error::other("not a SQLite file")));
    };
    let open = || -> Result<rusqlite::Connection, ArchiveError> {
        let conn = rusqlite::Connection::open(file)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    };
    let mut conns = vec![open()?];
    if n > 1 {
        let _writer = db.writer().await;
        let mut lock = pool.acquire().await?;
        let wait: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *lock)
            .await?;
        sqlx::query("PRAGMA busy_timeout = 100")
            .execute(&mut *lock)
            .await?;
        let locked = sqlx::query("BEGIN IMMEDIATE").execute(&mut *lock).await;
        sqlx::query(&format!("PRAGMA busy_timeout = {wait}"))
            .execute(&mut *lock)
            .await?;
        if locked.is_ok() {
            let begun = (|| {
                for _ in 1..n {
                    let c = open()?;
                    begin_read(&c)?;
                    conns.push(c);
                }
                begin_read(&conns[0])
            })();
            sqlx::query("ROLLBACK").execute(&mut *lock).await?;
            begun?;
            return Ok(conns);
        }
    }
    begin_read(&conns[0])?;
    Ok(conns)
}

/// Begins a read transaction and takes its snapshot, which SQLite does at the first read.
fn begin_read(conn: &rusqlite::Connection) -> Result<(), ArchiveError> {
    conn.execute_batch("BEGIN")?;
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

/// Reads `tables` on `conns` (all in one snapshot, see [`snapshot`]) at once, each
/// connection taking the largest table left; with `zips`, one per connection, each
/// connection's tables are written into its zip. The sums in the order of `tables`, and the
/// zips.
pub(super) async fn dump(
    conns: Vec<rusqlite::Connection>,
    tables: &[Table],
    mut zips: Vec<ZipFile>,
) -> Result<(Vec<TableSum>, Vec<ZipFile>), ArchiveError> {
    let mut order: Vec<(i64, usize)> = Vec::with_capacity(tables.len());
    for (i, t) in tables.iter().enumerate() {
        let rows: i64 = if conns.len() > 1 {
            let sql = format!("SELECT COUNT(*) FROM {}", quote(&t.name));
            conns[0].query_row(&sql, [], |r| r.get(0))?
        } else {
            0
        };
        order.push((rows, i));
    }
    order.sort_by(|a, b| b.cmp(a));
    let queue: Arc<Mutex<VecDeque<usize>>> =
        Arc::new(Mutex::new(order.into_iter().map(|(_, i)| i).collect()));
    let tables: Arc<[Table]> = tables.into();
    let mut workers = Vec::with_capacity(conns.len());
    for conn in conns {
        let (queue, tables) = (queue.clone(), tables.clone());
        let zip = (!zips.is_empty()).then(|| zips.remove(0));
        workers.push(tokio::task::spawn_blocking(move || {
            dump_tables(conn, &queue, &tables, zip)
        }));
    }
    let (mut sums, mut zips, mut failed) = (Vec::new(), Vec::new(), None);
    for w in workers {
        match w.await {
            Ok(Ok((s, zip))) => {
                sums.extend(s);
                zips.extend(zip);
            }
            Ok(Err(e)) => failed = failed.or(Some(e)),
            Err(e) => {
                failed = failed.or(Some(ArchiveError::Io(std::io::Error::other(e.to_string()))))
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    sums.sort_by_key(|(i, _)| *i);
    Ok((sums.into_iter().map(|(_, s)| s).collect(), zips))
}

/// What one connection read: each table's sum by its place in `tables`, and its zip.
type Dumped = (Vec<(usize, TableSum)>, Option<ZipFile>);

/// One connection's share: tables taken from `queue` until it is empty (or another
/// connection failed, which empties it), then the read transaction ended.
fn dump_tables(
    conn: rusqlite::Connection,
    queue: &Mutex<VecDeque<usize>>,
    tables: &[Table],
    mut zip: Option<ZipFile>,
) -> Result<Dumped, ArchiveError> {
    let mut sums = Vec::new();
    let dumped = (|| loop {
        let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
        let Some(i) = next else {
            return Ok(());
        };
        match dump_table(&conn, &tables[i], zip.as_mut()) {
            Ok(sum) => sums.push((i, sum)),
            Err(e) => {
                if let Ok(mut q) = queue.lock() {
                    q.clear();
                }
                return Err(e);
            }
        }
    })();
    let ended = conn.execute_batch("ROLLBACK");
    dumped?;
    ended?;
    Ok((sums, zip))
}

/// One table read in the archive's order, its lines hashed and, with `zip`, written as the
/// table's file.
fn dump_table(
    conn: &rusqlite::Connection,
    t: &Table,
    mut zip: Option<&mut ZipFile>,
) -> Result<TableSum, ArchiveError> {
    if let Some(z) = zip.as_deref_mut() {
        z.start_file(entry_name(&t.name), entry_options())?;
    }
    let mut stmt = conn.prepare(&select_sql(t, false))?;
    let mut rows = stmt.query([])?;
    let (mut hasher, mut count) = (Sha256::new(), 0u64);
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    let mut flush = |buf: &mut Vec<u8>| -> Result<(), ArchiveError> {
        hasher.update(&buf[..]);
        if let Some(z) = zip.as_deref_mut() {
            z.write_all(buf)?;
        }
        buf.clear();
        Ok(())
    };
    while let Some(row) = rows.next()? {
        buf.push(b'[');
        for i in 0..t.columns.len() {
            if i > 0 {
                buf.push(b',');
            }
            match row.get_ref(i)? {
                ValueRef::Null => buf.extend_from_slice(b"null"),
                ValueRef::Integer(v) => push_json(&mut buf, &v)?,
                ValueRef::Real(v) => push_json(&mut buf, &v)?,
                ValueRef::Text(v) => {
                    let text = std::str::from_utf8(v).map_err(|_| {
                        unsupported(&format!("{}.{}", t.name, t.columns[i]), "non-UTF-8 TEXT")
                    })?;
                    push_json(&mut buf, text)?
                }
                ValueRef::Blob(_) => {
                    return Err(unsupported(&format!("{}.{}", t.name, t.columns[i]), "BLOB"))
                }
            }
        }
        buf.extend_from_slice(b"]\n");
        count += 1;
        if buf.len() >= CHUNK_BYTES {
            flush(&mut buf)?;
        }
    }
    flush(&mut buf)?;
    Ok(TableSum {
        name: t.name.clone(),
        columns: t.columns.clone(),
        rows: count,
        sha256: hex(&hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever commits after the snapshot was taken — before any connection read a table —
    /// is in no table of the dump, whichever connection reads it.
    #[tokio::test]
    async fn every_connection_reads_the_moment_of_the_snapshot() {
        let dir = std::env::temp_dir().join(format!(
            "snapshot-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let url = format!("sqlite://{}", dir.join("a.db").display());
        let db = Db::connect_and_migrate(&url).await.unwrap();
        let tables = db.archive_tables().await.unwrap();
        let before = db.dump(&tables).await.unwrap();
        let file = file_of(&db).await.unwrap().unwrap();
        let conns = snapshot(&db, &file, CONNECTIONS).await.unwrap();
        assert_eq!(conns.len(), CONNECTIONS);
        let written = ["app_settings", "loss_reasons", "teams"];
        for table in written {
            let sql = match table {
                "teams" => "INSERT INTO teams (name, created_at) VALUES ('华东', 0)",
                "loss_reasons" => "INSERT INTO loss_reasons (key, name_zh, name_en, position) VALUES ('late', '晚了', 'Late', 99)",
                _ => "INSERT INTO app_settings (key, value, updated_at) VALUES ('k', 'v', 0)",
            };
            let crate::db::Pool::Sqlite(pool) = db.pool() else {
                unreachable!()
            };
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        for conn in conns {
            let (read, _) = dump(vec![conn], &tables, vec![]).await.unwrap();
            assert_eq!(read, before);
        }
        let now = db.dump(&tables).await.unwrap();
        let changed: Vec<&str> = now
            .iter()
            .zip(&before)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.name.as_str())
            .collect();
        assert!(written.iter().all(|t| changed.contains(t)), "{changed:?}");
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
