using System.Text.Unicode;

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
        int segmentStart = 0;
        bool encodedInSegment = false;
        for (int i = 0; i <= path.Length; i++)
        {
            if (i == path.Length || path[i] == (byte)'/')
            {
                var segment = scratch[segmentStart..length];
                if (segment.IsEmpty || segment.SequenceEqual("."u8) || segment.SequenceEqual(".."u8)) return RequestPathResult.NotAFile;
                if (encodedInSegment && segment.IndexOfAny((byte)'/', (byte)'\\', (byte)0) >= 0) return RequestPathResult.NotAFile;
                if (i == path.Length) break;
                scratch[length++] = (byte)'/';
                segmentStart = length;
                encodedInSegment = false;
                continue;
            }
            byte b = path[i];
            if (b == (byte)'%')
            {
                if (i + 2 >= path.Length) return RequestPathResult.Malformed;
                int hi = HexValue(path[i + 1]), lo = HexValue(path[i + 2]);
                if ((hi | lo) < 0) return RequestPathResult.Malformed;
                b = (byte)((hi << 4) | lo);
                i += 2;
                encodedInSegment = true;
            }
            else if (b == (byte)'\\')
            {
                return RequestPathResult.NotAFile;
            }
            scratch[length++] = b;
        }
        if (Utf8.ToUtf16(scratch[..length], destination, out _, out written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            written = 0;
            return RequestPathResult.Malformed;
        }
        return RequestPathResult.Decoded;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
