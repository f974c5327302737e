using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Training;

/// <summary>Receives the gradient arriving at a quantizer's output during backward.</summary>
internal interface IGradientObserver
{
    /// <summary>Called inside backward (grad mode off) with the output gradient and the not-clipped mask of that forward pass.</summary>
    void Observe(Tensor gradOutput, Tensor notClipped);
}

/// <summary>
/// Straight-through estimator for a fixed (non-trainable) per-channel step: forward returns
/// <c>q · s</c>; backward passes the gradient to the weight where <c>pass</c> is true and gives 0
/// where the code was clipped. With <c>identity</c> true the whole gradient passes to every weight, clipped or not
/// (QKeras <c>quantized_bits</c>: <c>x + stop_gradient(xq − x)</c>), while the observer still sees <c>pass</c>.
/// vars: weight, q (codes), s (step, broadcastable), pass (bool), observer (<see cref="IGradientObserver"/> or null),
/// identity (bool, optional).
/// </summary>
internal sealed class FixedScaleSte : autograd.SingleTensorFunction<FixedScaleSte>
{
    public override string Name => "SweeperFixedScaleSte";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var q = (Tensor)vars[1];
        var s = (Tensor)vars[2];
        var pass = (Tensor)vars[3];
        ctx.save_for_backward([pass]);
        ctx.save_data("observer", vars[4]);
        ctx.save_data("identity", vars.Length > 5 && vars[5] is true);
        return q * s;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var pass = ctx.get_saved_variables()[0];
        using var noGrad = torch.no_grad();
        (ctx.get_data("observer") as IGradientObserver)?.Observe(gradOutput, pass);
        var gradWeight = ctx.get_data("identity") is true ? gradOutput.clone() : gradOutput * pass;
        return [gradWeight, null!, null!, null!, null!, null!];
    }
}

/// <summary>How <see cref="LearnedScaleSte"/> differentiates with respect to its scale parameter.</summary>
internal sealed record ScaleGradientSpec(bool Log2Parameter, double Factor, long[] ReduceDims, long[] ParameterShape, IGradientObserver? Observer);

/// <summary>
/// Straight-through estimator for a trainable per-channel scale: forward returns <c>y = q · s</c> with
/// <c>q = clamp(R(x / s), -qp, qp)</c>. Backward (R treated as identity):
/// <list type="bullet">
/// <item>weight: <c>g · pass</c>;</item>
/// <item>log2 parameter l with <c>s = 2^e</c>, e the STE-rounded l (TQT form):
/// <c>dy/dl = ln2 · s · (q − (x/s)·pass) = ln2 · (y − x·pass)</c>, i.e. <c>ln2 · 2^e · (q − x/2^e)</c> where the code
/// is not clipped and <c>ln2 · 2^e · (±qp)</c> where it is;</item>
/// <item>linear step s (LSQ): <c>dy/ds = q − (x/s)·pass</c>;</item>
/// </list>
/// each summed over the non-channel axes and multiplied by <see cref="ScaleGradientSpec.Factor"/>
/// (ln 2 for log2 parameters, the LSQ gradient scale for steps).
/// vars: weight, parameter, q, s (broadcastable), pass (bool), spec (<see cref="ScaleGradientSpec"/>).
/// </summary>
internal sealed class LearnedScaleSte : autograd.SingleTensorFunction<LearnedScaleSte>
{
    public override string Name => "SweeperLearnedScaleSte";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var q = (Tensor)vars[2];
        var s = (Tensor)vars[3];
        var pass = (Tensor)vars[4];
        ctx.save_for_backward([x, q, s, pass]);
        ctx.save_data("spec", vars[5]);
        return q * s;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (x, q, s, pass) = (saved[0], saved[1], saved[2], saved[3]);
        var spec = (ScaleGradientSpec)ctx.get_data("spec");
        using var noGrad = torch.no_grad();
        spec.Observer?.Observe(gradOutput, pass);
        var inside = x * pass;
        var term = spec.Log2Parameter ? (q * s).Minus(inside) : q.Minus(inside / s);
        var perElement = gradOutput * term;
        // No axis to reduce (a rank-1 weight, one channel per element): libtorch's sum([]) would sum them all.
        var gradParameter = (spec.ReduceDims.Length == 0 ? perElement : perElement.sum(spec.ReduceDims)).reshape(spec.ParameterShape).TimesInPlace(spec.Factor);
        return [gradOutput * pass, gradParameter, null!, null!, null!, null!];
    }
}

/// <summary>
/// What <see cref="FusedFixedScaleSte"/> computes and, after its forward pass, the not-clipped mask it produced.
/// <paramref name="Steps64"/> (float64 [C]) selects legacy_auto_po2's RNA codes judged in float64; null selects RNE codes.
/// </summary>
internal sealed record FusedFixedSpec(FusedKernels.Layout Layout, int Qp, Tensor? Steps64, IGradientObserver? Observer, bool Identity)
{
    /// <summary>Bool, weight-shaped: the code was not clipped (set by the forward pass).</summary>
    public Tensor? NotClipped { get; set; }

    /// <summary>The forward pass: the output, and the tensors the backward pass needs added to <paramref name="saved"/> (the mask).</summary>
    internal Tensor Forward(Tensor x, Tensor steps, List<Tensor> saved)
    {
        var y = torch.empty_like(x);
        var pass = torch.empty_like(x, ScalarType.Bool);
        if (Steps64 is { } steps64)
            FusedKernels.FakeQuantRna(Layout, FusedKernels.Floats(x), FusedKernels.Doubles(steps64), FusedKernels.Floats(steps), Qp, FusedKernels.Floats(y), FusedKernels.Bools(pass));
        else
            FusedKernels.FakeQuantRne(Layout, FusedKernels.Floats(x), FusedKernels.Floats(steps), Qp, FusedKernels.Floats(y), FusedKernels.Bools(pass), default);
        NotClipped = pass;
        saved.Add(pass);
        return y;
    }

    /// <summary>The number of tensors <see cref="Forward"/> saves.</summary>
    internal const int Saved = 1;

    /// <summary>
    /// The backward pass from the tensors <see cref="Forward"/> saved (at <paramref name="at"/>): the weight's gradient
    /// (grad mode off), or null when it was added into <paramref name="weightGradient"/> (<see cref="FusedBatch.AddableGradient"/>).
    /// </summary>
    internal Tensor? Backward(IList<Tensor> saved, int at, Tensor gradOutput, Tensor? weightGradient = null)
    {
        var pass = saved[at];
        Observer?.Observe(gradOutput, pass);
        if (Identity) return gradOutput.clone();
        if (!FusedKernels.Applies(gradOutput, ScalarType.Float32)) return gradOutput * pass;
        if (weightGradient is not null)
        {
            FusedKernels.AddMaskGradient(FusedKernels.Floats(gradOutput), FusedKernels.Bools(pass), FusedKernels.Floats(weightGradient));
            return null;
        }

        var gradWeight = torch.empty_like(gradOutput);
        FusedKernels.MaskGradient(FusedKernels.Floats(gradOutput), FusedKernels.Bools(pass), FusedKernels.Floats(gradWeight));
        return gradWeight;
    }
}

/// <summary>
/// <see cref="FixedScaleSte"/> with its codes computed in the same node: one pass over the weight computes the output
/// and the not-clipped mask (<see cref="FusedKernels.FakeQuantRne"/> or, for legacy_auto_po2, <see cref="FusedKernels.FakeQuantRna"/>),
/// bitwise what the reference ops compute; backward is the reference's (<c>g · pass</c>, or the identity).
/// vars: weight (contiguous CPU float32), steps (float32 [C]), spec (<see cref="FusedFixedSpec"/>).
/// </summary>
internal sealed class FusedFixedScaleSte : autograd.SingleTensorFunction<FusedFixedScaleSte>
{
    public override string Name => "SweeperFusedFixedScaleSte";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var spec = (FusedFixedSpec)vars[2];
        var saved = new List<Tensor>(FusedFixedSpec.Saved);
        var y = spec.Forward((Tensor)vars[0], (Tensor)vars[1], saved);
        ctx.save_for_backward(saved);
        ctx.save_data("spec", spec);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var spec = (FusedFixedSpec)ctx.get_data("spec");
        using var noGrad = torch.no_grad();
        return [spec.Backward(ctx.get_saved_variables(), 0, gradOutput)!, null!, null!];
    }
}

/// <summary>
/// What <see cref="FusedLearnedScaleSte"/> computes and, after its forward pass, its masks. <paramref name="InsideMask"/>:
/// the weight gradient passes where <c>−qp ≤ x/s ≤ qp</c> (LSQ) instead of where the code is not clipped.
/// </summary>
internal sealed record FusedLearnedSpec(FusedKernels.Layout Layout, int Qp, bool InsideMask, ScaleGradientSpec Gradient)
{
    /// <summary>Bool, weight-shaped: the code was not clipped (set by the forward pass).</summary>
    public Tensor? NotClipped { get; set; }

    /// <summary>The number of tensors <see cref="Forward"/> saves.</summary>
    internal const int Saved = 3;

    /// <summary>The forward pass: the output, and the tensors the backward pass needs added to <paramref name="saved"/> (weight, steps, mask).</summary>
    internal Tensor Forward(Tensor x, Tensor steps, List<Tensor> saved)
    {
        var y = torch.empty_like(x);
        var notClipped = torch.empty_like(x, ScalarType.Bool);
        var inside = InsideMask ? torch.empty_like(x, ScalarType.Bool) : null;
        FusedKernels.FakeQuantRne(Layout, FusedKernels.Floats(x), FusedKernels.Floats(steps), Qp, FusedKernels.Floats(y), FusedKernels.Bools(notClipped),
            inside is null ? default : FusedKernels.Bools(inside));
        NotClipped = notClipped;
        saved.Add(x);
        saved.Add(steps);
        saved.Add(inside ?? notClipped);
        return y;
    }

    /// <summary>
    /// The backward pass from the tensors <see cref="Forward"/> saved (at <paramref name="at"/>): the gradients of the
    /// weight and of the scale parameter (grad mode off). The weight's is null when it was added into
    /// <paramref name="weightGradient"/>, the parameter's when it was added into <paramref name="parameterGradient"/>
    /// (<see cref="FusedBatch.AddableGradient(Tensor, long)"/>; a weight whose channels are rows, a parameter of one value
    /// per channel).
    /// </summary>
    internal (Tensor? Weight, Tensor? Parameter) Backward(IList<Tensor> saved, int at, Tensor gradOutput, Tensor? weightGradient = null, Tensor? parameterGradient = null)
    {
        var (x, steps, pass) = (saved[at], saved[at + 1], saved[at + 2]);
        var gradient = Gradient;
        gradient.Observer?.Observe(gradOutput, pass);
        using var copy = gradOutput.is_contiguous() ? null : gradOutput.contiguous();
        var g = copy ?? gradOutput;
        if (Layout.Outer == 1 && gradient.ReduceDims.Length > 0 && FusedKernels.RowSumsApply(Layout.Channels, Layout.Inner))
        {
            // One pass per channel row: the weight gradient, and the scale gradient summed where it is formed.
            var gradWeight = weightGradient is null ? torch.empty_like(x) : null;
            bool addScale = parameterGradient is not null; // of one value per channel: AddableGradient checked its size
            var sums = addScale ? null : torch.empty(Layout.Channels, ScalarType.Float32);
            var pool = System.Buffers.ArrayPool<float>.Shared;
            var scratch = pool.Rent(Layout.Inner + (addScale ? Layout.Channels : 0));
            try
            {
                var channelSums = addScale ? scratch.AsSpan(Layout.Inner, Layout.Channels) : FusedKernels.Floats(sums!);
                FusedKernels.LearnedScaleBackwardRows(Layout, FusedKernels.Floats(x), FusedKernels.Floats(steps), FusedKernels.Bools(pass), FusedKernels.Floats(g), Qp,
                    gradient.Log2Parameter, FusedKernels.Floats(gradWeight ?? weightGradient!), channelSums, scratch.AsSpan(0, Layout.Inner), gradWeight is null);
                // The reference's sums times the factor (libtorch's mul_ by a scalar: a float32 product with the factor as
                // a float32), added into a kept gradient as autograd's accumulation adds it, or returned.
                if (addScale) FusedKernels.AddScaled(channelSums, (float)gradient.Factor, FusedKernels.Floats(parameterGradient!));
                else FusedKernels.Scale(channelSums, (float)gradient.Factor);
            }
            finally
            {
                pool.Return(scratch);
            }

            if (addScale)
            {
                FusedBatch.AddedScaleGradients++;
                return (gradWeight, null);
            }

            return (gradWeight, gradient.ParameterShape is [var c] && c == Layout.Channels ? sums : sums!.reshape(gradient.ParameterShape));
        }

        var perElement = torch.empty_like(x);
        FusedKernels.ScaleGradient(Layout, FusedKernels.Floats(x), FusedKernels.Floats(steps), FusedKernels.Bools(pass), FusedKernels.Floats(g), Qp,
            gradient.Log2Parameter, FusedKernels.Floats(perElement));
        // No axis to reduce (a rank-1 weight, one channel per element): libtorch's sum([]) would sum them all.
        var gradParameter = (gradient.ReduceDims.Length == 0 ? perElement : perElement.sum(gradient.ReduceDims)).reshape(gradient.ParameterShape).TimesInPlace(gradient.Factor);
        return (gradOutput * pass, gradParameter);
    }
}

/// <summary>
/// <see cref="LearnedScaleSte"/> in one forward node and one backward node: the forward pass computes output and masks
/// in one pass (<see cref="FusedKernels.FakeQuantRne"/>); the backward pass recomputes the codes from the saved weight
/// and step while it forms the per-element scale gradient (<see cref="FusedKernels.ScaleGradient"/>), then reduces it
/// per channel with libtorch exactly as the reference does. vars: weight (contiguous CPU float32), parameter,
/// steps (float32 [C]), spec (<see cref="FusedLearnedSpec"/>).
/// </summary>
internal sealed class FusedLearnedScaleSte : autograd.SingleTensorFunction<FusedLearnedScaleSte>
{
    public override string Name => "SweeperFusedLearnedScaleSte";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var spec = (FusedLearnedSpec)vars[3];
        var saved = new List<Tensor>(FusedLearnedSpec.Saved);
        var y = spec.Forward((Tensor)vars[0], (Tensor)vars[2], saved);
        ctx.save_for_backward(saved);
        ctx.save_data("spec", spec);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var spec = (FusedLearnedSpec)ctx.get_data("spec");
        using var noGrad = torch.no_grad();
        var (gradWeight, gradParameter) = spec.Backward(ctx.get_saved_variables(), 0, gradOutput);
        return [gradWeight!, gradParameter!, null!, null!];
    }
}

/// <summary>
/// Several quantizers' fused nodes (<see cref="FusedFixedScaleSte"/>, <see cref="FusedLearnedScaleSte"/>) as one autograd
/// node: one forward call that runs each one's forward pass in turn and returns their outputs, one backward call that
/// runs each one's backward pass on its output's gradient. Each part computes exactly what its own node computes; the
/// node only saves the per-node cost of a TorchSharp custom function (a managed round trip, its context and output
/// wrapping, about 9 µs a call), which over the 51 quantized layers of a MobileNetV2 is a measurable part of a step.
/// vars: per part its weight, its parameter (learned parts only) and its steps; last, the <see cref="FusedBatch"/>.
/// </summary>
internal sealed class FusedBatchSte : autograd.MultiTensorFunction<FusedBatchSte>
{
    public override string Name => "SweeperFusedBatchSte";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var batch = (FusedBatch)vars[^1];
        var outputs = new List<Tensor>(batch.Parts.Count);
        var saved = new List<Tensor>(batch.Parts.Count * FusedLearnedSpec.Saved);
        foreach (var part in batch.Parts)
            outputs.Add(part.Learned is { } learned ? learned.Forward(part.Weight, part.Steps, saved) : part.Fixed!.Forward(part.Weight, part.Steps, saved));
        ctx.save_for_backward(saved);
        ctx.save_data("batch", batch);
        return outputs;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var batch = (FusedBatch)ctx.get_data("batch");
        var saved = ctx.get_saved_variables();
        using var noGrad = torch.no_grad();
        var gradients = new List<Tensor>(batch.Parts.Count * 3 + 1);
        int at = 0;
        for (int i = 0; i < batch.Parts.Count; i++)
        {
            var part = batch.Parts[i];
            using var weightGradient = FusedBatch.AddableGradient(part.Weight, gradOutputs[i]);
            if (part.Learned is { } learned)
            {
                using var parameterGradient = FusedBatch.AddableGradient(part.Parameter!, learned.Layout.Channels);
                var (gradWeight, gradParameter) = learned.Backward(saved, at, gradOutputs[i], weightGradient, parameterGradient);
                gradients.Add(gradWeight!);
                gradients.Add(gradParameter!); // null when added into the kept gradient
                at += FusedLearnedSpec.Saved;
            }
            else
            {
                gradients.Add(part.Fixed!.Backward(saved, at, gradOutputs[i], weightGradient)!);
                at += FusedFixedSpec.Saved;
            }

            gradients.Add(null!); // the steps
        }

        gradients.Add(null!); // the batch
        return gradients;
    }
}

/// <summary>
/// The fused nodes of several quantizers' training calls, collected to run as one <see cref="FusedBatchSte"/> node
/// (<see cref="WeightQuantizer.ForwardAll"/>).
/// </summary>
internal sealed class FusedBatch
{
    /// <summary>One quantizer's fused node: a fixed-scale one (<see cref="Fixed"/>) or a learned-scale one (<see cref="Learned"/>, with its <see cref="Parameter"/>).</summary>
    internal sealed record Part(Tensor Weight, Tensor? Parameter, Tensor Steps, FusedFixedSpec? Fixed, FusedLearnedSpec? Learned);

    /// <summary>The collected nodes, in the order their outputs are returned.</summary>
    internal List<Part> Parts { get; } = [];

    /// <summary>
    /// The gradient <paramref name="weight"/> already holds, where a part's backward pass may add its weight gradient into
    /// it in place and return none (null otherwise; the caller disposes what it gets, a second handle on that gradient):
    /// a leaf weight that requires grad, whose gradient is a contiguous CPU float32 tensor of its size not itself
    /// requiring grad (from the second step on, <c>zero_grad</c> zeroing in place), with a contiguous CPU float32
    /// <paramref name="gradOutput"/>. Autograd would add the returned gradient into that one with the same float32
    /// addition (its AccumulateGrad node, grad mode off); given none, it adds nothing. The same values, without the
    /// weight-sized gradient tensor and the second pass over it: a measurable part of a step's backward pass. A weight
    /// that also reaches the loss by other paths (tied weights) gets this gradient added on its own, where autograd sums
    /// all of a weight's incoming gradients before it adds them: the same bits with one other path and a zeroed
    /// gradient (float addition commutes; a training step after <c>zero_grad</c>), the same sum rounded in another order
    /// otherwise. The models here use each weight once.
    /// </summary>
    internal static Tensor? AddableGradient(Tensor weight, Tensor gradOutput)
    {
        if (!FusedKernels.Applies(gradOutput, ScalarType.Float32) || AddableGradient(weight, gradOutput.numel()) is not { } grad) return null;
        AddableGradients++;
        return grad;
    }

    /// <summary>
    /// <see cref="AddableGradient(Tensor, Tensor)"/> for a gradient of <paramref name="size"/> elements that the backward
    /// pass forms in memory (a learned scale's, one value per channel): the same conditions on the gradient
    /// <paramref name="parameter"/> holds.
    /// </summary>
    internal static Tensor? AddableGradient(Tensor parameter, long size)
    {
        if (!parameter.is_leaf || !parameter.requires_grad) return null;
        var grad = parameter.grad;
        if (grad is null) return null;
        if (FusedKernels.Applies(grad, ScalarType.Float32) && !grad.requires_grad && grad.numel() == size) return grad;
        grad.Dispose();
        return null;
    }

    /// <summary>Weight gradients <see cref="AddableGradient(Tensor, Tensor)"/> offered on this thread: for tests.</summary>
    [ThreadStatic]
    internal static long AddableGradients;

    /// <summary>Scale gradients added into the parameter's kept gradient on this thread (<see cref="FusedLearnedSpec.Backward"/>): for tests.</summary>
    [ThreadStatic]
    internal static long AddedScaleGradients;

    /// <summary>Runs the collected nodes as one autograd node and returns their outputs in order.</summary>
    internal List<Tensor> Run()
    {
        var vars = new List<object>(Parts.Count * 3 + 1);
        foreach (var part in Parts)
        {
            vars.Add(part.Weight);
            if (part.Learned is not null) vars.Add(part.Parameter!);
            vars.Add(part.Steps);
        }

        vars.Add(this);
        return FusedBatchSte.apply(vars.ToArray());
    }
}
