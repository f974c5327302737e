using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cli.Commands;

/// <summary>Options every cluster node takes: where remoting listens, and TLS.</summary>
public abstract class NodeSettings : CommandSettings
{
    [CommandOption("--hostname <HOST>")]
    [Description("Address remoting binds to and is reached at (default 127.0.0.1).")]
    [DefaultValue("127.0.0.1")]
    public string Hostname { get; init; } = "127.0.0.1";

    [CommandOption("--port <PORT>")]
    [Description("Remoting port (default 0: any free port).")]
    [DefaultValue(0)]
    public int Port { get; init; }

    [CommandOption("--tls-cert <PFX>")]
    [Description("Mutual TLS: the sweep's PKCS#12 certificate with its key; every node must hold the same one.")]
    public string? TlsCertificate { get; init; }

    [CommandOption("--tls-password <PASSWORD>")]
    [Description("Password of --tls-cert (or set SWEEPER_TLS_PASSWORD).")]
    public string? TlsPassword { get; init; }

    public TlsOptions? Tls => TlsCertificate is null ? null
        : new TlsOptions(Path.GetFullPath(TlsCertificate), TlsPassword ?? Environment.GetEnvironmentVariable("SWEEPER_TLS_PASSWORD"));

    public override ValidationResult Validate()
    {
        if (Port is < 0 or > 65535) return ValidationResult.Error("--port must be between 0 and 65535");
        if (TlsCertificate is not null && !File.Exists(TlsCertificate)) return ValidationResult.Error($"--tls-cert: no file '{TlsCertificate}'");
        if (TlsCertificate is null && TlsPassword is not null) return ValidationResult.Error("--tls-password goes with --tls-cert");
        return ValidationResult.Success();
    }
}
