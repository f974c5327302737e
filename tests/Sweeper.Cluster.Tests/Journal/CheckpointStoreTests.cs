using Sweeper.Cluster.Journal;
using Sweeper.Core.Model;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Journal;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly TrialId T3 = new(3);

    private CheckpointStore Store() => new(Path.Combine(_dir, "checkpoints"));

    /// <summary>Writes a checkpoint file directly (as another attempt, or an older process, left it).</summary>
    private string Leave(CheckpointStore store, TrialId trial, int epoch, string text = "old")
    {
        var path = store.PathOf(trial, epoch);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static string[] FilesUnder(string folder) =>
        Directory.Exists(folder) ? Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetFileName(f)).Order().ToArray() : [];

    [Fact]
    public void PathOf_TrialAndEpoch_TheLayoutAndLocateReadsItBack()
    {
        var store = Store();

        var path = store.PathOf(T3, 4);

        Assert.Equal(Path.Combine(_dir, "checkpoints", "t0003", "epoch-0004.ckpt"), path);
        Assert.Equal(new CheckpointLocation(T3, 4), CheckpointStore.Locate(path));
        Assert.Equal(new CheckpointLocation(new TrialId(12), 1234), CheckpointStore.Locate(store.PathOf(new TrialId(12), 1234)));
    }

    [Fact]
    public void PathOf_RootAsGiven_NotMadeAbsolute()
    {
        Assert.Equal(Path.Combine("rel", "t0001", "epoch-0002.ckpt"), new CheckpointStore("rel").PathOf(new TrialId(1), 2));
    }

    [Theory]
    [InlineData("none.ckpt")]                       // no trial folder
    [InlineData("runs/x/epoch-0004.ckpt")]          // a folder that is not a trial's
    [InlineData("c/t3/epoch-0004.ckpt")]            // not how a trial is spelled
    [InlineData("c/t0003/best.ckpt")]               // not an epoch's file name
    [InlineData("c/t0003/epoch-.ckpt")]
    [InlineData("c/t0003/epoch-00x4.ckpt")]
    [InlineData("c/t0003/epoch-0004.ckpt.5f1d.tmp")] // a write in progress
    [InlineData("c/t0003/epoch-0004.pt")]
    public void Locate_PathOutsideTheLayout_Null(string path)
    {
        Assert.Null(CheckpointStore.Locate(Path.Combine(_dir, path)));
    }

    [Fact]
    public void Save_WritesThroughATempFileInTheSameFolder_LeavesOnlyTheCheckpoint()
    {
        var store = Store();
        string? given = null;

        var saved = store.Save(T3, assignment: 1, epoch: 2, path =>
        {
            given = path;
            Assert.False(File.Exists(store.PathOf(T3, 2)), "the final path is not written until the file is whole");
            File.WriteAllText(path, "state after 2");
        });

        Assert.Equal(new CheckpointRef(2, store.PathOf(T3, 2)), saved);
        Assert.Equal("state after 2", File.ReadAllText(saved.Path));
        Assert.Equal(Path.GetDirectoryName(saved.Path), Path.GetDirectoryName(given));
        Assert.NotEqual(saved.Path, given);
        Assert.Equal(["epoch-0002.ckpt"], FilesUnder(store.Root));
    }

    [Fact]
    public void Save_Twice_TheSecondReplacesTheFirst()
    {
        var store = Store();
        store.Save(T3, 1, 2, path => File.WriteAllText(path, "first"));

        store.Save(T3, 2, 2, path => File.WriteAllText(path, "second"));

        Assert.Equal("second", File.ReadAllText(store.PathOf(T3, 2)));
        Assert.Equal(["epoch-0002.ckpt"], FilesUnder(store.Root));
    }

    [Fact]
    public void Save_WriterThrowsHalfway_NoTempFileAndTheOldCheckpointIsKept()
    {
        var store = Store();
        var path = Leave(store, T3, 2, "whole");

        var ex = Assert.Throws<IOException>(() => store.Save(T3, 1, 2, tmp =>
        {
            File.WriteAllText(tmp, "ha");
            throw new IOException("disk full");
        }));

        Assert.Equal("disk full", ex.Message);
        Assert.Equal("whole", File.ReadAllText(path));
        Assert.Equal(["epoch-0002.ckpt"], FilesUnder(store.Root));
    }

    [Fact]
    public void Save_WriterThrowsOnAFirstCheckpoint_NoFileAtAllAndNotResumable()
    {
        var store = Store();

        Assert.Throws<InvalidOperationException>(() => store.Save(T3, 1, 1, tmp =>
        {
            File.WriteAllText(tmp, "half");
            throw new InvalidOperationException("boom");
        }));

        Assert.False(File.Exists(store.PathOf(T3, 1)));
        Assert.Empty(FilesUnder(store.Root));
        Assert.Null(store.Resume(T3, 1, assigned: null));
    }

    [Fact]
    public void WriteAtomically_WriterWritesNothing_Throws()
    {
        var target = Path.Combine(_dir, "x", "file.bin");

        Assert.Throws<FileNotFoundException>(() => CheckpointStore.WriteAtomically(target, _ => { }));

        Assert.False(File.Exists(target));
    }

    [Fact]
    public void List_TempAndOtherFiles_OnlyCheckpointsOldestFirst()
    {
        var store = Store();
        Leave(store, T3, 10);
        Leave(store, T3, 2);
        Leave(store, T3, 9);
        var folder = store.FolderOf(T3);
        File.WriteAllText(Path.Combine(folder, "epoch-0011.ckpt.0123abcd.tmp"), "half");
        File.WriteAllText(Path.Combine(folder, "epoch-0012.ckpt.tmp"), "half");
        File.WriteAllText(Path.Combine(folder, "epoch-x.ckpt"), "?");
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "?");
        Leave(store, new TrialId(4), 20);

        var found = store.List(T3);

        Assert.Equal([2, 9, 10], found.Select(c => c.Epoch));
        Assert.Equal(store.PathOf(T3, 10), found[^1].Path);
        Assert.Equal(new CheckpointRef(10, store.PathOf(T3, 10)), store.Newest(T3));
        Assert.Equal(new CheckpointRef(9, store.PathOf(T3, 9)), store.Newest(T3, atMost: 9));
        Assert.Null(store.Newest(T3, atMost: 1));
        Assert.Null(store.Newest(new TrialId(5)));
    }

    [Fact]
    public void Resume_NothingSavedOnThisAssignment_TheAssignedCheckpointEvenWithNewerFiles()
    {
        var store = Store();
        Leave(store, T3, 4); // left by an attempt a rollback made stale
        var assigned = new CheckpointRef(2, store.PathOf(T3, 2));

        Assert.Equal(assigned, store.Resume(T3, 2, assigned));
        Assert.Null(store.Resume(T3, 2, null));
    }

    [Fact]
    public void Resume_AfterACrash_TheNewestThisAssignmentSavedNotAStaleNewerFile()
    {
        var store = Store();
        Leave(store, T3, 5); // a stale file from an earlier attempt
        var assigned = new CheckpointRef(1, store.PathOf(T3, 1));
        store.Save(T3, 2, 2, path => File.WriteAllText(path, "2"));
        store.Save(T3, 2, 3, path => File.WriteAllText(path, "3"));

        Assert.Equal(new CheckpointRef(3, store.PathOf(T3, 3)), store.Resume(T3, 2, assigned));
        Assert.Equal(assigned, store.Resume(T3, 3, assigned)); // another assignment saved nothing
        var sameEpoch = new CheckpointRef(3, "/elsewhere/t0003/epoch-0003.ckpt");
        Assert.Equal(sameEpoch, store.Resume(T3, 2, sameEpoch)); // only a newer one replaces the assigned checkpoint
        Assert.Equal(assigned, Store().Resume(T3, 2, assigned)); // another store (another process) knows nothing of it
    }

    [Fact]
    public void Resume_AssignedNewerThanWhatThisAssignmentSaved_TheAssigned()
    {
        var store = Store();
        store.Save(T3, 1, 2, path => File.WriteAllText(path, "2"));
        var assigned = new CheckpointRef(4, "/elsewhere/t0003/epoch-0004.ckpt");

        Assert.Equal(assigned, store.Resume(T3, 1, assigned));
    }
}
