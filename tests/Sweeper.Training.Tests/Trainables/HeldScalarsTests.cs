using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Quantization;
using Sweeper.Training.Data;
using Sweeper.Training.Trainables;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Trainables;

/// <summary>
/// The intermittent native errors of TorchSharp 0.107 ("Unknown scalar type", "For integral input tensors, argument alpha
/// must not be a floating point number"), reproduced: a scalar made on the fly is collectable while the native call
/// that reads it runs, and the finalizer frees it under libtorch. A thread that collects garbage without pause makes it
/// happen within a few hundred operations; the training path holds its scalars (<see cref="HeldScalars"/>) and runs
/// clean under the same pressure.
/// </summary>
[Collection(GcPressure.Collection)]
public sealed class HeldScalarsTests
{
    /// <remarks>
    /// The race needs the collecting thread and this one on two cores at once: on an idle machine it shows within a few
    /// hundred additions, but a machine whose cores are taken by other work (CI running test assemblies side by side)
    /// can go 400,000 additions without one. So the test looks for up to 3,000,000 additions or 20 s, and is skipped,
    /// saying so, when it found none: a machine too busy to show the race is not evidence that TorchSharp fixed it.
    /// </remarks>
    [SkippableFact]
    public void ScalarMadeOnTheFly_UnderGcPressure_NativeCallReadsAFreedScalar()
    {
        using var count = torch.zeros([], ScalarType.Int64);
        int failures = 0, iterations = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (GcPressure.Start())
        {
            for (; iterations < 3_000_000 && failures == 0 && (iterations % 1024 != 0 || clock.Elapsed < TimeSpan.FromSeconds(20)); iterations++)
            {
                try { count.add_(1); } // TorchSharp: add_(Scalar) → add_(scalar, alpha: 1), two scalars made here and collectable at once
                catch (System.Runtime.InteropServices.ExternalException) { failures++; }
            }
        }
        Skip.If(failures == 0, $"no freed scalar caught in {iterations} additions ({clock.Elapsed.TotalSeconds:F0} s): the collecting thread did not overlap a call " +
                               "(a busy machine), or TorchSharp keeps its scalars alive now and HeldScalars may be dropped");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void Squared_TheSameBitsAsTorchSharpsSquare(ScalarType dtype)
    {
        using var g = new Generator(9);
        using var x = (torch.randn([1000], generator: g) * 1e3).to_type(dtype);
        using var special = torch.tensor(new[] { 0.0, -0.0, 1e-200, 3.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity }).to_type(dtype);
        foreach (var t in new[] { x, special })
        {
            using var theirs = t.square();
            using var ours = t.Squared();
            Assert.Equal(theirs.to_type(ScalarType.Float64).data<double>().ToArray(), ours.to_type(ScalarType.Float64).data<double>().ToArray());
        }
    }

    [Fact]
    public void HeldScalars_UnderGcPressure_EveryAdditionCounts()
    {
        using var count = torch.zeros([], ScalarType.Int64);
        const int n = 50_000;
        using (GcPressure.Start())
            for (int i = 0; i < n; i++) count.add_(HeldScalars.One, HeldScalars.One);
        Assert.Equal(n, count.item<long>());
    }

    [Fact]
    public void HeldScalarBatchNorm2d_SameAsTorchSharps_InTrainingAndEval()
    {
        using var g = new Generator(3);
        using var theirs = nn.BatchNorm2d(8);
        using var ours = new Torch.HeldScalarBatchNorm2d(8);
        for (int i = 0; i < 4; i++)
        {
            using var x = torch.randn([4, 8, 5, 5], generator: g);
            using var a = theirs.forward(x);
            using var b = ours.forward(x);
            Assert.True(a.eq(b).all().item<bool>());
        }
        Assert.True(theirs.running_mean!.eq(ours.running_mean!).all().item<bool>());
        Assert.True(theirs.running_var!.eq(ours.running_var!).all().item<bool>());
        Assert.Equal(theirs.num_batches_tracked!.item<long>(), ours.num_batches_tracked!.item<long>());
        theirs.eval();
        ours.eval();
        using var e = torch.randn([4, 8, 5, 5], generator: g);
        using var ea = theirs.forward(e);
        using var eb = ours.forward(e);
        Assert.True(ea.eq(eb).all().item<bool>()); // eval normalizes with the running statistics
        Assert.Equal(theirs.state_dict().Keys.Order(), ours.state_dict().Keys.Order());
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void HeldScalarOptimizers_SameUpdatesAsTorchSharps(string name)
    {
        using var g = new Generator(5);
        using var start = torch.randn([3, 7], generator: g);
        using var start64 = torch.randn([4, 2], generator: g).to_type(ScalarType.Float64);
        var p1 = new TorchSharp.Modules.Parameter(start.clone());
        var p2 = new TorchSharp.Modules.Parameter(start.clone());
        var q1 = new TorchSharp.Modules.Parameter(start64.clone()); // float64: another element size
        var q2 = new TorchSharp.Modules.Parameter(start64.clone());
        TorchSharp.Modules.OptimizerHelper theirs = name == "sgd" ? torch.optim.SGD([p1, q1], 0.1, momentum: 0.9, weight_decay: 5e-5) : torch.optim.Adam([p1, q1], 0.01, weight_decay: 5e-5);
        TorchSharp.Modules.OptimizerHelper ours = name == "sgd" ? new Torch.HeldScalarSgd([p2, q2], 0.1, 0.9, 5e-5) : new Torch.HeldScalarAdam([p2, q2], 0.01, 5e-5);
        for (int i = 0; i < 5; i++)
        {
            using var t = torch.randn([3, 7], generator: g);
            using var u = torch.randn([4, 2], generator: g).to_type(ScalarType.Float64);
            theirs.zero_grad();
            ours.zero_grad();
            if (i > 0)
            {
                // zero_grad leaves zeros, not none, as TorchSharp's does
                Assert.True(p2.grad is { } pg && pg.eq(0).all().item<bool>() && q2.grad is { } qg && qg.eq(0).all().item<bool>(), $"{name} step {i}: gradients not zeroed");
            }
            ((p1 * t).square().sum() + (q1 * u).square().sum().to_type(ScalarType.Float32)).backward();
            ((p2 * t).square().sum() + (q2 * u).square().sum().to_type(ScalarType.Float32)).backward();
            theirs.step();
            ours.step();
            Assert.True(p1.eq(p2).all().item<bool>(), $"{name} step {i}");
            Assert.True(q1.eq(q2).all().item<bool>(), $"{name} step {i} (float64)");
        }
    }

    private static TrialConfig Config(string method, string optimizer = "sgd") => new()
    {
        Id = new TrialId(0),
        Seed = 21,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = "mobilenet_v1",
            Width = 0.25,
            Dataset = new DatasetSpec { Path = FashionMnist.DefaultPath, TrainSubset = 768, TestSubset = 200 },
            Epochs = 1,
            BatchSize = 16,
            Optimizer = new OptimizerSpec { Name = optimizer, Lr = 0.05, Momentum = 0.9, WeightDecay = 5e-5 },
            Quantizer = new QuantizerSpec { Method = method, Bits = 4, PerChannel = true },
        },
    };

    // Every method trains an epoch under the pressure with the same figures as without it. The quantized cases crashed
    // the test host in 1-2 of 3 runs ("INTERNAL ASSERT FAILED at c10/core/Scalar.h", in the second-moment observer
    // inside backward) until TorchSharp's square() — pow(2) with the 2 made on the fly — was replaced by Squared().
    [Theory]
    [InlineData("none", "sgd")]
    [InlineData("none", "adam")]
    [InlineData("msqe_po2", "sgd")]
    [InlineData("learnable_po2", "sgd")]
    [InlineData("lsq", "sgd")]
    [InlineData("legacy_auto_po2", "adam")]
    [InlineData("msqe_po2", "adam")]
    [InlineData("learnable_po2", "adam")]
    public void TrainingEpoch_UnderGcPressure_NoNativeErrorAndTheSameFigures(string method, string optimizer)
    {
        var quiet = Epoch(Config(method, optimizer));
        EpochResult pressed;
        using (GcPressure.Start()) pressed = Epoch(Config(method, optimizer));

        foreach (var name in new[] { MetricNames.TrainLoss, MetricNames.TestLoss, MetricNames.TestAccuracy })
            Assert.Equal(quiet.Get(name), pressed.Get(name));

        static EpochResult Epoch(TrialConfig config)
        {
            using var trainable = new TorchTrainable(config);
            return trainable.RunEpoch(1, CancellationToken.None);
        }
    }
}

/// <summary>
/// The collection of the tests that press the collector: run alone, never beside other tests of this assembly — the
/// pressure is process-wide, so a test running beside it (a plug-in's training with its own unheld scalars) would be
/// pressed too and fail for reasons that are not its own.
/// </summary>
[CollectionDefinition(GcPressure.Collection, DisableParallelization = true)]
public sealed class GcPressureCollection;

/// <summary>A thread that collects garbage and runs finalizers without pause, until disposed.</summary>
internal sealed class GcPressure : IDisposable
{
    /// <summary>Tests that press the collector run one at a time.</summary>
    public const string Collection = "gc-pressure";

    private volatile bool stop;
    private readonly Thread thread;

    private GcPressure()
    {
        thread = new Thread(() =>
        {
            while (!stop)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true, Name = "gc-pressure" };
        thread.Start();
    }

    public static GcPressure Start() => new();

    public void Dispose()
    {
        stop = true;
        thread.Join();
    }
}
