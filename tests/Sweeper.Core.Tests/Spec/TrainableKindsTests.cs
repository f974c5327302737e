using Sweeper.Core.Spec;

namespace Sweeper.Core.Tests.Spec;

/// <summary>The spec's ways into a trial: built-in models, plug-ins, programs, free-form args, and the data set formats.</summary>
public sealed class TrainableKindsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-kinds-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Spec(string trainable, string rest = "") => $"""
        name: kinds
        objective: {"{"}metric: test_accuracy{"}"}
        trainable:
        {Indent(trainable)}
          epochs: 2
        {rest}
        """;

    private static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => "  " + l));

    private SweepSpec Load(string text, SpecLoader.Options? options = null) =>
        SpecLoader.LoadText(text, "spec.yaml", _dir, options ?? new SpecLoader.Options { CheckPaths = false });

    private IReadOnlyList<SpecError> Errors(string text, SpecLoader.Options? options = null) =>
        Assert.Throws<SpecException>(() => Load(text, options)).Errors;

    [Fact]
    public void Model_ShorthandAndMapping_NameTheSameBuiltIn()
    {
        Assert.Equal("mobilenet_v2", Load(Spec("model: mobilenet_v2")).Trainable.Model);
        var spec = Load(Spec("model: {name: mobilenet_v2}"));
        Assert.Equal("mobilenet_v2", spec.Trainable.Model);
        Assert.Null(spec.Trainable.Plugin);
        Assert.Null(spec.Trainable.Command);
    }

    [Fact]
    public void Model_Plugin_AssemblyResolvedAgainstTheSpecsFolder_ModelIsTheTypeName()
    {
        var spec = Load(Spec("model: {assembly: plugins/My.dll, type: My.Models.TinyNet}"));
        Assert.Equal(new ModelPluginSpec(Path.Combine(_dir, "plugins", "My.dll"), "My.Models.TinyNet"), spec.Trainable.Plugin);
        Assert.Equal("My.Models.TinyNet", spec.Trainable.Model);
    }

    [Theory]
    [InlineData("model: {assembly: My.dll}", "missing 'type'")]
    [InlineData("model: {type: My.Net}", "missing 'assembly'")]
    [InlineData("model: {name: mobilenet_v1, assembly: My.dll, type: My.Net}", "not both")]
    [InlineData("model: {assembly: My.dll, type: My.Net, typo: 1}", "unknown key 'typo'")]
    [InlineData("model: resnet", "unknown value 'resnet'")]
    public void Model_Malformed_LocatedError(string model, string message)
    {
        var error = Assert.Single(Errors(Spec(model)));
        Assert.StartsWith("trainable.model", error.KeyPath);
        Assert.Contains(message, error.Message);
        Assert.Equal(4, error.Location.Line);
    }

    [Fact]
    public void Trainable_NeitherModelNorCommand_SaysWhatIsMissing()
    {
        var error = Assert.Single(Errors(Spec("width: 0.5")));
        Assert.Equal("trainable.model", error.KeyPath);
        Assert.Contains("'command'", error.Message);
    }

    [Fact]
    public void Trainable_ModelAndCommand_Refused()
    {
        var error = Assert.Single(Errors(Spec("model: mobilenet_v1\ncommand: [python3, train.py]")));
        Assert.Equal("trainable.command", error.KeyPath);
        Assert.Contains("not both", error.Message);
    }

    [Fact]
    public void Command_List_BindsArgvWorkdirAndGrace_NeedsNoDataset()
    {
        var spec = Load(Spec("command: [python3, train.py, --lr, \"${trainable.optimizer.lr}\", 3]\nworkdir: work\nkill_grace: 2s"));
        var command = spec.Trainable.Command!;
        Assert.Equal(["python3", "train.py", "--lr", "${trainable.optimizer.lr}", "3"], command.Argv);
        Assert.Equal(Path.Combine(_dir, "work"), command.WorkingDirectory);
        Assert.Equal(TimeSpan.FromSeconds(2), command.KillGrace);
        Assert.Equal(TrainableSpec.CommandModel, spec.Trainable.Model);
        // No data set check for a program, even with paths checked.
        Load(Spec("command: [python3, train.py]"), new SpecLoader.Options());
    }

    [Fact]
    public void Command_DefaultWorkdir_IsTheSpecsFolder()
    {
        var command = Load(Spec("command: [./run.sh]")).Trainable.Command!;
        Assert.Equal(Path.GetFullPath(_dir), command.WorkingDirectory);
        Assert.Equal(TimeSpan.FromSeconds(10), command.KillGrace);
    }

    [Theory]
    [InlineData("command: python3 train.py", "expected a list of strings")]
    [InlineData("command: []", "found an empty list")]
    [InlineData("command: [python3, [a]]", "expected a string")]
    [InlineData("command: [python3, \"${trainable.optimizer.lrr}\"]", "did you mean 'trainable.optimizer.lr'")]
    [InlineData("command: [python3, \"${trainable.args.depth}\"]", "has no value")]
    [InlineData("command: [python3, \"${trial.id\"]", "without a closing")]
    [InlineData("command: [python3, \"${}\"]", "an empty")]
    public void Command_Malformed_LocatedError(string command, string message)
    {
        var error = Assert.Single(Errors(Spec(command)));
        Assert.StartsWith("trainable.command", error.KeyPath);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Command_Placeholders_TrialKeysArgsAndSweptArgsAreKnown()
    {
        var spec = Load(Spec(
            "command: [run, \"${trial.id}\", \"${trial.seed}\", \"${trial.epochs}\", \"${trainable.args.depth}\", \"${trainable.args.lr}\", \"$${literal}\"]\nargs: {depth: 2}",
            "search: {algorithm: random, num_samples: 2}\nparameters:\n  trainable.args.lr: {log_uniform: [0.001, 0.1]}"));
        Assert.Equal(7, spec.Trainable.Command!.Argv.Count);
    }

    [Fact]
    public void ProgramKeys_WithoutCommand_Refused()
    {
        var error = Assert.Single(Errors(Spec("model: mobilenet_v1\nworkdir: x")));
        Assert.Equal("trainable.workdir", error.KeyPath);
        Assert.Contains("only to a program", error.Message);
    }

    [Fact]
    public void Args_NestedMappings_FlattenToDottedNames_InOrder_TypedAsYamlReadsThem()
    {
        var args = Load(Spec("model: mobilenet_v1\nargs: {depth: 3, rate: 0.5, name: \"7\", deep: true, block: {width: 16, act: relu}, gone: null}")).Trainable.Args;
        Assert.Equal(["depth", "rate", "name", "deep", "block.width", "block.act"], args.Entries.Select(e => e.Key));
        Assert.Equal(3L, args.Entries[0].Value);
        Assert.Equal(0.5, args.Entries[1].Value);
        Assert.Equal("7", args.Entries[2].Value);
        Assert.Equal(true, args.Entries[3].Value);
        Assert.Equal(16, args.GetInt32("block.width", 0));
        Assert.Equal("relu", args.GetString("block.act", ""));
        Assert.Equal(9, args.GetInt32("absent", 9));
        Assert.Contains("expected an integer", Assert.Throws<ArgumentException>(() => args.GetInt32("block.act", 0)).Message);
    }

    [Theory]
    [InlineData("args: [1, 2]", "trainable.args", "expected a mapping")]
    [InlineData("args: {list: [1, 2]}", "trainable.args.list", "expected a string, number, boolean")]
    [InlineData("args: {9lives: 1}", "trainable.args.9lives", "not a valid name")]
    [InlineData("args: {a.b: 1}", "trainable.args.a.b", "not a valid name")]
    public void Args_Malformed_LocatedError(string args, string keyPath, string message)
    {
        var error = Assert.Single(Errors(Spec("model: mobilenet_v1\n" + args)));
        Assert.Equal(keyPath, error.KeyPath);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Args_Swept_AppliedToTheTrialsArgs_WithTheDomainsType()
    {
        var spec = Load(Spec("model: mobilenet_v1\nargs: {depth: 2}",
            "search: {algorithm: random, num_samples: 2}\nparameters:\n  trainable.args.depth: {values: [1, 4]}\n  trainable.args.lr: {log_uniform: [0.001, 0.1]}\n  trainable.args.act: {values: [relu, gelu]}"));
        var applied = SpecLoader.Apply(spec, [new("trainable.args.depth", 4L), new("trainable.args.lr", 0.01), new("trainable.args.act", "gelu")]);
        Assert.Equal(4, applied.Trainable.Args.GetInt32("depth", 0));
        Assert.Equal(0.01, applied.Trainable.Args.GetDouble("lr", 0));
        Assert.Equal("gelu", applied.Trainable.Args.GetString("act", ""));
        Assert.Equal(2, spec.Trainable.Args.GetInt32("depth", 0)); // the spec itself is unchanged
    }

    [Fact]
    public void Args_StabilityChange_OnAnArg_CheckedAgainstItsValue()
    {
        const string stability = "stability:\n  diverged: {action: restart, changes: [trainable.args.lr: \"*0.5\"]}";
        Load(Spec("command: [run]\nargs: {lr: 0.1}", stability));
        var error = Assert.Single(Errors(Spec("command: [run]\nargs: {lr: fast}", stability)));
        Assert.StartsWith("stability.diverged.changes", error.KeyPath);
    }

    [Fact]
    public void Model_SweptByItsShorthandKey_AppliesTheName()
    {
        var spec = Load(Spec("model: mobilenet_v1", "parameters:\n  trainable.model: {values: [mobilenet_v1, mobilenet_v2]}"));
        Assert.Equal("trainable.model", spec.Parameters.Single().Key);
        Assert.Equal("mobilenet_v2", SpecLoader.Apply(spec, [new("trainable.model", "mobilenet_v2")]).Trainable.Model);
    }

    [Theory]
    [InlineData("dataset: {name: mnist}", "trainable.dataset.path", "missing required key 'path'")]
    [InlineData("dataset: {name: svhn, path: x}", "trainable.dataset.name", "set trainable.dataset.format")]
    [InlineData("dataset: {format: npy}", "trainable.dataset.path", "missing required key 'path'")]
    [InlineData("dataset: {format: csv, path: x}", "trainable.dataset.format", "unknown value 'csv'")]
    public void Dataset_UnknownOrPathless_LocatedError(string dataset, string keyPath, string message)
    {
        var error = Assert.Single(Errors(Spec("model: mobilenet_v1\n" + dataset)));
        Assert.Equal(keyPath, error.KeyPath);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Dataset_FormatAndPath_AnyName()
    {
        var d = Load(Spec("model: mobilenet_v1\ndataset: {name: my_parts, format: npy, path: data}")).Trainable.Dataset;
        Assert.Equal(DatasetFormats.Npy, DatasetFormats.Of(d));
        Assert.Equal(Path.Combine(_dir, "data"), d.Path);
        Assert.Equal(DatasetFormats.Cifar, DatasetFormats.Of(Load(Spec("model: mobilenet_v1\ndataset: {name: cifar100, path: c}")).Trainable.Dataset));
    }

    [Fact]
    public void Checks_ProblemsAreLocatedAtTheirKey_OnlyWhenPathsAreChecked()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "d"));
        var text = Spec("model: {assembly: My.dll, type: My.Net}\ndataset: {path: d}");
        var options = new SpecLoader.Options
        {
            Checks = [s => [new SpecLoader.SpecProblem("trainable.model.type", $"type '{s.Trainable.Plugin!.Type}' not found")]],
        };
        var error = Assert.Single(Errors(text, options));
        Assert.Equal("trainable.model.type", error.KeyPath);
        Assert.Equal("type 'My.Net' not found", error.Message);
        Assert.Equal(4, error.Location.Line);
        Load(text, options with { CheckPaths = false });
    }
}
