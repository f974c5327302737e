using System.Globalization;
using Sweeper.Cluster.Journal;

namespace Sweeper.Cluster.Tests.Journal;

/// <summary>The lock within one process; across processes (and after kill -9) see the CLI's SignalTests.</summary>
public sealed class RunDirectoryLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-lock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Acquire_Free_WritesThePidAndHostIntoTheLockFile()
    {
        using var held = RunDirectoryLock.Acquire(RunDirectory.At(_dir));

        using var reader = new FileStream(Path.Combine(_dir, RunDirectoryLock.FileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var text = new StreamReader(reader);
        Assert.Equal($"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)} {Environment.MachineName}", text.ReadToEnd().Trim());
    }

    [Fact]
    public void Acquire_HeldByThisProcess_RefusedNamingTheDirectoryAndPid()
    {
        using var held = RunDirectoryLock.Acquire(RunDirectory.At(_dir));

        var ex = Assert.Throws<RunDirectoryBusyException>(() => RunDirectoryLock.Acquire(RunDirectory.At(_dir)));

        Assert.Contains(_dir, ex.Message);
        Assert.Contains("pid " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture), ex.Message);
    }

    [Fact]
    public void Acquire_AfterRelease_Succeeds()
    {
        RunDirectoryLock.Acquire(RunDirectory.At(_dir)).Dispose();

        using var again = RunDirectoryLock.Acquire(RunDirectory.At(_dir));

        Assert.True(File.Exists(Path.Combine(_dir, RunDirectoryLock.FileName)));
    }
}
