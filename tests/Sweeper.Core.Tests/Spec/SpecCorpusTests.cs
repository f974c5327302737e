using Sweeper.Core.Spec;

namespace Sweeper.Core.Tests.Spec;

/// <summary>
/// Every malformed spec under Corpus/ gives exactly the errors listed for it in Corpus/expected.txt
/// (<c>file.yaml:line:col: key.path: message</c>, one line each).
/// </summary>
public sealed class SpecCorpusTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Spec", "Corpus");

    public static TheoryData<string> Files() => new(Directory.GetFiles(Folder, "*.yaml").Select(Path.GetFileName).Order()!);

    private static ILookup<string, string> Expected() => File.ReadAllLines(Path.Combine(Folder, "expected.txt"))
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .ToLookup(l => l[..l.IndexOf(':')]);

    [Theory]
    [MemberData(nameof(Files))]
    public void LoadFile_MalformedSpec_ExactlyTheExpectedErrors(string name)
    {
        var expected = Expected()[name].ToList();
        Assert.NotEmpty(expected);
        var ex = Assert.Throws<SpecException>(() => SpecLoader.LoadText(File.ReadAllText(Path.Combine(Folder, name)), name, Folder));
        Assert.Equal(expected, ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Expected_NamesOnlyExistingFiles()
    {
        var files = Directory.GetFiles(Folder, "*.yaml").Select(Path.GetFileName).ToHashSet();
        Assert.All(Expected().Select(g => g.Key), f => Assert.Contains(f, files));
    }
}
