using System.Text;
using Sweeper.Core.Spec;

namespace Sweeper.Core.Tests.Spec;

/// <summary>The spec loader's limits: 1 MiB of text and 64 levels of nested lists and mappings, aliases included.</summary>
public sealed class SpecLimitsTests
{
    private static SpecException Fails(string text) =>
        Assert.Throws<SpecException>(() => SpecLoader.LoadText(text, "s.yaml", ".", new SpecLoader.Options { CheckPaths = false }));

    private static string Nested(int depth) =>
        new StringBuilder().Append('[', depth).Append('1').Append(']', depth).ToString();

    [Fact]
    public void LoadText_Nested100000Deep_OneErrorAtTheFirstLevelTooDeep()
    {
        var error = Assert.Single(Fails("name: deep\nobjective: " + Nested(100_000) + "\n").Errors);

        Assert.Equal(new SourceLocation(2, 11 + SpecLoader.MaxDepth), error.Location);
        Assert.Contains($"nested more than {SpecLoader.MaxDepth} levels deep", error.Message);
    }

    [Fact]
    public void LoadText_NestedExactlyAtTheLimit_NoDepthError()
    {
        // 63 lists under the top-level mapping: 64 levels, allowed (the spec is wrong for other reasons).
        var errors = Fails("name: deep\nobjective: " + Nested(SpecLoader.MaxDepth - 1) + "\n").Errors;

        Assert.DoesNotContain(errors, e => e.Message.Contains("levels deep"));
    }

    [Fact]
    public void LoadText_AliasesStackedPastTheLimit_DepthError()
    {
        // Each anchor holds the previous one a level deeper: the text is shallow, the tree is not.
        var text = new StringBuilder("name: deep\nx0: &a0 [1]\n");
        for (var i = 1; i <= 70; i++) text.Append($"x{i}: &a{i} [*a{i - 1}]\n");

        var error = Assert.Single(Fails(text.ToString()).Errors);

        Assert.Contains("levels deep", error.Message);
    }

    [Fact]
    public void LoadText_Over1MiB_OneErrorSayingTheLimit()
    {
        var text = "name: big\n# " + new string('x', SpecLoader.MaxBytes) + "\n";

        var error = Assert.Single(Fails(text).Errors);

        Assert.Equal(new SourceLocation(1, 1), error.Location);
        Assert.Contains("a spec may be at most 1 MiB (1,048,576 bytes)", error.Message);
    }

    [Fact]
    public void LoadFile_Over1MiB_RefusedBeforeReading()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var f = File.OpenWrite(path)) f.SetLength(SpecLoader.MaxBytes + 1L);

            var error = Assert.Single(Assert.Throws<SpecException>(() => SpecLoader.LoadFile(path)).Errors);

            Assert.Contains("the file is 1,048,577 bytes", error.Message);
        }
        finally { File.Delete(path); }
    }
}
