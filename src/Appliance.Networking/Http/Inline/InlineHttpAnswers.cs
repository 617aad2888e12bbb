using System.Net;
using Appliance.Networking.Http.Files;

namespace Appliance.Networking.Http.Inline;

/// <summary>What answering the complete heads in a receive buffer left to do.</summary>
internal enum InlineHttpBatch : byte
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

/// <summary>
/// The protocol of an <see cref="InlineHttpConnection"/> without its socket: received bytes in, the answers to every
/// complete head out, each written whole (head and body) into the send buffer. One per connection (it holds the
/// header offsets of the head being answered); benchmarks push request bytes through it.
/// </summary>
internal sealed class InlineHttpAnswers(IInlineHttpHandler handler, InlineHttpServerOptions options, byte[] contentType)
{
    private readonly HttpHeaderField[] _fields = new HttpHeaderField[options.MaxHeaderCount];

    /// <summary>
    /// Answers the complete heads of <paramref name="received"/> from <paramref name="consumed"/> on into
    /// <paramref name="answers"/>, while the largest answer still fits; <paramref name="length"/> is the bytes to send.
    /// </summary>
    public InlineHttpBatch AnswerHeads(ReadOnlySpan<byte> received, ref int consumed, Span<byte> answers, IPEndPoint remote, bool stopping, out int length)
    {
        length = 0;
        int room = InlineHttpServer.HeadRoom + handler.MaxBodyBytes;
        while (true)
        {
            if (answers.Length - length < room) return InlineHttpBatch.SendFull;
            var pending = received[consumed..];
            int headLength = HttpHeadParser.Parse(pending, options.MaxRequestHeadBytes, _fields, out var layout);
            if (headLength == 0) return InlineHttpBatch.NeedMore;
            if (headLength < 0)
            {
                length += Refuse(answers[length..], -headLength, http11: true, keepAlive: false);
                return InlineHttpBatch.CloseAfterLinger;
            }
            consumed += headLength;
            length += Answer(pending[..headLength], layout, answers[length..], remote, stopping, out var after);
            if (after != InlineHttpBatch.NeedMore) return after;
        }
    }

    /// <summary>The handler's last exception (it ended its connection with a 500), for the connection to log.</summary>
    public Exception? Failure { get; set; }

    /// <summary>Writes the whole answer to one request (head and body) into <paramref name="output"/>; returns its length.</summary>
    private int Answer(ReadOnlySpan<byte> head, in HttpHeadLayout layout, Span<byte> output, IPEndPoint remote, bool stopping, out InlineHttpBatch after)
    {
        bool http11 = layout.Http11;
        bool keepAlive = layout.KeepAliveRequested && !stopping;
        after = keepAlive ? InlineHttpBatch.NeedMore : InlineHttpBatch.Close;
        var method = layout.Method(head);
        bool headOnly = method.SequenceEqual("HEAD"u8);
        // A body is never read: a request that carries one ends the connection after its answer.
        if (layout.ContentLength > 0)
        {
            after = InlineHttpBatch.CloseAfterLinger;
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
            Remote = remote,
        };
        var body = output.Slice(InlineHttpServer.HeadRoom, handler.MaxBodyBytes);
        int bodyLength;
        try
        {
            bodyLength = handler.Answer(request, body);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault of the handler's: this client gets a 500 and the connection ends (the connection logs it).
            Failure = e;
            after = InlineHttpBatch.Close;
            return Refuse(output, 500, http11, keepAlive: false);
        }
        if (bodyLength < 0) return Refuse(output, -bodyLength, http11, keepAlive);

        var response = new ResponseHead(output);
        response.Status(http11, 200);
        response.Header("Content-Type"u8, contentType);
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
        head.EndWithReason(reason, keepAlive);
        return head.Length;
    }
}
