using System.Text.Json;
using System.Text.RegularExpressions;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Tests;

/// <summary>
/// A sweep killed mid-trial, then resumed from damaged or moved checkpoint files: a checkpoint that does not load falls
/// back to the one before it, and a copied run directory resumes from its own files.
/// </summary>
public sealed partial class CheckpointFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-ckptfiles-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private const int Epochs = 10;

    private const string Spec = """
        name: synthetic
        seed: 5
        objective: {metric: test_accuracy, mode: max}
        trainable:
          model: synthetic
          dataset: {name: fashion_mnist, path: .}
          epochs: 10
          synthetic: {epoch_seconds: 0.25}
        parameters:
          trainable.optimizer.lr: {values: [0.1]}
        checkpoint: {interval_epochs: 1, keep: 0}
        output: {dir: runs}
        """;

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    /// <summary>
    /// Starts the sweep and kills it once t0001's epoch 3 is journaled (so its checkpoint after epoch 2 or later is too).
    /// The test sees that line through a pipe; on a loaded machine it may see it only after the trial has finished (and
    /// the sweep with it), which is not the mid-trial kill these tests need: the journal says so, and the sweep is run
    /// again in a fresh folder (up to three times).
    /// </summary>
    private async Task<string> KilledMidTrialAsync()
    {
        for (int attempt = 1; ; attempt++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(_dir, $"attempt{attempt}")).FullName;
            var spec = Path.Combine(folder, "spec.yaml");
            File.WriteAllText(spec, Spec);
            string runDir;
            using (var run = SweeperProcess.Start(folder, "run", spec))
            {
                runDir = RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60))).Groups[1].Value;
                await run.WaitForLineAsync(l => l.StartsWith($"t0001 epoch 3/{Epochs}", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
                run.KillHard();
            }
            TrialRecord trial;
            using (var journal = SweepJournal.Open(runDir)) trial = Assert.Single(journal.Load().Trials);
            if (trial.State == TrialState.Running && trial.Checkpoint is { Epoch: < Epochs }) return runDir;
            Assert.True(attempt < 3, $"the kill came after t0001 ended in three attempts (last: {trial.State}, checkpoint {trial.Checkpoint})");
        }
    }

    private static JsonElement OnlyTrial(string runDir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trial = Assert.Single(doc.RootElement.GetProperty("trials").EnumerateArray()).Clone();
        Assert.Equal("completed", trial.GetProperty("state").GetString());
        Assert.Equal(Enumerable.Range(1, Epochs), trial.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
        return trial;
    }

    [Fact]
    public async Task NewestCheckpointTruncated_ResumeContinuesFromThePreviousOneAndSaysSo()
    {
        var runDir = await KilledMidTrialAsync();
        CheckpointRef newest;
        using (var journal = SweepJournal.Open(runDir)) newest = journal.Load().Trials[0].Checkpoint!;
        foreach (var c in CheckpointStore.ListIn(Path.GetDirectoryName(newest.Path)!).Where(c => c.Epoch >= newest.Epoch))
            File.WriteAllText(c.Path, "sweeper-synthetic-che"); // cut short (and any newer one the killed worker left)

        var resumed = await SweeperProcess.RunAsync(Path.GetDirectoryName(Path.GetDirectoryName(runDir))!, TimeSpan.FromMinutes(2), "resume", runDir);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var crash = Assert.Single(OnlyTrial(runDir).GetProperty("crashes").EnumerateArray()).GetProperty("error").GetString();
        Assert.Contains($"checkpoint '{newest.Path}' cannot be loaded (InvalidDataException: {newest.Path} is not a synthetic trainable checkpoint)", crash);
        Assert.Contains($"continued from the checkpoint after epoch {newest.Epoch - 1} ('{Path.GetDirectoryName(newest.Path)}", crash);
    }

    [Fact]
    public async Task RunDirectoryCopied_TheCopyResumesFromItsOwnCheckpoints()
    {
        var runDir = await KilledMidTrialAsync();
        var copy = Path.Combine(_dir, "copied-run");
        foreach (var file in Directory.GetFiles(runDir, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(copy, Path.GetRelativePath(runDir, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        Directory.Delete(runDir, recursive: true); // the original's files are gone

        var resumed = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "resume", copy);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var trial = OnlyTrial(copy);
        Assert.Equal(0, trial.GetProperty("crashes").GetArrayLength()); // its checkpoint loaded at once
        Assert.InRange(Assert.Single(trial.GetProperty("resumes").EnumerateArray()).GetProperty("from_epoch").GetInt32(), 2, Epochs - 1);
        Assert.StartsWith(Path.Combine(copy, "checkpoints", "t0001") + Path.DirectorySeparatorChar, trial.GetProperty("checkpoint").GetProperty("path").GetString());
    }
}
