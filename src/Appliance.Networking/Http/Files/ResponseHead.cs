using System.Buffers.Text;
using System.Text;

namespace Appliance.Networking.Http.Files;

/// <summary>
/// Writes an HTTP/1.x response head into a caller's span as ASCII, with no allocation. The caller sizes the span for
/// its worst case; a head that does not fit throws (a programming error, not bad input).
/// </summary>
internal ref struct ResponseHead(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;
    private int _length;

    public readonly int Length => _length;

    public void Status(bool http11, int code)
    {
        Append(http11 ? "HTTP/1.1 "u8 : "HTTP/1.0 "u8);
        Number(code);
        Append(" "u8);
        _length += Encoding.ASCII.GetBytes(HttpServer.ReasonPhrase(code), _buffer[_length..]);
        Append("\r\n"u8);
    }

    public void Header(scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> value)
    {
        Append(name);
        Append(": "u8);
        Append(value);
        Append("\r\n"u8);
    }

    public void Header(scoped ReadOnlySpan<byte> name, long value)
    {
        Append(name);
        Append(": "u8);
        Number(value);
        Append("\r\n"u8);
    }

    /// <summary><c>Content-Range: bytes FIRST-LAST/TOTAL</c> for a 206.</summary>
    public void ContentRange(long start, long count, long total)
    {
        Append("Content-Range: bytes "u8);
        Number(start);
        Append("-"u8);
        Number(start + count - 1);
        Append("/"u8);
        Number(total);
        Append("\r\n"u8);
    }

    /// <summary><c>Content-Range: bytes */TOTAL</c> for a 416 (RFC 9110 §14.4).</summary>
    public void UnsatisfiedRange(long total)
    {
        Append("Content-Range: bytes */"u8);
        Number(total);
        Append("\r\n"u8);
    }

    /// <summary>Ends the head with the blank line; returns its length.</summary>
    public int End()
    {
        Append("\r\n"u8);
        return _length;
    }

    /// <summary>
    /// Ends a refusal: its reason phrase as a short plain-text body, with the Content-Type, Content-Length and Connection
    /// headers and the blank line before it. Status and any other headers come first.
    /// </summary>
    public void EndWithReason(string reason, bool keepAlive)
    {
        Header("Content-Type"u8, "text/plain; charset=utf-8"u8);
        Header("Content-Length"u8, reason.Length + 1);
        Header("Connection"u8, keepAlive ? "keep-alive"u8 : "close"u8);
        End();
        int written = System.Text.Encoding.ASCII.GetBytes(reason, _buffer[_length..]);
        _buffer[_length + written] = (byte)'\n';
        _length += written + 1;
    }

    /// <summary>Appends body bytes after the head (short bodies of error responses travel with their head).</summary>
    public void Append(scoped ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[_length..]);
        _length += bytes.Length;
    }

    private void Number(long value)
    {
        if (!Utf8Formatter.TryFormat(value, _buffer[_length..], out int written)) throw new ArgumentException("response head buffer too small");
        _length += written;
    }
}
