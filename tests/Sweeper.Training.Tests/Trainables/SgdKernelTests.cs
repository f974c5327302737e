using Sweeper.Training.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Trainables;

/// <summary>
/// <see cref="SgdKernel"/>: <see cref="HeldScalarSgd"/>'s one-pass update of contiguous float32 parameters gives the bits of
/// its libtorch operations (<c>Fused = false</c>) for parameters, momentum buffers and every setting, over lengths that take
/// the 8-wide loop and its tail.
/// </summary>
public sealed class SgdKernelTests
{
    public SgdKernelTests() => torch.set_num_threads(1);

    /// <summary>
    /// The probe leaves no tensor alive on the thread it runs on: the first trial to step runs it on its own trial thread,
    /// where a leftover would count as that trial's (its momentum buffers belong to no dispose scope; they leaked until
    /// the probe disposed its optimizer).
    /// </summary>
    [Fact]
    public void Probe_LeavesNoLiveTensor()
    {
        long live = -1;
        bool verified = false;
        var thread = new Thread(() =>
        {
            DisposeScopeManager.Statistics.Reset();
            verified = SgdKernel.Probe();
            live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        });
        thread.Start();
        thread.Join();
        Assert.True(verified);
        Assert.Equal(0, live);
    }

    [Fact]
    public void Verified_OnThisMachine() => Assert.True(SgdKernel.Verified, "the one-pass SGD update does not match libtorch's operations here: training takes them instead");

    public static TheoryData<double, double, double, bool> Settings => new()
    {
        { 0.05, 0.9, 5e-5, false },
        { 0.05, 0.9, 0.0, false },
        { 0.3, 0.0, 1e-3, false },
        { 0.7, 0.0, 0.0, false },
        { 0.02, 0.5, 1e-4, true },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void Step_EveryLength_SameBitsAsTheOperations(double lr, double momentum, double decay, bool maximize)
    {
        using var scope = torch.NewDisposeScope();
        long[][] shapes = [[1], [7], [8], [9], [15], [16], [17], [70], [37, 19], [16, 3, 3, 3]];
        using var generator = new Generator(42);
        var starts = shapes.Select(s => torch.randn(s, generator: generator) * 0.3f).ToList();
        var fused = starts.Select(t => new Parameter(t.clone())).ToList();
        var reference = starts.Select(t => new Parameter(t.clone())).ToList();
        var wide = starts.Select(t => new Parameter(t.to_type(ScalarType.Float64))).ToList(); // another dtype: the operations in both
        var fusedOptimizer = Create(fused.Concat(wide), lr, momentum, decay, maximize, kernel: true);
        var referenceOptimizer = Create(reference.Concat(wide.Select(w => new Parameter(w.detach().clone()))), lr, momentum, decay, maximize, kernel: false);
        for (int step = 0; step < 4; step++)
        {
            var directions = shapes.Select(s => torch.randn(s, generator: generator)).ToList();
            foreach (var (optimizer, parameters) in new[] { (fusedOptimizer, fused), (referenceOptimizer, reference) })
            {
                optimizer.zero_grad();
                Tensor loss = torch.zeros(1);
                for (int i = 0; i < parameters.Count; i++) loss = loss + (parameters[i] * directions[i]).sum();
                loss.backward();
                optimizer.step();
            }

            for (int i = 0; i < shapes.Length; i++)
                TensorAssert.SameBits(reference[i], fused[i], $"step {step}, shape [{string.Join(", ", shapes[i])}]");
        }

        Assert.Contains(fused, p => p.grad is not null);
    }

    /// <summary>The kernel itself (whatever <see cref="SgdKernel.Verified"/> says) against the operations, every length 1–70.</summary>
    [Theory]
    [InlineData(0.05, 0.9, 5e-5)]
    [InlineData(0.7, 0.0, 1e-3)]
    public void Kernel_EveryLength_SameBitsAsTheOperations(double lr, double momentum, double decay)
    {
        using var scope = torch.NewDisposeScope();
        var random = new Random(7);
        for (int n = 1; n <= 70; n++)
        {
            float[] Values() => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-20, 4)))).ToArray();
            var got = Values();
            var buffer = new float[n];
            var reference = new Parameter(torch.tensor(got));
            var optimizer = new HeldScalarSgd([reference], lr, momentum, decay) { Fused = false };
            for (int step = 0; step < 3; step++)
            {
                var direction = Values();
                optimizer.zero_grad();
                (reference * torch.tensor(direction)).sum().backward();
                optimizer.step();
                SgdKernel.Step(got, direction, buffer, decay, momentum, 0, -lr, first: step == 0);
                TensorAssert.SameBits(reference, torch.tensor(got), $"length {n}, step {step}");
            }
        }
    }

    private static HeldScalarSgd Create(IEnumerable<Parameter> parameters, double lr, double momentum, double decay, bool maximize, bool kernel)
    {
        var optimizer = new HeldScalarSgd(parameters, lr, momentum, decay) { Fused = kernel };
        if (maximize)
            foreach (var group in optimizer.ParamGroups.Cast<SGD.ParamGroup>()) group.Options.maximize = true;
        return optimizer;
    }
}
