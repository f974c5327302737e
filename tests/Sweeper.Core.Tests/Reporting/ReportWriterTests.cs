using Sweeper.Core.Reporting;

namespace Sweeper.Core.Tests.Reporting;

public sealed class ReportWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WriteAtomically_OverAnOldFile_ReplacesItAndLeavesNoTemporaryFile()
    {
        var path = Path.Combine(_dir, ReportWriter.JsonFile);
        File.WriteAllText(path, "old");

        ReportWriter.WriteAtomically(path, "new");

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([ReportWriter.JsonFile], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void WriteAtomically_AnotherProcessesTemporaryFile_LeftAlone()
    {
        var path = Path.Combine(_dir, ReportWriter.JsonFile);
        var theirs = path + ".1.tmp"; // pid 1 is never a test process
        File.WriteAllText(theirs, "half of theirs");

        ReportWriter.WriteAtomically(path, "mine");

        Assert.Equal("mine", File.ReadAllText(path));
        Assert.Equal("half of theirs", File.ReadAllText(theirs));
    }
}
