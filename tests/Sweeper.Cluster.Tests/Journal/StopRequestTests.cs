using Sweeper.Cluster.Journal;

namespace Sweeper.Cluster.Tests.Journal;

/// <summary>The stop request file (sweeper stop) as the sweep's process takes it, and the lock probe sweeper stop asks first.</summary>
public sealed class StopRequestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-stop-").FullName;
    private RunDirectory Run => RunDirectory.At(_dir);
    private string RequestPath => Path.Combine(_dir, StopRequest.FileName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly StopRequest Graceful = new(false, 4242, "host-a", new DateTimeOffset(2026, 12, 6, 7, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Take_ARequestWrittenAfterTheLock_ReturnedOnceAndRemoved()
    {
        var since = DateTime.UtcNow.AddMinutes(-1);
        Graceful.WriteTo(Run);

        var found = StopRequest.Take(Run, since);

        Assert.Equal(new StopRequest.Found(Graceful, null), found);
        Assert.Equal("stopped by request of pid 4242 on host-a at 2026-12-06 07:00:00Z (sweeper stop)", found!.Request!.Reason);
        Assert.Empty(Directory.GetFiles(_dir)); // nothing left, not even the renamed copy
        Assert.Null(StopRequest.Take(Run, since));
    }

    [Fact]
    public void Take_ARequestFromBeforeTheLock_IgnoredAsStaleAndRemoved()
    {
        (Graceful with { Now = true }).WriteTo(Run);
        File.SetLastWriteTimeUtc(RequestPath, DateTime.UtcNow.AddHours(-2)); // left by a sweep that ended before taking it

        var found = StopRequest.Take(Run, DateTime.UtcNow.AddHours(-1));

        Assert.Null(found!.Request);
        Assert.Contains("left from before this sweep started", found.Ignored);
        Assert.Contains("stopped at once by request of pid 4242 on host-a", found.Ignored);
        Assert.False(File.Exists(RequestPath));
    }

    [Theory]
    [InlineData("", "not JSON")]
    [InlineData("[1]", "not a JSON object")]
    [InlineData("""{"mode":"later","pid":1,"host":"h","at":"2026-12-06T07:00:00Z"}""", "mode must be 'graceful' or 'now', not 'later'")]
    [InlineData("""{"mode":"now","host":"h","at":"2026-12-06T07:00:00Z"}""", "no pid")]
    [InlineData("""{"mode":"now","pid":"x","host":"h","at":"2026-12-06T07:00:00Z"}""", "wrong type")]
    [InlineData("""{"mode":"now","pid":1,"host":"h","at":"noon"}""", "'noon' is not a time")]
    public void Take_AMalformedFile_IgnoredSayingWhyAndRemoved(string text, string why)
    {
        File.WriteAllText(RequestPath, text);

        var found = StopRequest.Take(Run, DateTime.UtcNow.AddMinutes(-1));

        Assert.Null(found!.Request);
        Assert.Contains("malformed stop request", found.Ignored);
        Assert.Contains(why, found.Ignored);
        Assert.False(File.Exists(RequestPath));
    }

    [Fact]
    public void Withdraw_RemovesOnlyTheSameRequest()
    {
        Graceful.WriteTo(Run);
        Assert.False((Graceful with { Pid = 1 }).Withdraw(Run));
        Assert.True(StopRequest.IsWaiting(Run));

        Assert.True(Graceful.Withdraw(Run));
        Assert.False(StopRequest.IsWaiting(Run));
        Assert.False(Graceful.Withdraw(Run));
    }

    [Fact]
    public void IsHeld_NoLockFile_FalseAndCreatesNothing()
    {
        Assert.False(RunDirectoryLock.IsHeld(Run, out _));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void IsHeld_HeldByThisProcess_TrueAndTheLockStaysHeld_FalseOnceReleased()
    {
        var held = RunDirectoryLock.Acquire(Run);
        var takenAt = RunDirectoryLock.TakenAtUtc(Run);

        Assert.True(RunDirectoryLock.IsHeld(Run, out var holder));
        Assert.Contains("this process", holder);
        Assert.Throws<RunDirectoryBusyException>(() => RunDirectoryLock.Acquire(Run)); // the probe did not release it
        Assert.Equal(takenAt, RunDirectoryLock.TakenAtUtc(Run)); // nor write to it

        held.Dispose();
        Assert.False(RunDirectoryLock.IsHeld(Run, out _));
        RunDirectoryLock.Acquire(Run).Dispose(); // nor keep it
    }
}
