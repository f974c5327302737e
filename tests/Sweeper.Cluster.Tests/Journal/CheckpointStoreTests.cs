using Sweeper.Cluster.Journal;
using Sweeper.Core.Model;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Journal;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly TrialId T3 = new(3);

    private string Root => Path.Combine(_dir, "checkpoints");

    private CheckpointStore Store(int keep = CheckpointStore.DefaultKeep) => new(Root, keep);

    private string At(params string[] parts) => Path.Combine([Root, .. parts]);

    private static CheckpointRef Save(CheckpointStore store, int assignment, int epoch, bool healthy = true, CheckpointRef? resumedFrom = null, TrialId? trial = null) =>
        store.Save(trial ?? T3, assignment, epoch, path => File.WriteAllText(path, $"a{assignment} e{epoch}"), healthy, resumedFrom);

    private static string[] FilesUnder(string folder) =>
        Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Order().ToArray()
            : [];

    /// <summary>Loads what <see cref="Save"/> wrote; a file that does not end as it should (truncated) is corrupt.</summary>
    private static int Load(string path)
    {
        var text = File.ReadAllText(path);
        if (!text.Contains(" e", StringComparison.Ordinal)) throw new InvalidDataException($"{path} is truncated");
        return int.Parse(text[(text.IndexOf(" e", StringComparison.Ordinal) + 2)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Save_FirstSave_ClaimsTheAssignmentsFolderAndLocateReadsTheLayoutBack()
    {
        var saved = Save(Store(), assignment: 2, epoch: 4);

        Assert.Equal(new CheckpointRef(4, At("t0003", "a0002", "epoch-0004.ckpt")), saved);
        Assert.Equal(new CheckpointLocation(T3, 4, "a0002"), CheckpointStore.Locate(saved.Path));
        Assert.Equal(new CheckpointLocation(T3, 4), CheckpointStore.Locate(At("t0003", "epoch-0004.ckpt"))); // as older runs wrote it
        Assert.Equal(["t0003/a0002/assignment.txt", "t0003/a0002/epoch-0004.ckpt"], FilesUnder(Root));
        Assert.Contains("trial=t0003\nassignment=2\n", File.ReadAllText(At("t0003", "a0002", CheckpointStore.OwnerFile)));
    }

    [Theory]
    [InlineData("none.ckpt")]                          // no trial folder
    [InlineData("runs/x/epoch-0004.ckpt")]             // a folder that is not a trial's
    [InlineData("c/t3/epoch-0004.ckpt")]               // not how a trial is spelled
    [InlineData("c/t0003/best.ckpt")]                  // not an epoch's file name
    [InlineData("c/t0003/epoch-.ckpt")]
    [InlineData("c/t0003/epoch-00x4.ckpt")]
    [InlineData("c/t0003/epoch-0004.ckpt.5f1d.tmp")]   // a write in progress
    [InlineData("c/t0003/epoch-0004.pt")]
    [InlineData("c/t0003/b0001/epoch-0004.ckpt")]      // not an assignment's folder
    [InlineData("c/t0003/a01/epoch-0004.ckpt")]
    [InlineData("c/x/a0001/epoch-0004.ckpt")]          // an assignment's folder outside a trial's
    public void Locate_PathOutsideTheLayout_Null(string path)
    {
        Assert.Null(CheckpointStore.Locate(Path.Combine(_dir, path)));
    }

    [Fact]
    public void Save_TwoAssignmentsOfOneTrial_NeverTheSamePathEvenWhenANewCoordinatorNumbersFromOneAgain()
    {
        var first = Save(Store(), 1, 2);
        var second = Save(Store(), 2, 2);
        var resumedCoordinator = Save(Store(), 1, 2); // another process: assignment 1 again, its folder is taken

        Assert.Equal([At("t0003", "a0001", "epoch-0002.ckpt"), At("t0003", "a0002", "epoch-0002.ckpt"), At("t0003", "a0001-2", "epoch-0002.ckpt")],
            [first.Path, second.Path, resumedCoordinator.Path]);
        Assert.Equal(["a1 e2", "a2 e2", "a1 e2"], new[] { first, second, resumedCoordinator }.Select(c => File.ReadAllText(c.Path)));
    }

    [Fact]
    public void Save_WriterGivenUpOnWakesUp_TheNewOwnersFilesAreUntouched()
    {
        var paused = Store();          // the worker that was paused, downed, and its trial assigned elsewhere
        var rescuer = Store();
        var handedOver = Save(paused, 1, 1);
        paused.Recorded(T3, 1, 1); // the coordinator journaled epoch 1; its word of epoch 2 never arrived
        Save(paused, 1, 2);
        var rescued = Save(rescuer, 2, 3, resumedFrom: handedOver);
        Save(rescuer, 2, 4);

        var inFlight = At("t0003", "a0002", "epoch-0005.ckpt.0123abcd.tmp"); // the rescuer is writing its next one
        File.WriteAllText(inFlight, "half");

        foreach (var epoch in new[] { 3, 4, 5, 6 }) Save(paused, 1, epoch); // it wakes up and carries on, pruning as it goes

        Assert.True(File.Exists(inFlight));
        File.Delete(inFlight);

        Assert.Equal(["a2 e3", "a2 e4"], rescuer.List(T3).Where(c => CheckpointStore.Locate(c.Path)!.Value.Assignment == "a0002").Select(c => File.ReadAllText(c.Path)));
        Assert.Equal(At("t0003", "a0002", "epoch-0003.ckpt"), rescued.Path);
        // The woken writer pruned nothing the journal might point at (epoch 1 and newer), and touched no file of a0002.
        Assert.Equal(["a0001/assignment.txt", "a0001/epoch-0001.ckpt", "a0001/epoch-0002.ckpt", "a0001/epoch-0003.ckpt", "a0001/epoch-0004.ckpt",
            "a0001/epoch-0005.ckpt", "a0001/epoch-0006.ckpt", "a0002/assignment.txt", "a0002/epoch-0003.ckpt", "a0002/epoch-0004.ckpt"],
            FilesUnder(At("t0003")));
    }

    [Fact]
    public void Save_KeepTwo_TheNewestTwoPlusTheNewestHealthyOne()
    {
        var store = Store(keep: 2);
        Save(store, 1, 1);
        store.Recorded(T3, 1, 1);
        Save(store, 1, 2, healthy: true);
        store.Recorded(T3, 1, 2);
        foreach (var epoch in new[] { 3, 4, 5 })
        {
            Save(store, 1, epoch, healthy: false);
            store.Recorded(T3, 1, epoch); // the coordinator journals each one soon after
        }

        Assert.Equal([2, 4, 5], CheckpointStore.ListIn(store.FolderOf(T3, 1)!).Select(c => c.Epoch));
    }

    [Fact]
    public void Save_KeepTwo_NothingOlderThanTheJournaledOneIsKeptButNothingFromItOnIsPruned()
    {
        var store = Store(keep: 2);
        Save(store, 1, 1);
        store.Recorded(T3, 1, 1);
        foreach (var epoch in new[] { 2, 3, 4, 5 }) Save(store, 1, epoch); // cut off: the coordinator's word stops at epoch 1

        Assert.Equal([1, 2, 3, 4, 5], CheckpointStore.ListIn(store.FolderOf(T3, 1)!).Select(c => c.Epoch));

        store.Recorded(T3, 1, 5); // back in touch: the journal points at epoch 5
        Save(store, 1, 6);

        Assert.Equal([5, 6], CheckpointStore.ListIn(store.FolderOf(T3, 1)!).Select(c => c.Epoch));
    }

    [Fact]
    public void Recorded_ForAnAssignmentNeverSaved_Ignored()
    {
        var store = Store(keep: 2);
        store.Recorded(T3, 7, 3);
        Assert.Empty(store.List(T3));
    }

    [Fact]
    public void Save_KeepZero_EveryCheckpointKept()
    {
        var store = Store(keep: 0);
        foreach (var epoch in new[] { 1, 2, 3, 4 }) Save(store, 1, epoch);

        Assert.Equal([1, 2, 3, 4], store.List(T3).Select(c => c.Epoch));
    }

    [Fact]
    public void Save_TempFilesOfAKilledWriter_RemovedAtTheNextSave()
    {
        var store = Store();
        Save(store, 1, 1);
        File.SetLastWriteTimeUtc(At("t0003", "a0001", CheckpointStore.OwnerFile), DateTime.UtcNow.AddMinutes(-5)); // claimed earlier
        var killed = At("t0003", "a0001", "epoch-0002.ckpt.0123abcd.tmp");
        File.WriteAllText(killed, "half");
        var legacy = At("t0003", "epoch-0001.ckpt.4567cdef.tmp");
        File.WriteAllText(legacy, "half");
        File.WriteAllText(At("t0003", "notes.txt"), "not ours to delete");

        Save(Store(), 2, 2);

        Assert.False(File.Exists(killed));
        Assert.False(File.Exists(legacy));
        Assert.True(File.Exists(At("t0003", "notes.txt")));
    }

    [Fact]
    public void Save_WriterThrowsHalfway_NoTempFileAndTheOldCheckpointIsKept()
    {
        var store = Store();
        var whole = Save(store, 1, 2);

        var ex = Assert.Throws<IOException>(() => store.Save(T3, 1, 2, tmp =>
        {
            File.WriteAllText(tmp, "ha");
            throw new IOException("disk full");
        }));

        Assert.Equal("disk full", ex.Message);
        Assert.Equal("a1 e2", File.ReadAllText(whole.Path));
        Assert.Equal(["a0001/assignment.txt", "a0001/epoch-0002.ckpt"], FilesUnder(At("t0003")));
    }

    [Fact]
    public void WriteAtomically_WriterWritesNothing_Throws()
    {
        var target = Path.Combine(_dir, "x", "file.bin");

        Assert.Throws<FileNotFoundException>(() => CheckpointStore.WriteAtomically(target, _ => { }));

        Assert.False(File.Exists(target));
    }

    [Fact]
    public void Resume_AfterACrash_TheNewestThisAssignmentSavedNeverAnotherAssignmentsFile()
    {
        var store = Store();
        var assigned = Save(Store(), 1, 1);
        Save(Store(), 3, 5); // a newer file of another (stale) assignment
        Save(store, 2, 2, resumedFrom: assigned);
        var own = Save(store, 2, 3);

        Assert.Equal(own, store.Resume(T3, 2, assigned));
        Assert.Equal(assigned, store.Resume(T3, 4, assigned)); // another assignment saved nothing through this store
        Assert.Equal(assigned, Store().Resume(T3, 2, assigned)); // another store (another process) knows nothing of it
        var newer = new CheckpointRef(4, "/elsewhere/t0003/a0009/epoch-0004.ckpt");
        Assert.Equal(newer, store.Resume(T3, 2, newer)); // only a newer one replaces the assigned checkpoint
        Assert.Null(Store().Resume(T3, 1, null));
    }

    [Fact]
    public void Restore_NewestTruncated_FallsBackToThePreviousAndSaysWhichFileFailed()
    {
        var store = Store();
        Save(store, 1, 1);
        var previous = Save(store, 1, 2);
        var newest = Save(store, 1, 3);
        File.WriteAllText(newest.Path, "a1"); // truncated

        var restored = CheckpointStore.Restore(T3, newest, Load);

        Assert.Equal(previous, restored.Loaded);
        Assert.Contains($"checkpoint '{newest.Path}' cannot be loaded (InvalidDataException: {newest.Path} is truncated)", restored.FellBack);
        Assert.EndsWith($"continued from the checkpoint after epoch 2 ('{previous.Path}')", restored.FellBack);
        Assert.Null(CheckpointStore.Restore(T3, previous, Load).FellBack);
    }

    [Fact]
    public void Candidates_AcrossAssignments_BackAlongTheLineageNeverAStaleOrForeignFile()
    {
        var first = Store(keep: 0);
        Save(first, 1, 1);
        var rolledBackTo = Save(first, 1, 2);
        Save(first, 1, 3);                        // the stale attempt's newer file
        Save(Store(), 1, 1, trial: new TrialId(4)); // another trial's
        var second = Store();
        Save(second, 2, 3, resumedFrom: rolledBackTo);
        var newest = Save(second, 2, 4);

        var candidates = CheckpointStore.Candidates(T3, newest);

        Assert.Equal([At("t0003", "a0002", "epoch-0004.ckpt"), At("t0003", "a0002", "epoch-0003.ckpt"), At("t0003", "a0001", "epoch-0002.ckpt"),
            At("t0003", "a0001", "epoch-0001.ckpt")], candidates.Select(c => c.Path));
    }

    [Fact]
    public void Restore_NothingLoads_FromScratchNamingEveryFile()
    {
        var only = Save(Store(), 1, 1);
        File.WriteAllText(only.Path, "");

        var restored = CheckpointStore.Restore(T3, only, Load);

        Assert.Null(restored.Loaded);
        Assert.Contains(only.Path, restored.FellBack);
        Assert.EndsWith("started from scratch", restored.FellBack);
    }

    [Fact]
    public void ExpectOwnedBy_AnotherTrialsCheckpoint_ClearErrorNamingThePath()
    {
        var other = Save(Store(), 1, 1, trial: new TrialId(4));

        var ex = Assert.Throws<InvalidDataException>(() => CheckpointStore.ExpectOwnedBy(T3, other.Path));

        Assert.Equal($"checkpoint '{other.Path}' belongs to t0004, not t0003", ex.Message);
        CheckpointStore.ExpectOwnedBy(new TrialId(4), other.Path);
    }
}
