using Sweeper.Cluster.Actors;

namespace Sweeper.Cluster.Tests.Actors;

public sealed class TrialThreadsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="work"/> on <paramref name="threads"/> and waits until it has ended and its thread is idle again.</summary>
    private static int RunToEnd(TrialThreads threads, Action work)
    {
        int idleBefore = threads.Idle;
        int thread = -1;
        using var ended = new ManualResetEventSlim();
        threads.Run(() =>
        {
            thread = Environment.CurrentManagedThreadId;
            try { work(); }
            finally { ended.Set(); }
        });
        Assert.True(ended.Wait(Timeout), "the work did not run");
        // Back on the idle stack: one more idle thread than after the pop (a new thread, or the reused one).
        Assert.True(SpinWait.SpinUntil(() => threads.Idle == Math.Max(idleBefore, 1), Timeout), $"idle threads: {threads.Idle}");
        return thread;
    }

    [Fact]
    public void Run_OneTrialAfterAnother_ReusesOneThread()
    {
        var threads = new TrialThreads("test-trial");

        var ids = Enumerable.Range(0, 5).Select(_ => RunToEnd(threads, () => { })).ToList();

        Assert.Single(ids.Distinct());
        Assert.NotEqual(Environment.CurrentManagedThreadId, ids[0]);
        Assert.Equal(1, threads.Created);
        Assert.Equal(1, threads.Idle);
    }

    [Fact]
    public void Run_WorkThatThrows_ThreadLivesOnForTheNextTrial()
    {
        var threads = new TrialThreads("test-trial");

        int crashed = RunToEnd(threads, () => throw new InvalidOperationException("boom"));
        int next = RunToEnd(threads, () => { });

        Assert.Equal(crashed, next);
        Assert.Equal(1, threads.Failures);
        Assert.Equal(1, threads.Created);
    }

    [Fact]
    public void Run_CancelledTrial_ThreadLivesOnForTheNextTrial()
    {
        // A trial stopped mid-run ends with OperationCanceledException, as TrialActor's run does when its actor stops.
        var threads = new TrialThreads("test-trial");
        using var cancel = new CancellationTokenSource();
        using var running = new ManualResetEventSlim();
        using var ended = new ManualResetEventSlim();
        int cancelled = -1;
        threads.Run(() =>
        {
            cancelled = Environment.CurrentManagedThreadId;
            try
            {
                running.Set();
                cancel.Token.WaitHandle.WaitOne(Timeout);
                cancel.Token.ThrowIfCancellationRequested();
            }
            finally { ended.Set(); }
        });
        Assert.True(running.Wait(Timeout));
        cancel.Cancel();
        Assert.True(ended.Wait(Timeout));
        Assert.True(SpinWait.SpinUntil(() => threads.Idle == 1, Timeout));

        int next = RunToEnd(threads, () => { });

        Assert.Equal(cancelled, next);
        Assert.Equal(1, threads.Failures);
        Assert.Equal(1, threads.Created);
    }

    [Fact]
    public void Run_TwoTrialsAtOnce_EachOnItsOwnThreadAndBothReused()
    {
        var threads = new TrialThreads("test-trial");
        using var bothRunning = new Barrier(3);
        using var release = new ManualResetEventSlim();
        var ids = new int[2];
        using var ended = new CountdownEvent(2);
        for (int i = 0; i < 2; i++)
        {
            int slot = i;
            threads.Run(() =>
            {
                ids[slot] = Environment.CurrentManagedThreadId;
                bothRunning.SignalAndWait(Timeout);
                release.Wait(Timeout);
                ended.Signal();
            });
        }
        Assert.True(bothRunning.SignalAndWait(Timeout), "two trials did not run at the same time");
        release.Set();
        Assert.True(ended.Wait(Timeout));
        Assert.True(SpinWait.SpinUntil(() => threads.Idle == 2, Timeout));

        var later = Enumerable.Range(0, 3).Select(_ => RunToEnd(threads, () => { })).ToList();

        Assert.NotEqual(ids[0], ids[1]);
        Assert.Equal(2, threads.Created);
        Assert.All(later, id => Assert.Contains(id, ids));
    }

    [Fact]
    public void Run_Threads_AreNamedBackgroundThreads()
    {
        var threads = new TrialThreads("test-trial");
        string? name = null;
        bool background = false;

        RunToEnd(threads, () => (name, background) = (Thread.CurrentThread.Name, Thread.CurrentThread.IsBackground));

        Assert.Equal("test-trial-1", name);
        Assert.True(background);
    }

    [Fact]
    public void AfterEach_RunsOnTheTrialThreadAfterEveryTrialEvenOneThatThrew()
    {
        var threads = new TrialThreads("test-trial");
        var after = new System.Collections.Concurrent.ConcurrentQueue<int>();
        threads.AfterEach = _ => after.Enqueue(Environment.CurrentManagedThreadId);

        int first = RunToEnd(threads, () => { });
        int second = RunToEnd(threads, () => throw new InvalidOperationException("boom"));

        Assert.Equal(new[] { first, second }, after);
        Assert.Equal(1, threads.Failures);
    }
}
