using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Trackers.Tests;

/// <summary>An in-test HTTP tracker on 127.0.0.1: each request's target is recorded and answered by a script.</summary>
internal sealed class ScriptedHttpTracker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, byte[]> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ScriptedHttpTracker(Func<string, byte[]> script)
    {
        _script = script;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public List<string> Requests { get; } = [];

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/announce";

    public static byte[] Ok(string bencodedBody) => Ok(Encoding.Latin1.GetBytes(bencodedBody));

    public static byte[] Ok(byte[] body) =>
        [.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[16 * 1024];
                int filled = 0;
                while (filled < buffer.Length)
                {
                    int n = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                    if (n == 0) return;
                    filled += n;
                    if (Encoding.ASCII.GetString(buffer, 0, filled).Contains("\r\n\r\n", StringComparison.Ordinal)) break;
                }
                string line = Encoding.ASCII.GetString(buffer, 0, filled).Split("\r\n")[0];
                string target = line.Split(' ')[1];
                lock (Requests) Requests.Add(target);
                byte[] reply = _script(target);
                if (reply.Length > 0) await stream.WriteAsync(reply, _stop.Token);
                else await Task.Delay(Timeout.Infinite, _stop.Token); // never answer
            }
            catch (OperationCanceledException) { }
            catch (IOException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
