using System.Net;
using System.Net.Sockets;

namespace Appliance.TestKit;

/// <summary>
/// Request/reply clients for a UDP server under test: each on its own thread and loopback socket, sending a few requests
/// at once and reading as many replies before the next round, so the server's batches hold datagrams of several clients
/// and nothing is lost to a full socket buffer. Blocking calls over preallocated buffers: the clients allocate nothing
/// per datagram themselves.
/// </summary>
public static class DatagramClients
{
    /// <summary>Writes request <c>sequence</c> of client <c>client</c> into <c>buffer</c>; returns its length.</summary>
    public delegate int WriteRequest(int client, int sequence, byte[] buffer);

    /// <summary>Checks one reply of client <c>client</c>; returns why it is wrong, or null.</summary>
    public delegate string? CheckReply(int client, ReadOnlySpan<byte> reply);

    public static void Run(IPEndPoint server, int clients, int rounds, int inFlight, WriteRequest write, CheckReply check)
    {
        Exception? failure = null;
        var threads = Enumerable.Range(0, clients).Select(client => new Thread(() =>
        {
            try
            {
                using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(server.Address, 0));
                socket.ReceiveTimeout = 30_000;
                var request = new byte[2048];
                var reply = new byte[2048];
                for (int round = 0; round < rounds; round++)
                {
                    for (int i = 0; i < inFlight; i++) socket.SendTo(request.AsSpan(0, write(client, round * inFlight + i, request)), SocketFlags.None, server);
                    for (int i = 0; i < inFlight; i++)
                    {
                        int n = socket.Receive(reply);
                        if (check(client, reply.AsSpan(0, n)) is { } wrong) throw new InvalidDataException($"client {client}: {wrong}");
                    }
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        foreach (var thread in threads)
        {
            if (!thread.Join(TimeSpan.FromSeconds(120))) throw new TimeoutException("a client did not finish");
        }
        if (failure is not null) throw new InvalidOperationException("a client failed", failure);
    }
}
