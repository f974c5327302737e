using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Commands;

public sealed class ValidateSettings : CommandSettings
{
    [CommandArgument(0, "<spec>")]
    [Description("The sweep spec (YAML).")]
    public string Spec { get; init; } = "";
}

/// <summary><c>sweeper validate spec.yaml</c>: every problem at once, exit 0 or 2; writes nothing.</summary>
public sealed class ValidateCommand : Command<ValidateSettings>
{
    public override int Execute(CommandContext context, ValidateSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            var spec = SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options);
            Errors.Warn(spec);
            var total = new SpecTrialSource(spec).Total;
            AnsiConsole.MarkupLine($"[green]ok[/]: {Markup.Escape(settings.Spec)} is valid: sweep [bold]{Markup.Escape(spec.Name)}[/], {(total is { } n ? $"{n} trial(s)" : "trials until a stop condition")}");
            return Errors.Ok;
        }
        catch (SpecException ex)
        {
            return Errors.Report(ex);
        }
    }
}
