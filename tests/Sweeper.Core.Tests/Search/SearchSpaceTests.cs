using Sweeper.Core.Search;

namespace Sweeper.Core.Tests.Search;

public class SearchSpaceTests
{
    public static TheoryData<ParameterDefinition[], string, string> InvalidSpaces => new()
    {
        {
            [new("a", ParameterDomain.Values(1, 2)), new("a", ParameterDomain.Values(3))],
            "a", "defined twice"
        },
        {
            [new("a b", ParameterDomain.Values(1))],
            "a b", "dotted name"
        },
        {
            [new("b", ParameterDomain.Values(1), ParameterCondition.On("a", 1)), new("a", ParameterDomain.Values(1, 2))],
            "b", "defined after 'b'"
        },
        {
            [new("b", ParameterDomain.Values(1), ParameterCondition.On("nope", 1))],
            "b", "not a swept parameter"
        },
        {
            [new("a", ParameterDomain.Uniform(0, 1)), new("b", ParameterDomain.Values(1), ParameterCondition.On("a", 0.5))],
            "b", "is continuous"
        },
        {
            [new("a", ParameterDomain.Values("sgd", "adam")), new("b", ParameterDomain.Values(1), ParameterCondition.On("a", "adamw"))],
            "b", "lists adamw, which values([sgd, adam]) never takes"
        },
        {
            [new("a", ParameterDomain.Values(1)), new("b", ParameterDomain.Values(1), ParameterCondition.On("a"))],
            "b", "lists no values"
        },
        {
            [new("a", ParameterDomain.Values(1), ParameterCondition.On("a", 1))],
            "a", "refers to the parameter itself"
        },
    };

    [Theory]
    [MemberData(nameof(InvalidSpaces))]
    public void Constructor_InvalidSpace_ThrowsNamingKeyAndProblem(ParameterDefinition[] parameters, string key, string message)
    {
        var ex = Assert.Throws<SearchSpaceException>(() => new SearchSpace(parameters));
        Assert.Contains(ex.Errors, e => e.Key == key && e.Message.Contains(message, StringComparison.Ordinal));
        Assert.Equal(ex.Errors, SearchSpace.Validate(parameters));
    }

    [Theory]
    [InlineData("sgd", 3, true)]
    [InlineData("adam", 3, false)]
    [InlineData("sgd", 4, false)]
    [InlineData("adam", 4, true)]
    public void IsActive_ConditionClauses_AllMustHold(string optimizer, long bits, bool expected)
    {
        var when = new ParameterCondition([new ConditionClause("opt", ["sgd"]), new ConditionClause("bits", [3L, 8L])]);
        var whenEither = new ParameterCondition([new ConditionClause("opt", ["adam"]), new ConditionClause("bits", [4])]);
        var assigned = new List<KeyValuePair<string, object>> { new("opt", optimizer), new("bits", bits) };
        bool actual = SearchSpace.IsActive(new ParameterDefinition("x", ParameterDomain.Values(1), when), assigned)
            || SearchSpace.IsActive(new ParameterDefinition("x", ParameterDomain.Values(1), whenEither), assigned);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void IsActive_ReferencedParameterAbsent_IsInactive()
    {
        var p = new ParameterDefinition("x", ParameterDomain.Values(1), ParameterCondition.On("opt", "sgd"));
        Assert.False(SearchSpace.IsActive(p, []));
        Assert.True(SearchSpace.IsActive(p, [new("opt", "sgd")]));
    }

    [Theory]
    [InlineData(1L, 1.0, true)]
    [InlineData(1L, 1.5, false)]
    [InlineData("1", 1L, false)]
    [InlineData(true, true, true)]
    [InlineData("adam", "Adam", false)]
    public void AreEqual_MixedTypes_ComparesNumbersByValueAndStringsOrdinally(object a, object b, bool expected) =>
        Assert.Equal(expected, ParameterValues.AreEqual(a, b));
}
