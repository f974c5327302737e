using System.ComponentModel;
using System.Net.Http.Headers;
using System.Text;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;

namespace Sweeper.Cli.Commands;

public sealed class TracesPushSettings : CommandSettings
{
    [CommandArgument(0, "<run-dir>")]
    [Description("A run directory (its traces.jsonl and any *.traces.jsonl), or one OTLP-JSON lines file.")]
    public string Source { get; init; } = "";

    [CommandOption("--endpoint <URL>")]
    [Description("OTLP/HTTP endpoint, e.g. http://localhost:4318 (spans go to <URL>/v1/traces as JSON).")]
    public string Endpoint { get; init; } = "";

    public override ValidationResult Validate() =>
        Uri.TryCreate(Endpoint, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
            ? ValidationResult.Success() : ValidationResult.Error($"--endpoint expects an http(s) URL such as http://localhost:4318, found '{Endpoint}'");
}

/// <summary><c>sweeper traces push run-dir --endpoint URL</c>: sends the spans a run wrote to a file to a backend, afterwards.</summary>
public sealed class TracesPushCommand : AsyncCommand<TracesPushSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TracesPushSettings settings, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> files = File.Exists(settings.Source) ? [settings.Source]
            : Directory.Exists(settings.Source) ? Directory.GetFiles(settings.Source, "*traces.jsonl").Order().ToList()
            : [];
        if (files.Count == 0)
            return Errors.Report($"{settings.Source}: no traces.jsonl found (spans are written there when no OTLP endpoint is set)", Errors.InvalidInput);
        var url = new Uri(settings.Endpoint.TrimEnd('/') + (settings.Endpoint.TrimEnd('/').EndsWith("/v1/traces", StringComparison.Ordinal) ? "" : "/v1/traces"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        int batches = 0;
        foreach (var file in files)
            foreach (var line in File.ReadLines(file))
            {
                if (line.Length == 0) continue;
                using var body = new StringContent(line, Encoding.UTF8);
                body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                HttpResponseMessage response;
                try { response = await http.PostAsync(url, body, cancellationToken); }
                catch (HttpRequestException ex) { return Errors.Report($"{url}: {ex.Message}"); }
                if (!response.IsSuccessStatusCode)
                    return Errors.Report($"{url}: {(int)response.StatusCode} {response.ReasonPhrase} after {batches} batch(es)");
                batches++;
            }
        AnsiConsole.MarkupLine($"pushed {batches} batch(es) of spans from {files.Count} file(s) to {Markup.Escape(url.ToString())}");
        return Errors.Ok;
    }
}
