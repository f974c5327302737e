using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Models;
using Sweeper.Training.Plugins;
using Sweeper.Training.Quantized;
using Sweeper.Training.Tests.Plugins.Fixtures;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Plugins;

/// <summary>
/// <see cref="PluginLoader"/> with this test assembly's own file as the plug-in assembly (its types in
/// <see cref="Fixtures"/>), loaded into a load context of its own: every error and both plug-in kinds.
/// </summary>
public sealed class PluginLoaderTests
{
    private const string Ns = "Sweeper.Training.Tests.Plugins.Fixtures.";

    private static readonly string ThisAssembly = typeof(PluginLoaderTests).Assembly.Location;

    private static ModelPluginSpec Plugin(string type) => new(ThisAssembly, Ns + type);

    private static TrialConfig Config(ModelPluginSpec plugin, long seed = 42) => new()
    {
        Id = new TrialId(3),
        Seed = seed,
        Parameters = [],
        Trainable = new TrainableSpec { Model = plugin.Type, Plugin = plugin, Dataset = new DatasetSpec(), Epochs = 2 },
    };

    [Fact]
    public void Check_ModelPlugin_Null()
    {
        Assert.Null(PluginLoader.Check(Plugin(nameof(SmallModel))));
        Assert.Null(PluginLoader.Check(Plugin(nameof(CountingTrainable))));
        Assert.Null(PluginLoader.Check(Plugin(nameof(ContextTrainable))));
    }

    [Fact]
    public void Check_MissingFile_NamesKeyAndPath()
    {
        var message = PluginLoader.Check(new ModelPluginSpec("/x/My.dll", "My.Model"));

        Assert.Equal("trainable.model.assembly: file '/x/My.dll' does not exist", message);
    }

    [Fact]
    public void Check_NotAnAssembly_SaysSo()
    {
        using var dir = new TempDirectory();
        var path = dir.File("Notes.dll");
        File.WriteAllText(path, "not an assembly");

        var message = PluginLoader.Check(new ModelPluginSpec(path, "My.Model"));

        Assert.StartsWith($"trainable.model.assembly: '{path}' is not a .NET assembly", message);
    }

    [Fact]
    public void Check_TypoInTypeName_DidYouMean()
    {
        var message = PluginLoader.Check(Plugin("SmallModle"));

        Assert.Equal($"trainable.model.type: no type '{Ns}SmallModle' in '{ThisAssembly}'; did you mean '{Ns}SmallModel'?", message);
    }

    [Fact]
    public void Check_SimpleNameWithoutNamespace_DidYouMeanTheFullName()
    {
        var message = PluginLoader.Check(new ModelPluginSpec(ThisAssembly, "smallmodel"));

        Assert.EndsWith($"did you mean '{Ns}SmallModel'?", message);
    }

    [Fact]
    public void Check_UnknownType_ListsTypesThatWouldDo()
    {
        var message = PluginLoader.Check(new ModelPluginSpec(ThisAssembly, "Completely.Different"))!;

        Assert.StartsWith($"trainable.model.type: no type 'Completely.Different' in '{ThisAssembly}'; public types there that implement ISweeperModel or ITrainable: ", message);
        Assert.Contains(Ns + nameof(SmallModel), message);
        Assert.Contains(Ns + nameof(CountingTrainable), message);
        Assert.DoesNotContain(nameof(AbstractModel), message);
        Assert.DoesNotContain(nameof(NotAPlugin), message);
    }

    [Fact]
    public void Check_TypeWithNeitherInterface_NamesBoth()
    {
        var message = PluginLoader.Check(Plugin(nameof(NotAPlugin)));

        Assert.Equal($"trainable.model.type: '{Ns}NotAPlugin' implements neither Sweeper.Training.Plugins.ISweeperModel nor Sweeper.Core.Trials.ITrainable", message);
    }

    [Fact]
    public void Check_AbstractType_AsksForAConcreteClass()
    {
        Assert.Equal($"trainable.model.type: '{Ns}AbstractModel' is abstract; name a concrete class", PluginLoader.Check(Plugin(nameof(AbstractModel))));
    }

    [Fact]
    public void Check_ModelWithoutParameterlessConstructor_SaysWhichItNeeds()
    {
        Assert.Equal($"trainable.model.type: '{Ns}NeedsArgumentModel' has no public parameterless constructor (an ISweeperModel needs one)",
            PluginLoader.Check(Plugin(nameof(NeedsArgumentModel))));
    }

    [Fact]
    public void Check_TrainableWithoutSuitableConstructor_SaysWhichItNeeds()
    {
        Assert.Equal($"trainable.model.type: '{Ns}WrongConstructorTrainable' has no public constructor (TrialConfig config) or (TrialConfig config, TrialContext context)",
            PluginLoader.Check(Plugin(nameof(WrongConstructorTrainable))));
    }

    [Fact]
    public void Check_ConstructorThrows_GivesTheInnerMessage()
    {
        Assert.Equal($"trainable.model.type: the constructor of '{Ns}ThrowingModel' threw InvalidOperationException: no GPU here",
            PluginLoader.Check(Plugin(nameof(ThrowingModel))));
    }

    [Fact]
    public void CreateModel_OwnLoadContext_SharesTheHostsSweeperAndTorchSharpTypes()
    {
        var plugin = Plugin(nameof(SmallModel));

        var model = PluginLoader.CreateModel(plugin);

        Assert.Equal(PluginKind.Model, PluginLoader.KindOf(plugin));
        Assert.NotSame(typeof(SmallModel), model.GetType()); // this file, loaded again in the plug-in's own context
        Assert.NotSame(typeof(SmallModel).Assembly, model.GetType().Assembly);
        Assert.Same(model.GetType().Assembly, PluginLoader.CreateModel(plugin).GetType().Assembly); // one context per path
        using var generator = new Generator(5);
        using var module = model.Build(new ModelContext(1, 8, 3, new TrainableArgs([new("channels", 2L)]), generator));
        using var quantized = ModuleSurgery.Apply(module, new QuantizationPlan(new QuantizerSpec { Method = "msqe_po2", QuantizeFirstLast = true }));
        Assert.Equal(["conv", "fc"], quantized.Layers.Select(l => l.LayerName));
        Assert.Equal([2L, 1, 3, 3], quantized.Layers[0].WeightShape);
        using var scope = torch.NewDisposeScope();
        Assert.Equal([4L, 3], quantized.forward(torch.zeros(4, 1, 8, 8)).shape);
    }

    [Fact]
    public void CreateModel_TrainablePlugin_SaysItIsNotAModel()
    {
        var e = Assert.Throws<PluginLoadException>(() => PluginLoader.CreateModel(Plugin(nameof(CountingTrainable))));

        Assert.Contains("is an ITrainable (its own training loop), not an ISweeperModel", e.Message);
    }

    [Fact]
    public void PluginTrainableFactory_TrainablePlugin_ConstructsItWithTheConfigAndContext()
    {
        var factory = new PluginTrainableFactory();
        var context = new TrialContext("/tmp/t0003", 2);

        using var plain = factory.Create(Config(Plugin(nameof(CountingTrainable)), seed: 42), context);
        using var withContext = factory.Create(Config(Plugin(nameof(ContextTrainable))), context);

        Assert.Equal(Ns + nameof(CountingTrainable), plain.GetType().FullName);
        Assert.Equal(2, plain.TotalEpochs);
        Assert.Equal(0.42, plain.RunEpoch(1, CancellationToken.None).Get(MetricNames.TestAccuracy));
        Assert.Equal(context, ((dynamic)withContext).Context);
    }

    [Fact]
    public void PluginTrainableFactory_ContextOnlyTrainableWithoutContext_SaysItNeedsOne()
    {
        var e = Assert.Throws<PluginLoadException>(() => new PluginTrainableFactory().Create(Config(Plugin(nameof(ContextTrainable)))));

        Assert.Contains("needs a TrialContext", e.Message);
    }

    [Fact]
    public void ModelContext_ResetParameters_DependsOnTheGeneratorOnly()
    {
        static float[] Weights(ulong seed, ulong globalSeed)
        {
            torch.manual_seed((long)globalSeed); // TorchSharp's own initialization draws from the global generator
            using var generator = new Generator(seed);
            var context = new ModelContext(1, 8, 3, TrainableArgs.Empty, generator);
            using var module = new SmallModel().Build(context);
            return module.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();
        }

        Assert.Equal(Weights(1, 100), Weights(1, 200));
        Assert.NotEqual(Weights(1, 100), Weights(2, 100));
    }

    [Fact]
    public void ModelFactory_BuildThrows_NamesThePluginAndTheMessage()
    {
        var spec = Config(Plugin(nameof(BuildThrowsModel))).Trainable;
        using var init = new Generator(1);

        var e = Assert.Throws<InvalidOperationException>(() => ModelFactory.Create(spec, 1, 28, 10, init));

        Assert.StartsWith($"{Ns}BuildThrowsModel.Build threw ArgumentOutOfRangeException: trainable.args.depth must be ≥ 1.", e.Message);
    }

    [Fact]
    public void ModelFactory_Plugin_IsAQuantizedModelNamedAfterTheType()
    {
        var spec = Config(Plugin(nameof(SmallModel))).Trainable with { Quantizer = new QuantizerSpec { Method = "lsq" } };
        using var init = new Generator(1);

        using var model = ModelFactory.Create(spec, 3, 16, 10, init);

        var quantized = Assert.IsType<QuantizedModel>(model);
        Assert.Equal(Ns + nameof(SmallModel), quantized.GetName());
        Assert.Equal([4L, 3, 3, 3], quantized.Layers[0].WeightShape); // built for 3 input channels
        Assert.All(quantized.Layers, l => Assert.Null(l.Quantizer)); // the only conv is the stem, the only Linear the classifier
    }
}
