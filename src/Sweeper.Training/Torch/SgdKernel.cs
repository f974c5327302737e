using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Torch;

/// <summary>
/// <see cref="HeldScalarSgd"/>'s update of one contiguous CPU float32 parameter in one pass, what its libtorch operations
/// compute element by element: <c>d = grad.add(param, decay)</c>, then <c>buffer.mul_(μ).add_(d, 1 − dampening)</c> (or
/// <c>buffer = d</c> at the first step) and <c>param.add_(buffer, −lr)</c>. libtorch casts the scalars to float32 and its
/// <c>add</c> with alpha is a fused multiply-add (<c>fma(other, α, self)</c>) in its vector loop and its scalar tail
/// alike, <c>mul</c> by a scalar a float32 product; so every element is <c>fma</c>s and one product in float32. A parameter
/// of MobileNetV2 took four to five libtorch calls and a temporary tensor, a few microseconds each, over about 200
/// parameters a step. Checked against those operations once per process (<see cref="Verified"/>: three settings, three
/// steps each, on 1,003 elements of every magnitude); where it does not match, the operations run.
/// </summary>
internal static class SgdKernel
{
    /// <summary>
    /// One step on <paramref name="param"/> with gradient <paramref name="grad"/> and momentum buffer <paramref name="buffer"/>
    /// (ignored without momentum; written, not read, at the first step).
    /// </summary>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, Span<float> buffer, double weightDecay, double momentum, double dampening, double rate, bool first)
    {
        if (grad.Length != param.Length || (momentum != 0 && buffer.Length != param.Length))
            throw new ArgumentException("The parameter, its gradient and its momentum buffer must have the same length.");

        float decay = (float)weightDecay, mu = (float)momentum, keep = (float)(1 - dampening), lr = (float)rate;
        bool decays = weightDecay != 0, moves = momentum != 0;
        int i = 0, n = param.Length;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            var vdecay = Vector256.Create(decay);
            var vmu = Vector256.Create(mu);
            var vkeep = Vector256.Create(keep);
            var vlr = Vector256.Create(lr);
            for (; i + 8 <= n; i += 8)
            {
                var p = Vector256.LoadUnsafe(ref param[i]);
                var d = Vector256.LoadUnsafe(in grad[i]);
                if (decays) d = Fma.MultiplyAdd(p, vdecay, d);
                if (moves)
                {
                    d = first ? d : Fma.MultiplyAdd(d, vkeep, Avx.Multiply(Vector256.LoadUnsafe(ref buffer[i]), vmu));
                    d.StoreUnsafe(ref buffer[i]);
                }
                Fma.MultiplyAdd(d, vlr, p).StoreUnsafe(ref param[i]);
            }
        }

        for (; i < n; i++)
        {
            float d = grad[i];
            if (decays) d = MathF.FusedMultiplyAdd(param[i], decay, d);
            if (moves)
            {
                d = first ? d : MathF.FusedMultiplyAdd(d, keep, buffer[i] * mu);
                buffer[i] = d;
            }
            param[i] = MathF.FusedMultiplyAdd(d, lr, param[i]);
        }
    }

    /// <summary>Whether a tensor is one <see cref="Step"/> can take: contiguous CPU float32.</summary>
    public static bool Applies(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous() && t.numel() < int.MaxValue / 4;

    /// <summary>The elements of a contiguous CPU float32 tensor.</summary>
    public static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    private static readonly Lazy<bool> Check = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether <see cref="Step"/> gives the bits of <see cref="HeldScalarSgd"/>'s libtorch operations here (compared once per process).</summary>
    public static bool Verified => Check.Value;

    internal static bool Probe()
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            using var gradients = torch.enable_grad(); // the first step may ask from inside an optimizer's no_grad
            var random = new Random(20261207);
            const int n = 1003;
            float[] Values() => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 6)))).ToArray();
            foreach (var (lr, momentum, decay) in new[] { (0.05, 0.9, 5e-5), (0.3, 0.8, 1e-3), (0.7, 0.0, 0.0) })
            {
                var got = Values();
                var buffer = new float[n];
                // Disposed here: the optimizer's momentum buffers belong to no dispose scope, and the first trial to step
                // runs this probe on its own thread, where its tensors would be counted as that trial's.
                using var reference = new TorchSharp.Modules.Parameter(torch.tensor(got));
                using var optimizer = new HeldScalarSgd([reference], lr, momentum, decay) { Fused = false };
                for (int step = 0; step < 3; step++)
                {
                    var direction = Values();
                    optimizer.zero_grad();
                    (reference * torch.tensor(direction)).sum().backward(); // the gradient is the direction exactly
                    optimizer.step();
                    Step(got, direction, buffer, decay, momentum, 0, -lr, first: step == 0);
                }

                if (!MemoryMarshal.AsBytes(got.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(Floats(reference)))) return false; // bitwise
            }

            return true;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }
}
