namespace Appliance.Networking.Http;

/// <summary>Where one header's name and (trimmed) value lie in the buffer its head was parsed from.</summary>
public readonly record struct HttpHeaderField(int NameStart, int NameLength, int ValueStart, int ValueLength)
{
    public ReadOnlySpan<byte> Name(ReadOnlySpan<byte> head) => head.Slice(NameStart, NameLength);

    public ReadOnlySpan<byte> Value(ReadOnlySpan<byte> head) => head.Slice(ValueStart, ValueLength);
}

/// <summary>The request line and what the headers say about framing, as offsets into the parsed buffer.</summary>
public struct HttpHeadLayout
{
    public int MethodStart;
    public int MethodLength;

    /// <summary>The request target as received (path and query, not percent-decoded).</summary>
    public int TargetStart;
    public int TargetLength;
    public bool Http11;
    public long ContentLength;
    public bool KeepAliveRequested;
    public int HeaderCount;

    public readonly ReadOnlySpan<byte> Method(ReadOnlySpan<byte> head) => head.Slice(MethodStart, MethodLength);

    public readonly ReadOnlySpan<byte> Target(ReadOnlySpan<byte> head) => head.Slice(TargetStart, TargetLength);
}

/// <summary>
/// HTTP/1.1 request-head syntax on raw bytes, with no allocation: the request line, every header's place, and the
/// framing headers (Content-Length, Transfer-Encoding, Connection). <see cref="HttpRequestHead"/> turns the result into
/// strings for the general server; the web seed reads the bytes in place.
/// </summary>
public static class HttpHeadParser
{
    /// <summary>
    /// Parses a head from <paramref name="buffer"/>; at most <paramref name="headers"/>.Length headers are accepted.
    /// Returns the head's length including the blank line, 0 when more bytes are needed, or a negative HTTP status
    /// (-400, -431, -501, -505) when the request is refused.
    /// </summary>
    public static int Parse(ReadOnlySpan<byte> buffer, int maxHeadBytes, Span<HttpHeaderField> headers, out HttpHeadLayout layout)
    {
        layout = default;
        int end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0) return buffer.Length >= maxHeadBytes ? -431 : 0;
        int headLength = end + 4;
        if (headLength > maxHeadBytes) return -431;
        var head = buffer[..end];

        int lineEnd = head.IndexOf("\r\n"u8);
        int requestLineLength = lineEnd < 0 ? head.Length : lineEnd;
        var requestLine = head[..requestLineLength];
        int sp1 = requestLine.IndexOf((byte)' ');
        if (sp1 <= 0) return -400;
        int sp2 = requestLine[(sp1 + 1)..].IndexOf((byte)' ');
        if (sp2 <= 0) return -400;
        var method = requestLine[..sp1];
        var target = requestLine.Slice(sp1 + 1, sp2);
        var version = requestLine[(sp1 + 1 + sp2 + 1)..];
        if (!IsToken(method)) return -400;
        if (version.SequenceEqual("HTTP/1.1"u8)) layout.Http11 = true;
        else if (!version.SequenceEqual("HTTP/1.0"u8)) return -505;
        if (target.IsEmpty || target[0] != (byte)'/' || !IsVisibleAscii(target)) return -400;
        layout.MethodStart = 0;
        layout.MethodLength = sp1;
        layout.TargetStart = sp1 + 1;
        layout.TargetLength = sp2;

        bool connectionClose = false, connectionKeepAlive = false, sawLength = false;
        int position = lineEnd < 0 ? head.Length : lineEnd + 2;
        int count = 0;
        while (position < head.Length)
        {
            var rest = head[position..];
            int nl = rest.IndexOf("\r\n"u8);
            int lineLength = nl < 0 ? rest.Length : nl;
            var line = rest[..lineLength];
            if (count == headers.Length) return -431;
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon])) return -400;
            var raw = line[(colon + 1)..];
            var value = raw.Trim(" \t"u8);
            int valueStart = position + colon + 1 + (raw.Length - raw.TrimStart(" \t"u8).Length);
            if (value.IndexOfAnyInRange((byte)0, (byte)8) >= 0 || value.IndexOfAnyInRange((byte)10, (byte)31) >= 0 || value.Contains((byte)127)) return -400;
            headers[count++] = new HttpHeaderField(position, colon, valueStart, value.Length);
            var name = line[..colon];
            if (System.Text.Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (sawLength || !System.Buffers.Text.Utf8Parser.TryParse(value, out long length, out int used) || used != value.Length
                    || length < 0 || value.IsEmpty || value[0] is (byte)'+' or (byte)'-')
                    return -400;
                sawLength = true;
                layout.ContentLength = length;
            }
            else if (System.Text.Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                return -501; // chunked request bodies are not supported: clients must send Content-Length
            }
            else if (System.Text.Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                connectionClose |= ContainsIgnoreCase(value, "close"u8);
                connectionKeepAlive |= ContainsIgnoreCase(value, "keep-alive"u8);
            }
            position += lineLength + 2;
        }
        layout.HeaderCount = count;
        layout.KeepAliveRequested = !connectionClose && (layout.Http11 || connectionKeepAlive);
        return headLength;
    }

    /// <summary>The value of the first header named <paramref name="name"/> (case-insensitive); false when absent.</summary>
    public static bool TryGetHeader(ReadOnlySpan<byte> head, ReadOnlySpan<HttpHeaderField> headers, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        foreach (var field in headers)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(field.Name(head), name))
            {
                value = field.Value(head);
                return true;
            }
        }
        value = default;
        return false;
    }

    private static bool ContainsIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> word)
    {
        for (int i = 0; i + word.Length <= text.Length; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(text.Slice(i, word.Length), word)) return true;
        }
        return false;
    }

    private static bool IsToken(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty) return false;
        foreach (byte b in text)
        {
            bool ok = b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
                || "!#$%&'*+-.^_`|~"u8.Contains(b);
            if (!ok) return false;
        }
        return true;
    }

    private static bool IsVisibleAscii(ReadOnlySpan<byte> text) => !text.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);
}
