using System.ComponentModel;
using System.Net;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cli.Commands;

/// <summary>Options every cluster node takes: where remoting listens, and TLS.</summary>
/// <remarks>
/// Remoting off loopback without TLS is refused unless <c>--insecure</c> says so: anyone who can reach the port could
/// otherwise join the cluster and send messages.
/// </remarks>
public abstract class NodeSettings : CommandSettings
{
    /// <summary>Environment variable holding the password of <c>--tls-cert</c>.</summary>
    public const string PasswordVariable = "SWEEPER_TLS_PASSWORD";

    [CommandOption("--hostname <HOST>")]
    [Description("Address remoting binds to and is reached at (default 127.0.0.1). Anything but loopback needs --tls-cert or --insecure.")]
    [DefaultValue("127.0.0.1")]
    public string Hostname { get; init; } = "127.0.0.1";

    [CommandOption("--port <PORT>")]
    [Description("Remoting port (default 0: any free port).")]
    [DefaultValue(0)]
    public int Port { get; init; }

    [CommandOption("--tls-cert <PFX>")]
    [Description("Mutual TLS: the sweep's PKCS#12 certificate with its key; every node must hold the same one.")]
    public string? TlsCertificate { get; init; }

    [CommandOption("--tls-ca <PEM>")]
    [Description("Mutual TLS with a private CA: accept any peer whose certificate this CA issued, so every node can have its own --tls-cert.")]
    public string? TlsCa { get; init; }

    [CommandOption("--tls-password-file <FILE>")]
    [Description("File holding the password of --tls-cert (its first line). Or set SWEEPER_TLS_PASSWORD.")]
    public string? TlsPasswordFile { get; init; }

    [CommandOption("--tls-password <PASSWORD>")]
    [Description("Password of --tls-cert on the command line: visible to every user in 'ps'; prefer --tls-password-file or SWEEPER_TLS_PASSWORD.")]
    public string? TlsPassword { get; init; }

    [CommandOption("--insecure")]
    [Description("Allow remoting off loopback without TLS: anyone who reaches the port can join the cluster.")]
    public bool Insecure { get; init; }

    private string? _passwordFromFile;

    public TlsOptions? Tls => TlsCertificate is null ? null
        : new TlsOptions(Path.GetFullPath(TlsCertificate), TlsPassword ?? _passwordFromFile ?? Environment.GetEnvironmentVariable(PasswordVariable),
            TlsCa is null ? null : Path.GetFullPath(TlsCa));

    /// <summary>True for 127.0.0.0/8, ::1 and <c>localhost</c>: addresses no other machine can reach.</summary>
    public static bool IsLoopback(string hostname) =>
        string.Equals(hostname, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(hostname, out var address) && IPAddress.IsLoopback(address));

    public override ValidationResult Validate()
    {
        if (Port is < 0 or > 65535) return ValidationResult.Error("--port must be between 0 and 65535");
        if (TlsCertificate is not null && !File.Exists(TlsCertificate)) return ValidationResult.Error($"--tls-cert: no file '{TlsCertificate}'");
        if (TlsCertificate is null && (TlsPassword ?? TlsPasswordFile ?? TlsCa) is not null) return ValidationResult.Error("--tls-password, --tls-password-file and --tls-ca go with --tls-cert");
        if (TlsCa is not null && !File.Exists(TlsCa)) return ValidationResult.Error($"--tls-ca: no file '{TlsCa}'");
        if (TlsPassword is not null && TlsPasswordFile is not null) return ValidationResult.Error("give either --tls-password or --tls-password-file, not both");
        if (TlsPasswordFile is not null)
        {
            if (!File.Exists(TlsPasswordFile)) return ValidationResult.Error($"--tls-password-file: no file '{TlsPasswordFile}'");
            try { _passwordFromFile = File.ReadLines(TlsPasswordFile).FirstOrDefault() ?? ""; }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return ValidationResult.Error($"--tls-password-file: {ex.Message}"); }
        }
        if (TlsCertificate is null && !IsLoopback(Hostname) && !Insecure)
            return ValidationResult.Error($"--hostname {Hostname} opens remoting to other machines without TLS; give --tls-cert (see README, TLS) or, on a network you trust, --insecure");
        // Warnings go to standard error before anything starts.
        if (TlsPassword is not null)
            Console.Error.WriteLine($"warning: --tls-password is visible to every user of this machine (ps, /proc); use --tls-password-file or {PasswordVariable}");
        if (TlsCertificate is null && !IsLoopback(Hostname))
            Console.Error.WriteLine($"warning: --insecure: remoting on {Hostname} without TLS; anyone who reaches this port can join the cluster and send it work");
        return ValidationResult.Success();
    }
}
