using Sweeper.Quantization.Po2;
using TorchSharp;
using static Sweeper.Quantization.Po2.Po2Math;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Training;

/// <summary>
/// Training-time <c>legacy_auto_po2</c> (golden README section 2): every call recomputes the exponent from
/// the weight (max-based start, <paramref name="iterations"/> least-squares refits, RNA codes). Stateless
/// apart from the step/flip counters. Straight-through estimator: the identity for <b>every</b> weight, clipped or not,
/// as the authors' released quantizer (QKeras <c>quantized_bits(alpha="auto_po2")</c>, <c>x + stop_gradient(xq − x)</c>)
/// trains: clipped weights keep receiving gradient, which lets outliers grow. Diagnostic outliers: |w| &gt; σ·std
/// (σ = 2 by default).
/// </summary>
public sealed class LegacyAutoPo2Quantizer : Po2WeightQuantizer
{
    private readonly int _iterations;

    /// <summary>Creates the quantizer for weights of <paramref name="weightShape"/>.</summary>
    public LegacyAutoPo2Quantizer(long[] weightShape, int bits, int? channelAxis, int iterations = 5, double diagnosticOutlierSigma = 2.0, string name = Po2Quantizers.MethodNames.LegacyAutoPo2)
        : base(name, weightShape, bits, channelAxis, diagnosticOutlierSigma)
    {
        if (iterations < 0)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "iterations must be >= 0.");

        _iterations = iterations;
        RegisterComponents();
    }

    /// <inheritdoc/>
    protected override Tensor Quantize(Tensor weight, bool isTraining, long step, out QuantizerStep report)
    {
        Tensor exponent, scale, notClipped, q;
        Tensor? steps64 = null;
        long flips = 0;
        using (torch.no_grad())
        {
            exponent = Layout.Outer == 1 && _iterations > 0 && FusedKernels.Applies(weight, ScalarType.Float32)
                ? Po2Quantizers.LegacyFinalFromWeight(weight, (int)Channels, (int)ElementsPerChannel, Qp, _iterations)
                : Po2Quantizers.LegacyCore(Matrix(weight), Qp, _iterations).Final;
            if (isTraining) flips = RecordExponent(exponent, step);

            if (FusedKernels.Applies(weight, ScalarType.Float32))
            {
                steps64 = Pow2(exponent).contiguous();
                scale = steps64.to_type(ScalarType.Float32);
                notClipped = q = null!;
            }
            else
            {
                scale = Broadcast(Pow2(exponent), weight.dtype);
                var x = weight.detach();
                // RNA in float64, like the reference: in float32, |x|/2^e + 0.5 rounds up to 1 at |x|/2^e = 0.5 − 2^-25.
                var magnitude = (x.to_type(ScalarType.Float64).abs() / Broadcast(Pow2(exponent), ScalarType.Float64)).Plus(0.5).floor();
                notClipped = magnitude.le(QpScalar);
                q = (x.sign() * magnitude.clamp_max(QpScalar).to_type(weight.dtype));
            }
        }

        if (steps64 is not null)
        {
            var spec = new FusedFixedSpec(Layout, Qp, steps64, null, true);
            var output = FusedFixed(weight, scale, spec);
            report = new QuantizerStep(exponent, scale, spec.NotClipped!, null, flips, false);
            return output;
        }

        report = new QuantizerStep(exponent, scale.reshape(Channels), notClipped, null, flips, false);
        return FixedScaleSte.apply(weight, q, scale, notClipped, null!, true);
    }
}
