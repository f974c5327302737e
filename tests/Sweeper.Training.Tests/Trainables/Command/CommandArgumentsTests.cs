using Sweeper.Core.Spec;
using Sweeper.Training.Trainables.Command;

namespace Sweeper.Training.Tests.Trainables.Command;

public class CommandArgumentsTests
{
    [Theory]
    [InlineData("--lr=${trainable.optimizer.lr}", "--lr=0.1")]
    [InlineData("${trainable.args.depth}", "2")]
    [InlineData("${trainable.args.model.name}", "mlp")]
    [InlineData("${trainable.epochs}", "4")]
    [InlineData("${trial.id}-${trial.seed}-${trial.epochs}", "t0007-1234-4")]
    [InlineData("$${trial.id}", "${trial.id}")]
    [InlineData("cost$5", "cost$5")]
    [InlineData("${ trial.id }", "t0007")]
    public void For_Placeholders_AreReplaced(string argument, string expected)
    {
        using var kit = new CommandTestKit();
        var config = kit.Config(["prog", argument], epochs: 4, parameters: [new("trainable.optimizer.lr", 0.1)],
            args: new TrainableArgs([new("depth", 3L), new("model.name", "mlp")]));
        config = config with { Parameters = [.. config.Parameters, new("trainable.args.depth", 2L)] };

        Assert.Equal(["prog", expected], CommandArguments.For(config));
    }

    [Theory]
    [InlineData("${trainable.args.width}", "trainable.args.width")]
    [InlineData("${trainable.optimiser.lr}", "trainable.optimiser.lr")]
    [InlineData("${trainable.dataset}", "trainable.dataset")]
    [InlineData("${seed}", "seed")]
    public void For_UnknownKey_ThrowsNamingIt(string argument, string key)
    {
        using var kit = new CommandTestKit();

        var error = Assert.Throws<ArgumentException>(() => CommandArguments.For(kit.Config(["prog", argument])));

        Assert.Contains($"'${{{key}}}'", error.Message);
    }

    [Theory]
    [InlineData("${trial.id")]
    [InlineData("a${}")]
    public void Expand_Malformed_Throws(string argument) =>
        Assert.Throws<ArgumentException>(() => CommandArguments.Expand(argument, k => k));

    [Fact]
    public void Keys_ListsEveryPlaceholderButEscapes() =>
        Assert.Equal(["trainable.optimizer.lr", "trial.id"], CommandArguments.Keys("${trainable.optimizer.lr}:$${x}:${trial.id}"));

    [Theory]
    [InlineData("depth", "SWEEPER_ARG_DEPTH")]
    [InlineData("model.width-mult", "SWEEPER_ARG_MODEL_WIDTH_MULT")]
    public void ArgVariable_UpperCasesAndUnderscores(string key, string variable) =>
        Assert.Equal(variable, CommandEnvironment.ArgVariable(key));
}
