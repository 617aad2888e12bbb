using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Appliance.Protocol.Metainfo;

/// <summary>A BitTorrent v1 info-hash: SHA-1 of the bencoded <c>info</c> dictionary. A value type that fits in three registers.</summary>
// Packed to 4 bytes: 20 bytes, not 24, wherever one is stored (arrays, tables, the embedded tracker's swarm values).
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Pack = 4)]
public readonly struct InfoHash : IEquatable<InfoHash>, IComparable<InfoHash>
{
    public const int Length = 20;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly uint _c;

    public InfoHash(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length) throw new ArgumentException($"an info-hash is {Length} bytes, not {bytes.Length}", nameof(bytes));
        _a = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _b = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _c = BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]);
    }

    public static InfoHash Compute(ReadOnlySpan<byte> infoDictionary)
    {
        Span<byte> digest = stackalloc byte[Length];
        SHA1.HashData(infoDictionary, digest);
        return new InfoHash(digest);
    }

    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], _c);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>Lower-case hex, as magnet links and most tools print it.</summary>
    public string ToHex()
    {
        Span<byte> bytes = stackalloc byte[Length];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public static InfoHash ParseHex(string hex) =>
        TryParse(hex, out var hash) ? hash : throw new FormatException($"'{hex}' is not a 40-digit hex or 32-character base32 info-hash");

    /// <summary>Accepts 40 hex digits or 32 base32 characters (both appear in magnet links).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out InfoHash hash)
    {
        Span<byte> bytes = stackalloc byte[Length];
        hash = default;
        if (text.Length == 40)
        {
            if (Convert.FromHexString(text, bytes, out _, out int written) != System.Buffers.OperationStatus.Done || written != Length) return false;
        }
        else if (text.Length == 32)
        {
            if (!Base32.TryDecode(text, bytes)) return false;
        }
        else
        {
            return false;
        }
        hash = new InfoHash(bytes);
        return true;
    }

    public bool Equals(InfoHash other) => _a == other._a && _b == other._b && _c == other._c;
    public override bool Equals(object? obj) => obj is InfoHash other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_a, _b, _c);
    public int CompareTo(InfoHash other) => _a != other._a ? _a.CompareTo(other._a) : _b != other._b ? _b.CompareTo(other._b) : _c.CompareTo(other._c);
    public static bool operator ==(InfoHash left, InfoHash right) => left.Equals(right);
    public static bool operator !=(InfoHash left, InfoHash right) => !left.Equals(right);
    public override string ToString() => ToHex();

    private static class Base32
    {
        public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination)
        {
            int buffer = 0, bits = 0, written = 0;
            foreach (char ch in text)
            {
                int value = ch switch
                {
                    >= 'A' and <= 'Z' => ch - 'A',
                    >= 'a' and <= 'z' => ch - 'a',
                    >= '2' and <= '7' => ch - '2' + 26,
                    _ => -1,
                };
                if (value < 0) return false;
                buffer = (buffer << 5) | value;
                bits += 5;
                if (bits >= 8)
                {
                    bits -= 8;
                    destination[written++] = (byte)(buffer >> bits);
                    buffer &= (1 << bits) - 1;
                }
            }
            return written == destination.Length;
        }
    }
}
