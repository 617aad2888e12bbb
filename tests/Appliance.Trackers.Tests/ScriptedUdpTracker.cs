using System.Net;
using System.Net.Sockets;

namespace Appliance.Trackers.Tests;

/// <summary>An in-test UDP tracker on 127.0.0.1: each datagram is recorded and answered (or not) by a script.</summary>
internal sealed class ScriptedUdpTracker : IAsyncDisposable
{
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly Func<byte[], IEnumerable<byte[]>> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ScriptedUdpTracker(Func<byte[], IEnumerable<byte[]>> script)
    {
        _script = script;
        _loop = RunAsync();
    }

    public List<byte[]> Requests { get; } = [];

    public int RequestCount { get { lock (Requests) return Requests.Count; } }

    public string Url => $"udp://127.0.0.1:{((IPEndPoint)_socket.Client.LocalEndPoint!).Port}";

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try { received = await _socket.ReceiveAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            lock (Requests) Requests.Add(received.Buffer);
            foreach (var reply in _script(received.Buffer))
                await _socket.SendAsync(reply, received.RemoteEndPoint, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
