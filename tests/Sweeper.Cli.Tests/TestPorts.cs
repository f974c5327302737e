using System.Net;
using System.Net.Sockets;

namespace Sweeper.Cli.Tests;

/// <summary>Free TCP ports on loopback for the processes a test starts.</summary>
public static class TestPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
