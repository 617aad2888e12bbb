using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Trackers.Embedded;
using Xunit.Abstractions;

namespace Appliance.Trackers.Tests;

/// <summary>
/// A steady stream of HTTP announces and scrapes on a kept-alive connection allocates nothing on the tracker. The client
/// runs on its own thread with blocking socket calls over preallocated buffers, and this collection runs alone, so the
/// process-wide allocated-bytes counter measures the tracker.
/// </summary>
[Collection(nameof(HttpTrackerAllocationCollection))]
public sealed class HttpTrackerAllocationTests(ITestOutputHelper output)
{
    private static readonly InfoHash Hash = InfoHash.Compute("http-tracker-alloc"u8);

    [Fact]
    public async Task Thousands_of_http_announces_and_scrapes_allocate_almost_nothing_per_request()
    {
        await using var tracker = await HttpTrackerTests.StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        // A swarm of 100 peers, so every announce answers with 50 of them.
        for (uint i = 1; i <= 100; i++) tracker.Store.Announce(Hash, PeerAddress.FromV4(0x0A000000 + i, 6881), i % 4 == 0, Protocol.TrackerWire.AnnounceEvent.Started, 0, new byte[600], default);
        byte[][] requests = [HttpTrackerTests.AnnounceRequest(Hash, 6881), HttpTrackerTests.ScrapeRequest(Hash, InfoHash.Compute("other"u8))];
        var endPoint = tracker.HttpEndPoint;

        const int Warmup = 2000, Window = 10_000;
        long allocated = long.MaxValue;
        Exception? failure = null;
        var client = new Thread(() =>
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.ReceiveTimeout = socket.SendTimeout = 30_000;
                socket.Connect(endPoint);
                var buffer = new byte[64 * 1024];

                void Run(int count)
                {
                    for (int i = 0; i < count; i++)
                    {
                        socket.Send(requests[i % 10 == 9 ? 1 : 0]);
                        ReadResponse(socket, buffer);
                    }
                }

                Run(Warmup); // pools fill, JIT tiers up
                // The counter is process-wide: the quietest of five windows is the measure.
                for (int window = 0; window < 5 && allocated > 0; window++)
                {
                    long before = GC.GetTotalAllocatedBytes(precise: true);
                    Run(Window);
                    allocated = Math.Min(allocated, GC.GetTotalAllocatedBytes(precise: true) - before);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        client.Start();
        Assert.True(client.Join(TimeSpan.FromSeconds(180)), "client did not finish");
        Assert.Null(failure);

        double perRequest = (double)allocated / Window;
        output.WriteLine($"{allocated} bytes allocated for {Window} requests ({perRequest:F3} B/request)");
        Assert.True(perRequest < 1.0, $"{allocated} bytes allocated for {Window} requests ({perRequest:F2} B/request)");
    }

    /// <summary>Reads one whole answer (a 200 with a Content-Length body) without allocating.</summary>
    private static void ReadResponse(Socket socket, byte[] buffer)
    {
        int filled = 0, headEnd;
        while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0) filled += Receive(socket, buffer, filled);
        var head = buffer.AsSpan(0, headEnd);
        if (!head.StartsWith("HTTP/1.1 200 "u8)) throw new InvalidDataException("not a 200");
        int at = head.IndexOf("Content-Length: "u8) + "Content-Length: "u8.Length;
        int end = head[at..].IndexOf("\r\n"u8);
        if (!System.Buffers.Text.Utf8Parser.TryParse(end < 0 ? head[at..] : head.Slice(at, end), out int length, out _)) throw new InvalidDataException("no length");
        int total = headEnd + 4 + length;
        while (filled < total) filled += Receive(socket, buffer, filled);
        if (buffer[headEnd + 4] != (byte)'d' || buffer.AsSpan(headEnd + 4, length).IndexOf("failure"u8) >= 0) throw new InvalidDataException("not an answer");
    }

    private static int Receive(Socket socket, byte[] buffer, int offset)
    {
        int n = socket.Receive(buffer, offset, buffer.Length - offset, SocketFlags.None);
        return n > 0 ? n : throw new IOException("the tracker closed the connection");
    }
}
