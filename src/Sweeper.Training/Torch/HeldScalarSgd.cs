using Sweeper.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Sweeper.Training.Torch;

/// <summary>
/// <c>torch.optim.SGD</c> with the same update, operation for operation (so the same figures to the bit, and the same
/// checkpoint format), whose scalars are held for the whole step (<see cref="HeldScalars"/>): TorchSharp's own step
/// passes four scalars made on the fly per parameter, each of which a garbage collection during the native call could
/// free under libtorch. A contiguous CPU float32 parameter (no Nesterov) is updated in one pass by <see cref="SgdKernel"/>,
/// bitwise these operations (checked once per process against them).
/// </summary>
public sealed class HeldScalarSgd : SGD
{
    public HeldScalarSgd(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double weightDecay = 0)
        : base(parameters, lr, momentum, 0, weightDecay, false, false)
    {
    }

    public HeldScalarSgd(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double weightDecay = 0)
        : base(groups, lr, momentum, 0, weightDecay, false, false)
    {
    }

    /// <summary>Whether contiguous CPU float32 parameters take <see cref="SgdKernel"/> (else the operations below, as the kernel's check and tests compare).</summary>
    internal bool Fused { get; init; } = true;

    /// <summary>Zeros every gradient in place, as TorchSharp's <c>zero_grad</c> does, without its per-parameter shape read (<see cref="GradientZeroing"/>).</summary>
    public override void zero_grad() => GradientZeroing.Zero(parameters());

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        double momentum = options.momentum!.Value, dampening = options.dampening!.Value, weightDecay = options.weight_decay!.Value;
        double lr = options.LearningRate!.Value;
        bool nesterov = options.nesterov!.Value, maximize = options.maximize!.Value;
        using var decay = weightDecay.ToScalar();
        using var mu = momentum.ToScalar();
        using var keep = (1 - dampening).ToScalar();
        using var rate = (maximize ? lr : -lr).ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var state = (State)_state[param.Handle];
            var existing = momentum != 0 ? state.momentum_buffer : null;
            if (Fused && !nesterov && SgdKernel.Applies(param) && SgdKernel.Applies(grad) && param.numel() == grad.numel()
                && (existing is null || SgdKernel.Applies(existing)) && SgdKernel.Verified)
            {
                // The same update in one pass (SgdKernel): bitwise these operations, without their calls and temporaries.
                bool first = momentum != 0 && existing is null;
                if (first) state.momentum_buffer = existing = torch.empty_like(grad).DetachFromDisposeScope(); // written whole by the first step
                SgdKernel.Step(SgdKernel.Floats(param), SgdKernel.Floats(grad), existing is null ? default : SgdKernel.Floats(existing), weightDecay, momentum, dampening,
                    maximize ? lr : -lr, first);
                continue;
            }

            if (weightDecay != 0) grad = grad.add(param, decay);
            if (momentum != 0)
            {
                var buffer = state.momentum_buffer;
                if (buffer is null)
                {
                    buffer = grad.clone().detach().DetachFromDisposeScope();
                    state.momentum_buffer = buffer;
                }
                else
                {
                    buffer.mul_(mu).add_(grad, keep);
                }
                grad = nesterov ? grad.add(buffer, mu) : buffer;
            }
            param.add_(grad, rate);
        }
    }, closure);
}
