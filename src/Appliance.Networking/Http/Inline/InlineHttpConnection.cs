using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Tcp;

namespace Appliance.Networking.Http.Inline;

/// <summary>
/// One client of an <see cref="InlineHttpServer"/>: one long-lived async method whose only awaits are socket operations
/// on two reusable awaitables, so a steady stream of requests allocates nothing. Every complete head of a received chunk
/// (pipelined ones in order) is answered into the send buffer, and the answers leave together. An idle connection holds
/// no buffer: it waits with a zero-byte receive and rents its two buffers when bytes arrive.
/// </summary>
internal sealed class InlineHttpConnection : ITcpServerConnection
{
    private readonly InlineHttpServer _server;
    private readonly Socket _socket;
    private readonly SocketAwaitableEventArgs _receive = new();
    private readonly SocketAwaitableEventArgs _send = new();
    private readonly InlineHttpAnswers _answering;
    private byte[]? _request;
    private byte[]? _answers;
    private int _filled;
    private long _deadline = long.MaxValue;
    private Phase _phase;
    private int _closed;
    private string? _closeReason;

    private enum Phase : byte { Idle, Head, Send }

    public InlineHttpConnection(InlineHttpServer server, Socket socket, IPEndPoint remote, long id)
    {
        _server = server;
        _socket = socket;
        Remote = remote;
        Id = id;
        _answering = new InlineHttpAnswers(server.Handler, server.Options, server.ContentType);
    }

    public long Id { get; }
    public IPEndPoint Remote { get; }

    public async Task RunAsync()
    {
        try
        {
            while (true)
            {
                if (_filled == 0)
                {
                    ReturnBuffers();
                    if (_server.IsStopping) break;
                    Arm(Phase.Idle, _server.Options.IdleTimeout);
                    var waited = await _receive.ReceiveAsync(_socket, Memory<byte>.Empty).ConfigureAwait(false);
                    if (!waited.Succeeded) break;
                    // No PEEK to tell a stale readiness from bytes (the web seed's SocketReadiness): that is a syscall per
                    // request, and a stale wake-up only means the buffers are held until bytes come or the idle timeout.
                    _request = _server.RequestBuffers.Rent();
                    _answers = _server.SendBuffers.Rent();
                }
                var received = await _receive.ReceiveAsync(_socket, _request.AsMemory(_filled)).ConfigureAwait(false);
                if (!received.Succeeded || received.BytesTransferred == 0) break;
                if (_filled == 0) Arm(Phase.Head, _server.Options.HeadTimeout); // the first bytes of a request
                _filled += received.BytesTransferred;

                int consumed = 0;
                InlineHttpBatch batch;
                bool sent = true;
                do
                {
                    batch = _answering.AnswerHeads(_request.AsSpan(0, _filled), ref consumed, _answers, Remote, _server.IsStopping, out int length);
                    if (length == 0) continue;
                    Arm(Phase.Send, _server.Options.SendTimeout);
                    for (int at = 0; at < length;)
                    {
                        var result = await _send.SendAsync(_socket, _answers.AsMemory(at, length - at)).ConfigureAwait(false);
                        if (!result.Succeeded || result.BytesTransferred == 0)
                        {
                            sent = false;
                            break;
                        }
                        at += result.BytesTransferred;
                    }
                }
                while (sent && batch == InlineHttpBatch.SendFull);
                if (_answering.Failure is { } failure)
                {
                    _closeReason = "failed: " + failure.Message;
                    InlineHttpLog.ConnectionFailed(_server.Logger, _server.Name, Remote, failure);
                }
                if (!sent) break;
                if (batch == InlineHttpBatch.CloseAfterLinger)
                {
                    // Closing on unread bytes would reset the connection and could destroy the answer before it is read.
                    await HttpServer.LingerAsync(_socket, CancellationToken.None).ConfigureAwait(false);
                }
                if (batch != InlineHttpBatch.NeedMore) break;

                // Keep the start of a pipelined next request; its head gets a fresh deadline.
                _request.AsSpan(consumed, _filled - consumed).CopyTo(_request);
                _filled -= consumed;
                if (consumed > 0 && _filled > 0) Arm(Phase.Head, _server.Options.HeadTimeout);
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // Closed by the sweep or by stop while an operation was pending.
        }
        catch (Exception e)
        {
            // A fault of ours: it ends this connection only, and is logged.
            _closeReason = "failed: " + e.Message;
            InlineHttpLog.ConnectionFailed(_server.Logger, _server.Name, Remote, e);
        }
        finally
        {
            Close(_closeReason ?? "closed");
            ReturnBuffers();
            _receive.Dispose();
            _send.Dispose();
            InlineHttpLog.Closed(_server.Logger, _server.Name, Remote, _closeReason!);
            _server.OnClosed(this);
        }
    }

    /// <summary>Nothing is worth finishing when the server stops: answers in flight are cut.</summary>
    public void BeginDrain() => Close("server stopping");

    /// <summary>Closes the socket (pending operations end); the loop then releases everything. Any thread, any number of times.</summary>
    public void Close(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _closeReason ??= reason;
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket.Dispose();
    }

    /// <summary>Called by the server's sweep: closes the connection once the current phase has run past its deadline.</summary>
    public void Sweep(long now)
    {
        if (now <= Volatile.Read(ref _deadline) || Volatile.Read(ref _closed) != 0) return;
        Close(_phase switch
        {
            Phase.Idle => "idle timeout",
            Phase.Head => "request head timeout",
            _ => "send timeout: the client stopped reading",
        });
    }

    private void Arm(Phase phase, TimeSpan timeout)
    {
        _phase = phase;
        Volatile.Write(ref _deadline, _server.Time.GetTimestamp() + _server.Ticks(timeout));
    }

    private void ReturnBuffers()
    {
        if (_request is not null) _server.RequestBuffers.Return(_request);
        if (_answers is not null) _server.SendBuffers.Return(_answers);
        _request = null;
        _answers = null;
        _filled = 0;
    }
}
