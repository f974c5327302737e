using Sweeper.Quantization.Po2;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static Sweeper.Quantization.Po2.Po2Math;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Training;

/// <summary>
/// Learned step size quantization (LSQ, Esser et al. 2020), signed symmetric: y = s · clamp(R(w/s), −qp, qp)
/// with a trainable step <c>step_size</c> (float32 [C]) initialised at the first training call to
/// 2·mean|w|/sqrt(qp) (buffer <c>initialized</c>). Gradients (straight-through rounding):
/// dy/dw = 1 if −qp ≤ w/s ≤ qp else 0;
/// dy/ds = R(w/s) − w/s inside that range and ±qp outside, summed over each channel and multiplied by the
/// gradient scale g = 1/sqrt(N·qp), N = weights per channel. The step is clamped to at least
/// <c>minStep</c> in the forward pass. Not a power-of-two quantizer: no exponents, no flips.
/// Diagnostic outliers: |w| &gt; σ·std (σ = 2 by default).
/// </summary>
public sealed class LsqQuantizer : WeightQuantizer
{
    [ComponentName(Name = "step_size")]
    private Parameter _stepSize;

    [ComponentName(Name = "initialized")]
    private Tensor _initialized;

    private readonly double _minStep;
    private readonly Scalar _minStepScalar; // held: see HeldScalars

    /// <summary>Creates the quantizer for weights of <paramref name="weightShape"/>.</summary>
    public LsqQuantizer(long[] weightShape, int bits, int? channelAxis, double minStep = 1e-8, double diagnosticOutlierSigma = 2.0, string name = Po2Quantizers.MethodNames.Lsq)
        : base(name, weightShape, bits, channelAxis, diagnosticOutlierSigma)
    {
        if (!(minStep > 0))
            throw new ArgumentOutOfRangeException(nameof(minStep), minStep, "minStep must be positive.");

        _minStep = minStep;
        _minStepScalar = minStep.ToScalar();
        GradientScale = Po2Quantizers.LsqGradientScale(ElementsPerChannel, Qp);
        _stepSize = (Parameter)new Parameter(torch.ones(Channels, ScalarType.Float32)).DetachFromDisposeScope();
        _initialized = State(torch.zeros([], ScalarType.Bool));
        RegisterComponents();
    }

    /// <summary>The trainable step size s, float32 [C].</summary>
    public Parameter StepSize => _stepSize;

    /// <summary>LSQ gradient scale g = 1/sqrt(N·qp).</summary>
    public double GradientScale { get; }

    /// <summary>Whether s has been initialised (from the data or by <see cref="SetStepSize"/>).</summary>
    public bool IsInitialized => Flag(_initialized);

    /// <summary>Sets s (one value per channel, or one for all) and marks it initialised.</summary>
    public void SetStepSize(params float[] values) => SetPerChannel(_stepSize, _initialized, values, nameof(values));

    /// <inheritdoc/>
    protected override Tensor? Log2ScaleState => _stepSize.detach().clamp_min(_minStepScalar).log2();

    /// <summary>
    /// max(s, minStep) per channel as float32 [C]: libtorch's <c>clamp_min</c> with the float32 bound (a NaN step stays
    /// NaN), written in place of three libtorch calls when s is a contiguous float32 CPU vector.
    /// </summary>
    private Tensor ClampedSteps(Tensor perChannel)
    {
        if (!FusedKernels.Applies(perChannel, ScalarType.Float32))
            return perChannel.clamp_min(_minStepScalar).to_type(ScalarType.Float32).contiguous();

        var steps = torch.empty(Channels, ScalarType.Float32);
        var values = FusedKernels.Floats(perChannel);
        var result = FusedKernels.Floats(steps);
        float bound = (float)_minStep;
        for (int c = 0; c < result.Length; c++) result[c] = values[c] < bound ? bound : values[c];
        return steps;
    }

    /// <inheritdoc/>
    protected override Tensor Quantize(Tensor weight, bool isTraining, long step, out QuantizerStep report)
    {
        Tensor s, inside, q;
        Tensor? steps = null;
        using (torch.no_grad())
        {
            Tensor perChannel;
            if (!IsInitialized)
            {
                perChannel = Po2Quantizers.LsqInit(ToMatrix(weight.detach(), ChannelAxis), Qp).to_type(ScalarType.Float32);
                if (isTraining)
                {
                    _stepSize.copy_(perChannel);
                    _initialized.fill_(HeldScalars.True);
                }
            }
            else
            {
                perChannel = _stepSize; // under no_grad: what is computed from it records no gradient
            }

            if (FusedKernels.Applies(weight, ScalarType.Float32))
            {
                steps = ClampedSteps(perChannel);
                s = inside = q = null!;
            }
            else
            {
                s = Broadcast(perChannel.clamp_min(_minStepScalar), weight.dtype);
                var r = weight.detach() / s;
                using var minusQp = (-Qp).ToScalar(); // held: see HeldScalars
                inside = r.ge(minusQp).logical_and(r.le(QpScalar));
                q = Rint(r).ClampHeld(-Qp, Qp);
            }
        }

        if (steps is not null)
        {
            var fusedSpec = new FusedLearnedSpec(Layout, Qp, true, new ScaleGradientSpec(false, GradientScale, ReduceDims, [Channels], null));
            var output = FusedLearned(weight, _stepSize, steps, fusedSpec);
            report = new QuantizerStep(null, steps, fusedSpec.NotClipped!, null, 0, false);
            return output;
        }

        var notClipped = Rint(weight.detach() / s).abs().le(QpScalar);
        report = new QuantizerStep(null, s.reshape(Channels), notClipped, null, 0, false);
        var spec = new ScaleGradientSpec(false, GradientScale, ReduceDims, [Channels], null);
        return LearnedScaleSte.apply(weight, _stepSize, q, s, inside, spec);
    }
}
