using System.Numerics;
using System.Text;

namespace Appliance.Protocol.Urls;

/// <summary>
/// RFC 3986 percent-decoding into bytes, the one decoder of every URL part we read: tracker queries (binary info-hashes
/// and peer ids), HTTP query strings, request paths and magnet links. Each caller keeps its own rules on top: whether
/// '+' is a space (form encoding) and what a decoded byte may be (a path segment may not decode to '/').
/// </summary>
public static class PercentEncoding
{
    /// <summary>
    /// Decodes text: <c>%XX</c> is one byte, '+' is a space when <paramref name="plusIsSpace"/>, any other ASCII
    /// character is itself. False on a broken escape ('%' without two hex digits after it), a non-ASCII character
    /// (a URL is ASCII; other bytes arrive escaped) or a destination too small.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<char> encoded, Span<byte> destination, out int written, bool plusIsSpace) =>
        Decode(encoded, destination, out written, plusIsSpace, maxLiteral: 0x7F);

    /// <summary>
    /// Decodes the raw bytes of a request target: as the text overload, except that bytes that are not escapes are
    /// copied as they are (a client may send UTF-8 unescaped; the caller checks the result is UTF-8).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> encoded, Span<byte> destination, out int written, bool plusIsSpace) =>
        Decode(encoded, destination, out written, plusIsSpace, maxLiteral: 0xFF);

    /// <summary>Decodes text to UTF-8 text; null on a broken escape, a non-ASCII character or bytes that are not UTF-8.</summary>
    public static string? DecodeUtf8(ReadOnlySpan<char> encoded, bool plusIsSpace)
    {
        // Decoding never lengthens: one byte per character at most.
        byte[] bytes = new byte[encoded.Length];
        if (!TryDecode(encoded, bytes, out int written, plusIsSpace)) return null;
        try { return StrictUtf8.GetString(bytes, 0, written); }
        catch (DecoderFallbackException) { return null; }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static bool Decode<T>(ReadOnlySpan<T> encoded, Span<byte> destination, out int written, bool plusIsSpace, int maxLiteral)
        where T : unmanaged, IBinaryInteger<T>
    {
        written = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            if (written == destination.Length) return false;
            int c = int.CreateTruncating(encoded[i]);
            if (c == '%')
            {
                if (i + 2 >= encoded.Length) return false;
                int hi = HexValue(int.CreateTruncating(encoded[i + 1])), lo = HexValue(int.CreateTruncating(encoded[i + 2]));
                if ((hi | lo) < 0) return false;
                destination[written++] = (byte)((hi << 4) | lo);
                i += 2;
            }
            else if (c == '+' && plusIsSpace)
            {
                destination[written++] = (byte)' ';
            }
            else if (c <= maxLiteral)
            {
                destination[written++] = (byte)c;
            }
            else
            {
                return false;
            }
        }
        return true;
    }

    private static int HexValue(int c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
