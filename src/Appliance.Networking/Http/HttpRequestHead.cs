using System.Text;

namespace Appliance.Networking.Http;

/// <summary>The request line and headers of one request, parsed from raw bytes (no I/O).</summary>
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
        int end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0) return buffer.Length >= options.MaxRequestHeadBytes ? -431 : 0;
        int headLength = end + 4;
        if (headLength > options.MaxRequestHeadBytes) return -431;
        var head = buffer[..end];
        Headers.Clear();
        ContentLength = 0;

        int lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? head : head[..lineEnd];
        var rest = lineEnd < 0 ? default : head[(lineEnd + 2)..];

        int sp1 = requestLine.IndexOf((byte)' ');
        if (sp1 <= 0) return -400;
        int sp2 = requestLine[(sp1 + 1)..].IndexOf((byte)' ');
        if (sp2 <= 0) return -400;
        var method = requestLine[..sp1];
        var target = requestLine.Slice(sp1 + 1, sp2);
        var version = requestLine[(sp1 + 1 + sp2 + 1)..];
        if (!IsToken(method)) return -400;
        if (version.SequenceEqual("HTTP/1.1"u8)) Http11 = true;
        else if (version.SequenceEqual("HTTP/1.0"u8)) Http11 = false;
        else return -505;
        if (target.IsEmpty || target[0] != (byte)'/' || !IsVisibleAscii(target)) return -400;

        Method = Encoding.ASCII.GetString(method);
        int q = target.IndexOf((byte)'?');
        Path = Encoding.ASCII.GetString(q < 0 ? target : target[..q]);
        RawQuery = q < 0 ? "" : Encoding.ASCII.GetString(target[(q + 1)..]);

        bool connectionClose = false, connectionKeepAlive = false, sawLength = false;
        while (!rest.IsEmpty)
        {
            int nl = rest.IndexOf("\r\n"u8);
            var line = nl < 0 ? rest : rest[..nl];
            rest = nl < 0 ? default : rest[(nl + 2)..];
            if (Headers.Count == options.MaxHeaderCount) return -431;
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon])) return -400;
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (value.IndexOfAnyInRange((byte)0, (byte)8) >= 0 || value.IndexOfAnyInRange((byte)10, (byte)31) >= 0 || value.Contains((byte)127)) return -400;
            string name = Encoding.ASCII.GetString(line[..colon]);
            string text = Encoding.Latin1.GetString(value);
            Headers.Add(new(name, text));
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (sawLength || !long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long length)) return -400;
                sawLength = true;
                ContentLength = length;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                return -501; // chunked request bodies are not supported: clients must send Content-Length
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                connectionClose |= text.Contains("close", StringComparison.OrdinalIgnoreCase);
                connectionKeepAlive |= text.Contains("keep-alive", StringComparison.OrdinalIgnoreCase);
            }
        }
        KeepAliveRequested = !connectionClose && (Http11 || connectionKeepAlive);
        return headLength;
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
