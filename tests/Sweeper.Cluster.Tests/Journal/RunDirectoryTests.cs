using System.Globalization;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Spec;

namespace Sweeper.Cluster.Tests.Journal;

public sealed class RunDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-rundir-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly DateTimeOffset Now = new(2026, 11, 26, 10, 15, 0, TimeSpan.Zero);

    private static string Stamp => Now.ToLocalTime().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

    private SweepSpec Spec(string name = "tiny") =>
        TestSpecs.Spec() with { Name = name, SourceText = "name: " + name + "\n", SourcePath = Path.Combine(_dir, "specs", "s.yaml"), Output = new OutputSpec { Dir = Path.Combine(_dir, "runs") } };

    [Fact]
    public void Create_NewSweep_NameAndTimeUnderOutputDirWithTheSpecCopy()
    {
        var run = RunDirectory.Create(Spec(), null, Now);

        Assert.Equal(Path.Combine(_dir, "runs", "tiny-" + Stamp), run.Path);
        Assert.True(Directory.Exists(run.Path));
        Assert.Equal(Path.Combine(run.Path, "spec.yaml"), run.SpecPath);
        Assert.Equal("name: tiny\n", File.ReadAllText(run.SpecPath));
        Assert.Equal(["spec.yaml"], Directory.GetFileSystemEntries(run.Path).Select(Path.GetFileName));
        Assert.False(run.HasJournal);
    }

    [Fact]
    public void Create_OutputOverride_UnderTheOverride()
    {
        var run = RunDirectory.Create(Spec(), Path.Combine(_dir, "elsewhere"), Now);

        Assert.Equal(Path.Combine(_dir, "elsewhere", "tiny-" + Stamp), run.Path);
    }

    [Fact]
    public void Create_SameNameAndSecond_NumberedNotReused()
    {
        var first = RunDirectory.Create(Spec(), null, Now);
        var second = RunDirectory.Create(Spec(), null, Now);
        var third = RunDirectory.Create(Spec(), null, Now);

        Assert.Equal(first.Path + "-2", second.Path);
        Assert.Equal(first.Path + "-3", third.Path);
    }

    [Theory]
    [InlineData("a/b c", "a_b_c")]
    [InlineData("..", "sweep")]
    [InlineData(".q-4.bit_", "q-4.bit_")]
    public void Create_NameWithUnsafeCharacters_Sanitized(string name, string stem)
    {
        var run = RunDirectory.Create(Spec(name), null, Now);

        Assert.Equal($"{stem}-{Stamp}", Path.GetFileName(run.Path));
    }

    [Fact]
    public void Paths_TheFilesOfARun()
    {
        var run = RunDirectory.At(_dir);

        Assert.Equal(Path.Combine(_dir, "journal.db"), run.JournalPath);
        Assert.Equal(Path.Combine(_dir, "spec.yaml"), run.SpecPath);
        Assert.Equal(Path.Combine(_dir, "results.json"), run.ResultsJsonPath);
        Assert.Equal(Path.Combine(_dir, "traces.jsonl"), run.TracesPath);
        Assert.Equal(Path.Combine(_dir, "report.html"), run.PathOf("report.html"));
        Assert.Equal(SweepJournal.FileName, RunDirectory.JournalFile);
    }

    [Fact]
    public void At_RelativePath_MadeAbsolute()
    {
        Assert.Equal(Path.GetFullPath("some-run"), RunDirectory.At("some-run").Path);
    }

    [Fact]
    public void CheckpointDir_NoneInTheSpec_CheckpointsInTheRun()
    {
        var run = RunDirectory.At(_dir);

        Assert.Equal(Path.Combine(_dir, "checkpoints"), run.CheckpointDir(Spec()));
    }

    [Fact]
    public void CheckpointDir_RelativeInTheSpec_RelativeToTheSpecsFolderOneSubfolderPerRun()
    {
        var spec = Spec() with { Checkpoint = new CheckpointSpec { Dir = "../shared/ckpt" } };
        var run = RunDirectory.Create(spec, null, Now);
        var other = RunDirectory.Create(spec, null, Now); // a second sweep sharing checkpoint.dir

        Assert.Equal(Path.Combine(_dir, "shared", "ckpt", "tiny-" + Stamp), run.CheckpointDir(spec));
        Assert.Equal(Path.Combine(_dir, "shared", "ckpt", "tiny-" + Stamp + "-2"), other.CheckpointDir(spec));
    }

    [Fact]
    public void OpenJournal_NoJournal_ClearError()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => RunDirectory.At(_dir).OpenJournal());

        Assert.Contains("no journal in", ex.Message);
    }

    [Fact]
    public void OpenJournal_AfterTheJournalIsCreated_OpensItAndHasJournal()
    {
        var run = RunDirectory.Create(Spec(), null, Now);
        using (SweepJournal.Create(run.Path, Spec(), Now)) { }

        Assert.True(run.HasJournal);
        using var journal = run.OpenJournal();
        Assert.Equal("name: tiny\n", journal.Load().SpecText);
        Assert.Equal(run.JournalPath, journal.Path);
    }

    [Fact]
    public void FindAbove_CheckpointInsideARun_TheRun()
    {
        var run = RunDirectory.Create(Spec(), null, Now);
        using (SweepJournal.Create(run.Path, Spec(), Now)) { }
        var checkpoint = Path.Combine(new CheckpointStore(run.CheckpointDir(Spec())).FolderOf(new Core.Model.TrialId(3)), "a0001", CheckpointStore.FileName(4));

        Assert.Equal(run.Path, RunDirectory.FindAbove(checkpoint)?.Path);
        Assert.Null(RunDirectory.FindAbove(Path.Combine(_dir, "runs", "x.ckpt")));
    }
}
