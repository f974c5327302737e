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

    [CommandOption("--print")]
    [Description("After a successful check, print the resolved spec as YAML on standard output: environment variables replaced, every default written out, shorthands expanded, paths absolute. It loads back to the same sweep.")]
    public bool Print { get; init; }
}

/// <summary>
/// <c>sweeper validate spec.yaml</c>: every problem at once, exit 0 or 2; writes nothing. With <c>--print</c>, a valid
/// spec is printed resolved (<see cref="SpecPrinter"/>) on standard output, and the verdict goes to standard error.
/// </summary>
public sealed class ValidateCommand : Command<ValidateSettings>
{
    public override int Execute(CommandContext context, ValidateSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            var spec = SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options);
            Errors.Warn(spec);
            var total = new SpecTrialSource(spec).Total;
            var trials = total is { } n ? $"{n} trial(s)" : "trials until a stop condition";
            if (settings.Print)
            {
                var yaml = SpecPrinter.Yaml(spec);
                Console.Error.WriteLine($"ok: {settings.Spec} is valid: sweep {spec.Name}, {trials}");
                Console.Out.Write($"# {settings.Spec.ReplaceLineEndings(" ")} resolved by sweeper {Program.Version}\n{yaml}");
                return Errors.Ok;
            }
            AnsiConsole.MarkupLine($"[green]ok[/]: {Markup.Escape(settings.Spec)} is valid: sweep [bold]{Markup.Escape(spec.Name)}[/], {trials}");
            return Errors.Ok;
        }
        catch (SpecException ex)
        {
            return Errors.Report(ex);
        }
    }
}
