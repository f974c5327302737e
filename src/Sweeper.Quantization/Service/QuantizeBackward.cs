using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Service;

/// <summary>
/// Gradients of one request with an <c>upstream</c> gradient, from the training-time quantizer modules' own backward
/// pass (their straight-through estimators): <see cref="GradInput"/> is dL/dx (row-major like the input),
/// <see cref="GradLog2Scale"/> dL/dl per channel (learnable_po2), <see cref="GradStep"/> dL/ds per channel (lsq).
/// </summary>
public sealed record QuantizeGradients(float[] GradInput, float[]? GradLog2Scale, float[]? GradStep);

/// <summary>
/// Runs a request through the training module of its method (one training-mode forward from a fresh module, then
/// backward with the request's upstream gradient) after mapping every option onto the module:
/// <list type="bullet">
/// <item>legacy_auto_po2: <c>iterations</c> → the module's iterations;</item>
/// <item>msqe_po2: <c>lls_iters</c>, <c>line_search</c>, <c>line_search_range</c>, <c>outlier_sigma</c> → its options;
/// <c>init_exponent</c> → restored as the previous training step's exponent (buffers <c>exponent</c> and
/// <c>num_steps</c> = 1, through <c>load_state_dict</c>), which is where its search starts; <c>weights</c> w → second
/// moments on with <c>second_moment</c> = w², which it uses as sqrt(w²) = w (the parser refuses weights for which
/// that is not exact in float32);</item>
/// <item>learnable_po2: <c>mode</c>, <c>min_init_scale</c>, <c>outlier_mask</c> → its options; <c>log2_scale</c> →
/// <c>SetLog2Scale</c> (absent: the module initialises l from the data at this first training call);
/// <c>weights</c> as for msqe_po2;</item>
/// <item>lsq: <c>step</c> → <c>SetStepSize</c> (absent: initialised from the data).</item>
/// </list>
/// The module's forward must equal the reference forward of the response (same exponents or step, bitwise-equal
/// dequantized values), else the request is refused: the gradient would not belong to the reported forward.
/// </summary>
internal static class QuantizeBackward
{
    public static QuantizeGradients Run(QuantizeRequest request, QuantizationResult forward)
    {
        var upstream = request.Upstream ?? throw new ArgumentException("The request has no upstream gradient.", nameof(request));
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        // A rank-1 input with one exponent per element runs as [C, 1] with channel axis 0: the same channels and values
        // (the training modules reduce a channel over the other axes, and a rank-1 channel axis leaves none).
        var moduleRequest = request.Shape.Length == 1 && request.ChannelAxis == 0 ? request with { Shape = [request.Shape[0], 1] } : request;
        using var quantizer = Create(moduleRequest);
        quantizer.train();
        quantizer.CollectDiagnostics = true;
        var x = torch.tensor(request.Input).reshape(moduleRequest.Shape).requires_grad_(true);
        var y = quantizer.forward(x);
        CheckSameForward(request, quantizer, y.reshape(request.Shape), forward);

        // d(Σ y·u)/dy = u exactly, so the backward pass receives the upstream gradient unchanged.
        (y * torch.tensor(upstream).reshape(moduleRequest.Shape)).sum().backward();
        var gradInput = Floats(x.grad ?? torch.zeros_like(x));
        return quantizer switch
        {
            LearnablePo2Quantizer l => new QuantizeGradients(gradInput, Floats(l.Log2Scale.grad!), null),
            LsqQuantizer s => new QuantizeGradients(gradInput, null, Floats(s.StepSize.grad!)),
            _ => new QuantizeGradients(gradInput, null, null),
        };
    }

    private static WeightQuantizer Create(QuantizeRequest r)
    {
        switch (r.Options)
        {
            case LegacyAutoPo2RequestOptions o:
                return new LegacyAutoPo2Quantizer(r.Shape, r.Bits, r.ChannelAxis, o.Iterations);
            case MsqePo2RequestOptions o:
            {
                var q = new MsqePo2Quantizer(r.Shape, r.Bits, r.ChannelAxis, new MsqePo2QuantizerOptions
                {
                    LlsIters = o.LlsIters,
                    LineSearch = o.LineSearch,
                    LineSearchRange = o.LineSearchRange,
                    OutlierSigma = o.OutlierSigma,
                    SecondMoments = o.Weights is not null,
                });
                if (o.Weights is not null) SetWeights(r, q.SecondMoment!, o.Weights);

                if (o.InitExponent is not null) RestorePreviousExponent(r, q, o.InitExponent);

                return q;
            }

            case LearnablePo2RequestOptions o:
            {
                var q = new LearnablePo2Quantizer(r.Shape, r.Bits, r.ChannelAxis, new LearnablePo2QuantizerOptions
                {
                    Mode = o.Mode,
                    MinInitScale = o.MinInitScale,
                    OutlierMask = o.OutlierMask,
                    SecondMoments = o.Weights is not null,
                });
                if (o.Log2Scale is not null) q.SetLog2Scale(o.Log2Scale);

                if (o.Weights is not null) SetWeights(r, q.SecondMoment!, o.Weights);

                return q;
            }

            case LsqRequestOptions o:
            {
                var q = new LsqQuantizer(r.Shape, r.Bits, r.ChannelAxis);
                if (o.Step is not null) q.SetStepSize(o.Step);

                return q;
            }

            default:
                throw new ArgumentException($"Unsupported options type {r.Options.GetType().Name}.", nameof(r));
        }
    }

    /// <summary>second_moment = w² (float32), so the module's MSQE weight sqrt(second_moment) is w.</summary>
    private static void SetWeights(QuantizeRequest r, Tensor secondMoment, float[] weights)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var w = torch.tensor(weights).reshape(r.Shape);
        secondMoment.copy_(w * w);
        if (!secondMoment.sqrt().eq(w).all().item<bool>())
            throw QuantizeRequestParser.Error(r, "options.weights cannot be given exactly to the training quantizer (sqrt(w·w) != w in float32), so 'upstream' cannot be used with them.");
    }

    /// <summary>The msqe_po2 module starts its search from the previous training step's exponent: restore init_exponent as that.</summary>
    private static void RestorePreviousExponent(QuantizeRequest r, MsqePo2Quantizer q, long[] init)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var channels = q.Channels;
        var exponent = init.Length == channels ? init : Enumerable.Repeat(init[0], (int)channels).ToArray();
        q.load_state_dict(new Dictionary<string, Tensor>
        {
            ["exponent"] = torch.tensor(exponent),
            ["num_steps"] = torch.tensor(1L),
        }, strict: false);
        if (q.StepCount != 1 || !q.Exponents.SequenceEqual(exponent))
            throw new InvalidOperationException($"{r.Method}: restoring init_exponent into the training quantizer failed.");
    }

    private static void CheckSameForward(QuantizeRequest r, WeightQuantizer quantizer, Tensor y, QuantizationResult forward)
    {
        var diagnostics = quantizer.LastDiagnostics!;
        string? what = null;
        switch (forward)
        {
            case Po2QuantizationResult po2:
            {
                var expected = po2.Exponents.to_type(ScalarType.Int64).data<long>().ToArray();
                if (!diagnostics.Exponents.SequenceEqual(expected))
                    what = $"exponents [{string.Join(", ", diagnostics.Exponents)}] instead of [{string.Join(", ", expected)}]";

                break;
            }

            case LsqResult lsq:
            {
                var expected = lsq.Step.to_type(ScalarType.Float64).data<double>().ToArray();
                if (!diagnostics.Scales.SequenceEqual(expected))
                    what = $"step [{string.Join(", ", diagnostics.Scales)}] instead of [{string.Join(", ", expected)}]";

                break;
            }
        }

        if (what is null && !y.detach().eq(forward.Dequantized.to_type(y.dtype)).all().item<bool>())
            what = "different dequantized values";

        if (what is not null)
        {
            throw QuantizeRequestParser.Error(r, $"upstream: the training quantizer's forward pass gives {what} for this request, so its gradient "
                + "would not belong to the reported forward; the gradient is not computed.");
        }
    }

    private static float[] Floats(Tensor t)
    {
        using var f = t.detach().to_type(ScalarType.Float32).contiguous().reshape(-1);
        return f.data<float>().ToArray();
    }
}
