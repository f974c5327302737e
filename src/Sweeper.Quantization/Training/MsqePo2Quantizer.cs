using Sweeper.Quantization.Po2;
using TorchSharp;
using TorchSharp.Utils;
using static Sweeper.Quantization.Po2.Po2Math;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Training;

/// <summary>Options of <see cref="MsqePo2Quantizer"/>.</summary>
public sealed class MsqePo2QuantizerOptions
{
    /// <summary>Least-squares refits per step.</summary>
    public int LlsIters { get; init; } = 3;

    /// <summary>Run the line search.</summary>
    public bool LineSearch { get; init; } = true;

    /// <summary>Line-search range (offsets −r/2 … +r/2 without 0).</summary>
    public int LineSearchRange { get; init; } = 6;

    /// <summary>Outlier mask |w| ≤ σ·std; null = none. Also the diagnostic outlier threshold (2 when null).</summary>
    public double? OutlierSigma { get; init; } = 2.0;

    /// <summary>Weight the MSQE by sqrt of an EMA of the squared output gradients (of not-clipped weights).</summary>
    public bool SecondMoments { get; init; }

    /// <summary>Decay d of the second-moment EMA v ← d·v + (1−d)·g²·[not clipped].</summary>
    public double SecondMomentDecay { get; init; } = 0.999;

    /// <summary>From <see cref="FreezeAtStep"/> on, use the frozen 2^R(EMA) of the exponent (the EMA is always tracked).</summary>
    public bool StableScale { get; init; }

    /// <summary>Decay d of the stable-exponent EMA (the first update copies).</summary>
    public double StableDecay { get; init; } = 0.99;

    /// <summary>First training step (0-based, ≥ 1) that uses the frozen stable exponent; null = only <see cref="MsqePo2Quantizer.Freeze"/>.</summary>
    public long? FreezeAtStep { get; init; }
}

/// <summary>
/// Training-time <c>msqe_po2</c> (golden README sections 3 and 6). Each training step re-runs the MSQE
/// search (least squares + line search) starting from the previous step's exponent (the first step
/// starts from the data). Options:
/// <list type="bullet">
/// <item><b>second moments</b>: buffer <c>second_moment</c> (weight-shaped, starts at ones) updated after
/// every backward pass with v ← d·v + (1−d)·g²·[|R(w/s)| ≤ qp], d = 0.999, where g is the gradient arriving at
/// the quantizer's output and s the step of that forward pass; the MSQE weight is sqrt(v) × outlier mask;</item>
/// <item><b>stable scale</b>: buffer <c>stable_ema</c> (float64 [C]) updated at every unfrozen training step with
/// snap(2^e) and d = 0.99 (the first update copies) — always, whether or not the stable scale is switched on, so that
/// a run restarted from a checkpoint with the stable scale freezes the average of every step it has trained (QKeras
/// keeps this moving average from the first step and only switches to it later); from step
/// <see cref="MsqePo2QuantizerOptions.FreezeAtStep"/> on (with <see cref="MsqePo2QuantizerOptions.StableScale"/>) or
/// after <see cref="Freeze"/> the exponent R(EMA), stored in <c>stable_exponent</c>, is used and no longer searched
/// (<c>frozen</c> = true).</item>
/// </list>
/// Eval calls use the frozen exponent, else the last training step's exponent, else (never trained) a
/// fresh search; they change no state. Diagnostic outliers: |w| &gt; σ·std with the mask's σ.
/// </summary>
public sealed class MsqePo2Quantizer : Po2WeightQuantizer, IGradientObserver
{
    [ComponentName(Name = "second_moment")]
    private Tensor? _secondMoment;

    [ComponentName(Name = "stable_ema")]
    private Tensor _stableEma;

    [ComponentName(Name = "stable_exponent")]
    private Tensor _stableExponent;

    [ComponentName(Name = "frozen")]
    private Tensor _frozen;

    private readonly MsqePo2QuantizerOptions _options;

    /// <summary>Creates the quantizer for weights of <paramref name="weightShape"/>.</summary>
    public MsqePo2Quantizer(long[] weightShape, int bits, int? channelAxis, MsqePo2QuantizerOptions? options = null, string name = Po2Quantizers.MethodNames.MsqePo2)
        : base(name, weightShape, bits, channelAxis, options?.OutlierSigma ?? 2.0)
    {
        _options = options ?? new MsqePo2QuantizerOptions();
        Po2Quantizers.CheckMsqeOptions(_options.LlsIters, _options.LineSearchRange, _options.OutlierSigma);
        CheckDecay(_options.SecondMomentDecay, nameof(_options.SecondMomentDecay));
        CheckDecay(_options.StableDecay, nameof(_options.StableDecay));
        if (_options.FreezeAtStep is long f && f < 1)
            throw new ArgumentOutOfRangeException(nameof(options), f, "FreezeAtStep must be >= 1 (the EMA needs at least one update).");

        if (_options.SecondMoments) _secondMoment = State(torch.ones(weightShape, ScalarType.Float32));

        _stableEma = State(torch.zeros(Channels, ScalarType.Float64));
        _stableExponent = State(torch.zeros(Channels, ScalarType.Int64));
        _frozen = State(torch.zeros([], ScalarType.Bool));

        RegisterComponents();
    }

    /// <summary>The options.</summary>
    public MsqePo2QuantizerOptions Options => _options;

    /// <summary>Whether the stable exponent is frozen.</summary>
    public bool IsFrozen => Flag(_frozen);

    /// <summary>The stable-exponent EMA per channel (all zeros before the first training step).</summary>
    public double[] StableEma => _stableEma.to_type(ScalarType.Float64).data<double>().ToArray();

    /// <summary>The frozen exponents (meaningful once <see cref="IsFrozen"/>).</summary>
    public long[] StableExponents => _stableExponent.data<long>().ToArray();

    /// <summary>The second-moment EMA (weight-shaped), or null without <see cref="MsqePo2QuantizerOptions.SecondMoments"/>. Not a copy.</summary>
    public Tensor? SecondMoment => _secondMoment;

    /// <summary>Freezes the exponent at R(stable EMA) now (requires at least one training step).</summary>
    public void Freeze()
    {
        if (StepCount < 1)
            throw new InvalidOperationException("Freeze needs at least one training step (the stable EMA is empty).");

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        _stableExponent.copy_(Rint(_stableEma.to_type(ScalarType.Float64)).to_type(ScalarType.Int64));
        _frozen.fill_(HeldScalars.True);
    }

    /// <inheritdoc/>
    protected override Tensor? SecondMomentState => _secondMoment;

    /// <inheritdoc/>
    protected override Tensor Quantize(Tensor weight, bool isTraining, long step, out QuantizerStep report)
    {
        Tensor exponent;
        long flips = 0;
        bool frozen;
        using (torch.no_grad())
        {
            if (isTraining && !IsFrozen && _options.StableScale && _options.FreezeAtStep is long f && step >= f)
                Freeze();

            frozen = IsFrozen;
            if (frozen)
            {
                exponent = _stableExponent.to_type(ScalarType.Float64);
            }
            else if (!isTraining && step > 0)
            {
                exponent = LastExponent;
            }
            else
            {
                // The search widens a float32 weight whose memory is its channel matrix row by row (no float64 copy).
                var m = Layout.Outer == 1 && weight.dtype == ScalarType.Float32 && weight.is_contiguous() ? weight.detach().reshape(Channels, ElementsPerChannel) : Matrix(weight);
                // The MSQE weights sqrt(v): libtorch's float32 roots, widened row by row by the search where their memory is
                // the channel matrix (no float64 copy), else as a float64 channel matrix.
                using var roots = _secondMoment?.sqrt();
                bool rowRoots = roots is not null && Layout.Outer == 1;
                using var roots32 = rowRoots ? roots!.reshape(Channels, ElementsPerChannel) : null;
                var weights = roots is null || rowRoots ? null : ToMatrix(roots, ChannelAxis).to_type(ScalarType.Float64);
                var init = step > 0 ? LastExponent : null;
                exponent = Po2Quantizers.MsqeCore(m, Qp, init, _options.LlsIters, _options.LineSearch, _options.LineSearchRange, _options.OutlierSigma, weights, keepMatrices: false,
                    weights32: roots32).Final;
                if (isTraining)
                {
                    var snapped = SnapExponent(exponent);
                    if (FusedKernels.Applies(_stableEma, ScalarType.Float64) && FusedKernels.Applies(snapped, ScalarType.Float64) && snapped.numel() == Channels)
                    {
                        // In place, the same operations: ema·d + snapped·(1 − d), or a copy at the first step.
                        var ema = FusedKernels.Doubles(_stableEma);
                        var values = FusedKernels.Doubles(snapped);
                        double keep = _options.StableDecay, take = 1.0 - _options.StableDecay;
                        for (int c = 0; c < ema.Length; c++) ema[c] = step == 0 ? values[c] : ema[c] * keep + values[c] * take;
                    }
                    else
                    {
                        _stableEma.copy_(step == 0 ? snapped : _stableEma.Times(_options.StableDecay).Plus(snapped.Times(1.0 - _options.StableDecay)));
                    }
                }
            }

            if (isTraining) flips = RecordExponent(exponent, step);
        }

        var observer = isTraining && _secondMoment is not null ? this : null;
        var output = FixedPo2(weight, exponent, observer, out var scale, out var notClipped);
        report = new QuantizerStep(exponent, scale.reshape(Channels), notClipped, null, flips, frozen);
        return output;
    }

    void IGradientObserver.Observe(Tensor gradOutput, Tensor notClipped) =>
        UpdateSecondMoment(_secondMoment!, _options.SecondMomentDecay, gradOutput, notClipped);

    internal static void CheckDecay(double decay, string name)
    {
        if (!(decay >= 0 && decay < 1))
            throw new ArgumentOutOfRangeException(name, decay, "An EMA decay must be in [0, 1).");
    }
}
