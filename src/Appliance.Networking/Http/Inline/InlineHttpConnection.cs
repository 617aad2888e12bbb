using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Http.Files;
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
    private readonly HttpHeaderField[] _fields;
    private byte[]? _request;
    private byte[]? _answers;
    private int _filled;
    private long _deadline = long.MaxValue;
    private Phase _phase;
    private int _closed;
    private string? _closeReason;

    private enum Phase : byte { Idle, Head, Send }

    /// <summary>What answering the complete heads in the buffer left to do.</summary>
    private enum Batch : byte
    {
        /// <summary>Every complete head is answered; the rest (if any) is the start of the next one.</summary>
        NeedMore,

        /// <summary>The send buffer is full: send, then answer the next heads.</summary>
        SendFull,

        /// <summary>The last answer ends the connection (the client asked, or the request was refused).</summary>
        Close,

        /// <summary>As <see cref="Close"/>, but the client may still be sending: read and drop before closing.</summary>
        CloseAfterLinger,
    }

    public InlineHttpConnection(InlineHttpServer server, Socket socket, IPEndPoint remote, long id)
    {
        _server = server;
        _socket = socket;
        Remote = remote;
        Id = id;
        _fields = new HttpHeaderField[server.Options.MaxHeaderCount];
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
                    _request = _server.RequestBuffers.Rent();
                    _answers = _server.SendBuffers.Rent();
                    Arm(Phase.Head, _server.Options.HeadTimeout);
                }
                var received = await _receive.ReceiveAsync(_socket, _request.AsMemory(_filled)).ConfigureAwait(false);
                if (!received.Succeeded || received.BytesTransferred == 0) break;
                _filled += received.BytesTransferred;

                int consumed = 0;
                Batch batch;
                bool sent = true;
                do
                {
                    batch = AnswerHeads(ref consumed, out int length);
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
                while (sent && batch == Batch.SendFull);
                if (!sent) break;
                if (batch == Batch.CloseAfterLinger)
                {
                    // Closing on unread bytes would reset the connection and could destroy the answer before it is read.
                    await HttpServer.LingerAsync(_socket, CancellationToken.None).ConfigureAwait(false);
                }
                if (batch != Batch.NeedMore) break;

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

    /// <summary>
    /// Answers the complete heads from <paramref name="consumed"/> on into the send buffer, while the largest answer
    /// still fits; <paramref name="length"/> is the bytes to send.
    /// </summary>
    private Batch AnswerHeads(ref int consumed, out int length)
    {
        length = 0;
        var answers = _answers.AsSpan();
        int room = InlineHttpServer.HeadRoom + _server.Handler.MaxBodyBytes;
        while (true)
        {
            if (answers.Length - length < room) return Batch.SendFull;
            var pending = _request.AsSpan(consumed, _filled - consumed);
            int headLength = HttpHeadParser.Parse(pending, _server.Options.MaxRequestHeadBytes, _fields, out var layout);
            if (headLength == 0) return Batch.NeedMore;
            if (headLength < 0)
            {
                length += Refuse(answers[length..], -headLength, http11: true, keepAlive: false);
                return Batch.CloseAfterLinger;
            }
            consumed += headLength;
            length += Answer(pending[..headLength], layout, answers[length..], out var after);
            if (after != Batch.NeedMore) return after;
        }
    }

    /// <summary>Writes the whole answer to one request (head and body) into <paramref name="output"/>; returns its length.</summary>
    private int Answer(ReadOnlySpan<byte> head, in HttpHeadLayout layout, Span<byte> output, out Batch after)
    {
        bool http11 = layout.Http11;
        bool keepAlive = layout.KeepAliveRequested && !_server.IsStopping;
        after = keepAlive ? Batch.NeedMore : Batch.Close;
        var method = layout.Method(head);
        bool headOnly = method.SequenceEqual("HEAD"u8);
        // A body is never read: a request that carries one ends the connection after its answer.
        if (layout.ContentLength > 0)
        {
            after = Batch.CloseAfterLinger;
            return Refuse(output, 413, http11, keepAlive: false);
        }
        if (!headOnly && !method.SequenceEqual("GET"u8)) return Refuse(output, 405, http11, keepAlive);

        var target = layout.Target(head);
        int q = target.IndexOf((byte)'?');
        var request = new InlineHttpRequest
        {
            Path = q < 0 ? target : target[..q],
            Query = q < 0 ? default : target[(q + 1)..],
            Head = head,
            Headers = _fields.AsSpan(0, layout.HeaderCount),
            Remote = Remote,
        };
        var body = output.Slice(InlineHttpServer.HeadRoom, _server.Handler.MaxBodyBytes);
        int bodyLength;
        try
        {
            bodyLength = _server.Handler.Answer(request, body);
        }
        catch (Exception e)
        {
            InlineHttpLog.ConnectionFailed(_server.Logger, _server.Name, Remote, e);
            after = Batch.Close;
            return Refuse(output, 500, http11, keepAlive: false);
        }
        if (bodyLength < 0) return Refuse(output, -bodyLength, http11, keepAlive);

        var response = new ResponseHead(output);
        response.Status(http11, 200);
        response.Header("Content-Type"u8, _server.ContentType);
        response.Header("Content-Length"u8, bodyLength);
        response.Header("Connection"u8, keepAlive ? "keep-alive"u8 : "close"u8);
        int headBytes = response.End();
        if (headOnly) return headBytes;
        // Overlapping ranges: CopyTo moves like memmove.
        body[..bodyLength].CopyTo(output[headBytes..]);
        return headBytes + bodyLength;
    }

    /// <summary>An answer with the status and its reason phrase as a short text body.</summary>
    private static int Refuse(Span<byte> output, int status, bool http11, bool keepAlive)
    {
        string reason = HttpServer.ReasonPhrase(status);
        var head = new ResponseHead(output);
        head.Status(http11, status);
        if (status == 405) head.Header("Allow"u8, "GET, HEAD"u8);
        head.Header("Content-Type"u8, "text/plain; charset=utf-8"u8);
        head.Header("Content-Length"u8, reason.Length + 1);
        head.Header("Connection"u8, keepAlive ? "keep-alive"u8 : "close"u8);
        head.End();
        Span<byte> body = stackalloc byte[reason.Length + 1];
        System.Text.Encoding.ASCII.GetBytes(reason, body);
        body[^1] = (byte)'\n';
        head.Append(body);
        return head.Length;
    }
}
