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
        var term = spec.Log2Parameter ? q * s - inside : q - inside / s;
        var perElement = gradOutput * term;
        // No axis to reduce (a rank-1 weight, one channel per element): libtorch's sum([]) would sum them all.
        var gradParameter = (spec.ReduceDims.Length == 0 ? perElement : perElement.sum(spec.ReduceDims)).reshape(spec.ParameterShape).mul_(spec.Factor);
        return [gradOutput * pass, gradParameter, null!, null!, null!, null!];
    }
}
