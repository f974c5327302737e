using Sweeper.Quantization.Po2;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static Sweeper.Quantization.Po2.Po2Math;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Training;

/// <summary>Options of <see cref="LearnablePo2Quantizer"/>.</summary>
public sealed class LearnablePo2QuantizerOptions
{
    /// <summary>How l becomes an exponent.</summary>
    public Po2ExponentMode Mode { get; init; } = Po2ExponentMode.MsqeRound;

    /// <summary>Lower clamp of the data-driven start scale.</summary>
    public double MinInitScale { get; init; } = 1e-5;

    /// <summary>Mask |w| ≤ 2^l·(qp + 0.5) out of the msqe_round MSQE.</summary>
    public bool OutlierMask { get; init; } = true;

    /// <summary>Weight the msqe_round MSQE by sqrt of an EMA of the squared output gradients (of not-clipped weights).</summary>
    public bool SecondMoments { get; init; }

    /// <summary>Decay of the second-moment EMA.</summary>
    public double SecondMomentDecay { get; init; } = 0.999;
}

/// <summary>
/// Training-time <c>learnable_po2</c> (golden README section 4; TQT-style gradient). The trainable
/// parameter <c>log2_scale</c> (float32 [C]) is l; it is initialised from the data at the first training
/// call (log2(max(3·std/qp, min_init_scale))) and marked in buffer <c>initialized</c>. Forward:
/// e = ceil(l), R(l) or round-to-lower-MSQE between floor(l) and ceil(l); y = 2^e · clamp(R(w/2^e), −qp, qp).
/// <para>
/// Gradients (straight-through for both roundings, R(w/2^e) and l → e):
/// dy/dw = 1 where the code is not clipped (|R(w/2^e)| ≤ qp), 0 where it is;
/// dy/dl = ln2 · 2^e · (q − w/2^e) where not clipped and ln2 · 2^e · (±qp) where clipped
/// (= ln2 · (y − w·[not clipped])), summed over each channel.
/// </para>
/// Diagnostic outliers: |w| &gt; 2^l·(qp + 0.5), the msqe_round mask threshold.
/// </summary>
public sealed class LearnablePo2Quantizer : Po2WeightQuantizer, IGradientObserver
{
    [ComponentName(Name = "log2_scale")]
    private Parameter _log2Scale;

    [ComponentName(Name = "initialized")]
    private Tensor _initialized;

    [ComponentName(Name = "second_moment")]
    private Tensor? _secondMoment;

    private readonly LearnablePo2QuantizerOptions _options;

    /// <summary>Creates the quantizer for weights of <paramref name="weightShape"/>.</summary>
    public LearnablePo2Quantizer(long[] weightShape, int bits, int? channelAxis, LearnablePo2QuantizerOptions? options = null, string name = Po2Quantizers.MethodNames.LearnablePo2)
        : base(name, weightShape, bits, channelAxis, 2.0)
    {
        _options = options ?? new LearnablePo2QuantizerOptions();
        if (!(_options.MinInitScale > 0))
            throw new ArgumentOutOfRangeException(nameof(options), _options.MinInitScale, "MinInitScale must be positive.");

        MsqePo2Quantizer.CheckDecay(_options.SecondMomentDecay, nameof(_options.SecondMomentDecay));
        _log2Scale = (Parameter)new Parameter(torch.zeros(Channels, ScalarType.Float32)).DetachFromDisposeScope();
        _initialized = State(torch.zeros([], ScalarType.Bool));
        if (_options.SecondMoments) _secondMoment = State(torch.ones(weightShape, ScalarType.Float32));

        RegisterComponents();
    }

    /// <summary>The options.</summary>
    public LearnablePo2QuantizerOptions Options => _options;

    /// <summary>The trainable log2 scale l, float32 [C].</summary>
    public Parameter Log2Scale => _log2Scale;

    /// <summary>Whether l has been initialised (from the data or by <see cref="SetLog2Scale"/>).</summary>
    public bool IsInitialized => Flag(_initialized);

    /// <summary>The second-moment EMA (weight-shaped) or null. Not a copy.</summary>
    public Tensor? SecondMoment => _secondMoment;

    /// <summary>Sets l (one value per channel, or one for all) and marks it initialised.</summary>
    public void SetLog2Scale(params float[] values) => SetPerChannel(_log2Scale, _initialized, values, nameof(values));

    /// <inheritdoc/>
    protected override Tensor? SecondMomentState => _secondMoment;

    /// <inheritdoc/>
    protected override Tensor? Log2ScaleState => _log2Scale;

    /// <inheritdoc/>
    protected override Tensor Quantize(Tensor weight, bool isTraining, long step, out QuantizerStep report)
    {
        Tensor exponent, l, scale, notClipped, q;
        Tensor? steps = null;
        long flips = 0;
        if (FusedMsqeRound(weight, isTraining, step) is { } fused)
        {
            var fusedSpec = new FusedLearnedSpec(Layout, Qp, false, GradientSpec(isTraining));
            var output = FusedLearned(weight, _log2Scale, fused.Steps, fusedSpec);
            report = new QuantizerStep(fused.Exponent, fused.Steps, fusedSpec.NotClipped!, Outliers(weight, null), fused.Flips, false);
            return output;
        }

        using (torch.no_grad())
        {
            var m = Matrix(weight);
            if (!IsInitialized)
            {
                var init = Po2Quantizers.LearnableInit(m, Qp, _options.MinInitScale).to_type(ScalarType.Float32);
                if (isTraining)
                {
                    _log2Scale.copy_(init);
                    _initialized.fill_(HeldScalars.True);
                }

                l = init.to_type(ScalarType.Float64);
            }
            else
            {
                l = _log2Scale.detach().to_type(ScalarType.Float64);
            }

            var weights = _secondMoment is null ? null : ToMatrix(_secondMoment.sqrt(), ChannelAxis).to_type(ScalarType.Float64);
            exponent = Po2Quantizers.LearnableCore(m, Qp, l, _options.Mode, _options.OutlierMask, weights).Exponent;
            if (isTraining) flips = RecordExponent(exponent, step);

            if (FusedKernels.Applies(weight, ScalarType.Float32))
            {
                steps = Pow2Float32(exponent);
                scale = notClipped = q = null!;
            }
            else
            {
                scale = Broadcast(Pow2(exponent), weight.dtype);
                var rounded = Rint(weight.detach() / scale);
                notClipped = rounded.abs().le(QpScalar);
                q = rounded.ClampHeld(-Qp, Qp);
            }
        }

        if (steps is not null)
        {
            var fusedSpec = new FusedLearnedSpec(Layout, Qp, false, GradientSpec(isTraining));
            var output = FusedLearned(weight, _log2Scale, steps, fusedSpec);
            report = new QuantizerStep(exponent, steps, fusedSpec.NotClipped!, Outliers(weight, l), flips, false);
            return output;
        }

        report = new QuantizerStep(exponent, scale.reshape(Channels), notClipped, Outliers(weight, l), flips, false);
        return LearnedScaleSte.apply(weight, _log2Scale, q, scale, notClipped, GradientSpec(isTraining));
    }

    /// <summary>What <see cref="FusedMsqeRound"/> decided: the exponents (float64 [C]; null without diagnostics, which alone read them), their steps (float32 [C]) and the flips.</summary>
    private sealed record FusedDecision(Tensor? Exponent, Tensor Steps, long Flips);

    /// <summary>
    /// The msqe_round step of an initialised quantizer on a contiguous float32 weight whose channel matrix is its memory,
    /// in one pass over the weight per channel (<see cref="FusedKernels.PairChoices"/>: float32 sums where they decide for
    /// certain, libtorch's where they do not; the mask's thresholds from libtorch's exp2): bitwise the reference path's
    /// exponents, flips and steps, without its float64 copy of the weight and its mask and weight matrices. Null where it
    /// does not apply (the reference path runs).
    /// </summary>
    private FusedDecision? FusedMsqeRound(Tensor weight, bool isTraining, long step)
    {
        if (_options.Mode != Po2ExponentMode.MsqeRound || Layout.Outer != 1 || !FusedKernels.Applies(weight, ScalarType.Float32)
            || !FusedKernels.Applies(_log2Scale, ScalarType.Float32) || !IsInitialized)
            return null;

        using var noGrad = torch.no_grad();
        if (_secondMoment is not null && !FusedKernels.Applies(_secondMoment, ScalarType.Float32)) return null;
        // The MSQE weights are the moments' roots: PairChoices forms them in its screening sums where libtorch's (not
        // correctly rounded) are close enough to them, and takes libtorch's for the channels it sums exactly; else they are
        // libtorch's, given whole.
        using var libtorchRoots = _secondMoment is not null && !FusedKernels.SqrtCloseVerified ? _secondMoment.sqrt() : null;

        int rows = (int)Channels, n = (int)ElementsPerChannel;
        // The exponents as a tensor only for the diagnostics (the report's); else in pooled memory: no tensor made a step.
        var exponent = CollectDiagnostics ? torch.empty(rows, ScalarType.Float64) : null;
        var x = FusedKernels.Floats(weight);
        var weights = _secondMoment is null ? default : FusedKernels.Floats(libtorchRoots ?? _secondMoment); // moments, or their roots
        var scale = FusedKernels.Floats(_log2Scale);
        var pool = System.Buffers.ArrayPool<double>.Shared;
        var buffer = pool.Rent(4 * rows);
        Tensor? threshold = null;
        try
        {
            var chosen = exponent is null ? buffer.AsSpan(3 * rows, rows) : FusedKernels.Doubles(exponent);
            var pair = buffer.AsSpan(0, 2 * rows); // [2, C]: floor and ceil of l
            for (int c = 0; c < rows; c++)
            {
                double level = scale[c]; // l as float64, exactly (the reference's to_type)
                pair[c] = Math.Floor(level);
                pair[rows + c] = Math.Ceiling(level);
            }

            // The mask's thresholds 2^l·(qp + 0.5): as the float32 weights see them where that is certain without
            // libtorch's exp2, else libtorch's as the reference's.
            Span<double> limits = default;
            if (_options.OutlierMask)
            {
                limits = buffer.AsSpan(2 * rows, rows);
                if (!FusedKernels.MaskLimits(scale, Qp + 0.5, limits))
                {
                    using var l = _log2Scale.detach().to_type(ScalarType.Float64);
                    threshold = Pow2(l).Times(Qp + 0.5);
                    limits = FusedKernels.Doubles(threshold);
                }
            }

            if (FusedKernels.RowSumsApply(2 * rows, n))
            {
                // Per channel: decided from float32 sums where they order the two candidates for certain, else from libtorch's sums.
                FusedKernels.PairChoices(rows, n, x, limits, weights, pair, Qp, chosen, squareRoots: libtorchRoots is null);
            }
            else
            {
                using var errors = torch.empty([2, rows, n], ScalarType.Float64);
                using var root = libtorchRoots is null ? _secondMoment?.sqrt() : null; // libtorch's roots, taken once
                var roots = root ?? libtorchRoots;
                FusedKernels.WeightCandidateErrors(2, rows, n, x, limits, roots is null ? default : FusedKernels.Floats(roots), pair, Qp, FusedKernels.Doubles(errors));
                using var sums = errors.sum([2]); // [2, C], as the reference's
                var sum = FusedKernels.Doubles(sums);
                for (int c = 0; c < rows; c++) chosen[c] = sum[c] < sum[rows + c] ? pair[c] : pair[rows + c]; // ties go to ceil
            }

            var steps = Pow2Float32(chosen);
            var flips = isTraining ? RecordExponent(chosen, step) : 0L;
            return new FusedDecision(exponent, steps, flips);
        }
        finally
        {
            threshold?.Dispose();
            pool.Return(buffer);
        }
    }

    private ScaleGradientSpec GradientSpec(bool isTraining) =>
        new(true, Math.Log(2.0), ReduceDims, [Channels], isTraining && _secondMoment is not null ? this : null);

    /// <summary>
    /// The diagnostic outliers |w| &gt; 2^l·(qp + 0.5) (l: float64 [C], null for the scale parameter's values as they are),
    /// computed only when diagnostics are collected (null otherwise: unused).
    /// </summary>
    private Tensor? Outliers(Tensor weight, Tensor? l)
    {
        if (!CollectDiagnostics) return null;
        using var noGrad = torch.no_grad();
        using var own = l is null ? _log2Scale.detach().to_type(ScalarType.Float64) : null;
        return weight.detach().abs().gt(Broadcast(Pow2(l ?? own!).Times(Qp + 0.5), ScalarType.Float64));
    }

    void IGradientObserver.Observe(Tensor gradOutput, Tensor notClipped) =>
        UpdateSecondMoment(_secondMoment!, _options.SecondMomentDecay, gradOutput, notClipped);
}
