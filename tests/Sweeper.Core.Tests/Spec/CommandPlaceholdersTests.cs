using Sweeper.Core.Spec;

namespace Sweeper.Core.Tests.Spec;

public sealed class CommandPlaceholdersTests
{
    private static string? Values(string key) => key switch
    {
        "trainable.optimizer.lr" => "0.1",
        "trial.id" => "t0003",
        _ => null,
    };

    [Theory]
    [InlineData("--lr=${trainable.optimizer.lr}", "--lr=0.1")]
    [InlineData("${trial.id}-${trainable.optimizer.lr}", "t0003-0.1")]
    [InlineData("${ trial.id }", "t0003")]
    [InlineData("plain", "plain")]
    [InlineData("cost: $5", "cost: $5")]
    [InlineData("$${trial.id}", "${trial.id}")]
    [InlineData("$$", "$$")]
    public void Expand_ReplacesKeys_KeepsEscapes(string argument, string expected) =>
        Assert.Equal(expected, CommandPlaceholders.Expand(argument, Values));

    [Theory]
    [InlineData("${trial.seed}", "has no value")]
    [InlineData("${trial.id", "without a closing")]
    [InlineData("a${}", "an empty")]
    public void Expand_Unknown_OrMalformed_Throws(string argument, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => CommandPlaceholders.Expand(argument, Values)).Message);

    [Fact]
    public void Keys_ListsEveryKey_NotTheEscapedOnes()
    {
        Assert.Equal(["trial.id", "trainable.args.depth"], CommandPlaceholders.Keys("${trial.id}/$${x}/${trainable.args.depth}", out var error));
        Assert.Null(error);
    }
}
