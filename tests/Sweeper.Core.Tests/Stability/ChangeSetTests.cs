using Sweeper.Core.Stability;

namespace Sweeper.Core.Tests.Stability;

public class ChangeSetTests
{
    // ---- parsing ----

    public static TheoryData<object, ChangeOperation, object, string, string?> Parsed => new()
    {
        { "*0.5", ChangeOperation.Multiply, 0.5, "*0.5", null },
        { " *2 ", ChangeOperation.Multiply, 2.0, "*2", null },
        { "*1e-1", ChangeOperation.Multiply, 0.1, "*1e-1", null },
        { "+1", ChangeOperation.Add, 1.0, "+1", null },
        { "-1", ChangeOperation.Add, -1.0, "-1", null },
        { "+0.5", ChangeOperation.Add, 0.5, "+0.5", null },
        { "-1e-3", ChangeOperation.Add, -0.001, "-1e-3", null },
        { "=0.01", ChangeOperation.Set, 0.01, "=0.01", "0.01" },
        { "=-1", ChangeOperation.Set, -1L, "=-1", "-1" },
        { "= -2.5", ChangeOperation.Set, -2.5, "= -2.5", "-2.5" },
        { "=true", ChangeOperation.Set, true, "=true", "true" },
        { "=adam", ChangeOperation.Set, "adam", "=adam", "adam" },
        { "adam", ChangeOperation.Set, "adam", "adam", "adam" },
        { "0.5", ChangeOperation.Set, 0.5, "0.5", "0.5" },        // quoted "0.5": read as YAML reads a plain scalar
        { "false", ChangeOperation.Set, false, "false", "false" },
        { true, ChangeOperation.Set, true, "true", null },        // YAML values: set
        { 3L, ChangeOperation.Set, 3L, "3", null },
        { 3, ChangeOperation.Set, 3L, "3", null },
        { -1L, ChangeOperation.Set, -1L, "-1", null },            // an unquoted -1 reaches us as a number: set
        { 0.5, ChangeOperation.Set, 0.5, "0.5", null },
        { 1.5f, ChangeOperation.Set, 1.5, "1.5", null },
    };

    [Theory]
    [MemberData(nameof(Parsed))]
    public void TryParse_ValidValue_OperationOperandAndText(object value, ChangeOperation operation, object operand, string text, string? setText)
    {
        Assert.True(ParameterChange.TryParse("trainable.optimizer.lr", value, out var change, out var error), error);
        Assert.Equal(new ParameterChange("trainable.optimizer.lr", operation, operand, text, setText), change);
    }

    public static TheoryData<string, object?, string> ParseErrors => new()
    {
        { "lr", null, "lr: expected a change: '*0.5' (multiply), '+1' or '-1' (add), '=value' or a plain value (set); found nothing (null)" },
        { "lr", "", "lr: expected a change: '*0.5' (multiply), '+1' or '-1' (add), '=value' or a plain value (set); found an empty string" },
        { "lr", "  ", "lr: expected a change: '*0.5' (multiply), '+1' or '-1' (add), '=value' or a plain value (set); found an empty string" },
        { "lr", "*", "lr: '*': expected a finite unsigned number after '*', as in '*0.5'" },
        { "lr", "*abc", "lr: '*abc': expected a finite unsigned number after '*', as in '*0.5'" },
        { "lr", "*-1", "lr: '*-1': expected a finite unsigned number after '*', as in '*0.5'" },
        { "lr", "*Infinity", "lr: '*Infinity': expected a finite unsigned number after '*', as in '*0.5'" },
        { "lr", "*NaN", "lr: '*NaN': expected a finite unsigned number after '*', as in '*0.5'" },
        { "lr", "*0,5", "lr: '*0,5': expected a finite unsigned number after '*', as in '*0.5'" },
        { "lr", "+", "lr: '+': expected a finite unsigned number after '+', as in '+1'; to set a text that starts with '+', write '=+'" },
        { "bits", "+-1", "bits: '+-1': expected a finite unsigned number after '+', as in '+1'; to set a text that starts with '+', write '=+-1'" },
        { "name", "-adam", "name: '-adam': expected a finite unsigned number after '-', as in '-1'; to set a text that starts with '-', write '=-adam'" },
        { "lr", "=", "lr: '=' needs a value after it, as in '=0.01', '=true' or '=adam'" },
        { "lr", "= ", "lr: '=' needs a value after it, as in '=0.01', '=true' or '=adam'" },
        { "lr", double.NaN, "lr: expected a finite number; found NaN" },
        { "lr", double.PositiveInfinity, "lr: expected a finite number; found Infinity" },
        { "lr", new[] { 1, 2 }, "lr: expected a change: '*0.5' (multiply), '+1' or '-1' (add), '=value' or a plain value (set); found a list or mapping" },
        { "", "*0.5", "a change needs a key, such as trainable.optimizer.lr" },
        { "a..b", "*0.5", "'a..b' is not a dotted key such as trainable.optimizer.lr" },
        { ".a", "*0.5", "'.a' is not a dotted key such as trainable.optimizer.lr" },
        { "a b", "*0.5", "'a b' is not a dotted key such as trainable.optimizer.lr" },
    };

    [Theory]
    [MemberData(nameof(ParseErrors))]
    public void TryParse_BadChange_ValidatorMessage(string key, object? value, string message)
    {
        Assert.False(ParameterChange.TryParse(key, value, out var change, out var error));
        Assert.Null(change);
        Assert.Equal(message, error);
        Assert.Equal(message, Assert.Throws<FormatException>(() => ParameterChange.Parse(key, value)).Message);
    }

    [Theory]
    [InlineData("+1", ChangeOperation.Add)]      // the scalar's text keeps the sign that a number loses
    [InlineData("-1", ChangeOperation.Add)]
    [InlineData("1", ChangeOperation.Set)]
    public void TryParseText_SignedText_Adds(string text, ChangeOperation operation)
    {
        Assert.True(ParameterChange.TryParseText("trainable.quantizer.bits", text, out var change, out _));
        Assert.Equal(operation, change.Operation);
    }

    // ---- applying, cumulatively ----

    public static TheoryData<object?, object, int, object> Applied => new()
    {
        { 0.1, "*0.5", 1, 0.1 },           // attempt 1 is the original run
        { 0.1, "*0.5", 2, 0.05 },
        { 0.1, "*0.5", 3, 0.025 },
        { 0.1, "*0.5", 4, 0.0125 },
        { 64L, "*0.5", 3, 16L },
        { 64, "*0.5", 2, 32L },            // int normalised to long
        { 3L, "+1", 3, 5L },
        { 3L, "-1", 2, 2L },
        { 3L, "+1.0", 2, 4L },             // a whole number written with a point
        { 0.5, "+0.25", 2, 0.75 },
        { 0.5, "-0.25", 3, 0.0 },
        { 1.5, "*2", 2, 3.0 },
        { "sgd", "adam", 2, "adam" },
        { "sgd", "=0.5", 3, "0.5" },       // text set on a string value: the text
        { false, true, 2, true },
        { false, "=true", 3, true },
        { true, "false", 2, false },
        { 0.1, 0.01, 2, 0.01 },
        { 0.1, 1L, 2, 1.0 },               // an integer set on a floating value
        { 0.1, "=1", 2, 1.0 },
        { 32L, "=16", 2, 16L },
        { 32L, 16.0, 2, 16L },             // a whole number set on an integer value
        { null, "=5", 2, 5L },             // an unset nullable key takes the set value
        { null, 3L, 2, 3L },
    };

    [Theory]
    [MemberData(nameof(Applied))]
    public void Apply_Attempt_CumulativeValue(object? original, object change, int attempt, object expected)
    {
        var set = ChangeSet.Parse(("k", change));
        var values = set.Apply(Originals(("k", original)), attempt);
        var (key, value) = Assert.Single(values);
        Assert.Equal("k", key);
        Assert.Equal(expected, value);
        Assert.Equal(expected.GetType(), value!.GetType());
    }

    public static TheoryData<object?, object, int, string> ApplyErrors => new()
    {
        { "sgd", "*0.5", 2, "k: '*0.5' multiplies a number, but the value is the string 'sgd'" },
        { true, "+1", 2, "k: '+1' adds to a number, but the value is the boolean true" },
        { null, "*0.5", 2, "k: '*0.5' multiplies a number, but the value is null" },
        { 100L, "*0.5", 4, "k: '*0.5' at restart 3 turns the integer 25 into 12.5, which is not an integer" },
        { 3L, "*0.5", 2, "k: '*0.5' at the first restart turns the integer 3 into 1.5, which is not an integer" },
        { 3L, "+0.5", 2, "k: '+0.5' adds 0.5 to the integer 3; an integer needs a whole number, as in '+1'" },
        { 1e308, "*10", 2, "k: '*10' at the first restart turns 1E+308 into Infinity, which is not a finite number" },
        { 64L, "=0.5", 2, "k: '=0.5' sets the number 0.5, which does not fit: the value is the integer 64" },
        { 0.1, "=adam", 2, "k: '=adam' sets the string 'adam', which does not fit: the value is the number 0.1" },
        { 0.1, true, 2, "k: 'true' sets the boolean true, which does not fit: the value is the number 0.1" },
        { "sgd", 3L, 2, "k: '3' sets the integer 3, which does not fit: the value is the string 'sgd'" },
        { true, "=1", 2, "k: '=1' sets the integer 1, which does not fit: the value is the boolean true" },
        { false, "yes", 2, "k: 'yes' sets the string 'yes', which does not fit: the value is the boolean false" },
    };

    [Theory]
    [MemberData(nameof(ApplyErrors))]
    public void Apply_ChangeDoesNotFit_ClearError(object? original, object change, int attempt, string message)
    {
        var set = ChangeSet.Parse(("k", change));
        Assert.False(set.TryApply(Originals(("k", original)), attempt, out var values, out var error));
        Assert.Null(values);
        Assert.Equal(message, error);
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => set.Apply(Originals(("k", original)), attempt)).Message);
    }

    [Theory]
    [InlineData(1)]   // even the original run needs the key to exist
    [InlineData(2)]
    public void Apply_UnknownKey_Error(int attempt)
    {
        var set = ChangeSet.Parse(("trainable.optimizer.lrr", "*0.5"));
        Assert.False(set.TryApply(Originals(("trainable.optimizer.lr", 0.1)), attempt, out _, out var error));
        Assert.Equal("trainable.optimizer.lrr: no such parameter or setting to change", error);
    }

    [Fact]
    public void Apply_AttemptZero_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ChangeSet.Parse(("k", "*0.5")).Apply(Originals(("k", 1.0)), 0));

    [Theory]
    // the whole set applies once per restart, in order: bits 4 → (3, 6) → (5, 10)
    [InlineData(1, 4L)]
    [InlineData(2, 6L)]
    [InlineData(3, 10L)]
    public void Apply_SeveralChangesOfOneKey_InOrderEachRestart(int attempt, long expected)
    {
        var set = ChangeSet.Parse(("bits", "-1"), ("bits", "*2"));
        Assert.Equal(new[] { new KeyValuePair<string, object?>("bits", expected) }, set.Apply(Originals(("bits", 4L)), attempt));
    }

    [Fact]
    public void Apply_TrialParameterList_ChangedKeysInOrderOthersUntouched()
    {
        IReadOnlyList<KeyValuePair<string, object>> parameters =
        [
            new("trainable.quantizer.bits", 4L),
            new("trainable.optimizer.lr", 0.1),
            new("trainable.quantizer.stable_scale", false),
        ];
        var set = ChangeSet.Parse(("trainable.optimizer.lr", "*0.5"), ("trainable.quantizer.stable_scale", true));
        Assert.Equal(
            new[] { new KeyValuePair<string, object?>("trainable.optimizer.lr", 0.025), new KeyValuePair<string, object?>("trainable.quantizer.stable_scale", true) },
            set.Apply(parameters, 3));
        Assert.Equal(["trainable.optimizer.lr", "trainable.quantizer.stable_scale"], set.Keys);
    }

    [Theory]
    [InlineData(2, null)]
    [InlineData(3, "k: '*0.5' at restart 3 turns the integer 25 into 12.5, which is not an integer")]
    public void Check_MaxRestarts_FindsTheFirstRestartThatDoesNotFit(int maxRestarts, string? expected) =>
        Assert.Equal(expected, ChangeSet.Parse(("k", "*0.5")).Check(Originals(("k", 100L)), maxRestarts));

    [Fact]
    public void Parse_ListOfEntries_ErrorsIndexedWithTheirKey()
    {
        var set = ChangeSet.Parse(
            [new("a", "*0.5"), new("b", "*x"), new("c", true), new("d..e", 1L)],
            out var errors);
        Assert.Equal(2, set.Count);
        Assert.Equal(
            [
                new StabilityConfigError("changes[1]", "b: '*x': expected a finite unsigned number after '*', as in '*0.5'"),
                new StabilityConfigError("changes[3]", "'d..e' is not a dotted key such as trainable.optimizer.lr"),
            ],
            errors);
    }

    [Fact]
    public void ToString_ListsChanges() =>
        Assert.Equal("lr: *0.5, stable: true", ChangeSet.Parse(("lr", "*0.5"), ("stable", true)).ToString());

    private static ParameterLookup Originals(params (string Key, object? Value)[] values) =>
        (string key, out object? value) =>
        {
            foreach (var (k, v) in values)
                if (k == key) { value = v; return true; }
            value = null;
            return false;
        };
}
