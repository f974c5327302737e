using Sweeper.Core.Spec;
using Sweeper.Tests.Shared;

namespace Sweeper.Core.Tests.Spec;

/// <summary>
/// docs/spec.md's key tables are generated from <see cref="SpecSchema"/> (<see cref="SpecReference"/>): the text between
/// <c>&lt;!-- generated: NAME --&gt;</c> and <c>&lt;!-- end generated --&gt;</c> must be what the schema renders now.
/// After changing a key, a description or a default in SpecSchema, regenerate the tables with
/// <code>SWEEPER_UPDATE_DOCS=1 dotnet test tests/Sweeper.Core.Tests -c Release --filter "FullyQualifiedName~SpecReferenceTests"</code>
/// (it rewrites docs/spec.md's generated blocks and passes), then review and commit the document.
/// </summary>
public sealed class SpecReferenceTests
{
    private const string UpdateVariable = "SWEEPER_UPDATE_DOCS";
    private const string HowToRegenerate =
        $"{UpdateVariable}=1 dotnet test tests/Sweeper.Core.Tests -c Release --filter \"FullyQualifiedName~SpecReferenceTests\"";

    /// <summary>docs/spec.md of the repository the test runs from.</summary>
    private static string DocPath() => Repository.Path("docs", "spec.md");

    [Fact]
    public void SpecMd_GeneratedTables_AreWhatTheSchemaRenders()
    {
        var path = DocPath();
        var text = File.ReadAllText(path).ReplaceLineEndings("\n");
        var regenerated = SpecReference.Regenerate(text);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            if (regenerated != text) File.WriteAllText(path, regenerated);
            return;
        }
        if (regenerated == text) return;
        var ours = text.Split('\n');
        var theirs = regenerated.Split('\n');
        int line = Enumerable.Range(0, Math.Min(ours.Length, theirs.Length)).FirstOrDefault(i => ours[i] != theirs[i], Math.Min(ours.Length, theirs.Length));
        Assert.Fail($"""
            docs/spec.md's generated tables differ from what SpecSchema renders now (first difference at line {line + 1}):
              docs/spec.md: {(line < ours.Length ? ours[line] : "(end of file)")}
              schema:       {(line < theirs.Length ? theirs[line] : "(end of file)")}
            Edit the descriptions in src/Sweeper.Core/Spec/SpecSchema.cs (not the tables), then regenerate them with
              {HowToRegenerate}
            """);
    }

    [Fact]
    public void SpecMd_HasEveryTable_OnceEach()
    {
        var names = SpecReference.BlocksIn(File.ReadAllText(DocPath()));
        Assert.Equal(SpecReference.Blocks.Order(), names.Order());
    }

    [Fact]
    public void Blocks_DocumentEverySetting_Once()
    {
        var documented = SpecReference.Blocks.SelectMany(SpecReference.SettingsIn).Select(s => s.Path).ToList();
        Assert.Equal(documented.Distinct().Count(), documented.Count);
        Assert.Equal(SpecSchema.Settings.Select(s => s.Path).Order(), documented.Order());
    }

    [Fact]
    public void Settings_EachHasADescriptionAndADefault()
    {
        Assert.All(SpecSchema.Settings, s =>
        {
            Assert.False(string.IsNullOrWhiteSpace(s.Description), s.Path);
            Assert.True(s.Required || !string.IsNullOrWhiteSpace(s.Default), $"{s.Path}: neither required nor a default");
        });
    }

    [Fact]
    public void Markdown_Stability_OneRowPerRuleKeyForEveryVerdict()
    {
        var table = SpecReference.Markdown(SpecSchema.StabilityKey);
        Assert.Contains("| `<verdict>.action` | `restart` \\| `stop` \\| `continue` | required |", table);
        Assert.Contains("| `<verdict>.changes` (or `change`) |", table);
        Assert.Contains("| `<verdict>.backoff` | duration 0..24h or mapping |", table);
        Assert.Contains("| `monitor.flip_window` | integer 2..100000 | 100 |", table);
        Assert.DoesNotContain("diverged.action", table);
    }

    [Fact]
    public void Regenerate_UnknownBlock_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => SpecReference.Regenerate("<!-- generated: nonsense -->\n<!-- end generated -->\n"));
        Assert.Contains("unknown reference table 'nonsense'", ex.Message);
    }
}
