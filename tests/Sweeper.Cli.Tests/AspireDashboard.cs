using System.Diagnostics;
using System.Text.Json.Nodes;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// Aspire's standalone dashboard, from the NuGet package Aspire.Dashboard.Sdk.linux-x64 (restored by this project's
/// PackageDownload), on loopback ports: a real OTLP backend (gRPC and HTTP) with a query API.
/// </summary>
public sealed class AspireDashboard : IAsyncDisposable
{
    public const string Version = "13.6.5";
    private readonly Process _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private AspireDashboard(Process process, int ui, int grpc, int httpPort)
    {
        _process = process;
        UiUrl = $"http://127.0.0.1:{ui}";
        OtlpGrpcUrl = $"http://127.0.0.1:{grpc}";
        OtlpHttpUrl = $"http://127.0.0.1:{httpPort}";
    }

    public string UiUrl { get; }
    public string OtlpGrpcUrl { get; }
    public string OtlpHttpUrl { get; }

    public static string Executable()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var exe = Path.Combine(root, "aspire.dashboard.sdk.linux-x64", Version, "tools", "Aspire.Dashboard");
        return File.Exists(exe) ? exe : throw new FileNotFoundException($"Aspire dashboard not found at {exe}; it is restored by tests/Sweeper.Cli.Tests (PackageDownload)", exe);
    }

    public static async Task<AspireDashboard> StartAsync()
    {
        int ui = TestPorts.Free(), grpc = TestPorts.Free(), http = TestPorts.Free();
        var psi = new ProcessStartInfo(Executable()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ui}";
        psi.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{grpc}";
        psi.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = $"http://127.0.0.1:{http}";
        psi.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        psi.Environment["DOTNET_DASHBOARD_TELEMETRY_OPTOUT"] = "true";
        var process = Process.Start(psi)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var dashboard = new AspireDashboard(process, ui, grpc, http);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"the dashboard exited with {process.ExitCode}");
            try
            {
                if ((await dashboard._http.GetAsync(dashboard.UiUrl + "/api/telemetry/traces")).IsSuccessStatusCode) return dashboard;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(250);
        }
        throw new TimeoutException("the dashboard's API did not answer within 60 s");
    }

    /// <summary>Every span the dashboard holds, with the attributes of its resource.</summary>
    public async Task<IReadOnlyList<(JsonObject Span, JsonObject Resource)>> SpansAsync()
    {
        var json = JsonNode.Parse(await _http.GetStringAsync(UiUrl + "/api/telemetry/spans?limit=10000"))!;
        var result = new List<(JsonObject, JsonObject)>();
        foreach (var rs in json["data"]!["resourceSpans"]!.AsArray())
            foreach (var ss in rs!["scopeSpans"]!.AsArray())
                foreach (var span in ss!["spans"]!.AsArray())
                    result.Add((span!.AsObject(), rs["resource"]!.AsObject()));
        return result;
    }

    public static string? Attribute(JsonObject owner, string key)
    {
        var attr = owner["attributes"]?.AsArray().FirstOrDefault(a => (string?)a!["key"] == key);
        var value = attr?["value"]?.AsObject();
        return value?.FirstOrDefault().Value?.ToString();
    }


    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _http.Dispose();
    }
}
