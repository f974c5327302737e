using Sweeper.Quantization.Po2;
using TorchSharp;
using TorchSharp.Utils;
using static Sweeper.Quantization.Po2.Po2Math;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Training;

/// <summary>
/// Base of the training-time weight quantizers: a <c>Module&lt;Tensor, Tensor&gt;</c> that maps a weight of a
/// fixed shape to its fake-quantized value (same shape and dtype), with a straight-through estimator
/// for the weight gradient: identity where the code is not clipped, <b>0 where it is clipped</b>.
/// <para>
/// State lives in registered buffers/parameters, so <c>state_dict()</c>, <c>save()</c> and <c>load()</c>
/// of the quantizer (or of a model that owns it as a submodule) checkpoint and restore it exactly:
/// <c>num_steps</c> (training calls so far), <c>flips</c> (running count of exponent changes) and each
/// quantizer's own state. Training calls (<c>training == true</c>) update the state; eval calls never do.
/// </para>
/// <para>
/// A contiguous CPU float32 weight goes through the fused path: one autograd node whose forward pass computes output and
/// masks in one pass over the weight and whose backward pass forms the scale gradient in one pass (<c>FusedKernels</c>,
/// <c>FusedFixedScaleSte</c>, <c>FusedLearnedScaleSte</c>), bitwise what the reference op chain (<c>FixedScaleSte</c>,
/// <c>LearnedScaleSte</c>, taken for any other weight) computes.
/// </para>
/// <para>
/// Subclasses keep their state in private <c>Tensor</c>/<c>Parameter</c> fields named with
/// <c>[ComponentName]</c>, created with <see cref="State"/>, and call <c>RegisterComponents()</c> once at the
/// end of the most-derived constructor (it registers the fields of the whole hierarchy).
/// </para>
/// </summary>
public abstract class WeightQuantizer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "num_steps")]
    private Tensor _numSteps;

    [ComponentName(Name = "flips")]
    private Tensor _flips;

    private readonly long[] _weightShape;

    /// <summary>Creates the quantizer for weights of <paramref name="weightShape"/>.</summary>
    protected WeightQuantizer(string name, long[] weightShape, int bits, int? channelAxis, double diagnosticOutlierSigma)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(weightShape);
        CheckBits(bits);
        if (weightShape.Length == 0 || weightShape.Any(d => d < 1))
            throw new ArgumentException($"Weight shape must be non-empty with positive sizes, got [{string.Join(", ", weightShape)}].", nameof(weightShape));
        if (channelAxis is int a && (a < 0 || a >= weightShape.Length))
            throw new ArgumentOutOfRangeException(nameof(channelAxis), a, $"channel axis must be null or in 0..{weightShape.Length - 1}.");

        _weightShape = (long[])weightShape.Clone();
        Bits = bits;
        Qp = Po2Math.Qp(bits);
        QpScalar = Qp.ToScalar();
        ChannelAxis = channelAxis;
        Channels = Po2Math.Channels(weightShape, channelAxis);
        ElementsPerChannel = weightShape.Aggregate(1L, (p, d) => p * d) / Channels;
        BroadcastShape = Po2Math.BroadcastShape(weightShape, channelAxis);
        ReduceDims = Po2Math.ReduceDims(weightShape.Length, channelAxis);
        Layout = FusedKernels.Layout.Of(_weightShape, channelAxis);
        DiagnosticOutlierSigma = diagnosticOutlierSigma;
        _numSteps = State(torch.zeros([], ScalarType.Int64));
        _flips = State(torch.zeros([], ScalarType.Int64));
    }

    /// <summary>Bit width.</summary>
    public int Bits { get; }

    /// <summary>Largest code magnitude 2^(bits-1) − 1.</summary>
    public int Qp { get; }

    /// <summary><see cref="Qp"/> as a scalar this quantizer holds (<see cref="HeldScalars"/>).</summary>
    private protected Scalar QpScalar { get; }

    /// <summary>Channel axis of the weight, or null for per-tensor.</summary>
    public int? ChannelAxis { get; }

    /// <summary>Number of channels (1 for per-tensor).</summary>
    public long Channels { get; }

    /// <summary>Number of weights per channel.</summary>
    public long ElementsPerChannel { get; }

    /// <summary>Shape of the weights this quantizer accepts.</summary>
    public IReadOnlyList<long> WeightShape => _weightShape;

    /// <summary>Compute <see cref="LastDiagnostics"/> on every call (a few reductions and a copy of C values).</summary>
    public bool CollectDiagnostics { get; set; } = true;

    /// <summary>The σ of the diagnostic outlier threshold |w| &gt; σ·std for quantizers without their own threshold.</summary>
    public double DiagnosticOutlierSigma { get; }

    /// <summary>Diagnostics of the last call, or null before the first call / with diagnostics off.</summary>
    public QuantizerDiagnostics? LastDiagnostics { get; private set; }

    /// <summary>Number of training calls so far (the index of the next training step).</summary>
    public long StepCount => FusedKernels.Applies(_numSteps, ScalarType.Int64) ? FusedKernels.Longs(_numSteps)[0] : _numSteps.item<long>();

    /// <summary>Running count of exponent changes over all training steps.</summary>
    public long TotalFlips => _flips.item<long>();

    /// <summary>Broadcast shape of a per-channel vector against the weight (1s except the channel axis).</summary>
    protected long[] BroadcastShape { get; }

    /// <summary>All axes except the channel axis.</summary>
    protected long[] ReduceDims { get; }

    /// <summary>The weight's layout against the channels, for <see cref="FusedKernels"/>.</summary>
    private protected FusedKernels.Layout Layout { get; }

    /// <summary>Fake-quantizes <paramref name="weight"/>; differentiable by the straight-through estimator.</summary>
    public sealed override Tensor forward(Tensor weight)
    {
        var call = Begin(weight);
        return End(weight, call);
    }

    /// <summary>
    /// The calls <c>forward</c> makes on <paramref name="weights"/>, one quantizer each, in order: the same state updates,
    /// outputs and gradients to the bit, with the fused nodes of all of them (a contiguous CPU float32 weight's path)
    /// run as one autograd node instead of one node each. A TorchSharp custom node costs about 9 µs a call in managed
    /// round trips and wrapping, a measurable part of a training step over a model's dozens of quantized layers. Every
    /// weight must reach the loss (an output nothing uses gets a zero gradient: its scale parameter's gradient becomes
    /// zeros instead of none).
    /// </summary>
    /// <returns>The outputs, one per quantizer.</returns>
    public static Tensor[] ForwardAll(IReadOnlyList<WeightQuantizer> quantizers, IReadOnlyList<Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(quantizers);
        ArgumentNullException.ThrowIfNull(weights);
        if (quantizers.Count != weights.Count)
            throw new ArgumentException($"{quantizers.Count} quantizers were given {weights.Count} weights.", nameof(weights));
        if (quantizers.Distinct(ReferenceEqualityComparer.Instance).Count() != quantizers.Count)
            throw new ArgumentException("A quantizer appears twice: its second call would read the state its first call's node has not finished.", nameof(quantizers));

        var outputs = new Tensor[quantizers.Count];
        var batch = new FusedBatch();
        var collected = new List<(int Index, Call Call)>();
        for (int i = 0; i < quantizers.Count; i++)
        {
            var quantizer = quantizers[i];
            int parts = batch.Parts.Count;
            quantizer._collecting = batch;
            Call call;
            try
            {
                call = quantizer.Begin(weights[i]);
            }
            finally
            {
                quantizer._collecting = null;
            }

            if (batch.Parts.Count > parts + 1)
                throw new InvalidOperationException($"{quantizer.GetName()} made {batch.Parts.Count - parts} fused nodes in one call; a call makes at most one.");
            if (batch.Parts.Count > parts) collected.Add((i, call));
            else outputs[i] = quantizer.End(weights[i], call);
        }

        if (collected.Count == 0) return outputs;
        var fused = batch.Run();
        for (int k = 0; k < collected.Count; k++)
        {
            var (i, call) = collected[k];
            var part = batch.Parts[k];
            var notClipped = part.Learned is { } learned ? learned.NotClipped! : part.Fixed!.NotClipped!;
            outputs[i] = quantizers[i].End(weights[i], call with { Output = fused[k], Report = call.Report with { NotClipped = notClipped } });
        }

        return outputs;
    }

    /// <summary>
    /// Whether <paramref name="t"/> has <paramref name="shape"/>, read axis by axis (TorchSharp's <c>shape</c> marshals an
    /// array through a managed callback, about 2 µs a read; <c>dim</c> and <c>size</c> are plain calls).
    /// </summary>
    internal static bool HasShape(Tensor t, long[] shape)
    {
        if (t.dim() != shape.Length) return false;
        for (int i = 0; i < shape.Length; i++)
            if (t.size(i) != shape[i]) return false;
        return true;
    }

    /// <summary>A call between <see cref="Begin"/> and <see cref="End"/>: its output (null while a batch node is pending) and what it decided.</summary>
    private readonly record struct Call(Tensor Output, QuantizerStep Report, long Step, bool IsTraining);

    /// <summary>A call up to its output: the quantizer's decision and its state updates.</summary>
    private Call Begin(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (!HasShape(weight, _weightShape))
            throw new ArgumentException($"{GetName()}: expected a weight of shape [{string.Join(", ", _weightShape)}], got [{string.Join(", ", weight.shape)}].", nameof(weight));

        var isTraining = training;
        var step = StepCount;
        var output = Quantize(weight, isTraining, step, out var report);
        if (isTraining)
        {
            using var noGrad = torch.no_grad();
            if (FusedKernels.Applies(_flips, ScalarType.Int64) && FusedKernels.Applies(_numSteps, ScalarType.Int64))
            {
                FusedKernels.Longs(_flips)[0] += report.Flips; // in place, as the ops below (two libtorch calls a layer a step)
                FusedKernels.Longs(_numSteps)[0] += 1;
            }
            else
            {
                _flips.PlusInPlace(report.Flips); // held scalars: see HeldScalars
                _numSteps.add_(HeldScalars.One, HeldScalars.One);
            }
        }

        return new Call(output, report, step, isTraining);
    }

    /// <summary>The rest of a call once its output exists: the diagnostics.</summary>
    private Tensor End(Tensor weight, Call call)
    {
        if (CollectDiagnostics)
        {
            using var noGrad = torch.no_grad();
            LastDiagnostics = Diagnose(weight.detach(), call.Output.detach(), call.Report, call.Step, call.IsTraining);
        }
        else
        {
            LastDiagnostics = null;
        }

        return call.Output;
    }

    /// <summary>Set while <see cref="ForwardAll"/> collects this quantizer's fused node into its batch.</summary>
    private FusedBatch? _collecting;

    /// <summary>
    /// The fused fixed-scale node on <paramref name="weight"/>; while <see cref="ForwardAll"/> collects, a part of its batch
    /// node instead, and null (the output and <see cref="FusedFixedSpec.NotClipped"/> come when the batch runs).
    /// </summary>
    private protected Tensor FusedFixed(Tensor weight, Tensor steps, FusedFixedSpec spec)
    {
        if (_collecting is null) return FusedFixedScaleSte.apply(weight, steps, spec);
        _collecting.Parts.Add(new FusedBatch.Part(weight, null, steps, spec, null));
        return null!;
    }

    /// <summary>The fused learned-scale node, or a part of a collecting batch node (see <see cref="FusedFixed"/>).</summary>
    private protected Tensor FusedLearned(Tensor weight, Tensor parameter, Tensor steps, FusedLearnedSpec spec)
    {
        if (_collecting is null) return FusedLearnedScaleSte.apply(weight, parameter, steps, spec);
        _collecting.Parts.Add(new FusedBatch.Part(weight, parameter, steps, null, spec));
        return null!;
    }

    /// <summary>What one call decided, for counters and diagnostics.</summary>
    /// <param name="Exponents">Exponents used, float64 [C] (null for LSQ).</param>
    /// <param name="Scales">Step per channel, any float dtype [C].</param>
    /// <param name="NotClipped">Bool, weight-shaped: code not clipped.</param>
    /// <param name="Outliers">Bool, weight-shaped: beyond the quantizer's outlier threshold (null: use σ·std with <see cref="DiagnosticOutlierSigma"/>).</param>
    /// <param name="Flips">Exponent changes counted in this call.</param>
    /// <param name="Frozen">A frozen exponent was used.</param>
    protected internal sealed record QuantizerStep(Tensor? Exponents, Tensor Scales, Tensor NotClipped, Tensor? Outliers, long Flips, bool Frozen);

    /// <summary>
    /// Quantizes one call's weight. <paramref name="step"/> is the index of this step (training calls so far);
    /// implementations update their state only when <paramref name="isTraining"/> is true.
    /// </summary>
    protected abstract Tensor Quantize(Tensor weight, bool isTraining, long step, out QuantizerStep report);

    /// <summary>A bool state flag (a 0-dim buffer), read from its memory where it is a CPU tensor (no scalar made per read).</summary>
    protected static bool Flag(Tensor flag) => FusedKernels.Applies(flag, ScalarType.Bool) ? FusedKernels.Bools(flag)[0] : flag.item<bool>();

    /// <summary>Detaches a new state tensor from any dispose scope (state must outlive training steps).</summary>
    protected static Tensor State(Tensor t) => t.DetachFromDisposeScope();

    /// <summary>The weight as the float64 channel matrix [C, N].</summary>
    protected Tensor Matrix(Tensor weight) => ToMatrix(weight.detach(), ChannelAxis).to_type(ScalarType.Float64);

    /// <summary>A per-channel [C] vector reshaped to broadcast against the weight, in <paramref name="dtype"/>.</summary>
    protected Tensor Broadcast(Tensor perChannel, ScalarType dtype) => perChannel.to_type(dtype).reshape(BroadcastShape);

    /// <summary>
    /// Copies one value per channel (or one for all) into a learned per-channel tensor (a log2 scale, a step size) and
    /// marks the quantizer initialised, so training starts from these values instead of the data.
    /// </summary>
    protected void SetPerChannel(Tensor target, Tensor initialized, float[] values, string name)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        target.copy_(Po2Quantizers.PerChannel(torch.tensor(values), Channels, name).to_type(ScalarType.Float32));
        initialized.fill_(HeldScalars.True);
    }

    /// <summary>Sums a weight-shaped tensor over the non-channel axes to [C].</summary>
    /// <remarks>A rank-1 weight with channel axis 0 has nothing to reduce (every element is its own channel); libtorch's
    /// <c>sum([])</c> would sum everything, so that case is a reshape.</remarks>
    protected Tensor ChannelSum(Tensor t) => ReduceDims.Length == 0 ? t.reshape(Channels) : t.sum(ReduceDims).reshape(Channels);

    /// <summary>The second-moment EMA v (weight-shaped) whose √ weights the MSQE, or null when the quantizer keeps none.</summary>
    protected virtual Tensor? SecondMomentState => null;

    /// <summary>A learned log2 scale per channel, or null when the quantizer learns none.</summary>
    protected virtual Tensor? Log2ScaleState => null;

    private QuantizerDiagnostics Diagnose(Tensor x, Tensor y, QuantizerStep report, long step, bool isTraining)
    {
        using var scope = torch.NewDisposeScope();
        var squaredError = (x.to_type(ScalarType.Float64) - y.to_type(ScalarType.Float64)).Squared();
        var msqe = ChannelSum(squaredError);
        var outliers = report.Outliers ?? StdOutliers(x, DiagnosticOutlierSigma);
        double spread = double.NaN;
        if (SecondMomentState is { } v)
        {
            var w = v.to_type(ScalarType.Float64).sqrt();
            var mean = w.mean().item<double>();
            using var m = mean.ToScalar(); // held: see HeldScalars
            spread = mean > 0 ? w.sub(m).Squared().mean().sqrt().item<double>() / mean : double.NaN;
        }
        var exponents = report.Exponents is null ? [] : report.Exponents.to_type(ScalarType.Int64).data<long>().ToArray();
        return new QuantizerDiagnostics(
            Step: step,
            Training: isTraining,
            Exponents: exponents,
            Scales: report.Scales.to_type(ScalarType.Float64).contiguous().data<double>().ToArray(),
            Msqe: msqe.data<double>().ToArray(),
            ClippedFraction: 1.0 - report.NotClipped.to_type(ScalarType.Float64).mean().item<double>(),
            OutlierFraction: outliers.to_type(ScalarType.Float64).mean().item<double>(),
            Flips: report.Flips,
            TotalFlips: TotalFlips,
            Frozen: report.Frozen,
            ZeroFraction: y.eq(HeldScalars.Zero).to_type(ScalarType.Float64).mean().item<double>(),
            InlierMsqe: ChannelSum(squaredError.masked_fill(outliers, HeldScalars.Zero)).data<double>().ToArray().Sum(), // summed like Msqe
            SecondMomentSpread: spread,
            Log2ScaleMean: Log2ScaleState is { } l ? l.detach().to_type(ScalarType.Float64).mean().item<double>() : double.NaN);
    }

    /// <summary>|w| &gt; σ · std per channel (population std), weight-shaped bool.</summary>
    protected Tensor StdOutliers(Tensor x, double sigma)
    {
        var xd = x.to_type(ScalarType.Float64);
        var mean = xd.mean(ReduceDims, keepdim: true);
        var std = (xd - mean).Squared().mean(ReduceDims, keepdim: true).sqrt();
        return xd.abs().gt(std.Times(sigma));
    }
}

/// <summary>
/// Base of the power-of-two training quantizers: keeps the exponent used in the last training step
/// (buffer <c>exponent</c>, int64 [C]) and counts flips, the channels whose exponent changed from one
/// training step to the next.
/// </summary>
public abstract class Po2WeightQuantizer : WeightQuantizer
{
    [ComponentName(Name = "exponent")]
    private Tensor _exponent;

    /// <summary>Creates the quantizer.</summary>
    protected Po2WeightQuantizer(string name, long[] weightShape, int bits, int? channelAxis, double diagnosticOutlierSigma)
        : base(name, weightShape, bits, channelAxis, diagnosticOutlierSigma)
    {
        _exponent = State(torch.zeros(Channels, ScalarType.Int64));
    }

    /// <summary>The exponent per channel used in the last training step (meaningless before the first one).</summary>
    public long[] Exponents => _exponent.data<long>().ToArray();

    /// <summary>
    /// Copies <see cref="Exponents"/> into the first C elements of <paramref name="destination"/> without allocating an
    /// array (for per-step readers).
    /// </summary>
    public void CopyExponentsTo(long[] destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Length < Channels)
            throw new ArgumentException($"The destination holds {destination.Length} values; {Channels} are needed.", nameof(destination));

        using var data = _exponent.data<long>();
        data.CopyTo(destination);
    }

    /// <summary>The last training step's exponents as float64 [C].</summary>
    protected Tensor LastExponent => _exponent.to_type(ScalarType.Float64);

    /// <summary>
    /// Records the exponents of a training step and returns how many channels changed since the previous
    /// training step (0 at the first step).
    /// </summary>
    protected long RecordExponent(Tensor exponent, long step)
    {
        if (FusedKernels.Applies(exponent, ScalarType.Float64) && exponent.numel() == Channels && TryRecordExponent(FusedKernels.Doubles(exponent), step, out long recorded))
            return recorded;

        return LibtorchRecordExponent(exponent, step);
    }

    /// <summary><see cref="RecordExponent(Tensor, long)"/> by libtorch's operations.</summary>
    private long LibtorchRecordExponent(Tensor exponent, long step)
    {
        var e = exponent.to_type(ScalarType.Int64);
        var flips = step > 0 ? e.ne(_exponent).sum().item<long>() : 0L;
        _exponent.copy_(e);
        return flips;
    }

    /// <summary><see cref="RecordExponent(Tensor, long)"/> of exponents held in memory (float64 [C]).</summary>
    private protected long RecordExponent(ReadOnlySpan<double> exponent, long step)
    {
        if (TryRecordExponent(exponent, step, out long flips)) return flips;
        using var values = torch.tensor(exponent.ToArray(), ScalarType.Float64);
        return LibtorchRecordExponent(values, step);
    }

    /// <summary>
    /// <see cref="RecordExponent(Tensor, long)"/> in place, for finite exponents within int64's range (a cast truncates
    /// them as libtorch's <c>to_type</c> does); false, nothing recorded, for any other (libtorch's path then).
    /// </summary>
    private bool TryRecordExponent(ReadOnlySpan<double> values, long step, out long flips)
    {
        flips = 0;
        if (values.Length != Channels || !FusedKernels.Applies(_exponent, ScalarType.Int64) || !FusedKernels.AllInt64(values)) return false;
        var stored = FusedKernels.Longs(_exponent);
        long changed = 0;
        for (int c = 0; c < values.Length; c++)
        {
            long v = (long)values[c];
            if (v != stored[c]) changed++;
            stored[c] = v;
        }

        flips = step > 0 ? changed : 0L;
        return true;
    }

    /// <summary>RNE fake quantization with a fixed PO2 step and the clip-aware straight-through estimator.</summary>
    private protected Tensor FixedPo2(Tensor weight, Tensor exponent, IGradientObserver? observer, out Tensor scale, out Tensor notClipped)
    {
        if (FusedKernels.Applies(weight, ScalarType.Float32))
        {
            using (torch.no_grad()) scale = Pow2Float32(exponent);
            var spec = new FusedFixedSpec(Layout, Qp, null, observer, false);
            var output = FusedFixed(weight, scale, spec);
            notClipped = spec.NotClipped!;
            return output;
        }

        Tensor q;
        using (torch.no_grad())
        {
            scale = Broadcast(Pow2(exponent), weight.dtype);
            var rounded = Rint(weight.detach() / scale);
            notClipped = rounded.abs().le(QpScalar);
            q = rounded.ClampHeld(-Qp, Qp);
        }

        return FixedScaleSte.apply(weight, q, scale, notClipped, observer!);
    }

    /// <summary>
    /// Second-moment EMA v ← d·v + (1−d)·g²·[not clipped], in place (for <see cref="IGradientObserver"/> implementations).
    /// On contiguous float32 CPU tensors in one pass (<see cref="FusedKernels.SecondMoment"/>) where that kernel gives
    /// libtorch's bits here (<see cref="FusedKernels.SecondMomentVerified"/>), else libtorch's four operations.
    /// </summary>
    internal static void UpdateSecondMoment(Tensor v, double decay, Tensor gradOutput, Tensor notClipped)
    {
        if (FusedKernels.Applies(v, ScalarType.Float32) && FusedKernels.Applies(gradOutput, ScalarType.Float32) && FusedKernels.Applies(notClipped, ScalarType.Bool)
            && v.numel() == gradOutput.numel() && v.numel() == notClipped.numel() && FusedKernels.SecondMomentVerified)
        {
            FusedKernels.SecondMoment(FusedKernels.Floats(v), FusedKernels.Floats(gradOutput), FusedKernels.Bools(notClipped), decay);
            return;
        }

        LibtorchSecondMoment(v, decay, gradOutput, notClipped);
    }

    /// <summary><see cref="UpdateSecondMoment"/> by libtorch's operations.</summary>
    internal static void LibtorchSecondMoment(Tensor v, double decay, Tensor gradOutput, Tensor notClipped)
    {
        using var scope = torch.NewDisposeScope();
        using var keep = decay.ToScalar(); // held: see HeldScalars
        using var take = (1.0 - decay).ToScalar();
        v.mul_(keep).add_(gradOutput.Squared().mul(notClipped).to_type(v.dtype), take);
    }
}
