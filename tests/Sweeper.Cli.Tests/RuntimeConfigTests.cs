using System.Text.Json;

namespace Sweeper.Cli.Tests;

/// <summary>The runtime settings the built program starts with (its runtimeconfig.json), which `sweeper bench orchestration` measured.</summary>
public sealed class RuntimeConfigTests
{
    [Fact]
    public void BuiltProgram_NoDynamicPgo_CallCountingFromTheStart()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "sweeper.runtimeconfig.json");
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var properties = json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
        Assert.Equal(0, properties.GetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs").GetInt32());
    }
}
