namespace Sweeper.Core.Model;

/// <summary>A weight quantizer a trainable can apply (<c>trainable.quantizer.method</c>).</summary>
public enum QuantizerMethod { None, LegacyAutoPo2, MsqePo2, LearnablePo2, Lsq }

/// <summary>How <c>learnable_po2</c> turns its continuous log2 scale into an exponent (<c>trainable.quantizer.rounding</c>).</summary>
public enum Rounding { Ceil, Rint, MsqeRound }

/// <summary>
/// The spec's words for quantizer methods and roundings. Sweeper.Quantization (a leaf that knows nothing of Core) names the
/// same methods in its own API; Sweeper.Training maps one onto the other and a test there keeps the two lists equal.
/// </summary>
public static class QuantizerNames
{
    public static IReadOnlyList<QuantizerMethod> AllMethods { get; } =
        [QuantizerMethod.None, QuantizerMethod.LegacyAutoPo2, QuantizerMethod.MsqePo2, QuantizerMethod.LearnablePo2, QuantizerMethod.Lsq];

    public static IReadOnlyList<Rounding> AllRoundings { get; } = [Rounding.Ceil, Rounding.Rint, Rounding.MsqeRound];

    public static string Word(this QuantizerMethod method) => method switch
    {
        QuantizerMethod.None => "none",
        QuantizerMethod.LegacyAutoPo2 => "legacy_auto_po2",
        QuantizerMethod.MsqePo2 => "msqe_po2",
        QuantizerMethod.LearnablePo2 => "learnable_po2",
        QuantizerMethod.Lsq => "lsq",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
    };

    public static string Word(this Rounding rounding) => rounding switch
    {
        Rounding.Ceil => "ceil",
        Rounding.Rint => "rint",
        Rounding.MsqeRound => "msqe_round",
        _ => throw new ArgumentOutOfRangeException(nameof(rounding), rounding, null),
    };

    /// <summary>Method words in documentation order.</summary>
    public static IReadOnlyList<string> Methods { get; } = AllMethods.Select(m => m.Word()).ToArray();

    /// <summary>Rounding words in documentation order.</summary>
    public static IReadOnlyList<string> Roundings { get; } = AllRoundings.Select(r => r.Word()).ToArray();

    public static bool TryParseMethod(string? word, out QuantizerMethod method)
    {
        foreach (var m in AllMethods)
            if (m.Word() == word) { method = m; return true; }
        method = QuantizerMethod.None;
        return false;
    }

    public static bool TryParseRounding(string? word, out Rounding rounding)
    {
        foreach (var r in AllRoundings)
            if (r.Word() == word) { rounding = r; return true; }
        rounding = Rounding.Ceil;
        return false;
    }

    public static QuantizerMethod ParseMethod(string word) =>
        TryParseMethod(word, out var m) ? m : throw new ArgumentException($"Unknown quantizer method '{word}'. Valid names: {string.Join(", ", Methods)}.");

    public static Rounding ParseRounding(string word) =>
        TryParseRounding(word, out var r) ? r : throw new ArgumentException($"Unknown rounding '{word}'. Valid names: {string.Join(", ", Roundings)}.");
}
