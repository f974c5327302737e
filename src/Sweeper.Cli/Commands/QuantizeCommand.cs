using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Core.Reporting;
using Sweeper.Quantization.Service;

namespace Sweeper.Cli.Commands;

public sealed class QuantizeSettings : CommandSettings
{
    [CommandOption("-i|--input <FILE>")]
    [Description("A JSON request (the fields of a golden case: method, bits, channel_axis, shape, input, options; optional upstream, the gradient at the output, for grad_input and grad_log2_scale/grad_step), or an array of them; '-' reads standard input.")]
    public string Input { get; init; } = "";

    [CommandOption("-o|--output <FILE>")]
    [Description("Where to write the result (default: standard output).")]
    public string? Output { get; init; }

    public override ValidationResult Validate() =>
        string.IsNullOrEmpty(Input) ? ValidationResult.Error("--input <FILE> is required") : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper quantize --input request.json</c>: runs our power-of-two quantizers on given tensors, for checking an
/// accelerator's fixed-point path against ours; with <c>upstream</c>, also the training quantizers' backward pass. Every request is validated before any is run; a bad one is reported
/// with its index and name, exit 2, nothing written. Limits: the file at most <see cref="QuantizeService.MaxInputBytes"/>,
/// all requests together at most <see cref="QuantizeService.MaxTotalElements"/> elements and <see cref="QuantizeService.MaxRequests"/> requests.
/// </summary>
public sealed class QuantizeCommand : Command<QuantizeSettings>
{
    public override int Execute(CommandContext context, QuantizeSettings settings, CancellationToken cancellationToken)
    {
        string json;
        var tooLarge = $"{settings.Input}: larger than {QuantizeService.MaxInputBytes >> 20} MiB, the most a request file may hold (split it); nothing was run";
        try
        {
            if (settings.Input == "-")
            {
                // Read at most one character more than the limit: an endless stream is refused, not buffered.
                var text = new System.Text.StringBuilder();
                var chunk = new char[1 << 16];
                int n;
                while ((n = Console.In.Read(chunk, 0, chunk.Length)) > 0)
                {
                    text.Append(chunk, 0, n);
                    if (text.Length > QuantizeService.MaxInputBytes) return Errors.Report(tooLarge, Errors.InvalidInput);
                }
                json = text.ToString();
            }
            else
            {
                if (File.Exists(settings.Input) && new FileInfo(settings.Input).Length > QuantizeService.MaxInputBytes)
                    return Errors.Report(tooLarge, Errors.InvalidInput);
                json = File.ReadAllText(settings.Input);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Errors.Report($"{settings.Input}: {ex.Message}", Errors.InvalidInput);
        }
        string result;
        try { result = QuantizeService.Run(json, indented: true); }
        catch (QuantizeRequestException ex) { return Errors.Report($"{settings.Input}: {ex.Message}", Errors.InvalidInput); }
        if (settings.Output is null) Console.Out.WriteLine(result);
        else ReportWriter.WriteAtomically(settings.Output, result + "\n");
        return Errors.Ok;
    }
}
