using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Trackers.Tests;

/// <summary>
/// An in-test HTTP/1.1 tracker that keeps connections alive and counts what a polite client must bound: connections
/// accepted, connections open at once, requests in flight at once. Each answer waits a little so concurrency shows.
/// </summary>
internal sealed class CountingHttpTracker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly HashSet<string> _started = [];
    private int _open, _inFlight;

    public CountingHttpTracker()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/announce";
    public int ConnectionsAccepted;
    public int MaxOpenConnections;
    public int MaxInFlight;
    public int Announces;
    public int Scrapes;

    /// <summary>Distinct info-hashes announced with event=started.</summary>
    public int StartedTorrents { get { lock (_started) return _started.Count; } }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            Interlocked.Increment(ref ConnectionsAccepted);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        Raise(ref MaxOpenConnections, Interlocked.Increment(ref _open));
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[16 * 1024];
                int filled = 0;
                while (true)
                {
                    int end;
                    while ((end = Encoding.ASCII.GetString(buffer, 0, filled).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
                    {
                        int n = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                        if (n == 0) return;
                        filled += n;
                    }
                    string target = Encoding.ASCII.GetString(buffer, 0, end).Split("\r\n")[0].Split(' ')[1];
                    Buffer.BlockCopy(buffer, end + 4, buffer, 0, filled - end - 4);
                    filled -= end + 4;
                    Raise(ref MaxInFlight, Interlocked.Increment(ref _inFlight));
                    await Task.Delay(2, _stop.Token);
                    string body;
                    if (target.StartsWith("/scrape", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref Scrapes);
                        body = "d5:filesdee";
                    }
                    else
                    {
                        Interlocked.Increment(ref Announces);
                        if (target.Contains("event=started", StringComparison.Ordinal))
                        {
                            string hash = target.Split('&').First(p => p.Contains("info_hash=", StringComparison.Ordinal));
                            lock (_started) _started.Add(hash);
                        }
                        body = "d8:intervali1800e5:peers0:e";
                    }
                    Interlocked.Decrement(ref _inFlight);
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(
                        $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}"), _stop.Token);
                }
            }
            catch (OperationCanceledException) { }
            catch (IOException) { }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }
    }

    internal static void Raise(ref int max, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref max)) && Interlocked.CompareExchange(ref max, value, seen) != seen) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}

/// <summary>An in-test BEP 15 tracker that answers each announce a little later and counts connects and requests outstanding at once.</summary>
internal sealed class CountingUdpTracker : IAsyncDisposable
{
    private const long ConnectionId = 0x1234_5678_9ABC;
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly HashSet<string> _started = [];
    private int _outstanding;

    public CountingUdpTracker() => _loop = RunAsync();

    public string Url => $"udp://127.0.0.1:{((IPEndPoint)_socket.Client.LocalEndPoint!).Port}";
    public int Connects;
    public int MaxOutstanding;

    public int StartedTorrents { get { lock (_started) return _started.Count; } }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try { received = await _socket.ReceiveAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            var packet = received.Buffer;
            if (!UdpTrackerPacket.TryReadRequestAction(packet, out var action, out long connectionId, out int tid)) continue;
            if (action == UdpTrackerAction.Connect)
            {
                Interlocked.Increment(ref Connects);
                var reply = new byte[16];
                UdpTrackerPacket.WriteConnectResponse(reply, tid, ConnectionId);
                await _socket.SendAsync(reply, received.RemoteEndPoint, _stop.Token);
                continue;
            }
            if (action != UdpTrackerAction.Announce || connectionId != ConnectionId || !UdpTrackerPacket.TryReadAnnounceRequest(packet, out var request)) continue;
            if (request.Event == AnnounceEvent.Started) lock (_started) _started.Add(request.InfoHash.ToHex());
            CountingHttpTracker.Raise(ref MaxOutstanding, Interlocked.Increment(ref _outstanding));
            _ = AnswerLaterAsync(tid, received.RemoteEndPoint);
        }
    }

    private async Task AnswerLaterAsync(int tid, IPEndPoint to)
    {
        try
        {
            await Task.Delay(2, _stop.Token);
            var reply = new byte[UdpTrackerPacket.AnnounceResponseHeaderLength];
            UdpTrackerPacket.WriteAnnounceResponseHeader(reply, tid, 1800, 0, 0);
            Interlocked.Decrement(ref _outstanding);
            await _socket.SendAsync(reply, to, _stop.Token);
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
