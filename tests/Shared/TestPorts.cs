using System.Net;
using System.Net.Sockets;

namespace Sweeper.Tests.Shared;

/// <summary>
/// Free TCP ports on loopback for the listeners a test starts (its own or a child process's), each handed out once per
/// test run, from below the ephemeral range. A port the OS picks for a bind to port 0 is an ephemeral one, which any
/// outgoing connection (an HTTP poll, a cluster node dialling another) may take as its local port between the pick
/// and the listener's bind: seen in a full run under load, a coordinator exiting with "Address already in use" on its
/// management port. Ports here come from [20000, 32768), below Linux's default ephemeral range (32768–60999), each
/// checked free by binding it.
/// </summary>
internal static class TestPorts
{
    private const int First = 20000, End = 32768;
    private static readonly object Gate = new();
    private static readonly HashSet<int> Given = [];
    private static int _next = First + Random.Shared.Next(End - First); // another test run at the same time starts elsewhere

    public static int Free()
    {
        lock (Gate)
        {
            for (int tried = 0; tried < End - First; tried++)
            {
                int port = _next;
                _next = _next + 1 == End ? First : _next + 1;
                if (!Given.Add(port)) continue;
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // In use: the next one.
                }
            }
        }

        throw new InvalidOperationException($"No free loopback port left in [{First}, {End}).");
    }
}
