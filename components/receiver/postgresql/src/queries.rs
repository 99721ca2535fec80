//! The statistics queries and their rows. Every column is cast in SQL to `bigint`, `float8` or
//! `text` so that decoding never depends on the server version's column types. Each query is
//! tagged `/* ferrotel */` so that the top-N statements can leave the receiver's own out.

use tokio_postgres::{Client, Error, Row};

/// The receiver's mark on its own statements.
pub const TAG: &str = "/* ferrotel */";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbStats {
    pub name: String,
    pub commits: i64,
    pub rollbacks: i64,
    pub deadlocks: i64,
    pub temp_files: i64,
    pub temp_bytes: i64,
    pub tup_updated: i64,
    pub tup_returned: i64,
    pub tup_fetched: i64,
    pub tup_inserted: i64,
    pub tup_deleted: i64,
    pub blks_hit: i64,
    pub blks_read: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStats {
    pub schema: String,
    pub table: String,
    pub live: i64,
    pub dead: i64,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub hot_updated: i64,
    pub seq_scans: i64,
    pub size: i64,
    pub vacuum_count: i64,
}

/// Blocks read per source, in otelcol's `source` order: heap, idx, toast, tidx × read, hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableIo {
    pub schema: String,
    pub table: String,
    pub blocks: [i64; 8],
}

pub const BLOCK_SOURCES: [&str; 8] = [
    "heap_read",
    "heap_hit",
    "idx_read",
    "idx_hit",
    "toast_read",
    "toast_hit",
    "tidx_read",
    "tidx_hit",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexStats {
    pub schema: String,
    pub table: String,
    pub index: String,
    pub size: i64,
    pub scans: i64,
}

/// `pg_stat_bgwriter` (PostgreSQL < 17); the backend write counters are gone from 17 on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BgWriter {
    pub checkpoints_requested: i64,
    pub checkpoints_scheduled: i64,
    pub write_time_ms: f64,
    pub sync_time_ms: f64,
    pub buffers_clean: i64,
    pub buffers_backend: Option<i64>,
    pub buffers_backend_fsync: Option<i64>,
    pub buffers_checkpoint: i64,
    pub buffers_allocated: i64,
    pub maxwritten: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replication {
    pub client: String,
    /// Bytes the standby has yet to replay; None when the server does not know.
    pub pending_bytes: Option<i64>,
    /// write, flush, replay lag in seconds; None when unknown.
    pub lags: [Option<f64>; 3],
}

pub const LAG_OPERATIONS: [&str; 3] = ["write", "flush", "replay"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conflicts {
    pub database: String,
    /// tablespace, lock, snapshot, bufferpin, deadlock.
    pub counts: [i64; 5],
}

pub const CONFLICT_TYPES: [&str; 5] = ["tablespace", "lock", "snapshot", "bufferpin", "deadlock"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lock {
    pub relation: String,
    pub mode: String,
    pub lock_type: String,
    pub count: i64,
}

/// One backend waiting for a lock and one backend that blocks it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LockWait {
    pub database: String,
    pub pid: i64,
    pub query: String,
    pub wait_seconds: f64,
    pub blocking_pid: i64,
    pub blocking_query: String,
}

/// One `pg_stat_statements` entry's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Statement {
    pub database: String,
    pub user_id: i64,
    pub query_id: i64,
    pub query: String,
    pub calls: i64,
    pub total_time_ms: f64,
    pub io_time_ms: f64,
}

async fn rows(client: &Client, sql: &str) -> Result<Vec<Row>, Error> {
    client.query(&format!("{TAG} {sql}"), &[]).await
}

/// Databases to scrape: `wanted` (or every non-template database that accepts connections)
/// minus `exclude`.
pub async fn databases(
    client: &Client,
    wanted: &[String],
    exclude: &[String],
) -> Result<Vec<String>, Error> {
    let mut names = if wanted.is_empty() {
        rows(
            client,
            "SELECT datname::text FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1",
        )
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
    } else {
        wanted.to_vec()
    };
    names.retain(|n| !exclude.contains(n));
    Ok(names)
}

pub async fn db_stats(client: &Client) -> Result<Vec<DbStats>, Error> {
    let sql = "SELECT datname::text, xact_commit::bigint, xact_rollback::bigint, deadlocks::bigint, \
               temp_files::bigint, temp_bytes::bigint, tup_updated::bigint, tup_returned::bigint, \
               tup_fetched::bigint, tup_inserted::bigint, tup_deleted::bigint, blks_hit::bigint, \
               blks_read::bigint FROM pg_stat_database WHERE datname IS NOT NULL";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| DbStats {
            name: r.get(0),
            commits: r.get(1),
            rollbacks: r.get(2),
            deadlocks: r.get(3),
            temp_files: r.get(4),
            temp_bytes: r.get(5),
            tup_updated: r.get(6),
            tup_returned: r.get(7),
            tup_fetched: r.get(8),
            tup_inserted: r.get(9),
            tup_deleted: r.get(10),
            blks_hit: r.get(11),
            blks_read: r.get(12),
        })
        .collect())
}

/// (database, value) pairs of a two-column query.
async fn per_database(client: &Client, sql: &str) -> Result<Vec<(String, i64)>, Error> {
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

pub async fn backends(client: &Client) -> Result<Vec<(String, i64)>, Error> {
    per_database(
        client,
        "SELECT datname::text, count(*)::bigint FROM pg_stat_activity WHERE datname IS NOT NULL GROUP BY datname",
    )
    .await
}

pub async fn db_sizes(client: &Client) -> Result<Vec<(String, i64)>, Error> {
    per_database(
        client,
        "SELECT datname::text, pg_database_size(oid)::bigint FROM pg_database WHERE NOT datistemplate AND datallowconn",
    )
    .await
}

/// Tables of the connected database. Tables under an exclusive lock are skipped, as otelcol
/// does, so that the scrape never queues behind a running `ALTER TABLE` or `VACUUM FULL`.
/// `pg_relation_size` is NULL for a relation dropped while the query runs, hence the coalesce.
pub async fn tables(client: &Client) -> Result<Vec<TableStats>, Error> {
    let sql = "SELECT s.schemaname::text, s.relname::text, s.n_live_tup::bigint, s.n_dead_tup::bigint, \
               s.n_tup_ins::bigint, s.n_tup_upd::bigint, s.n_tup_del::bigint, s.n_tup_hot_upd::bigint, \
               coalesce(s.seq_scan, 0)::bigint, coalesce(pg_relation_size(s.relid), 0)::bigint, s.vacuum_count::bigint \
               FROM pg_stat_user_tables s WHERE NOT EXISTS (SELECT 1 FROM pg_locks l WHERE \
               l.relation = s.relid AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted)";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| TableStats {
            schema: r.get(0),
            table: r.get(1),
            live: r.get(2),
            dead: r.get(3),
            inserted: r.get(4),
            updated: r.get(5),
            deleted: r.get(6),
            hot_updated: r.get(7),
            seq_scans: r.get(8),
            size: r.get(9),
            vacuum_count: r.get(10),
        })
        .collect())
}

pub async fn table_io(client: &Client) -> Result<Vec<TableIo>, Error> {
    let sql = "SELECT schemaname::text, relname::text, coalesce(heap_blks_read, 0)::bigint, \
               coalesce(heap_blks_hit, 0)::bigint, coalesce(idx_blks_read, 0)::bigint, \
               coalesce(idx_blks_hit, 0)::bigint, coalesce(toast_blks_read, 0)::bigint, \
               coalesce(toast_blks_hit, 0)::bigint, coalesce(tidx_blks_read, 0)::bigint, \
               coalesce(tidx_blks_hit, 0)::bigint FROM pg_statio_user_tables";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| TableIo {
            schema: r.get(0),
            table: r.get(1),
            blocks: std::array::from_fn(|i| r.get(i + 2)),
        })
        .collect())
}

pub async fn indexes(client: &Client) -> Result<Vec<IndexStats>, Error> {
    let sql = "SELECT s.schemaname::text, s.relname::text, s.indexrelname::text, \
               coalesce(pg_relation_size(s.indexrelid), 0)::bigint, coalesce(s.idx_scan, 0)::bigint \
               FROM pg_stat_user_indexes s WHERE NOT EXISTS (SELECT 1 FROM pg_locks l WHERE \
               l.relation = s.indexrelid AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted)";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| IndexStats {
            schema: r.get(0),
            table: r.get(1),
            index: r.get(2),
            size: r.get(3),
            scans: r.get(4),
        })
        .collect())
}

pub async fn server_version(client: &Client) -> Result<i64, Error> {
    let row = client
        .query_one(
            &format!("{TAG} SELECT current_setting('server_version_num')::bigint"),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn bgwriter(client: &Client, version: i64) -> Result<BgWriter, Error> {
    let sql = if version >= 170000 {
        "SELECT cp.num_requested::bigint, cp.num_timed::bigint, cp.write_time::float8, \
         cp.sync_time::float8, bg.buffers_clean::bigint, NULL::bigint, NULL::bigint, \
         cp.buffers_written::bigint, bg.buffers_alloc::bigint, bg.maxwritten_clean::bigint \
         FROM pg_stat_bgwriter bg, pg_stat_checkpointer cp"
    } else {
        "SELECT checkpoints_req::bigint, checkpoints_timed::bigint, checkpoint_write_time::float8, \
         checkpoint_sync_time::float8, buffers_clean::bigint, buffers_backend::bigint, \
         buffers_backend_fsync::bigint, buffers_checkpoint::bigint, buffers_alloc::bigint, \
         maxwritten_clean::bigint FROM pg_stat_bgwriter"
    };
    let r = client.query_one(&format!("{TAG} {sql}"), &[]).await?;
    Ok(BgWriter {
        checkpoints_requested: r.get(0),
        checkpoints_scheduled: r.get(1),
        write_time_ms: r.get(2),
        sync_time_ms: r.get(3),
        buffers_clean: r.get(4),
        buffers_backend: r.get(5),
        buffers_backend_fsync: r.get(6),
        buffers_checkpoint: r.get(7),
        buffers_allocated: r.get(8),
        maxwritten: r.get(9),
    })
}

pub async fn max_connections(client: &Client) -> Result<i64, Error> {
    let row = client
        .query_one(
            &format!("{TAG} SELECT current_setting('max_connections')::bigint"),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn replication(client: &Client) -> Result<Vec<Replication>, Error> {
    let sql = "SELECT coalesce(client_addr::text, 'unix'), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, \
               extract(epoch from write_lag)::float8, extract(epoch from flush_lag)::float8, \
               extract(epoch from replay_lag)::float8 FROM pg_stat_replication";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| Replication {
            client: r.get(0),
            pending_bytes: r.get(1),
            lags: [r.get(2), r.get(3), r.get(4)],
        })
        .collect())
}

/// Seconds since the last WAL file was archived; None when nothing was ever archived.
pub async fn wal_age(client: &Client) -> Result<Option<i64>, Error> {
    let row = client
        .query_one(
            &format!("{TAG} SELECT extract(epoch from now() - last_archived_time)::bigint FROM pg_stat_archiver"),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn conflicts(client: &Client) -> Result<Vec<Conflicts>, Error> {
    let sql = "SELECT datname::text, confl_tablespace::bigint, confl_lock::bigint, confl_snapshot::bigint, \
               confl_bufferpin::bigint, confl_deadlock::bigint FROM pg_stat_database_conflicts WHERE datname IS NOT NULL";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| Conflicts {
            database: r.get(0),
            counts: std::array::from_fn(|i| r.get(i + 1)),
        })
        .collect())
}

/// Locks in the connected database, counted by relation, mode and type.
pub async fn locks(client: &Client) -> Result<Vec<Lock>, Error> {
    let sql = "SELECT coalesce(c.relname::text, ''), l.mode::text, l.locktype::text, count(*)::bigint \
               FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation \
               WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               GROUP BY 1, 2, 3";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| Lock {
            relation: r.get(0),
            mode: r.get(1),
            lock_type: r.get(2),
            count: r.get(3),
        })
        .collect())
}

/// Per database: seconds spent executing the statements `pg_stat_statements` tracks.
pub async fn execution_time(client: &Client) -> Result<Vec<(String, f64)>, Error> {
    let sql = "SELECT d.datname::text, (sum(s.total_exec_time) / 1000.0)::float8 FROM pg_stat_statements s \
               JOIN pg_database d ON d.oid = s.dbid GROUP BY d.datname";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Every `pg_stat_statements` entry but the receiver's own. The I/O columns were renamed in
/// PostgreSQL 17 (`blk_read_time` → `shared_blk_read_time` …), hence the lookup through jsonb.
pub async fn statements(client: &Client) -> Result<Vec<Statement>, Error> {
    let sql = "SELECT d.datname::text, s.userid::bigint, coalesce(s.queryid, 0)::bigint, coalesce(s.query, ''), \
               s.calls::bigint, s.total_exec_time::float8, \
               (coalesce((j->>'blk_read_time')::float8, (j->>'shared_blk_read_time')::float8, 0) + \
                coalesce((j->>'blk_write_time')::float8, (j->>'shared_blk_write_time')::float8, 0))::float8 \
               FROM pg_stat_statements s CROSS JOIN LATERAL to_jsonb(s) AS j \
               JOIN pg_database d ON d.oid = s.dbid \
               WHERE s.query NOT LIKE '/* ferrotel */%'";
    Ok(rows(client, sql)
        .await?
        .iter()
        .map(|r| Statement {
            database: r.get(0),
            user_id: r.get(1),
            query_id: r.get(2),
            query: r.get(3),
            calls: r.get(4),
            total_time_ms: r.get(5),
            io_time_ms: r.get(6),
        })
        .collect())
}

/// Backends waiting for a lock, one row per blocking backend, longest wait first.
pub async fn lock_waits(client: &Client, limit: usize) -> Result<Vec<LockWait>, Error> {
    let sql = format!(
        "SELECT coalesce(a.datname::text, ''), a.pid::bigint, coalesce(a.query, ''), \
         extract(epoch from now() - coalesce(a.state_change, now()))::float8, b.pid::bigint, \
         coalesce(b.query, '') FROM pg_stat_activity a \
         CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS blocker(pid) \
         JOIN pg_stat_activity b ON b.pid = blocker.pid \
         WHERE a.wait_event_type = 'Lock' ORDER BY 4 DESC LIMIT {limit}"
    );
    Ok(rows(client, &sql)
        .await?
        .iter()
        .map(|r| LockWait {
            database: r.get(0),
            pid: r.get(1),
            query: r.get(2),
            wait_seconds: r.get(3),
            blocking_pid: r.get(4),
            blocking_query: r.get(5),
        })
        .collect())
}

/// On a standby, seconds since the last replayed commit; None on a primary.
pub async fn replay_lag(client: &Client) -> Result<Option<f64>, Error> {
    let sql = "SELECT CASE WHEN pg_is_in_recovery() THEN \
               extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 END";
    Ok(client.query_one(&format!("{TAG} {sql}"), &[]).await?.get(0))
}
