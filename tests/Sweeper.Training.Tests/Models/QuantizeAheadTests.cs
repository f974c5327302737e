using Sweeper.Core.Spec;
using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Models;

/// <summary>
/// The conv layers' quantizers run back to back ahead of the forward pass (<see cref="QuantizableLayers.QuantizeAhead"/>)
/// train exactly as quantizing in each layer's forward pass: same losses, parameters, quantizer state and gradients to the bit.
/// </summary>
public sealed class QuantizeAheadTests
{
    public QuantizeAheadTests() => torch.set_num_threads(1);

    public static TheoryData<string, string, bool> Cases => new()
    {
        { "mobilenet_v2", "msqe_po2", true },
        { "mobilenet_v2", "learnable_po2", true },
        { "mobilenet_v2", "legacy_auto_po2", false },
        { "mobilenet_v1", "lsq", false },
        { "mobilenet_v2", "msqe_po2", false },
    };

    private static nn.Module<Tensor, Tensor> Model(string name, string method, bool secondMoments, bool ahead)
    {
        var plan = new QuantizationPlan(new QuantizerSpec { Method = method, Bits = 4, PerChannel = true, SecondMoments = secondMoments, StableScale = method == "msqe_po2" });
        using var init = new Generator(5);
        if (name == "mobilenet_v1") return new MobileNetV1(0.25, generator: init, plan: plan) { QuantizeAhead = ahead };
        return new MobileNetV2(0.25, generator: init, plan: plan) { QuantizeAhead = ahead };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Training_QuantizersAhead_SameStepsToTheBit(string name, string method, bool secondMoments)
    {
        using var scope = torch.NewDisposeScope();
        using var data = new Generator(9);
        var x = torch.randn([16, 1, 28, 28], generator: data);
        var y = torch.randint(0, 10, [16], generator: data);
        var inLayer = Model(name, method, secondMoments, ahead: false);
        var ahead = Model(name, method, secondMoments, ahead: true);
        var optimizers = new[] { torch.optim.SGD(inLayer.parameters(), 0.05, momentum: 0.9), torch.optim.SGD(ahead.parameters(), 0.05, momentum: 0.9) };
        inLayer.train();
        ahead.train();

        for (var step = 0; step < 3; step++)
        {
            var losses = new float[2];
            var models = new[] { inLayer, ahead };
            for (var m = 0; m < 2; m++)
            {
                optimizers[m].zero_grad();
                var loss = nn.functional.cross_entropy(models[m].forward(x), y);
                loss.backward();
                optimizers[m].step();
                losses[m] = loss.item<float>();
            }
            Assert.True(BitConverter.SingleToInt32Bits(losses[0]) == BitConverter.SingleToInt32Bits(losses[1]), $"step {step}: loss {losses[0]:R} in the layers, {losses[1]:R} ahead");
        }

        var expected = inLayer.state_dict();
        var actual = ahead.state_dict();
        Assert.Equal(expected.Keys, actual.Keys);
        Assert.Contains(expected.Keys, k => k.EndsWith("exponent", StringComparison.Ordinal) || k.EndsWith("step_size", StringComparison.Ordinal) || k.EndsWith("log2_scale", StringComparison.Ordinal));
        foreach (var key in expected.Keys)
            Assert.True(expected[key].dtype == actual[key].dtype && expected[key].eq(actual[key]).all().item<bool>() || BothNaNWhereDifferent(expected[key], actual[key]), $"{key} differs");
    }

    private static bool BothNaNWhereDifferent(Tensor a, Tensor b) =>
        a.is_floating_point() && a.isnan().eq(b.isnan()).all().item<bool>() && a.nan_to_num().eq(b.nan_to_num()).all().item<bool>();

    /// <summary>A forward pass that fails after the quantizers ran ahead leaves no prepared weight behind: the next pass quantizes anew.</summary>
    [Fact]
    public void Training_ForwardFailsMidway_NextPassQuantizesAgain()
    {
        using var scope = torch.NewDisposeScope();
        var model = Model("mobilenet_v2", "msqe_po2", false, ahead: true);
        model.train();
        var steps = ((IQuantizableModel)model).Layers.First(l => l.Quantizer is not null).Quantizer!;
        Assert.ThrowsAny<Exception>(() => model.forward(torch.randn([4, 3, 28, 28]))); // 3 channels: the stem expects 1
        var after = steps.StepCount;
        model.forward(torch.randn([4, 1, 28, 28]));
        Assert.Equal(after + 1, steps.StepCount);
    }
}
