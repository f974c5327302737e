using Sweeper.Core.Spec;

namespace Sweeper.Core.Tests.Spec;

/// <summary><c>${env:NAME}</c> and <c>${env:NAME:-default}</c> in a spec's values.</summary>
public sealed class SpecEnvironmentTests
{
    private static readonly Dictionary<string, string> Variables = new()
    {
        ["SWEEP_LR"] = "0.2",
        ["DATA_ROOT"] = "/data",
        ["EPOCHS"] = "3",
        ["EMPTY"] = "",
    };

    private static SweepSpec Load(string text) => SpecLoader.LoadText(text, "spec.yaml", "/specs",
        new SpecLoader.Options { CheckPaths = false, Environment = name => Variables.GetValueOrDefault(name) });

    private static string Spec(string trainable) => $"""
        name: env
        objective: {"{"}metric: test_accuracy{"}"}
        trainable:
          model: mobilenet_v1
          epochs: ${"{"}env:EPOCHS{"}"}
        {trainable}
        """;

    [Fact]
    public void Values_ReplacedBeforeTheyAreTyped_DefaultsWhenUnsetOrEmpty()
    {
        var spec = Load(Spec("""
              optimizer: {lr: "${env:SWEEP_LR}", momentum: "${env:NO_SUCH:-0.8}", weight_decay: "${env:EMPTY:-0.001}"}
              dataset: {path: "${env:DATA_ROOT}/fashion-${env:NO_SUCH:-mnist}"}
            """));
        Assert.Equal(3, spec.Trainable.Epochs); // an integer once replaced, even unquoted
        Assert.Equal(0.2, spec.Trainable.Optimizer.Lr);
        Assert.Equal(0.8, spec.Trainable.Optimizer.Momentum);
        Assert.Equal(0.001, spec.Trainable.Optimizer.WeightDecay);
        Assert.Equal("/data/fashion-mnist", spec.Trainable.Dataset.Path);
    }

    [Fact]
    public void Unset_WithoutDefault_LocatedErrorNamingTheVariable()
    {
        var ex = Assert.Throws<SpecException>(() => Load(Spec("  dataset: {path: \"${env:DATA_HOME}/x\"}")));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("trainable.dataset.path", error.KeyPath);
        Assert.Equal(new SourceLocation(6, 19), error.Location);
        Assert.Contains("environment variable DATA_HOME is not set", error.Message);
        Assert.Contains("${env:DATA_HOME:-value}", error.Message);
    }

    [Theory]
    [InlineData("${env:9LIVES}", "not an environment variable name")]
    [InlineData("${env:}", "not an environment variable name")]
    [InlineData("${env:OPEN", "without a closing")]
    public void Malformed_LocatedError(string value, string message)
    {
        var ex = Assert.Throws<SpecException>(() => Load(Spec($"  lr_schedule: \"{value}\"")));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("trainable.lr_schedule", error.KeyPath);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void ProgramArguments_EnvReplaced_TrainablePlaceholdersAndEscapesKept()
    {
        var spec = SpecLoader.LoadText("""
            name: env
            objective: {metric: val_accuracy}
            trainable:
              command: [python3, "${env:DATA_ROOT}/train.py", --lr, "${trainable.optimizer.lr}", "$${env:HOME}"]
              epochs: 1
            """, "spec.yaml", "/specs", new SpecLoader.Options { CheckPaths = false, Environment = name => Variables.GetValueOrDefault(name) });
        Assert.Equal(["python3", "/data/train.py", "--lr", "${trainable.optimizer.lr}", "$${env:HOME}"], spec.Trainable.Command!.Argv);
    }

    [Fact]
    public void Keys_NeverReplaced()
    {
        var ex = Assert.Throws<SpecException>(() => Load(Spec("  ${env:SWEEP_LR}: 1")));
        Assert.Contains("unknown key '${env:SWEEP_LR}'", Assert.Single(ex.Errors).Message);
    }
}
