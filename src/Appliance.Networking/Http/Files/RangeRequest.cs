using System.Buffers.Text;
using System.Text;

namespace Appliance.Networking.Http.Files;

/// <summary>What a GET answers with, decided from the Range and If-Range headers (RFC 9110 §14).</summary>
public enum RangeOutcome : byte
{
    /// <summary>200 with the whole file: no Range, a unit other than bytes, an If-Range that no longer matches, or several ranges.</summary>
    Whole,

    /// <summary>206 with one part.</summary>
    Partial,

    /// <summary>416 with <c>Content-Range: bytes */LENGTH</c>: no range can be served, or the byte-range set is malformed.</summary>
    Unsatisfiable,
}

/// <summary>
/// Evaluates a <c>Range</c> header against a file of a known length (pure: spans in, numbers out). One range gets a
/// 206; several (which web-seed clients never send: libtorrent and aria2 ask for one range per request) are answered
/// with the whole file, as RFC 9110 §14.2 allows a server to ignore a Range header, so no client has to parse
/// multipart/byteranges. A malformed byte-range set is rejected with 416, and a unit other than "bytes" ignored.
/// </summary>
public static class RangeRequest
{
    public static RangeOutcome Evaluate(ReadOnlySpan<byte> header, long length, out long start, out long count)
    {
        start = 0;
        count = length;
        var value = header.Trim(" \t"u8);
        int equals = value.IndexOf((byte)'=');
        if (equals < 0 || !Ascii.EqualsIgnoreCase(value[..equals], "bytes"u8)) return RangeOutcome.Whole;

        var set = value[(equals + 1)..];
        int specs = 0;
        bool anySatisfiable = false;
        long firstStart = 0, firstCount = 0;
        while (true)
        {
            int comma = set.IndexOf((byte)',');
            var spec = (comma < 0 ? set : set[..comma]).Trim(" \t"u8);
            if (!spec.IsEmpty) // RFC 9110 §5.6.1: empty list elements are ignored
            {
                if (!TryParseSpec(spec, length, out bool satisfiable, out long s, out long n)) return Reject(length, out start, out count);
                if (satisfiable && !anySatisfiable)
                {
                    firstStart = s;
                    firstCount = n;
                }
                anySatisfiable |= satisfiable;
                specs++;
            }
            if (comma < 0) break;
            set = set[(comma + 1)..];
        }
        if (specs == 0 || !anySatisfiable) return Reject(length, out start, out count);
        if (specs > 1) return RangeOutcome.Whole;
        start = firstStart;
        count = firstCount;
        return RangeOutcome.Partial;
    }

    private static RangeOutcome Reject(long length, out long start, out long count)
    {
        start = 0;
        count = length;
        return RangeOutcome.Unsatisfiable;
    }

    /// <summary>One range-spec: "first-last", "first-" or "-suffix". False when it is malformed (digits only, no overflow, last ≥ first).</summary>
    private static bool TryParseSpec(ReadOnlySpan<byte> spec, long length, out bool satisfiable, out long start, out long count)
    {
        satisfiable = false;
        start = count = 0;
        int dash = spec.IndexOf((byte)'-');
        if (dash < 0) return false;
        var first = spec[..dash];
        var last = spec[(dash + 1)..];
        if (first.IsEmpty)
        {
            if (!TryParseDigits(last, out long suffix)) return false;
            // A suffix longer than the file means the whole file; a zero suffix or an empty file leaves nothing to send.
            satisfiable = suffix > 0 && length > 0;
            count = Math.Min(suffix, length);
            start = length - count;
            return true;
        }
        if (!TryParseDigits(first, out long from)) return false;
        long to = long.MaxValue;
        if (!last.IsEmpty && !TryParseDigits(last, out to)) return false;
        if (to < from) return false;
        satisfiable = from < length;
        start = from;
        count = satisfiable ? Math.Min(to, length - 1) - from + 1 : 0;
        return true;
    }

    /// <summary>1*DIGIT as a non-negative long; false for anything else, signs and overflow included.</summary>
    private static bool TryParseDigits(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.ContainsAnyExceptInRange((byte)'0', (byte)'9')) return false;
        return Utf8Parser.TryParse(text, out value, out int used) && used == text.Length;
    }
}
