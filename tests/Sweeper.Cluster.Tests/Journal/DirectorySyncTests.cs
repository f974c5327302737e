using Sweeper.Cluster.Journal;

namespace Sweeper.Cluster.Tests.Journal;

public sealed class DirectorySyncTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-dirsync-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TryFlush_AFolder_OpenAndFsyncSucceed()
    {
        if (OperatingSystem.IsWindows()) return; // nothing to sync there

        Assert.Null(DirectorySync.TryFlush(_dir));
    }

    [Fact]
    public void OpenHandle_AFolder_RefusedByDotNetWhichIsWhyLibcIsCalled()
    {
        if (OperatingSystem.IsWindows()) return;

        Assert.Throws<UnauthorizedAccessException>(() => File.OpenHandle(_dir, FileMode.Open, FileAccess.Read).Dispose());
    }

    [Fact]
    public void TryFlush_NoSuchFolder_OpenFailsWithEnoentAndFlushAcceptsIt()
    {
        if (OperatingSystem.IsWindows()) return; // nothing to sync there
        var missing = Path.Combine(_dir, "missing");

        Assert.Equal((2, "open"), DirectorySync.TryFlush(missing)); // ENOENT: the call really reached libc

        DirectorySync.Flush(missing); // not a sign of data loss: no exception
    }
}
