using System.Buffers;
using System.Buffers.Text;

namespace Appliance.Networking.Http.Files;

/// <summary>
/// The validators of a served file (RFC 9110 §8.8): a strong ETag made of its size and modification time, and its
/// Last-Modified date, written as ASCII into caller-owned spans (no allocation). A file rewritten in place changes its
/// mtime, so a client resuming with If-Range gets the whole new file instead of a splice of old and new bytes.
/// </summary>
public static class FileValidators
{
    /// <summary>Longest ETag: two quotes, 16 hex digits, a dash, 16 hex digits.</summary>
    public const int MaxEntityTagLength = 35;

    /// <summary>An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is always 29 bytes.</summary>
    public const int HttpDateLength = 29;

    /// <summary>Writes <c>"SIZE-MTIME"</c> (lower-case hex, mtime in nanoseconds since the Unix epoch); returns the bytes written.</summary>
    public static int WriteEntityTag(long size, long modifiedNanoseconds, Span<byte> destination)
    {
        destination[0] = (byte)'"';
        int n = 1;
        Utf8Formatter.TryFormat((ulong)size, destination[n..], out int written, new StandardFormat('x'));
        n += written;
        destination[n++] = (byte)'-';
        Utf8Formatter.TryFormat((ulong)modifiedNanoseconds, destination[n..], out written, new StandardFormat('x'));
        n += written;
        destination[n++] = (byte)'"';
        return n;
    }

    /// <summary>Writes the HTTP-date of a time given in nanoseconds since the Unix epoch (whole seconds, as HTTP dates have).</summary>
    public static int WriteHttpDate(long unixNanoseconds, Span<byte> destination) =>
        WriteHttpDate(DateTime.UnixEpoch.AddTicks(Math.Max(0, unixNanoseconds) / 1_000_000_000 * TimeSpan.TicksPerSecond), destination);

    public static int WriteHttpDate(DateTime utc, Span<byte> destination)
    {
        Utf8Formatter.TryFormat(utc, destination, out int written, new StandardFormat('R'));
        return written;
    }

    /// <summary>
    /// Whether an If-Range value still names this file (RFC 9110 §13.1.5): an entity tag must equal ours by strong
    /// comparison (a weak tag never matches), a date must equal our Last-Modified exactly.
    /// </summary>
    public static bool IfRangeMatches(ReadOnlySpan<byte> ifRange, ReadOnlySpan<byte> entityTag, ReadOnlySpan<byte> lastModified)
    {
        var value = ifRange.Trim(" \t"u8);
        if (value.StartsWith("W/"u8)) return false;
        if (value.StartsWith("\""u8)) return value.SequenceEqual(entityTag);
        return value.SequenceEqual(lastModified);
    }
}
