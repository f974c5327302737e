using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Journal;

/// <summary>One change to record: a trial's row, an epoch's metrics, or dropping epochs a resumed trial will redo.</summary>
public abstract record JournalEntry
{
    public sealed record NewTrial(TrialConfig Config) : JournalEntry;
    /// <summary>A trial's settings replaced (a resume relocated their paths); otherwise a trial's config is written once.</summary>
    public sealed record TrialConfigRow(TrialConfig Config) : JournalEntry;
    public sealed record TrialRow(TrialRecord Result) : JournalEntry;
    public sealed record EpochRow(TrialId Id, EpochResult Result) : JournalEntry;
    public sealed record DropEpochsAfter(TrialId Id, int After) : JournalEntry;
    /// <summary>Sets a metadata value; null removes it.</summary>
    public sealed record MetaValue(string Key, string? Value) : JournalEntry;
}

/// <summary>What a journal holds: the spec as written and every trial with its epochs.</summary>
/// <param name="TraceParent">The W3C traceparent of the sweep's root span, so a resumed sweep stays in the same trace.</param>
public sealed record JournalState(string SpecText, string SpecPath, DateTimeOffset StartedAt, IReadOnlyList<TrialRecord> Trials, string? TraceParent = null)
{
    /// <summary>Why the sweep stopped early, if it did.</summary>
    public string? StopReason { get; init; }

    /// <summary>
    /// The folder relative paths in the spec resolve against: the spec's folder found from the run directory where it is
    /// now (journals record it relative to the run directory, so a run directory moved together with its spec's folder
    /// resumes with the files next to it), else the spec's original folder (journals from before, or when only the run
    /// directory was moved).
    /// </summary>
    public string SpecDirectory { get; init; } = "";

    /// <summary>Whether <see cref="SpecDirectory"/> was found relative to the run directory (false: the spec's original folder).</summary>
    public bool SpecDirectoryMoved { get; init; }

    /// <summary>The number of trials the sweep may create, once extended (<c>sweeper resume --extend</c>); null: as the spec plans.</summary>
    public long? TrialLimit { get; init; }

    /// <summary>When the time budget counts from, once an extension restarted it; null: from <see cref="StartedAt"/>.</summary>
    public DateTimeOffset? BudgetFrom { get; init; }

    /// <summary>The stop reason of a sweep that reached its target and was extended after it: the target no longer stops it.</summary>
    public string? TargetReached { get; init; }
}

/// <summary>
/// The coordinator's state in SQLite (WAL) in the run directory. Every batch of changes is one transaction,
/// committed before the coordinator sends anything that depends on it. With WAL and synchronous=NORMAL a committed
/// batch survives the process being killed (not a power cut).
/// <para>
/// Checkpoint paths inside the run directory are kept relative to it (with <c>/</c>), and made full again by
/// <see cref="Load"/> against the folder the journal is in: a copied or moved run directory resumes from its own files.
/// Paths elsewhere (a <c>checkpoint.dir</c> outside the run) stay absolute, as do those older journals kept.
/// </para>
/// </summary>
public sealed class SweepJournal : IDisposable
{
    public const string FileName = "journal.db";

    /// <summary>Metadata keys: the spec's folder relative to the run directory, and what resumes with --extend changed.</summary>
    public const string SpecDirKey = "spec_dir", TrialLimitKey = "trial_limit", BudgetFromKey = "budget_from", TargetReachedKey = "target_reached",
        StopReasonKey = "stop_reason";
    private const int FormatVersion = 1;

    private readonly SqliteConnection _db;
    private SqliteCommand? _insertTrial, _updateTrial, _dropEpochs;
    private EpochUpsert? _upsertEpoch;
    private readonly MetricsJson _metricsJson = new();
    private bool _noAssignment, _noInterrupted;

    private SweepJournal(SqliteConnection db)
    {
        _db = db;
        _runDirectory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(db.DataSource))!;
    }

    private readonly string _runDirectory;

    public string Path => _db.DataSource;

    /// <summary>Creates the journal of a new sweep; trials are added as they are created.</summary>
    public static SweepJournal Create(string runDirectory, SweepSpec spec, DateTimeOffset startedAt)
    {
        var path = System.IO.Path.Combine(runDirectory, FileName);
        if (File.Exists(path)) throw new IOException($"a journal already exists at {path}");
        var journal = new SweepJournal(Connect(path));
        journal.Exec("""
            PRAGMA journal_mode=WAL;
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE trials(id INTEGER PRIMARY KEY, config TEXT NOT NULL, state TEXT NOT NULL, worker TEXT,
                                started_at TEXT, finished_at TEXT, reason TEXT, rung INTEGER, checkpoint TEXT, resumes TEXT NOT NULL DEFAULT '[]', crashes TEXT NOT NULL DEFAULT '[]',
                                attempts TEXT NOT NULL DEFAULT '[]', healthy_checkpoint TEXT, assignment INTEGER NOT NULL DEFAULT 0,
                                interrupted INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE epochs(trial INTEGER NOT NULL, epoch INTEGER NOT NULL, metrics TEXT NOT NULL, duration_ms REAL NOT NULL,
                                PRIMARY KEY(trial, epoch));
            """);
        using var tx = journal._db.BeginTransaction();
        var meta = new List<(string, string)> { ("format", FormatVersion.ToString(CultureInfo.InvariantCulture)), ("spec_text", spec.SourceText), ("spec_path", spec.SourcePath), ("started_at", startedAt.ToString("O", CultureInfo.InvariantCulture)) };
        if (SpecDirectoryFrom(journal._runDirectory, spec.SourcePath) is { } specDir) meta.Add((SpecDirKey, specDir));
        foreach (var (k, v) in meta)
            journal.Exec("INSERT INTO meta(key, value) VALUES ($k, $v)", ("$k", k), ("$v", v));
        tx.Commit();
        return journal;
    }

    /// <summary>Opens the journal of an existing run directory.</summary>
    public static SweepJournal Open(string runDirectory)
    {
        var path = System.IO.Path.Combine(runDirectory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"no journal in {runDirectory} (expected {FileName}); is this a Sweeper run directory?", path);
        var journal = new SweepJournal(Connect(path));
        try { journal.Migrate(); }
        catch { journal.Dispose(); throw; }
        return journal;
    }

    /// <summary>
    /// Opens the journal of a run directory for reading only (<c>sweeper status</c>, <c>sweeper ls</c>): the file is
    /// opened read-only and nothing is migrated, so a sweep running in another process right now is never disturbed
    /// (in WAL mode a reader neither blocks the writer nor is blocked by it). <see cref="Load"/> reads one snapshot.
    /// A journal without its <c>-wal</c> file has no connection open (the last one to close checkpointed everything into
    /// the file and removed it): it is read as an immutable file, which takes no lock and, unlike a read-only WAL
    /// connection, leaves no <c>-wal</c> and <c>-shm</c> files behind in someone else's run directory.
    /// </summary>
    public static SweepJournal OpenReadOnly(string runDirectory)
    {
        var path = System.IO.Path.Combine(runDirectory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"no journal in {runDirectory} (expected {FileName}); is this a Sweeper run directory?", path);
        var source = File.Exists(path + "-wal") ? path : new Uri(System.IO.Path.GetFullPath(path)).AbsoluteUri + "?immutable=1";
        var journal = new SweepJournal(Connect(source, readOnly: true));
        try
        {
            var columns = journal.Columns();
            journal._noAssignment = columns.Count > 0 && !columns.Contains("assignment");
            journal._noInterrupted = columns.Count > 0 && !columns.Contains("interrupted");
        }
        catch { journal.Dispose(); throw; }
        return journal;
    }

    /// <summary>Brings a journal written by an older version up to date (columns added since; their defaults fit old rows).</summary>
    private void Migrate()
    {
        var columns = Columns();
        if (columns.Count == 0) return;
        // The trial's newest assignment number (0 for journals from before it was kept: their trials start again at 1).
        _noAssignment = !AddColumn(columns, "assignment", "INTEGER NOT NULL DEFAULT 0");
        // Whether an interruption of the sweep stopped the trial (0: older journals knew none).
        _noInterrupted = !AddColumn(columns, "interrupted", "INTEGER NOT NULL DEFAULT 0");
    }

    /// <summary>The columns of the trials table (none when it has no trials table).</summary>
    private HashSet<string> Columns()
    {
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using (var cmd = Command("SELECT name FROM pragma_table_info('trials')"))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) columns.Add(r.GetString(0));
        return columns;
    }

    /// <summary>Adds a column an older journal lacks; false when it cannot (read-only: a report of someone else's run reads its default).</summary>
    private bool AddColumn(HashSet<string> columns, string name, string definition)
    {
        if (columns.Contains(name)) return true;
        try { Exec($"ALTER TABLE trials ADD COLUMN {name} {definition}"); }
        catch (SqliteException) { return false; }
        return true;
    }

    public JournalState Load()
    {
        // One read transaction: the three tables as of one commit, even while another process writes them.
        using var snapshot = _db.BeginTransaction(deferred: true);
        var meta = new Dictionary<string, string>();
        using (var cmd = Command("SELECT key, value FROM meta", snapshot))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) meta[r.GetString(0)] = r.GetString(1);
        if (!meta.TryGetValue("format", out var format) || format != FormatVersion.ToString(CultureInfo.InvariantCulture))
            throw new InvalidDataException($"{Path}: unsupported journal format '{format}'");

        var epochs = new Dictionary<int, List<EpochResult>>();
        var metricSets = new MetricSets(); // as the coordinator keeps them
        using (var cmd = Command("SELECT trial, epoch, metrics, duration_ms FROM epochs ORDER BY trial, epoch", snapshot))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
            {
                var metrics = JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(2), SweeperMessageSerializer.Options)!;
                (epochs.TryGetValue(r.GetInt32(0), out var list) ? list : epochs[r.GetInt32(0)] = []).Add(
                    new EpochResult(r.GetInt32(1), metricSets.Compact(metrics), ResultsJsonReader.Milliseconds(r.GetDouble(3)))); // to the nearest tick: FromMilliseconds truncates
            }

        var trials = new List<TrialRecord>();
        using (var cmd = Command($"SELECT id, config, state, worker, started_at, finished_at, reason, checkpoint, resumes, rung, crashes, attempts, healthy_checkpoint, {(_noAssignment ? "0" : "assignment")}, {(_noInterrupted ? "0" : "interrupted")} FROM trials ORDER BY id", snapshot))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
            {
                trials.Add(new TrialRecord
                {
                    Config = JsonSerializer.Deserialize<TrialConfig>(r.GetString(1), SweeperMessageSerializer.Options)!,
                    State = Enum.Parse<TrialState>(r.GetString(2)),
                    Worker = r.IsDBNull(3) ? null : r.GetString(3),
                    StartedAt = r.IsDBNull(4) ? null : DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture),
                    FinishedAt = r.IsDBNull(5) ? null : DateTimeOffset.Parse(r.GetString(5), CultureInfo.InvariantCulture),
                    Reason = r.IsDBNull(6) ? null : r.GetString(6),
                    Checkpoint = r.IsDBNull(7) ? null : Resolved(JsonSerializer.Deserialize<CheckpointRef>(r.GetString(7), SweeperMessageSerializer.Options)),
                    Resumes = JsonSerializer.Deserialize<List<TrialResume>>(r.GetString(8), SweeperMessageSerializer.Options)!,
                    Rung = r.IsDBNull(9) ? null : r.GetInt32(9),
                    Crashes = JsonSerializer.Deserialize<List<TrialCrash>>(r.GetString(10), SweeperMessageSerializer.Options)!,
                    Attempts = JsonSerializer.Deserialize<List<TrialAttempt>>(r.GetString(11), SweeperMessageSerializer.Options)!
                        .Select(a => a.ParentCheckpoint is { } p ? a with { ParentCheckpoint = Resolved(p) } : a).ToList(),
                    HealthyCheckpoint = r.IsDBNull(12) ? null : Resolved(JsonSerializer.Deserialize<CheckpointRef>(r.GetString(12), SweeperMessageSerializer.Options)),
                    Assignment = r.GetInt32(13),
                    Interrupted = r.GetInt32(14) != 0,
                    Epochs = epochs.GetValueOrDefault(r.GetInt32(0)) ?? [],
                });
            }
        var original = System.IO.Path.GetDirectoryName(meta["spec_path"]) is { Length: > 0 } folder ? folder : _runDirectory;
        var moved = meta.TryGetValue(SpecDirKey, out var relative) ? System.IO.Path.GetFullPath(relative, _runDirectory) : null;
        bool useMoved = moved is not null && (Directory.Exists(moved) || !Directory.Exists(original));
        return new JournalState(meta["spec_text"], meta["spec_path"], DateTimeOffset.Parse(meta["started_at"], CultureInfo.InvariantCulture), trials,
            meta.GetValueOrDefault("trace_parent"))
        {
            StopReason = meta.GetValueOrDefault(StopReasonKey),
            SpecDirectory = useMoved ? moved! : original,
            SpecDirectoryMoved = useMoved,
            TrialLimit = meta.TryGetValue(TrialLimitKey, out var limit) ? long.Parse(limit, CultureInfo.InvariantCulture) : null,
            BudgetFrom = meta.TryGetValue(BudgetFromKey, out var from) ? DateTimeOffset.Parse(from, CultureInfo.InvariantCulture) : null,
            TargetReached = meta.GetValueOrDefault(TargetReachedKey),
        };
    }

    /// <summary>
    /// The folder of the spec at <paramref name="specPath"/> relative to the run directory (with <c>/</c>), as
    /// <see cref="Create"/> records it; the full path when there is no relative one (another drive); null without a file.
    /// </summary>
    internal static string? SpecDirectoryFrom(string runDirectory, string specPath)
    {
        if (!System.IO.Path.IsPathRooted(specPath) || System.IO.Path.GetDirectoryName(specPath) is not { Length: > 0 } folder) return null;
        var relative = System.IO.Path.GetRelativePath(runDirectory, folder);
        return System.IO.Path.IsPathRooted(relative) ? relative : relative.Replace(System.IO.Path.DirectorySeparatorChar, '/');
    }

    /// <summary>
    /// Journals what a resume changes before its coordinator starts, in one transaction: relocated trials' settings and
    /// rows, each rerun trial's row (its old epochs dropped), the extended trial limit, a restarted time budget and a
    /// target the sweep goes beyond (whose stop reason is then no longer the sweep's).
    /// </summary>
    public void Apply(ResumePlan plan)
    {
        var batch = new List<JournalEntry>();
        foreach (var t in plan.Relocated) batch.Add(new JournalEntry.TrialConfigRow(t.Config));
        foreach (var t in plan.Rerun) batch.Add(new JournalEntry.DropEpochsAfter(t.Id, 0));
        foreach (var t in plan.Relocated.Concat(plan.Rerun).DistinctBy(t => t.Id)) batch.Add(new JournalEntry.TrialRow(t));
        if (plan.TrialLimit is { } limit) batch.Add(new JournalEntry.MetaValue(TrialLimitKey, limit.ToString(CultureInfo.InvariantCulture)));
        if (plan.BudgetFrom is { } from) batch.Add(new JournalEntry.MetaValue(BudgetFromKey, from.ToString("O", CultureInfo.InvariantCulture)));
        if (plan.IgnoreTarget && plan.EndsStop is { } reached) batch.Add(new JournalEntry.MetaValue(TargetReachedKey, reached));
        if (plan.EndsStop is not null) batch.Add(new JournalEntry.MetaValue(StopReasonKey, null));
        Write(batch);
    }

    /// <summary>When the sweep first started (the journal's <c>started_at</c>), without reading its trials.</summary>
    public DateTimeOffset StartedAt()
    {
        using var cmd = Command("SELECT value FROM meta WHERE key = 'started_at'");
        return cmd.ExecuteScalar() is string text
            ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture)
            : throw new InvalidDataException($"{Path}: no start time in the journal");
    }

    /// <summary>Sets a metadata value (e.g. the sweep's trace context).</summary>
    public void SetMeta(string key, string value) =>
        Exec("INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ("$k", key), ("$v", value));

    /// <summary>
    /// How long a write waits for a lock another connection holds before it fails with SQLITE_BUSY, in whole seconds (at
    /// least 1; default 30 s: Microsoft.Data.Sqlite retries a busy statement until its command timeout).
    /// </summary>
    public void SetBusyTimeout(TimeSpan timeout)
    {
        Exec($"PRAGMA busy_timeout={(long)timeout.TotalMilliseconds}");
        _db.DefaultTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        foreach (var cmd in new[] { _insertTrial, _updateTrial, _dropEpochs })
            if (cmd is not null) cmd.CommandTimeout = _db.DefaultTimeout;
    }

    /// <summary>Writes a batch of changes in one transaction.</summary>
    public void Write(IReadOnlyList<JournalEntry> batch)
    {
        if (batch.Count == 0) return;
        // Prepared once, reused by every batch.
        var insert = _insertTrial ??= Prepare("INSERT INTO trials(id, config, state) VALUES ($id, $config, 'Pending')", "$id", "$config");
        var trial = _updateTrial ??= Prepare("""
            UPDATE trials SET state=$state, worker=$worker, started_at=$started, finished_at=$finished, reason=$reason,
                              checkpoint=$checkpoint, resumes=$resumes, rung=$rung, crashes=$crashes, attempts=$attempts, healthy_checkpoint=$healthy,
                              assignment=$assignment, interrupted=$interrupted WHERE id=$id
            """, "$state", "$worker", "$started", "$finished", "$reason", "$checkpoint", "$resumes", "$rung", "$crashes", "$attempts", "$healthy", "$assignment", "$interrupted", "$id");
        var epoch = _upsertEpoch ??= new EpochUpsert(_db);
        var drop = _dropEpochs ??= Prepare("DELETE FROM epochs WHERE trial=$trial AND epoch>$epoch", "$trial", "$epoch");
        using var tx = _db.BeginTransaction();
        insert.Transaction = trial.Transaction = drop.Transaction = tx;
        foreach (var entry in batch)
        {
            switch (entry)
            {
                case JournalEntry.NewTrial(var config):
                    Run(insert, config.Id.Index, JsonSerializer.Serialize(config, SweeperMessageSerializer.Options));
                    break;
                case JournalEntry.TrialRow(var t):
                    Run(trial, t.State.ToString(), t.Worker, t.StartedAt?.ToString("O", CultureInfo.InvariantCulture),
                        t.FinishedAt?.ToString("O", CultureInfo.InvariantCulture), t.Reason,
                        t.Checkpoint is null ? null : JsonSerializer.Serialize(Stored(t.Checkpoint), SweeperMessageSerializer.Options),
                        JsonList(t.Resumes), t.Rung, JsonList(t.Crashes),
                        t.Attempts.Count == 0 ? EmptyJsonList
                            : JsonSerializer.Serialize(t.Attempts.Select(a => a.ParentCheckpoint is { } p ? a with { ParentCheckpoint = Stored(p) } : a).ToList(),
                                SweeperMessageSerializer.Options),
                        t.HealthyCheckpoint is null ? null : JsonSerializer.Serialize(Stored(t.HealthyCheckpoint), SweeperMessageSerializer.Options), t.Assignment,
                        t.Interrupted ? 1 : 0, t.Id.Index);
                    break;
                case JournalEntry.EpochRow(var id, var e):
                    epoch.Run(id.Index, e.Epoch, _metricsJson.Write(e.Metrics), e.Duration.TotalMilliseconds);
                    break;
                case JournalEntry.DropEpochsAfter(var id, var after):
                    Run(drop, id.Index, after);
                    break;
                case JournalEntry.MetaValue(var key, null):
                    using (var meta = Command("DELETE FROM meta WHERE key=$k", "$k"))
                    {
                        meta.Transaction = tx;
                        Run(meta, key);
                    }
                    break;
                case JournalEntry.MetaValue(var key, var value):
                    using (var meta = Command("INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", "$k", "$v"))
                    {
                        meta.Transaction = tx;
                        Run(meta, key, value);
                    }
                    break;
                case JournalEntry.TrialConfigRow(var config):
                    using (var update = Command("UPDATE trials SET config=$config WHERE id=$id", "$config", "$id"))
                    {
                        update.Transaction = tx;
                        Run(update, JsonSerializer.Serialize(config, SweeperMessageSerializer.Options), config.Id.Index);
                    }
                    break;
            }
        }
        tx.Commit();
    }

    /// <summary>What <see cref="JsonSerializer"/> writes for an empty list.</summary>
    private const string EmptyJsonList = "[]";

    /// <summary>A list as JSON; most trials' resumes, crashes and attempts are empty, and written with every change of the trial.</summary>
    private static string JsonList<T>(IReadOnlyList<T> items) =>
        items.Count == 0 ? EmptyJsonList : JsonSerializer.Serialize(items, SweeperMessageSerializer.Options);

    /// <summary>A checkpoint path as the journal keeps it: relative to the run directory (with <c>/</c>) when inside it, else as given.</summary>
    internal string Stored(string path)
    {
        if (!System.IO.Path.IsPathRooted(path)) return path;
        var relative = System.IO.Path.GetRelativePath(_runDirectory, path);
        bool outside = relative == "." || relative == ".." || System.IO.Path.IsPathRooted(relative)
            || relative.StartsWith(".." + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);
        return outside ? path : relative.Replace(System.IO.Path.DirectorySeparatorChar, '/');
    }

    /// <summary>A kept checkpoint path made full again: a relative one is resolved against the run directory the journal is in now.</summary>
    internal string Resolved(string path) =>
        System.IO.Path.IsPathRooted(path) || path.Length == 0 ? path : System.IO.Path.GetFullPath(path, _runDirectory);

    private CheckpointRef Stored(CheckpointRef c) => c with { Path = Stored(c.Path) };

    private CheckpointRef? Resolved(CheckpointRef? c) => c is null ? null : c with { Path = Resolved(c.Path) };

    public void Dispose()
    {
        _insertTrial?.Dispose();
        _updateTrial?.Dispose();
        _upsertEpoch?.Dispose();
        _dropEpochs?.Dispose();
        _db.Dispose();
        SqliteConnection.ClearPool(_db);
    }

    private static SqliteConnection Connect(string path, bool readOnly = false)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path, Pooling = false, Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
        }.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;";
        cmd.ExecuteNonQuery();
        return db;
    }

    private SqliteCommand Command(string sql, params string[] parameters) => Command(sql, null, parameters);

    private SqliteCommand Command(string sql, SqliteTransaction? transaction, params string[] parameters)
    {
        var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = transaction;
        foreach (var p in parameters) cmd.Parameters.Add(new SqliteParameter { ParameterName = p });
        return cmd;
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var cmd = Command(sql, parameters);
        cmd.Prepare();
        return cmd;
    }

    private static void Run(SqliteCommand cmd, params object?[] values)
    {
        for (int i = 0; i < values.Length; i++) cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
        cmd.ExecuteNonQuery();
    }

    private void Exec(string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        cmd.ExecuteNonQuery();
    }
}
