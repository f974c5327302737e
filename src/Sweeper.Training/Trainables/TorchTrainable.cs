using System.Diagnostics;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Quantization.Training;
using Sweeper.Training.Data;
using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Sweeper.Core.Model;

namespace Sweeper.Training.Trainables;

/// <summary>
/// Trains an image classifier (<see cref="ModelFactory"/>) on a data set (<see cref="DatasetFactory"/>) with SGD
/// (momentum, weight decay) or Adam, epoch by epoch, as the trial's <see cref="TrialConfig"/> says, with the weights of
/// every convolution and linear layer quantized as <see cref="TrainableSpec.Quantizer"/> says (<see cref="QuantizationPlan"/>)
/// and the images transformed to <see cref="TrainableSpec.InputSize"/> × <see cref="TrainableSpec.InputChannels"/>
/// (<see cref="InputTransform"/>).
/// </summary>
/// <remarks>
/// <para>Threading: like every <see cref="ITrainable"/>, one thread creates it and calls every member. That thread gets
/// the intra-op libtorch threads it was created with (<c>torch.set_num_threads</c>; 1 by default, the worker's
/// <c>--threads-per-trial</c> in a sweep), so that concurrent trials share the cores.</para>
/// <para>Reproducibility: the weights are initialized from a generator seeded by the trial seed, and epoch
/// <c>e</c> visits the training images in an order that depends only on (seed, e); with one thread the same seed
/// gives bit-identical metrics.</para>
/// <para>Dispose scopes: every training step and every evaluation batch runs in its own
/// <c>torch.NewDisposeScope()</c>; the shared data set tensors belong to no scope.</para>
/// <para>Quantizers: their trainable scales (learnable_po2's log2 scale, LSQ's step) are optimized in a parameter group
/// without weight decay (decay would pull the scales towards 1). Their state (exponents, EMAs, frozen flags, step
/// counters) lives in the model's buffers and is part of every checkpoint. Each epoch's metrics include, per quantized
/// layer, the numbers of <see cref="QuantizerEpochMetrics"/>; <see cref="StepCompleted"/> reports every step.</para>
/// </remarks>
public sealed class TorchTrainable : ITrainable, ICheckpointable, IReportsSteps
{
    /// <summary>Images per evaluation batch.</summary>
    public const int EvalBatchSize = 200;

    public const string Sgd = "sgd";
    public const string Adam = "adam";

    /// <summary>The optimizer names this version knows.</summary>
    public static IReadOnlyList<string> OptimizerNames { get; } = [Sgd, Adam];

    private readonly TrainableSpec spec;
    private readonly ImageDataset data;
    private readonly InputTransform transform;
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly IReadOnlyList<IQuantizableLayer> layers;
    private readonly IQuantizableLayer[] quantized;
    private readonly Parameter[] parameters;
    private readonly Tensor[] gradientNorms;
    private readonly int[][] exponentBuffers;
    private readonly long[][] exponentScratch;
    private readonly OptimizerHelper optimizer;
    private readonly LearningRateSchedule schedule;
    private readonly Generator shuffleGenerator;
    private readonly int batchSize;
    private readonly int threads;
    private long shuffleSeed;
    private bool disposed;

    /// <summary>Builds the model and optimizer of the trial and loads (or reuses) its data set.</summary>
    /// <exception cref="ArgumentException">Unknown model, data set, optimizer or schedule, or an out-of-range setting.</exception>
    /// <exception cref="DatasetNotFoundException">The data set is not where the spec says.</exception>
    /// <param name="config">The trial.</param>
    /// <param name="intraOpThreads">libtorch intra-op threads of the calling thread while this trainable works (≥ 1).</param>
    public TorchTrainable(TrialConfig config, int intraOpThreads = 1)
        : this(config, DatasetFactory.GetShared((config ?? throw new ArgumentNullException(nameof(config))).Trainable.Dataset), intraOpThreads)
    {
    }

    /// <summary>Trains on <paramref name="data"/> instead of the data set the spec names (tests, custom data).</summary>
    public TorchTrainable(TrialConfig config, ImageDataset data, int intraOpThreads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intraOpThreads, 1);
        threads = intraOpThreads;
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
        transform = InputTransform.For(data, spec.InputSize, spec.InputChannels);
        UseThreads();
        torch.manual_seed(config.Seed);

        batchSize = Math.Min(spec.BatchSize, data.Train.Count);
        StepsPerEpoch = data.Train.Count / batchSize; // the last incomplete batch of an epoch is dropped
        schedule = new LearningRateSchedule(spec.LrSchedule, spec.Optimizer.Lr, (long)StepsPerEpoch * spec.Epochs);
        var plan = new QuantizationPlan(spec.Quantizer);

        using (var init = new Generator(MixSeed(config.Seed, stream: 1)))
            model = ModelFactory.Create(spec, transform.Channels, transform.Size, data.Classes, init, plan);
        try
        {
            model.train();
            layers = (model as IQuantizableModel)?.Layers ?? [];
            quantized = layers.Where(l => l.Quantizer is not null).ToArray();
            QuantizedLayerNames = quantized.Select(l => l.LayerName).ToArray();
            exponentBuffers = quantized.Select(l => new int[l.Quantizer is Po2WeightQuantizer q ? q.Channels : 0]).ToArray();
            exponentScratch = quantized.Select(l => new long[l.Quantizer is Po2WeightQuantizer q ? q.Channels : 0]).ToArray();
            parameters = model.parameters().ToArray();
            gradientNorms = new Tensor[parameters.Length];
            var quantizerParameters = quantized.SelectMany(l => l.Quantizer!.parameters()).ToList();
            optimizer = CreateOptimizer(spec.Optimizer, parameters, quantizerParameters);
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

    /// <summary>
    /// Called after every training step on the training thread (see <see cref="StepReport"/> for what the buffers it
    /// hands over may be kept for). Null (the default) costs nothing: the gradient norm and exponents are then not read.
    /// </summary>
    public Action<StepReport>? StepCompleted { get; set; }

    /// <summary>The quantized layers' names (module paths), in model order; empty without quantization.</summary>
    public IReadOnlyList<string> QuantizedLayerNames { get; }

    /// <summary>The model (tests, export).</summary>
    internal nn.Module<Tensor, Tensor> Model => model;

    /// <summary>Every convolution and linear layer of the model.</summary>
    internal IReadOnlyList<IQuantizableLayer> Layers => layers;

    /// <summary>The optimizer's parameter groups: weight decay and parameter count (tests).</summary>
    internal IReadOnlyList<(double WeightDecay, int Parameters)> OptimizerGroups =>
        optimizer.ParamGroups.OfType<ParamGroup>().Select(g => (g.Options switch
        {
            TorchSharp.Modules.SGD.Options sgd => sgd.weight_decay ?? double.NaN,
            TorchSharp.Modules.Adam.Options adam => adam.weight_decay ?? double.NaN,
            _ => double.NaN,
        }, g.Parameters.Count())).ToList();

    /// <summary>The learning rate of 0-based optimizer step <paramref name="step"/> over the whole run.</summary>
    public double LearningRateAt(long step) => schedule.At(step);

    public EpochResult RunEpoch(int epoch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, TotalEpochs);
        cancellationToken.ThrowIfCancellationRequested();
        UseThreads();

        var total = Stopwatch.StartNew();
        long flipsBefore = TotalFlips();
        FreezeStableScales(epoch - 1); // a checkpoint from after the freeze epoch (e.g. a restart that turned stable_scale on)
        var (trainLoss, trainAccuracy, trainSamples) = TrainOneEpoch(epoch, cancellationToken);
        double trainSeconds = total.Elapsed.TotalSeconds;
        CompletedEpochs = epoch;
        FreezeStableScales(epoch);
        EvaluationResult? validation = data.Validation is { } v ? Evaluate(v, cancellationToken) : null;
        var test = Evaluate(data.Test, cancellationToken);

        var metrics = new Dictionary<string, double>
        {
            [MetricNames.TrainLoss] = trainLoss,
            [MetricNames.TrainAccuracy] = trainAccuracy,
            [MetricNames.TestLoss] = test.Loss,
            [MetricNames.TestAccuracy] = test.Accuracy,
            [MetricNames.LearningRate] = schedule.At((long)epoch * StepsPerEpoch),
            [MetricNames.SamplesPerSecond] = trainSamples / Math.Max(trainSeconds, 1e-9),
            [MetricNames.TrainSeconds] = trainSeconds,
            [MetricNames.EvalSeconds] = total.Elapsed.TotalSeconds - trainSeconds,
        };
        if (validation is { } val)
        {
            metrics[MetricNames.ValLoss] = val.Loss;
            metrics[MetricNames.ValAccuracy] = val.Accuracy;
        }
        if (quantized.Length > 0)
            QuantizerEpochMetrics.AddEpochMetrics(metrics, QuantizableLayers.Diagnose(quantized), flipsBefore);
        return new EpochResult(epoch, metrics, total.Elapsed);
    }

    /// <summary>Mean loss and accuracy on the test split (eval mode, no gradients, batches of <see cref="EvalBatchSize"/>).</summary>
    public EvaluationResult Evaluate(CancellationToken cancellationToken = default) => Evaluate(data.Test, cancellationToken);

    /// <summary>Mean loss and accuracy on the validation split, or null when the data set holds none.</summary>
    public EvaluationResult? EvaluateValidation(CancellationToken cancellationToken = default) =>
        data.Validation is { } v ? Evaluate(v, cancellationToken) : (EvaluationResult?)null;

    private EvaluationResult Evaluate(ImageSplit split, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        UseThreads();
        double lossSum = 0;
        long correct = 0;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            using var weights = QuantizableLayers.CacheEvalWeights(layers);
            for (int start = 0; start < split.Count; start += EvalBatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int length = Math.Min(EvalBatchSize, split.Count - start);
                using var scope = torch.NewDisposeScope();
                var x = transform.Apply(split.Images.narrow(0, start, length));
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
    /// Writes the model's parameters and buffers (with every quantizer's state: exponents, log2 scales or steps, EMAs,
    /// frozen flags, step and flip counters), the optimizer's state (momentum buffers, Adam moments), the
    /// completed epoch and the shuffle seed to <paramref name="path"/>, creating its folder. The file is written in
    /// place: callers that need it whole or absent write a temp file and rename it (the sweep's checkpoint store does).
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using var stream = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.None);
        using var writer = new BinaryWriter(stream);
        new CheckpointHeader(spec.Model, spec.Width, transform.Channels, transform.Size, data.Classes, spec.Optimizer.Name,
            CheckpointHeader.DescribeQuantizer(spec.Quantizer), shuffleSeed, CompletedEpochs, StepsPerEpoch).Write(writer);
        model.save(writer);
        optimizer.save_state_dict(writer);
    }

    /// <summary>
    /// Restores what <see cref="SaveCheckpoint"/> wrote: weights, buffers, optimizer state, <see cref="CompletedEpochs"/>
    /// and the shuffle seed, so that the next epoch sees the data in the order the saving run would have. The
    /// optimizer's hyperparameters stay those of this trainable's spec (a restart may change them on purpose).
    /// Safe inside a dispose scope: the restored optimizer state is detached from it.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, or one of another model, width, input shape, classes, quantizer or optimizer.</exception>
    public void LoadCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var reader = new BinaryReader(stream);
        var header = CheckpointHeader.Read(reader, path);
        header.ExpectCompatible(path, spec, data.Classes, checkOptimizer: true);

        model.load(reader, strict: true);
        optimizer.load_state_dict(reader);
        DetachOptimizerState();
        ApplyHyperparameters();
        shuffleSeed = header.ShuffleSeed;
        CompletedEpochs = header.CompletedEpochs;
    }

    /// <summary>
    /// The stability monitor's view of each step (1-based step numbers): loss, gradient norm and the exponents of every
    /// power-of-two quantized layer. The arrays are the trainable's own buffers, read by the observer during the call.
    /// </summary>
    public void ObserveSteps(Action<Core.Stability.StepObservation>? observer)
    {
        if (observer is null)
        {
            StepCompleted = null;
            return;
        }
        Core.Stability.LayerExponents[]? layers = null;
        StepCompleted = report =>
        {
            if (layers is null || layers.Length != report.Layers.Count)
                layers = new Core.Stability.LayerExponents[report.Layers.Count];
            for (int i = 0; i < layers.Length; i++) layers[i] = new Core.Stability.LayerExponents(report.Layers[i], report.Exponents[i]);
            observer(new Core.Stability.StepObservation(report.Step + 1, report.Loss, report.GradientNorm, layers));
        };
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
            double lr = schedule.At(firstStep + step);
            SetLearningRate(lr);
            var callback = StepCompleted;
            using var scope = torch.NewDisposeScope();
            var index = order.narrow(0, (long)step * batchSize, batchSize);
            var x = transform.Apply(split.Images.index_select(0, index));
            var y = split.Labels.index_select(0, index);
            optimizer.zero_grad();
            var logits = model.forward(x);
            var loss = nn.functional.cross_entropy(logits, y);
            loss.backward();
            double gradientNorm = callback is null ? double.NaN : GradientNorm();
            optimizer.step();
            double stepLoss = loss.item<float>();
            lossSum += stepLoss * batchSize;
            correct += logits.argmax(1).eq(y).sum().item<long>();
            if (callback is not null)
            {
                ReadExponents();
                callback(new StepReport(epoch, firstStep + step, stepLoss, gradientNorm, lr, QuantizedLayerNames, exponentBuffers, TotalFlips()));
            }
        }
        int samples = StepsPerEpoch * batchSize;
        return (lossSum / samples, (double)correct / samples, samples);
    }

    /// <summary>√(Σ over parameters of ‖grad‖²): one norm per parameter, one norm of those, one read.</summary>
    private double GradientNorm()
    {
        using var scope = torch.NewDisposeScope();
        int n = 0;
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is not null) gradientNorms[n++] = torch.linalg.vector_norm(g);
        }
        if (n == 0) return 0;
        var all = n == gradientNorms.Length ? gradientNorms : gradientNorms[..n];
        var norm = torch.linalg.vector_norm(torch.stack(all)).item<float>();
        Array.Clear(gradientNorms);
        return norm;
    }

    /// <summary>
    /// msqe_po2 with <c>stable_scale</c>: once epoch <c>stable_from_epoch</c> (default 1) has been trained, every such
    /// quantizer freezes its exponent at rint of the moving average of the exponents of all the training steps it has seen
    /// (<see cref="MsqePo2Quantizer.Freeze"/>); a quantizer already frozen stays as it is.
    /// </summary>
    private void FreezeStableScales(int completedEpochs)
    {
        if (!spec.Quantizer.StableScale || completedEpochs < QuantizationPlan.StableFromEpoch(spec.Quantizer)) return;
        foreach (var layer in quantized)
        {
            if (layer.Quantizer is MsqePo2Quantizer { IsFrozen: false, StepCount: > 0 } msqe) msqe.Freeze();
        }
    }

    /// <summary>Copies every quantized layer's last training exponents into the reused buffers.</summary>
    private void ReadExponents()
    {
        for (int i = 0; i < quantized.Length; i++)
        {
            if (quantized[i].Quantizer is not Po2WeightQuantizer q) continue;
            q.CopyExponentsTo(exponentScratch[i]);
            var target = exponentBuffers[i];
            var source = exponentScratch[i];
            for (int c = 0; c < target.Length; c++) target[c] = (int)source[c];
        }
    }

    private long TotalFlips()
    {
        long total = 0;
        foreach (var layer in quantized) total += layer.Quantizer!.TotalFlips;
        return total;
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
        int index = 0;
        foreach (var group in optimizer.ParamGroups.OfType<ParamGroup>())
        {
            // Group 0: the model's weights; group 1 (if any): the quantizers' scales, never decayed.
            double weightDecay = index++ == 0 ? o.WeightDecay : 0;
            switch (group.Options)
            {
                case TorchSharp.Modules.SGD.Options sgd:
                    sgd.momentum = o.Momentum;
                    sgd.weight_decay = weightDecay;
                    break;
                case TorchSharp.Modules.Adam.Options adam:
                    adam.weight_decay = weightDecay;
                    break;
            }
            group.InitialLearningRate = o.Lr;
        }
    }

    /// <summary>
    /// The optimizer a trial trains with, over <paramref name="all"/> parameters: one group with the spec's weight decay,
    /// and a second one without decay for <paramref name="quantizerScales"/> if there are any.
    /// </summary>
    public static OptimizerHelper CreateOptimizer(OptimizerSpec o, IReadOnlyList<Parameter> all, IReadOnlyList<Parameter> quantizerScales)
    {
        var scaleHandles = quantizerScales.Select(p => p.Handle).ToHashSet();
        var weights = all.Where(p => !scaleHandles.Contains(p.Handle)).ToList();
        switch (o.Name)
        {
            case Sgd:
                // TorchSharp's SGD with held scalars (see HeldScalars): the same update, operation for operation.
                if (quantizerScales.Count == 0) return new Torch.HeldScalarSgd(weights, o.Lr, o.Momentum, o.WeightDecay);
                return new Torch.HeldScalarSgd(
                    [
                        new TorchSharp.Modules.SGD.ParamGroup(weights, new TorchSharp.Modules.SGD.Options { weight_decay = o.WeightDecay }),
                        new TorchSharp.Modules.SGD.ParamGroup(quantizerScales, new TorchSharp.Modules.SGD.Options { weight_decay = 0 }),
                    ],
                    o.Lr, o.Momentum, o.WeightDecay);
            case Adam:
                // Adam ignores Momentum (its betas stay 0.9 / 0.999).
                if (quantizerScales.Count == 0) return new Torch.HeldScalarAdam(weights, o.Lr, o.WeightDecay);
                return new Torch.HeldScalarAdam(
                    [
                        new TorchSharp.Modules.Adam.ParamGroup(weights, new TorchSharp.Modules.Adam.Options { weight_decay = o.WeightDecay }),
                        new TorchSharp.Modules.Adam.ParamGroup(quantizerScales, new TorchSharp.Modules.Adam.Options { weight_decay = 0 }),
                    ],
                    o.Lr, o.WeightDecay);
            default:
                throw new ArgumentException($"Unknown optimizer '{o.Name}'. Valid names: {string.Join(", ", OptimizerNames)}.");
        }
    }

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

    /// <summary>
    /// libtorch keeps the intra-op thread count per calling thread (OpenMP's nthreads ICV), seeded from a process-wide
    /// value when a thread first runs an operator: setting it here, on the trial's thread, before every epoch and
    /// evaluation, gives this trial its count whatever the thread ran before and whatever other trials use.
    /// </summary>
    private void UseThreads()
    {
        if (torch.get_num_threads() != threads) torch.set_num_threads(threads);
    }

    /// <summary>The libtorch intra-op threads this trainable uses.</summary>
    public int IntraOpThreads => threads;

    /// <summary>SplitMix64 of (seed, stream): independent, well-spread seeds for the generators of one trial.</summary>
    internal static ulong MixSeed(long seed, ulong stream) => SplitMix64.Mix(unchecked((ulong)seed + SplitMix64.Gamma * stream));
}
