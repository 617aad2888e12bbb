using System.Text;

namespace Appliance.Networking.Http;

/// <summary>The request line and headers of one request as strings, parsed by <see cref="HttpHeadParser"/> (no I/O).</summary>
internal sealed class HttpRequestHead
{
    public string Method { get; private set; } = "";
    public string Path { get; private set; } = "";
    public string RawQuery { get; private set; } = "";
    public bool Http11 { get; private set; }
    public List<KeyValuePair<string, string>> Headers { get; } = [];
    public long ContentLength { get; private set; }
    public bool KeepAliveRequested { get; private set; }

    /// <summary>
    /// Parses a head from <paramref name="buffer"/>. Returns the head's length including the blank line, 0 when more bytes are
    /// needed, or a negative HTTP status (-400, -431, -501, -505) when the request is refused.
    /// </summary>
    public int Parse(ReadOnlySpan<byte> buffer, HttpServerOptions options)
    {
        Span<HttpHeaderField> fields = options.MaxHeaderCount <= 256
            ? stackalloc HttpHeaderField[options.MaxHeaderCount]
            : new HttpHeaderField[options.MaxHeaderCount];
        int result = HttpHeadParser.Parse(buffer, options.MaxRequestHeadBytes, fields, out var layout);
        if (result <= 0) return result;

        Method = Encoding.ASCII.GetString(layout.Method(buffer));
        var target = layout.Target(buffer);
        int q = target.IndexOf((byte)'?');
        Path = Encoding.ASCII.GetString(q < 0 ? target : target[..q]);
        RawQuery = q < 0 ? "" : Encoding.ASCII.GetString(target[(q + 1)..]);
        Http11 = layout.Http11;
        ContentLength = layout.ContentLength;
        KeepAliveRequested = layout.KeepAliveRequested;
        Headers.Clear();
        foreach (var field in fields[..layout.HeaderCount])
            Headers.Add(new(Encoding.ASCII.GetString(field.Name(buffer)), Encoding.Latin1.GetString(field.Value(buffer))));
        return result;
    }
}
