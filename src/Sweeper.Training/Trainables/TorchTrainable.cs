using System.Diagnostics;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Data;
using Sweeper.Training.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Sweeper.Training.Trainables;

/// <summary>
/// Trains an image classifier (<see cref="ModelFactory"/>) on a data set (<see cref="DatasetFactory"/>) with SGD
/// (momentum, weight decay) or Adam, epoch by epoch, as the trial's <see cref="TrialConfig"/> says.
/// </summary>
/// <remarks>
/// <para>Threading: like every <see cref="ITrainable"/>, one thread creates it and calls every member. That thread gets
/// one intra-op libtorch thread (<c>torch.set_num_threads(1)</c>), so that concurrent trials share the cores.</para>
/// <para>Reproducibility: the weights are initialized from a generator seeded by the trial seed, and epoch
/// <c>e</c> visits the training images in an order that depends only on (seed, e); with one thread the same seed
/// gives bit-identical metrics.</para>
/// <para>Dispose scopes: every training step and every evaluation batch runs in its own
/// <c>torch.NewDisposeScope()</c>; the shared data set tensors belong to no scope.</para>
/// </remarks>
public sealed class TorchTrainable : ITrainable, ICheckpointable
{
    /// <summary>Images per evaluation batch.</summary>
    public const int EvalBatchSize = 200;

    public const string Sgd = "sgd";
    public const string Adam = "adam";

    /// <summary>The optimizer names this version knows.</summary>
    public static IReadOnlyList<string> OptimizerNames { get; } = [Sgd, Adam];

    private const string CheckpointMagic = "sweeper.torch-trainable.checkpoint";
    private const int CheckpointVersion = 1;

    private readonly TrainableSpec spec;
    private readonly ImageDataset data;
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly OptimizerHelper optimizer;
    private readonly LearningRateSchedule schedule;
    private readonly Generator shuffleGenerator;
    private readonly int batchSize;
    private long shuffleSeed;
    private bool disposed;

    /// <summary>Builds the model and optimizer of the trial and loads (or reuses) its data set.</summary>
    /// <exception cref="ArgumentException">Unknown model, data set, optimizer or schedule, or an out-of-range setting.</exception>
    /// <exception cref="DatasetNotFoundException">The data set is not where the spec says.</exception>
    public TorchTrainable(TrialConfig config)
        : this(config, DatasetFactory.GetShared((config ?? throw new ArgumentNullException(nameof(config))).Trainable.Dataset))
    {
    }

    /// <summary>Trains on <paramref name="data"/> instead of the data set the spec names (tests, custom data).</summary>
    public TorchTrainable(TrialConfig config, ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        spec = config.Trainable;
        Validate(spec);
        if (data.Train.Count == 0) throw new ArgumentException("The training split is empty.", nameof(data));
        if (data.Test.Count == 0) throw new ArgumentException("The test split is empty.", nameof(data));

        Id = config.Id;
        Seed = config.Seed;
        shuffleSeed = config.Seed;
        this.data = data;
        UseOneThread();
        torch.manual_seed(config.Seed);

        batchSize = Math.Min(spec.BatchSize, data.Train.Count);
        StepsPerEpoch = data.Train.Count / batchSize; // the last incomplete batch of an epoch is dropped
        schedule = new LearningRateSchedule(spec.LrSchedule, spec.Optimizer.Lr, (long)StepsPerEpoch * spec.Epochs);

        using (var init = new Generator(MixSeed(config.Seed, stream: 1)))
            model = ModelFactory.Create(spec, data.Channels, data.Classes, init);
        try
        {
            model.train();
            optimizer = CreateOptimizer(spec.Optimizer, model);
            shuffleGenerator = new Generator(MixSeed(config.Seed, stream: 2));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public TrialId Id { get; }
    public long Seed { get; }
    public int TotalEpochs => spec.Epochs;
    /// <summary>Optimizer steps per epoch: ⌊train images / batch size⌋.</summary>
    public int StepsPerEpoch { get; }
    /// <summary>The last epoch that ran to its end (0 before the first); restored by <see cref="LoadCheckpoint"/>.</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>The learning rate of 0-based optimizer step <paramref name="step"/> over the whole run.</summary>
    public double LearningRateAt(long step) => schedule.At(step);

    public EpochResult RunEpoch(int epoch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, TotalEpochs);
        cancellationToken.ThrowIfCancellationRequested();
        UseOneThread();

        var total = Stopwatch.StartNew();
        var (trainLoss, trainAccuracy, trainSamples) = TrainOneEpoch(epoch, cancellationToken);
        double trainSeconds = total.Elapsed.TotalSeconds;
        CompletedEpochs = epoch;
        var test = Evaluate(cancellationToken);

        var metrics = new Dictionary<string, double>
        {
            [MetricNames.TrainLoss] = trainLoss,
            [MetricNames.TrainAccuracy] = trainAccuracy,
            [MetricNames.TestLoss] = test.Loss,
            [MetricNames.TestAccuracy] = test.Accuracy,
            [MetricNames.LearningRate] = schedule.At((long)epoch * StepsPerEpoch),
            [MetricNames.SamplesPerSecond] = trainSamples / Math.Max(trainSeconds, 1e-9),
        };
        return new EpochResult(epoch, metrics, total.Elapsed);
    }

    /// <summary>Mean loss and accuracy on the test split (eval mode, no gradients, batches of <see cref="EvalBatchSize"/>).</summary>
    public EvaluationResult Evaluate(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        UseOneThread();
        var split = data.Test;
        double lossSum = 0;
        long correct = 0;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            for (int start = 0; start < split.Count; start += EvalBatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int length = Math.Min(EvalBatchSize, split.Count - start);
                using var scope = torch.NewDisposeScope();
                var x = split.Images.narrow(0, start, length);
                var y = split.Labels.narrow(0, start, length);
                var logits = model.forward(x);
                lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
        }
        finally
        {
            model.train();
        }
        return new EvaluationResult(lossSum / split.Count, (double)correct / split.Count, split.Count);
    }

    /// <summary>
    /// Writes the model's parameters and buffers, the optimizer's state (momentum buffers, Adam moments), the
    /// completed epoch and the shuffle seed to <paramref name="path"/> (atomically: a temp file renamed over it).
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(CheckpointMagic);
            writer.Write(CheckpointVersion);
            writer.Write(spec.Model);
            writer.Write(spec.Width);
            writer.Write(data.Channels);
            writer.Write(data.Classes);
            writer.Write(spec.Optimizer.Name);
            writer.Write(shuffleSeed);
            writer.Write(CompletedEpochs);
            writer.Write(StepsPerEpoch);
            model.save(writer);
            optimizer.save_state_dict(writer);
        }
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>
    /// Restores what <see cref="SaveCheckpoint"/> wrote: weights, buffers, optimizer state, <see cref="CompletedEpochs"/>
    /// and the shuffle seed, so that the next epoch sees the data in the order the saving run would have. The
    /// optimizer's hyperparameters stay those of this trainable's spec (a restart may change them on purpose).
    /// Safe inside a dispose scope: the restored optimizer state is detached from it.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, or one of another model, width, data shape or optimizer.</exception>
    public void LoadCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var reader = new BinaryReader(stream);
        string magic;
        try
        {
            magic = reader.ReadString();
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a Sweeper checkpoint.", e);
        }
        if (magic != CheckpointMagic) throw new InvalidDataException($"'{path}' is not a Sweeper checkpoint.");
        int version = reader.ReadInt32();
        if (version != CheckpointVersion)
            throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this version reads {CheckpointVersion}.");
        Expect(path, "model", reader.ReadString(), spec.Model);
        Expect(path, "width", reader.ReadDouble(), spec.Width);
        Expect(path, "input channels", reader.ReadInt32(), data.Channels);
        Expect(path, "classes", reader.ReadInt32(), data.Classes);
        Expect(path, "optimizer", reader.ReadString(), spec.Optimizer.Name);
        long seed = reader.ReadInt64();
        int completed = reader.ReadInt32();
        _ = reader.ReadInt32(); // steps per epoch of the saving run (informational)

        model.load(reader, strict: true);
        optimizer.load_state_dict(reader);
        DetachOptimizerState();
        ApplyHyperparameters();
        shuffleSeed = seed;
        CompletedEpochs = completed;
    }

    void ICheckpointable.SaveCheckpoint(string path, int epoch)
    {
        if (epoch != CompletedEpochs)
            throw new InvalidOperationException($"asked to checkpoint epoch {epoch}, but {CompletedEpochs} epoch(s) are complete");
        SaveCheckpoint(path);
    }

    int ICheckpointable.LoadCheckpoint(string path)
    {
        LoadCheckpoint(path);
        return CompletedEpochs;
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        optimizer.Dispose();
        model.Dispose();
        shuffleGenerator.Dispose();
    }

    private (double Loss, double Accuracy, int Samples) TrainOneEpoch(int epoch, CancellationToken cancellationToken)
    {
        var split = data.Train;
        double lossSum = 0;
        long correct = 0;
        long firstStep = (long)(epoch - 1) * StepsPerEpoch;
        model.train();
        using var epochScope = torch.NewDisposeScope();
        shuffleGenerator.manual_seed(unchecked((long)MixSeed(shuffleSeed, stream: 1000 + (ulong)epoch)));
        var order = torch.randperm(split.Count, dtype: ScalarType.Int64, generator: shuffleGenerator);
        for (int step = 0; step < StepsPerEpoch; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            SetLearningRate(schedule.At(firstStep + step));
            using var scope = torch.NewDisposeScope();
            var index = order.narrow(0, (long)step * batchSize, batchSize);
            var x = split.Images.index_select(0, index);
            var y = split.Labels.index_select(0, index);
            optimizer.zero_grad();
            var logits = model.forward(x);
            var loss = nn.functional.cross_entropy(logits, y);
            loss.backward();
            optimizer.step();
            lossSum += loss.item<float>() * (double)batchSize;
            correct += logits.argmax(1).eq(y).sum().item<long>();
        }
        int samples = StepsPerEpoch * batchSize;
        return (lossSum / samples, (double)correct / samples, samples);
    }

    private void SetLearningRate(double lr)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }

    /// <summary>
    /// TorchSharp creates restored momentum/moment tensors in the caller's current dispose scope (if any); they must
    /// live as long as the optimizer, so take them out of it.
    /// </summary>
    private void DetachOptimizerState()
    {
        foreach (var state in optimizer.state_dict().State)
        {
            switch (state)
            {
                case TorchSharp.Modules.SGD.State sgd:
                    sgd.momentum_buffer?.DetachFromDisposeScope();
                    break;
                case TorchSharp.Modules.Adam.State adam:
                    adam.exp_avg?.DetachFromDisposeScope();
                    adam.exp_avg_sq?.DetachFromDisposeScope();
                    adam.max_exp_avg_sq?.DetachFromDisposeScope();
                    break;
            }
        }
    }

    /// <summary>Puts the spec's optimizer settings back after a checkpoint's state replaced them.</summary>
    private void ApplyHyperparameters()
    {
        var o = spec.Optimizer;
        foreach (var group in optimizer.ParamGroups.OfType<ParamGroup>())
        {
            switch (group.Options)
            {
                case TorchSharp.Modules.SGD.Options sgd:
                    sgd.momentum = o.Momentum;
                    sgd.weight_decay = o.WeightDecay;
                    break;
                case TorchSharp.Modules.Adam.Options adam:
                    adam.weight_decay = o.WeightDecay;
                    break;
            }
            group.InitialLearningRate = o.Lr;
        }
    }

    private static OptimizerHelper CreateOptimizer(OptimizerSpec o, nn.Module<Tensor, Tensor> model) => o.Name switch
    {
        Sgd => torch.optim.SGD(model.parameters(), o.Lr, momentum: o.Momentum, weight_decay: o.WeightDecay),
        // Adam ignores Momentum (its betas stay 0.9 / 0.999).
        Adam => torch.optim.Adam(model.parameters(), o.Lr, weight_decay: o.WeightDecay),
        _ => throw new ArgumentException($"Unknown optimizer '{o.Name}'. Valid names: {string.Join(", ", OptimizerNames)}."),
    };

    private static void Validate(TrainableSpec spec)
    {
        if (spec.Epochs < 1) throw new ArgumentException($"trainable.epochs must be ≥ 1 (got {spec.Epochs}).");
        if (spec.BatchSize < 1) throw new ArgumentException($"trainable.batch_size must be ≥ 1 (got {spec.BatchSize}).");
        if (!OptimizerNames.Contains(spec.Optimizer.Name))
            throw new ArgumentException($"Unknown optimizer '{spec.Optimizer.Name}'. Valid names: {string.Join(", ", OptimizerNames)}.");
        if (!double.IsFinite(spec.Optimizer.Momentum) || spec.Optimizer.Momentum < 0 || spec.Optimizer.Momentum >= 1)
            throw new ArgumentException($"trainable.optimizer.momentum must be in [0, 1) (got {spec.Optimizer.Momentum}).");
        if (!double.IsFinite(spec.Optimizer.WeightDecay) || spec.Optimizer.WeightDecay < 0)
            throw new ArgumentException($"trainable.optimizer.weight_decay must be ≥ 0 (got {spec.Optimizer.WeightDecay}).");
    }

    private static void Expect<T>(string path, string what, T actual, T expected)
    {
        if (!EqualityComparer<T>.Default.Equals(actual, expected))
            throw new InvalidDataException($"Checkpoint '{path}' is for {what} {actual}, but this trial has {expected}.");
    }

    private static void UseOneThread()
    {
        if (torch.get_num_threads() != 1) torch.set_num_threads(1);
    }

    /// <summary>SplitMix64 of (seed, stream): independent, well-spread seeds for the generators of one trial.</summary>
    internal static ulong MixSeed(long seed, ulong stream)
    {
        ulong z = unchecked((ulong)seed + 0x9E3779B97F4A7C15UL * (stream + 1));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
