using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Networking.Tcp;

namespace Appliance.Networking.Http.Files;

/// <summary>
/// One client of an <see cref="HttpFileServer"/>: reads request heads (pipelined ones in order) and answers each with a
/// head from its pooled buffer and a body sent with sendfile from the file's open handle. One long-lived async method
/// whose only awaits are socket operations on two reusable awaitables, so a steady stream of requests allocates nothing.
/// An idle connection holds no request buffer (it waits with a zero-byte receive).
/// </summary>
internal sealed class HttpFileConnection : ITcpServerConnection
{
    private static readonly byte[] OctetStream = "application/octet-stream"u8.ToArray();

    private readonly HttpFileServer _server;
    private readonly Socket _socket;
    private readonly SocketAwaitableEventArgs _receive = new();
    private readonly SocketAwaitableEventArgs _send = new();
    private readonly HttpHeaderField[] _fields;
    private byte[]? _request;
    private int _filled;
    private byte[]? _head;
    private long _deadline = long.MaxValue;
    private HttpFileTimeout _phase;
    private int _closed;
    private string? _closeReason;

    public HttpFileConnection(HttpFileServer server, Socket socket, IPEndPoint remote, long id)
    {
        _server = server;
        _socket = socket;
        Remote = remote;
        Id = id;
        _fields = new HttpHeaderField[server.Options.MaxHeaderCount];
    }

    public long Id { get; }
    public IPEndPoint Remote { get; }

    /// <summary>A response being sent: where its head ends in the head buffer and which file bytes follow.</summary>
    private struct Response
    {
        public int HeadLength;
        public bool HasFile;
        public HttpFile File;
        public long Offset;
        public long Remaining;
        public bool KeepAlive;

        /// <summary>An error answer (no file).</summary>
        public bool Refused;
    }

    public async Task RunAsync()
    {
        var response = default(Response);
        try
        {
            _head = _server.HeadBuffers.Rent();
            while (true)
            {
                if (_filled == 0)
                {
                    ReturnRequestBuffer();
                    Arm(HttpFileTimeout.Idle, _server.Options.IdleTimeout);
                    var waited = await SocketReadiness.WaitForDataAsync(_receive, _socket).ConfigureAwait(false);
                    if (!waited.Succeeded) break;
                    _request = _server.RequestBuffers.Rent();
                    Arm(HttpFileTimeout.Head, _server.Options.HeadTimeout);
                }
                int headLength = HttpHeadParser.Parse(_request.AsSpan(0, _filled), _server.Options.MaxRequestHeadBytes, _fields, out var layout);
                if (headLength == 0)
                {
                    var received = await _receive.ReceiveAsync(_socket, _request.AsMemory(_filled)).ConfigureAwait(false);
                    if (!received.Succeeded || received.BytesTransferred == 0) break;
                    _filled += received.BytesTransferred;
                    continue;
                }

                response = Prepare(headLength, layout);
                Arm(HttpFileTimeout.Send, _server.Options.SendTimeout);
                var sent = TrySendHead(response.HeadLength, more: response.Remaining > 0, out long headSent);
                if (sent == GatherSendStatus.Failed) break;
                if (headSent < response.HeadLength)
                {
                    var rest = await _send.SendAsync(_socket, _head.AsMemory((int)headSent, response.HeadLength - (int)headSent)).ConfigureAwait(false);
                    if (!rest.Succeeded) break;
                }

                bool bodySent = true;
                while (response.Remaining > 0)
                {
                    var status = SendFile.TrySend(_socket, response.File.Handle!, ref response.Offset, response.Remaining, out long n);
                    if (status == SendFileStatus.Sent)
                    {
                        Progress(ref response, n);
                        continue;
                    }
                    if (status == SendFileStatus.WouldBlock && ReadNextByte(ref response))
                    {
                        // The socket buffer is full. Waiting for room goes through the runtime's own epoll registration: an
                        // awaited send of the body's next byte (read with pread) completes once the client has taken enough.
                        // No thread blocks, and every other byte stays zero-copy.
                        _server.Counters.SendStalled();
                        var room = await _send.SendAsync(_socket, _head.AsMemory(0, 1)).ConfigureAwait(false);
                        if (!room.Succeeded) { bodySent = false; break; }
                        response.Offset++;
                        Progress(ref response, 1);
                        continue;
                    }
                    if (status != SendFileStatus.Failed) FileEnded(response);
                    bodySent = false;
                    break;
                }
                if (response.HasFile)
                {
                    response.HasFile = false;
                    response.File.Release();
                }
                if (bodySent && !response.KeepAlive && response.Refused)
                {
                    // The client may still be sending (a body, the rest of an oversized head); closing on unread bytes
                    // would reset the connection and could destroy the answer before the client reads it.
                    await HttpServer.LingerAsync(_socket, CancellationToken.None).ConfigureAwait(false);
                }
                if (!bodySent || !response.KeepAlive || _server.IsStopping) break;

                // Keep the bytes of a pipelined next request; its head gets a fresh deadline.
                _request.AsSpan(headLength, _filled - headLength).CopyTo(_request);
                _filled -= headLength;
                if (_filled > 0) Arm(HttpFileTimeout.Head, _server.Options.HeadTimeout);
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
            HttpFileLog.ConnectionFailed(_server.Logger, _server.Name, Remote, e);
        }
        finally
        {
            if (response.HasFile) response.File.Release();
            Close(_closeReason ?? "closed");
            ReturnRequestBuffer();
            if (_head is not null) _server.HeadBuffers.Return(_head);
            _head = null;
            _receive.Dispose();
            _send.Dispose();
            HttpFileLog.Closed(_server.Logger, _server.Name, Remote, _closeReason!);
            _server.OnClosed(this);
        }
    }

    /// <summary>Nothing is worth finishing when the server stops: responses in flight are cut.</summary>
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
        var phase = _phase;
        _server.Counters.Timeouts.Increment(phase);
        Close(phase switch
        {
            HttpFileTimeout.Idle => "idle timeout",
            HttpFileTimeout.Head => "request head timeout",
            _ => "send timeout: the client stopped reading",
        });
    }

    private void Arm(HttpFileTimeout phase, TimeSpan timeout)
    {
        _phase = phase;
        Volatile.Write(ref _deadline, _server.Time.GetTimestamp() + _server.Ticks(timeout));
    }

    private void Progress(ref Response response, long bytes)
    {
        response.Remaining -= bytes;
        _server.Counters.BodySent(bytes);
        Arm(HttpFileTimeout.Send, _server.Options.SendTimeout);
    }

    private void ReturnRequestBuffer()
    {
        if (_request is null) return;
        _server.RequestBuffers.Return(_request);
        _request = null;
        _filled = 0;
    }

    /// <summary>Reads the body's next byte into the head buffer (sent alone to wait for room); false when the file ended.</summary>
    private bool ReadNextByte(ref Response response)
    {
        try
        {
            return RandomAccess.Read(response.File.Handle!, _head.AsSpan(0, 1), response.Offset) == 1;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private void FileEnded(in Response response)
    {
        const string reason = "the file ended before its size (truncated while served)";
        _server.Counters.FileError();
        _server.Files.Failed(response.File, reason);
        HttpFileLog.FileFailed(_server.Logger, _server.Name, Remote, reason);
    }

    private unsafe GatherSendStatus TrySendHead(int length, bool more, out long sent)
    {
        Span<IoVector> vector = [new IoVector((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_head!)), length)];
        var status = GatherSend.TrySend(_socket, vector, out sent, more);
        if (status != GatherSendStatus.Sent) sent = 0;
        return status;
    }

    /// <summary>Decides the response to one parsed request and writes its head. Opens the file when there is one to send.</summary>
    private Response Prepare(int headLength, in HttpHeadLayout layout)
    {
        var head = new ResponseHead(_head);
        if (headLength < 0) return Refuse(ref head, -headLength, http11: true, keepAlive: false);
        var request = _request.AsSpan(0, headLength);
        bool http11 = layout.Http11;
        bool keepAlive = layout.KeepAliveRequested;
        var method = layout.Method(request);
        bool headOnly = method.SequenceEqual("HEAD"u8);
        // A body is never read: a request that carries one ends the connection after its answer.
        if (layout.ContentLength > 0) return Refuse(ref head, 413, http11, keepAlive: false);
        if (!headOnly && !method.SequenceEqual("GET"u8)) return Refuse(ref head, 405, http11, keepAlive);

        var target = layout.Target(request);
        Span<byte> scratch = stackalloc byte[target.Length];
        Span<char> path = stackalloc char[target.Length];
        switch (RequestPath.Decode(target, scratch, path, out int pathLength))
        {
            case RequestPathResult.Malformed: return Refuse(ref head, 400, http11, keepAlive);
            case RequestPathResult.NotAFile: return Refuse(ref head, 404, http11, keepAlive);
        }
        switch (_server.Files.TryOpen(path[..pathLength], out var file))
        {
            case HttpFileLookup.NotFound: return Refuse(ref head, 404, http11, keepAlive);
            case HttpFileLookup.Unavailable: return Refuse(ref head, 503, http11, keepAlive);
        }

        Span<byte> entityTag = stackalloc byte[FileValidators.MaxEntityTagLength];
        entityTag = entityTag[..FileValidators.WriteEntityTag(file.Length, file.ModifiedNanoseconds, entityTag)];
        Span<byte> lastModified = stackalloc byte[FileValidators.HttpDateLength];
        lastModified = lastModified[..FileValidators.WriteHttpDate(file.ModifiedNanoseconds, lastModified)];
        var fields = _fields.AsSpan(0, layout.HeaderCount);
        var outcome = RangeOutcome.Whole;
        long start = 0, count = file.Length;
        // RFC 9110 §13.1.5: a stale If-Range turns a range request into a request for the whole (new) file.
        if (HttpHeadParser.TryGetHeader(request, fields, "Range"u8, out var range)
            && (!HttpHeadParser.TryGetHeader(request, fields, "If-Range"u8, out var ifRange) || FileValidators.IfRangeMatches(ifRange, entityTag, lastModified)))
        {
            outcome = RangeRequest.Evaluate(range, file.Length, out start, out count);
        }

        int status = outcome switch { RangeOutcome.Partial => 206, RangeOutcome.Unsatisfiable => 416, _ => 200 };
        head.Status(http11, status);
        WriteDate(ref head);
        head.Header("Accept-Ranges"u8, "bytes"u8);
        head.Header("ETag"u8, entityTag);
        head.Header("Last-Modified"u8, lastModified);
        if (outcome == RangeOutcome.Unsatisfiable)
        {
            head.UnsatisfiedRange(file.Length);
            head.Header("Content-Length"u8, 0);
            count = 0;
        }
        else
        {
            head.Header("Content-Type"u8, OctetStream);
            head.Header("Content-Length"u8, count);
            if (outcome == RangeOutcome.Partial) head.ContentRange(start, count, file.Length);
        }
        head.Header("Connection"u8, keepAlive ? "keep-alive"u8 : "close"u8);
        _server.Counters.Responded(status);
        return new Response
        {
            HeadLength = head.End(),
            HasFile = true,
            File = file,
            Offset = start,
            Remaining = headOnly ? 0 : count,
            KeepAlive = keepAlive,
        };
    }

    /// <summary>A response with no file: the status and its reason phrase as a short text body, sent with the head.</summary>
    private Response Refuse(ref ResponseHead head, int status, bool http11, bool keepAlive)
    {
        string reason = HttpServer.ReasonPhrase(status);
        head.Status(http11, status);
        WriteDate(ref head);
        if (status == 405) head.Header("Allow"u8, "GET, HEAD"u8);
        if (status == 503) head.Header("Retry-After"u8, 60);
        head.EndWithReason(reason, keepAlive);
        _server.Counters.Responded(status);
        return new Response { HeadLength = head.Length, KeepAlive = keepAlive, Refused = true };
    }

    private void WriteDate(ref ResponseHead head)
    {
        Span<byte> date = stackalloc byte[FileValidators.HttpDateLength];
        head.Header("Date"u8, date[..FileValidators.WriteHttpDate(_server.Time.GetUtcNow().UtcDateTime, date)]);
    }
}
