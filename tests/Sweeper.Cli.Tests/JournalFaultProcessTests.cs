using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Sweeper.Cli.Tests;

/// <summary>A run whose journal cannot be written fails loudly: exit 1, one line naming the journal and the cause, the results so far written.</summary>
public sealed partial class JournalFaultProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-journal-fault-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    [Fact]
    public async Task Run_JournalLockedPastTheRetries_ExitsOneWithOneLine_ResultsSoFarWritten()
    {
        var spec = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(spec, """
            name: locked
            seed: 5
            objective: {metric: test_accuracy, mode: max}
            trainable:
              model: synthetic
              dataset: {name: fashion_mnist, path: .}
              epochs: 60
              synthetic: {epoch_seconds: 0.3}
            parameters:
              trainable.optimizer.lr: {values: [0.01, 0.1]}
            resources: {max_concurrent_trials: 1}
            output: {dir: runs}
            """);
        using var run = SweeperProcess.Start(_dir, "run", spec);
        var runDir = RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60))).Groups[1].Value;
        await run.WaitForLineAsync(l => l.StartsWith("t0001 epoch 2/60", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        var journal = Path.Combine(runDir, "journal.db");
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = journal, Pooling = false }.ToString());
        db.Open();
        using (var cmd = db.CreateCommand())
        {
            cmd.CommandText = "BEGIN EXCLUSIVE"; // held until the test ends: every write of the coordinator fails
            cmd.ExecuteNonQuery();
        }

        Assert.Equal(1, await run.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var errors = run.Output.Split('\n').Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).ToList();
        var error = Assert.Single(errors, l => l.Contains("error: "));
        Assert.Contains($"the journal {journal} cannot be written", error);
        Assert.Contains("database is locked", error);
        Assert.Contains($"results so far in {runDir}", error);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var t1 = results.RootElement.GetProperty("trials").EnumerateArray().First();
        Assert.Equal("t0001", t1.GetProperty("trial").GetString());
        Assert.True(t1.GetProperty("epochs").GetArrayLength() >= 2);
    }
}
