using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Networking.Http.Files;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace Appliance.Networking.Tests.Http.Files;

[CollectionDefinition(nameof(HttpFileAllocationCollection), DisableParallelization = true)]
public sealed class HttpFileAllocationCollection;

/// <summary>
/// A steady stream of range requests on a kept-alive connection allocates nothing on the server. The client runs on its
/// own thread with blocking socket calls over preallocated buffers, and this collection runs alone, so the process-wide
/// allocated-bytes counter measures the server.
/// </summary>
[Collection(nameof(HttpFileAllocationCollection))]
public sealed class HttpFileServerAllocationTests(ITestOutputHelper output) : IDisposable
{
    private const int FileSize = 4 * 1024 * 1024;
    private readonly TempDirectory _temp = new("http-files-alloc");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Serving_thousands_of_range_requests_allocates_almost_nothing_per_request()
    {
        string path = SampleContent.WriteFile(_temp.Combine("file.bin"), FileSize, seed: 5);
        using var handle = File.OpenHandle(path);
        var counters = new HttpFileCounters();
        await using var server = new HttpFileServer("alloc", new IPEndPoint(IPAddress.Loopback, 0), new OneFile(handle), new HttpFileServerOptions(),
            counters, NullLogger.Instance);
        var endPoint = server.Start();

        // Small ranges and many of them per window: the process-wide counter also sees background work (timers, other tests'
        // sockets closing), which a long window of large responses would spread over too few requests.
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
                // Two ranges with the same number of digits: every response has the same length (the Date header too).
                byte[][] requests =
                [
                    Encoding.ASCII.GetBytes("GET /file.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1048576-1064959\r\n\r\n"),
                    Encoding.ASCII.GetBytes("GET /file.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=2097152-2113535\r\n\r\n"),
                ];
                var buffer = new byte[512 * 1024];
                socket.Send(requests[0]);
                int length = ReadFirstResponse(socket, buffer);

                void Run(int count)
                {
                    // Two requests in flight: while one response is read, the server has the next request.
                    socket.Send(requests[1]);
                    for (int i = 0; i < count; i++)
                    {
                        if (i + 1 < count) socket.Send(requests[i % 2]);
                        ReadExactly(socket, buffer, length);
                        if (buffer[9] != (byte)'2' || buffer[10] != (byte)'0' || buffer[11] != (byte)'6') throw new InvalidDataException("not a 206");
                    }
                }

                Run(Warmup); // pools fill, JIT tiers up
                // The counter is process-wide: the quietest of five windows is the measure (see ZeroAllocationTests).
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
        Assert.True(client.Join(TimeSpan.FromSeconds(120)), "client did not finish");
        Assert.Null(failure);

        double perRequest = (double)allocated / Window;
        output.WriteLine($"{allocated} bytes allocated for {Window} requests ({perRequest:F3} B/request), {counters.Read(HttpFileCounter.SendsStalled)} stalls");
        Assert.True(perRequest < 1.0, $"{allocated} bytes allocated for {Window} requests ({perRequest:F2} B/request)");
    }

    private static int ReadFirstResponse(Socket socket, byte[] buffer)
    {
        int filled = 0, headEnd;
        while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0) filled += Receive(socket, buffer, filled, buffer.Length - filled);
        string head = Encoding.ASCII.GetString(buffer, 0, headEnd);
        int contentLength = int.Parse(head.Split("\r\n").Single(l => l.StartsWith("Content-Length: ", StringComparison.Ordinal))["Content-Length: ".Length..],
            System.Globalization.CultureInfo.InvariantCulture);
        int length = headEnd + 4 + contentLength;
        ReadExactly(socket, buffer, length, filled);
        return length;
    }

    private static void ReadExactly(Socket socket, byte[] buffer, int count, int filled = 0)
    {
        while (filled < count) filled += Receive(socket, buffer, filled, count - filled);
    }

    private static int Receive(Socket socket, byte[] buffer, int offset, int count)
    {
        int n = socket.Receive(buffer, offset, count, SocketFlags.None);
        return n > 0 ? n : throw new IOException("the server closed the connection");
    }

    /// <summary>One file at /file.bin, found without allocating (the measured path includes the lookup).</summary>
    private sealed class OneFile(SafeFileHandle handle) : IHttpFileSource
    {
        public HttpFileLookup TryOpen(ReadOnlySpan<char> path, out HttpFile file)
        {
            file = default;
            if (!path.SequenceEqual("file.bin")) return HttpFileLookup.NotFound;
            return HttpFile.TryOpen(handle, FileSize, 1_000_000_000, null, out file) ? HttpFileLookup.Found : HttpFileLookup.Unavailable;
        }

        public void Failed(in HttpFile file, string reason) { }
    }
}
