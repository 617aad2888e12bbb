using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;

/// <summary>
/// The HTTP side of the load generator: each worker holds one persistent HTTP/1.1 connection and sends announces and
/// scrapes on it back to back (one outstanding request), as a client that keeps its tracker connection alive does. A
/// tracker that closes after each answer (opentracker does, without a Connection: close header) is followed: the worker
/// reconnects and counts it, so requests per connection show which kind of tracker it was. Requests are written into one
/// buffer per worker and answers read into another; the tool allocates nothing per request, only per reconnect.
/// </summary>
static class HttpLoad
{
    private const int ReceiveBytes = 16 * 1024;

    public static async Task<WorkerResult> RunWorkerAsync(int worker, IPEndPoint target, byte[][] escapedHashes, LoadShape load, CancellationToken stop)
    {
        var result = new WorkerResult();
        var random = new Random(worker);
        var request = new byte[4096];
        var receive = new byte[ReceiveBytes];
        byte[] host = System.Text.Encoding.ASCII.GetBytes(target.ToString());
        // A client's peer id and key stay the same across its announces.
        byte[] peerId = System.Text.Encoding.ASCII.GetBytes("-TL0100-" + worker.ToString("D12", System.Globalization.CultureInfo.InvariantCulture));
        uint key = (uint)random.Next();
        int stablePort = 1024 + worker % 60_000;
        IPAddress? source = load.Sources > 1 ? SourceAddress(1 + worker % load.Sources) : null;
        Socket? socket = null;
        bool fresh = false;
        using var closeOnStop = stop.Register(() => socket?.Dispose());
        try
        {
            while (!stop.IsCancellationRequested)
            {
                int pick = random.Next(load.Mix[1] + load.Mix[2]);
                bool scrape = pick >= load.Mix[1];
                int length = scrape
                    ? WriteScrape(request, escapedHashes, random, host)
                    : WriteAnnounce(request, escapedHashes[random.Next(escapedHashes.Length)], peerId, key,
                        load.StablePorts ? stablePort : random.Next(1024, 65535), random.Next(4) == 0 ? 0 : 1000,
                        random.Next(load.NumWant[0], load.NumWant[1] + 1), host);

                long started = Stopwatch.GetTimestamp();
                var outcome = Outcome.Closed;
                // One retry on a new connection: a kept connection the tracker closed since its last answer fails before
                // any byte of the answer, and the request was never seen.
                for (int attempt = 0; attempt < 2 && outcome == Outcome.Closed && !stop.IsCancellationRequested; attempt++)
                {
                    if (socket is null || (!fresh && ClosedByPeer(socket)))
                    {
                        if (socket is not null)
                        {
                            result.Reconnects++;
                            socket.Dispose();
                        }
                        socket = await ConnectAsync(target, source, stop);
                        if (socket is null) { outcome = Outcome.Failed; break; }
                        result.Connections++;
                        fresh = true;
                    }
                    outcome = await ExchangeAsync(socket, request.AsMemory(0, length), receive, scrape);
                    if (outcome == Outcome.Closed && !fresh)
                    {
                        result.Reconnects++;
                        socket.Dispose();
                        socket = null;
                        continue;
                    }
                    fresh = false;
                }
                if (stop.IsCancellationRequested) break;
                switch (outcome)
                {
                    case Outcome.Answered:
                    case Outcome.AnsweredThenClose:
                        result.LatenciesMicros.Add((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                        if (scrape) result.Scrapes++; else result.Announces++;
                        if (outcome == Outcome.AnsweredThenClose)
                        {
                            result.Reconnects++;
                            socket?.Dispose();
                            socket = null;
                        }
                        break;
                    case Outcome.Refused:
                        result.Errors++;
                        break;
                    default:
                        // No answer on a fresh connection, or a broken answer: start over on a new one.
                        result.Errors++;
                        socket?.Dispose();
                        socket = null;
                        break;
                }
            }
        }
        finally
        {
            socket?.Dispose();
        }
        return result;
    }

    private enum Outcome { Answered, AnsweredThenClose, Refused, Closed, Failed }

    private static IPAddress SourceAddress(int n) => new([127, 0, (byte)(n >> 8), (byte)n]);

    private static async Task<Socket?> ConnectAsync(IPEndPoint target, IPAddress? source, CancellationToken stop)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null) socket.Bind(new IPEndPoint(source, 0));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(target, timeout.Token);
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>The tracker closed the kept connection since its last answer (its FIN is waiting): no request can go on it.</summary>
    private static bool ClosedByPeer(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Sends one request and reads its whole answer (head and Content-Length body).</summary>
    private static async ValueTask<Outcome> ExchangeAsync(Socket socket, ReadOnlyMemory<byte> request, byte[] receive, bool scrape)
    {
        try
        {
            for (var rest = request; !rest.IsEmpty;)
            {
                int n = await socket.SendAsync(rest, SocketFlags.None);
                rest = rest[n..];
            }
            int filled = 0, headLength = -1, total = -1;
            bool close = false, ok = false;
            while (total < 0 || filled < total)
            {
                if (filled == receive.Length) return Outcome.Failed;
                int n = await socket.ReceiveAsync(receive.AsMemory(filled), SocketFlags.None);
                if (n == 0) return filled == 0 ? Outcome.Closed : Outcome.Failed;
                filled += n;
                if (headLength >= 0) continue;
                int end = receive.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                if (end < 0) continue;
                headLength = end + 4;
                var head = receive.AsSpan(0, end);
                ok = head.StartsWith("HTTP/1.1 200 "u8) || head.StartsWith("HTTP/1.0 200 "u8);
                close = head.StartsWith("HTTP/1.0"u8) ? !Contains(head, "connection: keep-alive"u8) : Contains(head, "connection: close"u8);
                if (!TryContentLength(head, out int bodyLength)) return Outcome.Failed;
                total = headLength + bodyLength;
                if (total > receive.Length) return Outcome.Failed;
            }
            if (filled != total) return Outcome.Failed; // we never pipeline: nothing may follow the answer
            var body = receive.AsSpan(headLength, total - headLength);
            bool answer = ok && (scrape ? body.StartsWith("d5:files"u8) : body.StartsWith("d"u8) && !body.StartsWith("d14:failure reason"u8));
            if (!answer) return close ? Outcome.Failed : Outcome.Refused;
            return close ? Outcome.AnsweredThenClose : Outcome.Answered;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return e is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted }
                ? Outcome.Closed : Outcome.Failed;
        }
    }

    private static bool TryContentLength(ReadOnlySpan<byte> head, out int length)
    {
        length = 0;
        int at = IndexOfIgnoreCase(head, "\r\ncontent-length:"u8);
        if (at < 0) return false;
        var value = head[(at + 17)..];
        int eol = value.IndexOf("\r\n"u8);
        if (eol >= 0) value = value[..eol];
        return Utf8Parser.TryParse(value.Trim((byte)' '), out length, out _);
    }

    private static bool Contains(ReadOnlySpan<byte> head, ReadOnlySpan<byte> lowerCase) => IndexOfIgnoreCase(head, lowerCase) >= 0;

    private static int IndexOfIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> lowerCase)
    {
        for (int i = 0; i + lowerCase.Length <= text.Length; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(text.Slice(i, lowerCase.Length), lowerCase)) return i;
        }
        return -1;
    }

    private static int WriteAnnounce(Span<byte> b, ReadOnlySpan<byte> escapedHash, ReadOnlySpan<byte> peerId, uint key, int port, int left, int numWant,
        ReadOnlySpan<byte> host)
    {
        int n = 0;
        Append(b, ref n, "GET /announce?info_hash="u8);
        Append(b, ref n, escapedHash);
        Append(b, ref n, "&peer_id="u8);
        Append(b, ref n, peerId);
        Append(b, ref n, "&port="u8);
        Number(b, ref n, port);
        Append(b, ref n, "&uploaded=0&downloaded=0&left="u8);
        Number(b, ref n, left);
        Append(b, ref n, "&corrupt=0&key="u8);
        Utf8Formatter.TryFormat(key, b[n..], out int w, new System.Buffers.StandardFormat('X', 8));
        n += w;
        Append(b, ref n, "&numwant="u8);
        Number(b, ref n, numWant);
        Append(b, ref n, "&compact=1&no_peer_id=1"u8);
        return EndHead(b, n, host);
    }

    // Like the UDP mode: 1 to 10 info-hashes per scrape.
    private static int WriteScrape(Span<byte> b, byte[][] escapedHashes, Random random, ReadOnlySpan<byte> host)
    {
        int n = 0;
        Append(b, ref n, "GET /scrape"u8);
        int count = random.Next(1, 11);
        for (int i = 0; i < count; i++)
        {
            Append(b, ref n, i == 0 ? "?info_hash="u8 : "&info_hash="u8);
            Append(b, ref n, escapedHashes[random.Next(escapedHashes.Length)]);
        }
        return EndHead(b, n, host);
    }

    // The headers libtorrent sends to a tracker (no Connection header: HTTP/1.1 keeps the connection by default).
    private static int EndHead(Span<byte> b, int n, ReadOnlySpan<byte> host)
    {
        Append(b, ref n, " HTTP/1.1\r\nHost: "u8);
        Append(b, ref n, host);
        Append(b, ref n, "\r\nUser-Agent: trackerload/1.0\r\nAccept-Encoding: gzip\r\n\r\n"u8);
        return n;
    }

    private static void Append(Span<byte> b, ref int n, ReadOnlySpan<byte> text)
    {
        text.CopyTo(b[n..]);
        n += text.Length;
    }

    private static void Number(Span<byte> b, ref int n, long value)
    {
        Utf8Formatter.TryFormat(value, b[n..], out int w);
        n += w;
    }

    /// <summary>Every byte as %XX, as clients send binary info-hashes.</summary>
    public static byte[] Escape(InfoHash hash)
    {
        Span<byte> raw = stackalloc byte[InfoHash.Length];
        hash.CopyTo(raw);
        var escaped = new byte[raw.Length * 3];
        for (int i = 0; i < raw.Length; i++)
        {
            escaped[3 * i] = (byte)'%';
            escaped[3 * i + 1] = (byte)"0123456789ABCDEF"[raw[i] >> 4];
            escaped[3 * i + 2] = (byte)"0123456789ABCDEF"[raw[i] & 15];
        }
        return escaped;
    }
}
