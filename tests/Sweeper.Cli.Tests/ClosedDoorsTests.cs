using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cli.Tests;

/// <summary>
/// Closed doors, through the real program: no plain remoting off loopback without --insecure, TLS passwords kept out
/// of ps, and limits on the size and nesting of what the program reads.
/// </summary>
public sealed class ClosedDoorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-doors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Synthetic = """
        name: doors
        seed: 1
        objective: {metric: test_accuracy, mode: max}
        trainable: {model: synthetic, epochs: 1}
        parameters:
          trainable.optimizer.lr: {values: [0.1]}
        output: {dir: runs}
        """;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>This machine's first non-loopback IPv4 address (as from <c>hostname -I</c>), or null.</summary>
    private static string? OwnAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))?.ToString();

    private static void NoStackTrace(SweeperProcess.Outcome outcome)
    {
        Assert.DoesNotContain("   at ", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stdout);
        Assert.DoesNotContain("Stack overflow", outcome.Stderr);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("worker")]
    [InlineData("resume")]
    public async Task Node_PlainOffLoopback_RefusedExit2NothingWritten(string command)
    {
        var host = OwnAddress() ?? "0.0.0.0";
        string[] args = command switch
        {
            "run" => ["run", Write("s.yaml", Synthetic), "--hostname", host, "-o", Path.Combine(_dir, "out")],
            "worker" => ["worker", "--join", "127.0.0.1:4053", "--hostname", host],
            _ => ["resume", Path.Combine(_dir, "no-such-run"), "--hostname", host],
        };

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), args);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        var line = Assert.Single(outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"--hostname {host}", line);
        Assert.Contains("--tls-cert", line);
        Assert.Contains("--insecure", line);
        NoStackTrace(outcome);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")));
    }

    [Fact]
    public async Task Run_AllAddressesWithoutTls_Refused()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", Write("s.yaml", Synthetic), "--hostname", "0.0.0.0");

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("--insecure", outcome.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")));
    }

    [Fact]
    public async Task Run_InsecureOffLoopback_WarnsAndRuns()
    {
        var host = OwnAddress();
        if (host is null) return; // no network interface but loopback: nothing to bind off loopback

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), "run", Write("s.yaml", Synthetic), "--hostname", host, "--insecure");

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains($"warning: --insecure: remoting on {host} without TLS", outcome.Stderr);
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "runs")));
    }

    [Fact]
    public async Task Run_TlsPasswordOnCommandLine_WarnsItIsVisibleInPs()
    {
        var pfx = Path.Combine(_dir, "sweep.pfx");
        TlsOptions.CreateSelfSigned(pfx, "pw");

        // A missing spec stops the run after the options are checked: quick, and the warning is already out.
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", Path.Combine(_dir, "missing.yaml"), "--tls-cert", pfx, "--tls-password", "pw");

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("warning: --tls-password is visible to every user of this machine (ps", outcome.Stderr);
    }

    [Fact]
    public async Task Run_TlsPasswordFile_RunsWithoutWarning()
    {
        var pfx = Path.Combine(_dir, "sweep.pfx");
        TlsOptions.CreateSelfSigned(pfx, "s3cret");
        var passwordFile = Write("sweep.pw", "s3cret\n");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), "run", Write("s.yaml", Synthetic), "--tls-cert", pfx, "--tls-password-file", passwordFile);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.DoesNotContain("--tls-password", outcome.Stderr);
    }

    [Fact]
    public async Task Run_TlsPasswordAndPasswordFile_Exit2()
    {
        var pfx = Path.Combine(_dir, "sweep.pfx");
        TlsOptions.CreateSelfSigned(pfx, "pw");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", Write("s.yaml", Synthetic), "--tls-cert", pfx, "--tls-password", "pw", "--tls-password-file", Write("pw", "pw"));

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("either --tls-password or --tls-password-file", outcome.Stderr);
    }

    [Fact]
    public async Task Worker_TlsCaWithoutCertificate_Exit2()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "worker", "--join", "127.0.0.1:4053", "--tls-ca", Write("ca.pem", "x"));

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("--tls-ca go with --tls-cert", outcome.Stderr);
    }

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{a: ", "}")]
    public async Task Validate_Nested100000Deep_Exit2ClearMessageNoStackTrace(string open, string close)
    {
        var text = new StringBuilder("name: deep\nobjective: ");
        for (var i = 0; i < 100_000; i++) text.Append(open);
        text.Append('1');
        for (var i = 0; i < 100_000; i++) text.Append(close);
        var spec = Write("deep.yaml", text.Append('\n').ToString());

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", spec);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains($"{spec}:2:", outcome.Stderr);
        Assert.Contains("nested more than 64 levels deep", outcome.Stderr);
        NoStackTrace(outcome);
    }

    [Fact]
    public async Task Validate_SpecOver1MiB_Exit2ClearMessage()
    {
        var spec = Write("big.yaml", Synthetic + "\n# " + new string('x', 1 << 20) + "\n");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", spec);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains($"{spec}:1:1: the file is", outcome.Stderr);
        Assert.Contains("a spec may be at most 1 MiB", outcome.Stderr);
        NoStackTrace(outcome);
    }

    [Fact]
    public async Task Quantize_FileOver64MiB_RefusedExit2NothingWritten()
    {
        var input = Path.Combine(_dir, "huge.json");
        using (var f = File.Create(input)) f.SetLength((64L << 20) + 1); // sparse: refused before it is read
        var output = Path.Combine(_dir, "out.json");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "quantize", "--input", input, "--output", output);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("larger than 64 MiB", outcome.Stderr);
        Assert.False(File.Exists(output));
        NoStackTrace(outcome);
    }

    [Fact]
    public async Task Quantize_TooManyElementsTogether_RefusedExit2()
    {
        // Two requests of 2^23 + 1 elements each: each alone is allowed, together they pass 2^24.
        var zeros = string.Join(',', Enumerable.Repeat("0", (1 << 23) + 1));
        var request = $$"""{"method":"lsq","bits":4,"channel_axis":null,"shape":[{{(1 << 23) + 1}}],"input":[{{zeros}}]}""";
        var input = Write("two.json", $"[{request},{request}]");
        var output = Path.Combine(_dir, "out.json");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "quantize", "--input", input, "--output", output);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("Request 1:", outcome.Stderr);
        Assert.Contains("at most 16777216 (2^24)", outcome.Stderr);
        Assert.False(File.Exists(output));
        NoStackTrace(outcome);
    }
}
