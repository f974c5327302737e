using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Data;
using Sweeper.Training.Trainables;
using TorchSharp;

namespace Sweeper.Training.Tests.Trainables;

/// <summary>
/// Trials with more than one intra-op thread (<c>--threads-per-trial</c>) beside trials with one, in one process.
/// libtorch keeps the count per calling thread once that thread has run an operator (OpenMP's nthreads ICV) and seeds a
/// thread that has not from a process-wide value; a trial sets its own count on its own thread before each epoch.
/// </summary>
public sealed class IntraOpThreadsTests
{
    private static TrialConfig Config(string method, long seed = 11) => new()
    {
        Id = new TrialId(0),
        Seed = seed,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = "mobilenet_v1",
            Width = 0.25,
            Dataset = new DatasetSpec { Path = FashionMnist.DefaultPath, TrainSubset = 256, TestSubset = 100 },
            Epochs = 2,
            BatchSize = 32,
            Optimizer = new OptimizerSpec { Name = "sgd", Lr = 0.05, Momentum = 0.9, WeightDecay = 5e-5 },
            Quantizer = new QuantizerSpec { Method = method, Bits = 4, PerChannel = true },
        },
    };

    private sealed record Run(IReadOnlyList<EpochResult> Epochs, IReadOnlyList<int> ThreadsSeen);

    /// <summary>Trains both epochs of <paramref name="config"/> with <paramref name="threads"/> on the calling thread, recording the count libtorch reports at every step.</summary>
    private static Run Train(TrialConfig config, int threads, Barrier? start = null)
    {
        start?.SignalAndWait();
        var seen = new List<int>();
        using var trainable = new TorchTrainable(config, threads);
        trainable.StepCompleted = _ => seen.Add(torch.get_num_threads());
        var epochs = new List<EpochResult>();
        for (int e = 1; e <= trainable.TotalEpochs; e++) epochs.Add(trainable.RunEpoch(e, CancellationToken.None));
        return new Run(epochs, seen);
    }

    private static Run OnThread(Func<Run> work)
    {
        Run? run = null;
        Exception? error = null;
        var thread = new Thread(() => { try { run = work(); } catch (Exception ex) { error = ex; } });
        thread.Start();
        thread.Join();
        return error is null ? run! : throw new AggregateException(error);
    }

    private static void AssertSame(Run expected, Run actual)
    {
        Assert.Equal(expected.Epochs.Count, actual.Epochs.Count);
        for (int i = 0; i < expected.Epochs.Count; i++)
            foreach (var name in new[] { MetricNames.TrainLoss, MetricNames.TestLoss, MetricNames.TestAccuracy })
                Assert.Equal(expected.Epochs[i].Get(name), actual.Epochs[i].Get(name));
    }

    [Theory]
    [InlineData("msqe_po2")]
    [InlineData("learnable_po2")]
    [InlineData("lsq")]
    public void TwoThreadTrialBesideOneThreadTrial_EachKeepsItsCount_AndTheOneThreadTrialIsUnchanged(string method)
    {
        // Alone first: the reference figures of the one-thread trial.
        var alone = OnThread(() => Train(Config(method), threads: 1));

        // Then at once on two threads: one trial with 2 intra-op threads (its custom autograd backward and the MSQE
        // search run under OpenMP teams), one with 1; the second sets its count after the first, as a second slot does.
        Run? wide = null, narrow = null;
        Exception? wideError = null, narrowError = null;
        using var start = new Barrier(2);
        var a = new Thread(() => { try { wide = Train(Config(method, seed: 12), threads: 2, start); } catch (Exception ex) { wideError = ex; } });
        var b = new Thread(() => { try { narrow = Train(Config(method), threads: 1, start); } catch (Exception ex) { narrowError = ex; } });
        a.Start(); b.Start(); a.Join(); b.Join();
        Assert.Null(wideError);
        Assert.Null(narrowError);

        Assert.All(wide!.ThreadsSeen, t => Assert.Equal(2, t));
        Assert.All(narrow!.ThreadsSeen, t => Assert.Equal(1, t));
        Assert.NotEmpty(wide.ThreadsSeen);
        Assert.All(wide.Epochs, e => Assert.True(double.IsFinite(e.Get(MetricNames.TrainLoss)), $"{method}: train loss {e.Get(MetricNames.TrainLoss)} with 2 threads"));
        // The other trial's thread count never reached this one: bit-identical to running alone.
        AssertSame(alone, narrow);
    }

    [Fact]
    public void TwoThreadTrial_OnAThreadThatRanOneThreadTrialsBefore_UsesTwo_AndRepeatsItself()
    {
        // A reused trial thread (one per slot) runs a one-thread trial, then a two-thread one, then the two-thread one
        // again: the count follows the trial, and a fixed count gives the same figures every time.
        Run first = null!, second = null!;
        var thread = new Thread(() =>
        {
            _ = Train(Config("msqe_po2"), threads: 1);
            first = Train(Config("msqe_po2"), threads: 2);
            second = Train(Config("msqe_po2"), threads: 2);
        });
        thread.Start();
        thread.Join();
        Assert.All(first.ThreadsSeen, t => Assert.Equal(2, t));
        AssertSame(first, second);
    }

    [Fact]
    public void NewTrainable_ThreadCountBelowOne_Refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TorchTrainable(Config("msqe_po2"), 0));
    }
}
