using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Data;
using Sweeper.Training.Trainables;
using TorchSharp;
using Sweeper.Core.Model;

namespace Sweeper.Training.Tests.Trainables;

/// <summary>
/// Every tensor a trial creates is disposed by the time the trial is over (no tensor is left for the finalizer), counted
/// with TorchSharp's per-thread dispose statistics on a thread of the trial's own (as a trial thread runs it).
/// </summary>
public sealed class TrialTensorLifetimeTests
{
    private static TrialConfig Config(QuantizerSpec quantizer, string optimizer) => new()
    {
        Id = new TrialId(1),
        Seed = 11,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = "mobilenet_v1",
            Width = 0.25,
            Dataset = new DatasetSpec { Path = FashionMnist.DefaultPath, TrainSubset = 128, TestSubset = 64, Validation = 32 },
            Epochs = 2,
            BatchSize = 32,
            Optimizer = new OptimizerSpec { Name = optimizer, Lr = 0.05, Momentum = 0.9, WeightDecay = 5e-5 },
            Quantizer = quantizer,
        },
    };

    /// <summary>Runs <paramref name="trial"/> on a new thread; returns the tensors it created there and left alive.</summary>
    private static long LiveTensorsLeftBy(Action trial)
    {
        long live = -1;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                DisposeScopeManager.Statistics.Reset();
                trial();
                live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw new InvalidOperationException("the trial failed", error);
        return live;
    }

    [Theory]
    [InlineData("none", "sgd")]
    [InlineData("msqe_po2", "sgd")]
    [InlineData("learnable_po2", "adam")]
    [InlineData("lsq", "sgd")]
    public void Trial_EpochsCheckpointAndStepObserver_LeavesNoLiveTensor(string method, string optimizer)
    {
        var config = Config(new QuantizerSpec { Method = method, Bits = 4, StableScale = method == "msqe_po2" }, optimizer);
        DatasetFactory.GetShared(config.Trainable.Dataset); // the shared data set is loaded here: it outlives trials on purpose
        using var dir = new TempDirectory();
        var checkpoint = Path.Combine(dir.Path, "epoch-1.ckpt");
        int observed = 0;

        long live = LiveTensorsLeftBy(() =>
        {
            using (var first = new TorchTrainable(config))
            {
                first.ObserveSteps(_ => observed++);
                first.RunEpoch(1, CancellationToken.None);
                first.SaveCheckpoint(checkpoint);
            }
            using var resumed = new TorchTrainable(config);
            resumed.LoadCheckpoint(checkpoint);
            resumed.RunEpoch(2, CancellationToken.None);
        });

        Assert.True(observed > 0, "the step observer saw no step");
        Assert.Equal(0, live);
    }

    [Fact]
    public void Trial_CancelledMidEpoch_LeavesNoLiveTensor()
    {
        var config = Config(new QuantizerSpec { Method = "msqe_po2", Bits = 4 }, "sgd");
        DatasetFactory.GetShared(config.Trainable.Dataset);

        long live = LiveTensorsLeftBy(() =>
        {
            using var cancel = new CancellationTokenSource();
            using var trainable = new TorchTrainable(config);
            int steps = 0;
            trainable.StepCompleted = _ => { if (++steps == 2) cancel.Cancel(); };
            Assert.ThrowsAny<OperationCanceledException>(() => trainable.RunEpoch(1, cancel.Token));
        });

        Assert.Equal(0, live);
    }
}
