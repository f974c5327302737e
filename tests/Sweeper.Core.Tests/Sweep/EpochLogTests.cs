using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Tests.Sweep;

public sealed class EpochLogTests
{
    private static EpochResult E(int epoch) => new(epoch, new Dictionary<string, double> { ["test_accuracy"] = epoch / 100.0 }, TimeSpan.FromSeconds(epoch));

    private static int[] Epochs(IReadOnlyList<EpochResult> list) => list.Select(e => e.Epoch).ToArray();

    [Fact]
    public void Append_OneAfterAnother_EveryVersionKeepsItsEpochs()
    {
        var versions = new List<IReadOnlyList<EpochResult>> { Array.Empty<EpochResult>() };
        for (int i = 1; i <= 40; i++) versions.Add(EpochLog.Append(versions[^1], E(i))); // grows past 8, 16 and 32

        for (int n = 0; n <= 40; n++)
        {
            Assert.Equal(n, versions[n].Count);
            Assert.Equal(Enumerable.Range(1, n).ToArray(), Epochs(versions[n]));
        }
    }

    [Fact]
    public void Append_ToAnOlderVersion_CopiesAndLeavesTheNewerOnesAlone()
    {
        var three = EpochLog.Append(EpochLog.Append(EpochLog.Append([], E(1)), E(2)), E(3));
        var four = EpochLog.Append(three, E(4));

        var branch = EpochLog.Append(three, E(40)); // three is no longer the newest version
        var branchAgain = EpochLog.Append(three, E(41));
        var fourNext = EpochLog.Append(four, E(5));

        Assert.Equal([1, 2, 3], Epochs(three));
        Assert.Equal([1, 2, 3, 4], Epochs(four));
        Assert.Equal([1, 2, 3, 40], Epochs(branch));
        Assert.Equal([1, 2, 3, 41], Epochs(branchAgain));
        Assert.Equal([1, 2, 3, 4, 5], Epochs(fourNext));
        Assert.Equal([1, 2, 3, 40, 7], Epochs(EpochLog.Append(branch, E(7))));
        Assert.Equal([1, 2, 3, 40], Epochs(branch));
    }

    [Fact]
    public void Append_ToAnotherList_CopiesIt()
    {
        var source = new List<EpochResult> { E(1), E(2) };

        var log = EpochLog.Append(source, E(3));
        source.Add(E(99));

        Assert.Equal([1, 2, 3], Epochs(log));
        Assert.Throws<ArgumentOutOfRangeException>(() => log[3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => log[-1]);
    }

    [Fact]
    public void Prefix_FewerEpochs_ACopyThatAppendsWithoutTouchingTheOriginal()
    {
        var log = EpochLog.Append(EpochLog.Append(EpochLog.Append([], E(1)), E(2)), E(3));

        var redone = EpochLog.Append(EpochLog.Prefix(log, 1), E(2));

        Assert.Same(log, EpochLog.Prefix(log, 3));
        Assert.Equal([1, 2], Epochs(redone));
        Assert.NotSame(log[1], redone[1]);
        Assert.Equal([1, 2, 3], Epochs(log));
    }

    [Fact]
    public async Task Append_ReadersOnOtherThreads_SeeTheirVersionWhileTheOwnerAppends()
    {
        IReadOnlyList<EpochResult> newest = [];
        var handed = new System.Collections.Concurrent.BlockingCollection<IReadOnlyList<EpochResult>>();
        var failures = 0;
        var reader = Task.Run(() =>
        {
            foreach (var version in handed.GetConsumingEnumerable())
                for (int i = 0; i < version.Count; i++)
                    if (version[i].Epoch != i + 1) Interlocked.Increment(ref failures);
        });

        for (int i = 1; i <= 5000; i++)
        {
            newest = EpochLog.Append(newest, E(i));
            if (i % 7 == 0) handed.Add(newest);
        }
        handed.CompleteAdding();
        await reader.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(0, failures);
        Assert.Equal(5000, newest.Count);
    }
}
