using System.Net;

namespace Appliance.Networking.Http.Inline;

/// <summary>One GET (or HEAD) request as an <see cref="IInlineHttpHandler"/> sees it: spans into the connection's receive buffer, valid during the call only.</summary>
public readonly ref struct InlineHttpRequest
{
    /// <summary>The request target before '?', as received (not percent-decoded).</summary>
    public ReadOnlySpan<byte> Path { get; init; }

    /// <summary>The request target after '?', without it, as received; empty when absent.</summary>
    public ReadOnlySpan<byte> Query { get; init; }

    /// <summary>The whole head; <see cref="Headers"/> are offsets into it.</summary>
    public ReadOnlySpan<byte> Head { get; init; }

    public ReadOnlySpan<HttpHeaderField> Headers { get; init; }

    public IPEndPoint Remote { get; init; }
}

/// <summary>
/// Answers a GET request at once, from memory, straight into the connection's send buffer (the embedded tracker):
/// nothing is awaited and nothing is allocated between the request's bytes and the response's.
/// </summary>
public interface IInlineHttpHandler
{
    /// <summary>The largest body <see cref="Answer"/> writes; the server keeps this much room for each call.</summary>
    int MaxBodyBytes { get; }

    /// <summary>
    /// Writes the 200 response's body for <paramref name="request"/> into <paramref name="body"/> and returns its length,
    /// or a negative HTTP status (-404: no such path, -400) for an answer with no body of the handler's.
    /// </summary>
    int Answer(in InlineHttpRequest request, Span<byte> body);
}
