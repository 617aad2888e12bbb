using System.Text.Unicode;
using Appliance.Protocol.Urls;

namespace Appliance.Networking.Http.Files;

/// <summary>What a request target's path says about the file it names.</summary>
public enum RequestPathResult : byte
{
    /// <summary>A relative file path: segments joined by '/', none empty, "." or "..".</summary>
    Decoded,

    /// <summary>Cannot name a file: a folder ("/", a trailing '/'), an empty, "." or ".." segment, or an encoded '/', '\' or NUL.</summary>
    NotAFile,

    /// <summary>A broken percent-escape or bytes that are not UTF-8 (400).</summary>
    Malformed,
}

/// <summary>
/// Turns the path of a request target ("/name/dir/file%20x.bin?q") into the relative path it names ("name/dir/file x.bin"),
/// percent-decoded and UTF-8-decoded into a caller's span, with no allocation. Only literal '/' separate segments: an
/// encoded slash (%2F), backslash or NUL, and any dot segment, literal or encoded (%2e%2e), make the path name no
/// file, so no spelling of a path reaches outside the names a file source knows. Query and fragment are ignored.
/// </summary>
public static class RequestPath
{
    /// <summary>
    /// Decodes <paramref name="target"/> (which starts with '/') into <paramref name="destination"/>, using
    /// <paramref name="scratch"/> for the decoded bytes; both must hold at least the target's length.
    /// </summary>
    public static RequestPathResult Decode(ReadOnlySpan<byte> target, Span<byte> scratch, Span<char> destination, out int written)
    {
        written = 0;
        int end = target.IndexOfAny((byte)'?', (byte)'#');
        var path = end < 0 ? target : target[..end];
        if (path.IsEmpty || path[0] != (byte)'/') return RequestPathResult.NotAFile;
        path = path[1..];
        if (scratch.Length < path.Length || destination.Length < path.Length) return RequestPathResult.Malformed;

        int length = 0;
        while (true)
        {
            int slash = path.IndexOf((byte)'/');
            var encoded = slash < 0 ? path : path[..slash];
            if (!PercentEncoding.TryDecode(encoded, scratch[length..], out int n, plusIsSpace: false)) return RequestPathResult.Malformed;
            var segment = scratch.Slice(length, n);
            if (segment.IsEmpty || segment.SequenceEqual("."u8) || segment.SequenceEqual(".."u8)) return RequestPathResult.NotAFile;
            // A '/' here was encoded (literal ones split segments): it, a backslash or a NUL would let one segment name a path.
            if (segment.IndexOfAny((byte)'/', (byte)'\\', (byte)0) >= 0) return RequestPathResult.NotAFile;
            length += n;
            if (slash < 0) break;
            scratch[length++] = (byte)'/';
            path = path[(slash + 1)..];
        }
        if (Utf8.ToUtf16(scratch[..length], destination, out _, out written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            written = 0;
            return RequestPathResult.Malformed;
        }
        return RequestPathResult.Decoded;
    }
}
