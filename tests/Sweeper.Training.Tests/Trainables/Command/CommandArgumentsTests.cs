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
        // As the search hands it over: the swept values are in the parameters and applied to the settings.
        var config = kit.Config(["prog", argument], epochs: 4, lr: 0.1,
            parameters: [new("trainable.optimizer.lr", 0.1), new("trainable.args.depth", 2L)],
            args: new TrainableArgs([new("depth", 2L), new("model.name", "mlp")]));

        Assert.Equal(["prog", expected], CommandArguments.For(config));
    }

    [Fact]
    public void For_SettingChangedByARestart_WinsOverTheSweptParameter()
    {
        using var kit = new CommandTestKit();
        var config = kit.Config(["prog", "${trainable.optimizer.lr}", "${trainable.args.depth}"], lr: 0.1,
            parameters: [new("trainable.optimizer.lr", 1.0), new("trainable.args.depth", 8L)], args: new TrainableArgs([new("depth", 3L)]));

        Assert.Equal(["prog", "0.1", "3"], CommandArguments.For(config));
        Assert.Equal([new("trainable.optimizer.lr", 0.1), new("trainable.args.depth", 3L)], CommandArguments.CurrentParameters(config));
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
    public void For_MalformedPlaceholder_Throws(string argument)
    {
        using var kit = new CommandTestKit();

        Assert.Throws<ArgumentException>(() => CommandArguments.For(kit.Config(["prog", argument])));
    }

    [Theory]
    [InlineData("depth", "SWEEPER_ARG_DEPTH")]
    [InlineData("model.width-mult", "SWEEPER_ARG_MODEL_WIDTH_MULT")]
    public void ArgVariable_UpperCasesAndUnderscores(string key, string variable) =>
        Assert.Equal(variable, CommandEnvironment.ArgVariable(key));
}
