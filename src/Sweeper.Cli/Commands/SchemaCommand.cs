using System.ComponentModel;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Commands;

public sealed class SchemaSettings : CommandSettings
{
    [CommandOption("-o|--output <FILE>")]
    [Description("Write the schema to FILE (replaced whole) instead of standard output.")]
    public string? Output { get; init; }
}

/// <summary>
/// <c>sweeper schema</c>: the JSON Schema (draft 2020-12) of a sweep spec, generated from the loader's key tables
/// (<see cref="SpecJsonSchema"/>), for editors: <c># yaml-language-server: $schema=sweep.schema.json</c>.
/// </summary>
public sealed class SchemaCommand : Command<SchemaSettings>
{
    public override int Execute(CommandContext context, SchemaSettings settings, CancellationToken cancellationToken)
    {
        var text = SpecJsonSchema.Text();
        if (settings.Output is null)
        {
            Console.Out.Write(text);
            return Errors.Ok;
        }
        try
        {
            AtomicFile.WriteText(settings.Output, text);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Errors.Report($"cannot write {settings.Output}: {ex.Message}", Errors.Failed);
        }
        Console.Error.WriteLine($"wrote {settings.Output}");
        return Errors.Ok;
    }
}
