using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// The journal's per-epoch upsert, <c>INSERT OR REPLACE INTO epochs(trial, epoch, metrics, duration_ms)</c>, through
/// SQLite's own API on the journal's connection: the metrics are bound as the UTF-8 bytes <see cref="MetricsJson"/>
/// wrote, with no string, boxed value, parameter binder or data reader per row — what <c>SqliteCommand.ExecuteNonQuery</c>
/// allocates for each of the journal's most frequent rows. A busy or locked database is retried as Microsoft.Data.Sqlite
/// retries a command (every 150 ms until the connection's default timeout), and any other failure throws the
/// <see cref="SqliteException"/> Microsoft.Data.Sqlite would throw.
/// </summary>
/// <remarks>Runs inside whatever transaction the connection has open. Not thread-safe.</remarks>
internal sealed class EpochUpsert : IDisposable
{
    private const string Sql = "INSERT OR REPLACE INTO epochs(trial, epoch, metrics, duration_ms) VALUES (?1, ?2, ?3, ?4)";
    private readonly SqliteConnection _db;
    private readonly sqlite3_stmt _statement;

    public EpochUpsert(SqliteConnection db)
    {
        _db = db;
        var rc = raw.sqlite3_prepare_v2(db.Handle, Sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, db.Handle);
    }

    /// <summary>Writes one epoch row; <paramref name="metricsUtf8"/> is the metrics' JSON text in UTF-8.</summary>
    public void Run(long trial, long epoch, ReadOnlySpan<byte> metricsUtf8, double durationMilliseconds)
    {
        try
        {
            Check(raw.sqlite3_bind_int64(_statement, 1, trial));
            Check(raw.sqlite3_bind_int64(_statement, 2, epoch));
            Check(raw.sqlite3_bind_text(_statement, 3, metricsUtf8));
            Check(raw.sqlite3_bind_double(_statement, 4, durationMilliseconds));
            long started = Stopwatch.GetTimestamp();
            int rc;
            while (IsBusy(rc = raw.sqlite3_step(_statement)))
            {
                if (_db.DefaultTimeout != 0 && Stopwatch.GetElapsedTime(started).TotalSeconds >= _db.DefaultTimeout) break;
                raw.sqlite3_reset(_statement);
                Thread.Sleep(150);
            }

            if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, _db.Handle);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    private static bool IsBusy(int rc) => rc is raw.SQLITE_BUSY or raw.SQLITE_LOCKED or raw.SQLITE_LOCKED_SHAREDCACHE;

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db.Handle);
    }

    public void Dispose() => _statement.Dispose();
}
