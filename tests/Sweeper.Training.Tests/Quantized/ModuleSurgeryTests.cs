using Sweeper.Core.Spec;
using Sweeper.Training.Quantized;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Conv2dLayer = TorchSharp.Modules.Conv2d;
using LinearLayer = TorchSharp.Modules.Linear;
using BatchNorm2dLayer = TorchSharp.Modules.BatchNorm2d;

namespace Sweeper.Training.Tests.Quantized;

/// <summary><see cref="ModuleSurgery"/> on hand-built TorchSharp modules (tiny, fixed seeds).</summary>
public sealed class ModuleSurgeryTests
{
    public ModuleSurgeryTests() => torch.set_num_threads(1);

    /// <summary>
    /// stem (Sequential: conv 3×3 with bias + BN + ReLU), features (Sequential: depthwise conv + BN + ReLU, a nested
    /// Sequential with a 1×1 conv + BN), a lone 1×1 conv held in a Module&lt;Tensor, Tensor&gt; field, pooling, a hidden
    /// Linear in a ModuleList, and the classifier Linear in a field.
    /// </summary>
    private sealed class Net : Module<Tensor, Tensor>
    {
        private readonly Sequential stem;
        private readonly Sequential features;
        private readonly Module<Tensor, Tensor> lone;
        private readonly AdaptiveAvgPool2d pool;
        private readonly ModuleList<Module<Tensor, Tensor>> hidden;
        private readonly Module<Tensor, Tensor> classifier;

        public Net(double eps) : base(nameof(Net))
        {
            stem = Sequential(("0", Conv2d(1, 4, 3, padding: 1, bias: true)), ("1", BatchNorm2d(4, eps: eps)), ("2", ReLU()));
            features = Sequential(
                ("0", Conv2d(4, 4, 3, padding: 1, groups: 4, bias: false)),
                ("1", BatchNorm2d(4, eps: eps)),
                ("2", ReLU()),
                ("3", Sequential(("0", Conv2d(4, 6, 1, bias: false)), ("1", BatchNorm2d(6, eps: eps)))));
            lone = Conv2d(6, 6, 1, bias: true);
            pool = AdaptiveAvgPool2d(1);
            hidden = ModuleList<Module<Tensor, Tensor>>(Linear(6, 5));
            classifier = Linear(5, 3);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = torch.NewDisposeScope();
            var x = lone.forward(features.forward(stem.forward(input)));
            x = pool.forward(x).flatten(1);
            x = functional.relu(hidden[0].forward(x));
            return classifier.forward(x).MoveToOuterDisposeScope();
        }
    }

    private sealed class ConcreteField : Module<Tensor, Tensor>
    {
        private readonly Conv2d conv;
        private readonly Module<Tensor, Tensor> fc;

        public ConcreteField() : base(nameof(ConcreteField))
        {
            conv = Conv2d(1, 2, 3);
            fc = Linear(2, 2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => fc.forward(conv.forward(input).mean([2, 3]));
    }

    private sealed class TypedList : Module<Tensor, Tensor>
    {
        private readonly ModuleList<Linear> layers;

        public TypedList() : base(nameof(TypedList))
        {
            layers = ModuleList(Linear(2, 2), Linear(2, 2));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => layers[1].forward(layers[0].forward(input));
    }

    private sealed class Unregistered : Module<Tensor, Tensor>
    {
        private readonly Module<Tensor, Tensor> fc;
        private readonly Module<Tensor, Tensor> forgotten;

        public Unregistered() : base(nameof(Unregistered))
        {
            fc = Linear(2, 2);
            register_module("fc", fc);
            forgotten = Linear(2, 2);
        }

        public override Tensor forward(Tensor input) => forgotten.forward(fc.forward(input));
    }

    private sealed class Heads : Module<Tensor, Tensor>
    {
        private readonly ModuleDict<Module<Tensor, Tensor>> heads;

        public Heads() : base(nameof(Heads))
        {
            heads = ModuleDict<Module<Tensor, Tensor>>(("a", Linear(3, 3)), ("b", Linear(3, 2)));
            RegisterComponents();
        }

        public Module<Tensor, Tensor> this[string name] => heads[name];

        public override Tensor forward(Tensor input) => heads["b"].forward(heads["a"].forward(input));
    }

    private static QuantizationPlan Plan(string method, string bnFold = "none", bool firstLast = false, bool depthwisePerChannel = true) =>
        new(new QuantizerSpec { Method = method, Bits = 4, BnFold = bnFold, QuantizeFirstLast = firstLast, DepthwisePerChannel = depthwisePerChannel });

    /// <summary>The same weights in two networks, with BN statistics and affine parameters away from their initial values.</summary>
    private static (Net Original, Net Copy) Twins(double eps)
    {
        torch.manual_seed(7);
        var original = new Net(eps);
        torch.manual_seed(7);
        var copy = new Net(eps);
        using var noGrad = torch.no_grad();
        using var g = new Generator(11);
        var bns = original.modules().OfType<BatchNorm2d>().Zip(copy.modules().OfType<BatchNorm2d>());
        foreach (var (a, b) in bns)
        {
            var n = a.num_features;
            var gamma = torch.rand([n], generator: g) + 0.5;
            var beta = torch.randn([n], generator: g) * 0.3;
            var mean = torch.randn([n], generator: g) * 0.2;
            var variance = torch.rand([n], generator: g) + 0.5;
            foreach (var bn in new[] { a, b })
            {
                bn.weight!.copy_(gamma);
                bn.bias!.copy_(beta);
                bn.running_mean!.copy_(mean);
                bn.running_var!.copy_(variance);
            }
        }
        return (original, copy);
    }

    private static Tensor Input(ulong seed)
    {
        using var g = new Generator(seed);
        return torch.randn([4, 1, 6, 6], generator: g);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("pytorch")]
    [InlineData("qkeras")]
    public void Apply_MethodNone_OutputsEqualTheOriginalInEvalAndTraining(string recipe)
    {
        // qkeras folds with its own ε (1e-3): give the original BatchNorms that ε so the two compute the same function.
        var (original, copy) = Twins(recipe == "qkeras" ? ConvBn.QKerasEps : 1e-5);
        using var _ = original;
        using var model = ModuleSurgery.Apply(copy, Plan("none", recipe, firstLast: true));
        using var scope = torch.NewDisposeScope();

        original.eval();
        model.eval();
        var x = Input(3);
        Assert.True(original.forward(x).allclose(model.forward(x), rtol: 1e-4, atol: 1e-5), $"{recipe}: eval outputs differ");

        original.train();
        model.train();
        for (int step = 0; step < 2; step++)
        {
            var y = Input(20 + (ulong)step);
            var expected = original.forward(y);
            var actual = model.forward(y);
            Assert.True(expected.allclose(actual, rtol: 1e-4, atol: 1e-4), $"{recipe}: training outputs differ at step {step}");
        }
        Assert.All(model.Layers.OfType<ConvBn>(), l => Assert.Equal(recipe != "none", l.FoldsBatchNorm));
    }

    [Fact]
    public void Apply_Net_LayerNamesAreModulePathsInModuleOrderAndPairsAreFolded()
    {
        var (original, copy) = Twins(1e-5);
        original.Dispose();
        using var model = ModuleSurgery.Apply(copy, Plan("msqe_po2", "qkeras"), name: "MyNet");

        Assert.Equal(["stem.0", "features.0", "features.3.0", "lone", "hidden.0", "classifier"], model.Layers.Select(l => l.LayerName));
        Assert.IsType<ConvBn>(model.Layers[0]);
        Assert.IsType<ConvBn>(model.Layers[1]);
        Assert.IsType<ConvBn>(model.Layers[2]);
        Assert.IsType<QuantConv2d>(model.Layers[3]);
        Assert.IsType<QuantLinear>(model.Layers[4]);
        Assert.IsType<QuantLinear>(model.Layers[5]);
        Assert.Equal("MyNet", model.GetName());
        var modules = model.Model.named_modules().ToDictionary(m => m.name, m => m.module);
        Assert.IsType<Identity>(modules["stem.1"]);
        Assert.IsType<Identity>(modules["features.1"]);
        Assert.IsType<Identity>(modules["features.3.1"]);
        Assert.DoesNotContain(model.modules(), m => m is Conv2dLayer or LinearLayer);
        Assert.All(model.named_modules().Where(m => m.module is BatchNorm2dLayer), m => Assert.EndsWith(".bn", m.name)); // only ConvBn's own
        // The registry (parameters, state_dict) holds the replacements.
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.stem.0.weight", keys);
        Assert.Contains("model.stem.0.bn.running_mean", keys);
        Assert.Contains("model.hidden.0.bias", keys);
        Assert.DoesNotContain("model.stem.1.weight", keys);
        var handles = model.parameters().Select(p => p.Handle).ToHashSet();
        Assert.All(model.Layers, l => Assert.Contains(l switch
        {
            ConvBn c => c.Weight.Handle,
            QuantConv2d c => c.Weight.Handle,
            QuantLinear q => q.Weight.Handle,
            _ => throw new InvalidOperationException(),
        }, handles));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Apply_FirstAndLast_StayFloatUnlessQuantizeFirstLast(bool firstLast)
    {
        var (original, copy) = Twins(1e-5);
        original.Dispose();
        using var model = ModuleSurgery.Apply(copy, Plan("msqe_po2", "pytorch", firstLast));

        var byName = model.Layers.ToDictionary(l => l.LayerName);
        Assert.Equal(LayerRole.First, byName["stem.0"].Role);
        Assert.Equal(LayerRole.Last, byName["classifier"].Role);
        Assert.Equal(LayerRole.Body, byName["hidden.0"].Role); // not the last Linear
        Assert.Equal(firstLast, byName["stem.0"].Quantizer is not null);
        Assert.Equal(firstLast, byName["stem.0"].FoldsBatchNorm);
        Assert.Equal(firstLast, byName["classifier"].Quantizer is not null);
        Assert.All(new[] { "features.0", "features.3.0", "lone", "hidden.0" }, n => Assert.NotNull(byName[n].Quantizer));
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, null)]
    public void Apply_Depthwise_FollowsDepthwisePerChannel(bool depthwisePerChannel, int? axis)
    {
        var (original, copy) = Twins(1e-5);
        original.Dispose();
        using var model = ModuleSurgery.Apply(copy, Plan("msqe_po2", "qkeras", depthwisePerChannel: depthwisePerChannel));

        var dw = Assert.IsType<ConvBn>(model.Layers.Single(l => l.LayerName == "features.0"));
        Assert.True(dw.IsDepthwise);
        Assert.Equal(axis, dw.Quantizer!.ChannelAxis);
        Assert.Equal(0, model.Layers.Single(l => l.LayerName == "features.3.0").Quantizer!.ChannelAxis);
    }

    [Fact]
    public void Apply_MsqePo2_TheForwardComputesWithPowerOfTwoCodes()
    {
        torch.manual_seed(3);
        var linear = Linear(6, 4);
        using var expectedWeight = linear.weight!.detach().clone();
        using var model = ModuleSurgery.Apply(Sequential(("fc", linear)), Plan("msqe_po2", firstLast: true));
        var layer = Assert.IsType<QuantLinear>(Assert.Single(model.Layers));
        Assert.Equal("fc", layer.LayerName);
        model.eval();
        using var scope = torch.NewDisposeScope();

        Assert.True(layer.Weight.equal(expectedWeight).all().item<bool>(), "the initialized weight is kept");
        var q = layer.EvalWeight();
        var (_, diagnostics) = Assert.Single(QuantizableLayers.Diagnose(model.Layers));
        var scale = torch.tensor(diagnostics.Exponents.Select(e => (float)Math.ScaleB(1.0, (int)e)).ToArray()).reshape(-1, 1);
        var codes = q / scale;
        Assert.True(codes.eq(codes.round()).all().item<bool>(), "the weight is an integer code times 2^e per channel");
        Assert.True(codes.abs().le(7).all().item<bool>(), "4-bit codes lie in ±7");
        Assert.False(q.equal(layer.Weight.detach()).all().item<bool>(), "the weight is quantized, not passed through");
        var x = torch.randn(5, 6);
        Assert.True(model.forward(x).allclose(functional.linear(x, q, layer.Bias), rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void Apply_FieldTypedConv2d_ErrorAsksForModuleOfTensor()
    {
        using var module = new ConcreteField();

        var e = Assert.Throws<NotSupportedException>(() => ModuleSurgery.Apply(module, Plan("msqe_po2")));

        Assert.Contains("Layer 'conv': field 'conv' of ConcreteField is declared as Conv2d", e.Message);
        Assert.Contains("declare the field as Module<Tensor, Tensor>", e.Message);
        Assert.IsType<Conv2dLayer>(module.named_children().Single(c => c.name == "conv").module); // nothing changed
    }

    [Fact]
    public void Apply_ModuleListOfLinear_ErrorAsksForModuleOfTensor()
    {
        using var module = new TypedList();

        var e = Assert.Throws<NotSupportedException>(() => ModuleSurgery.Apply(module, Plan("msqe_po2")));

        Assert.Contains("Layer 'layers.0'", e.Message);
        Assert.Contains("is a list of Linear", e.Message);
    }

    [Fact]
    public void Apply_UnregisteredLinear_ErrorAsksForRegisterComponents()
    {
        using var module = new Unregistered();

        var e = Assert.Throws<NotSupportedException>(() => ModuleSurgery.Apply(module, Plan("msqe_po2")));

        Assert.Contains("field 'forgotten' of the model (Unregistered) holds a Linear that is not a registered submodule", e.Message);
        Assert.Contains("RegisterComponents()", e.Message);
    }

    [Fact]
    public void Apply_DilatedConv_NotSupportedNamesTheLayer()
    {
        using var module = Sequential(("conv", Conv2d(1, 2, 3, dilation: 2)));

        var e = Assert.Throws<NotSupportedException>(() => ModuleSurgery.Apply(module, Plan("msqe_po2")));

        Assert.Contains("Layer 'conv'", e.Message);
        Assert.Contains("dilation (2, 2)", e.Message);
    }

    [Fact]
    public void Apply_ModuleDict_ReplacesTheValuesItsForwardReads()
    {
        torch.manual_seed(4);
        var heads = new Heads();
        using var model = ModuleSurgery.Apply(heads, Plan("msqe_po2", firstLast: true));

        Assert.Equal(["heads.a", "heads.b"], model.Layers.Select(l => l.LayerName));
        Assert.Same(model.Layers[0], heads["a"]);
        Assert.Same(model.Layers[1], heads["b"]);
        using var scope = torch.NewDisposeScope();
        Assert.Equal([2L, 2], model.forward(torch.ones(2, 3)).shape);
    }
}
