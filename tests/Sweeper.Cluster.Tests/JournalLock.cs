using Microsoft.Data.Sqlite;
using Sweeper.Cluster.Journal;

namespace Sweeper.Cluster.Tests;

/// <summary>A bad day for the journal: another connection holding <c>BEGIN EXCLUSIVE</c> on it, so that every write waits, then fails with SQLITE_BUSY.</summary>
internal static class JournalLock
{
    /// <summary>Holds the lock on the journal in <paramref name="runDirectory"/> until the returned connection is disposed.</summary>
    public static SqliteConnection Hold(string runDirectory)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(runDirectory, SweepJournal.FileName), Pooling = false }.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "BEGIN EXCLUSIVE";
        cmd.ExecuteNonQuery();
        return db;
    }
}
