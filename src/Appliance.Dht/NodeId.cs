using System.Buffers.Binary;
using System.Numerics;
using Appliance.Protocol.Randomness;

namespace Appliance.Dht;

/// <summary>A 160-bit DHT key (node id or info-hash), compared by XOR distance (BEP 5).</summary>
public readonly struct NodeId : IEquatable<NodeId>, IComparable<NodeId>
{
    public const int Length = 20;
    public const int Bits = 160;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly uint _c;

    private NodeId(ulong a, ulong b, uint c)
    {
        _a = a;
        _b = b;
        _c = c;
    }

    public NodeId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length) throw new ArgumentException($"a node id is {Length} bytes, not {bytes.Length}", nameof(bytes));
        _a = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _b = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _c = BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]);
    }

    public static NodeId Random()
    {
        Span<byte> bytes = stackalloc byte[Length];
        KernelRandom.Fill(bytes);
        return new NodeId(bytes);
    }

    public static NodeId Parse(string hex) => new(Convert.FromHexString(hex));

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

    public NodeId Xor(NodeId other) => new(_a ^ other._a, _b ^ other._b, _c ^ other._c);

    /// <summary>Number of leading bits this id shares with <paramref name="other"/> (160 when equal).</summary>
    public int CommonPrefixLength(NodeId other)
    {
        ulong a = _a ^ other._a;
        if (a != 0) return BitOperations.LeadingZeroCount(a);
        ulong b = _b ^ other._b;
        if (b != 0) return 64 + BitOperations.LeadingZeroCount(b);
        uint c = _c ^ other._c;
        return c != 0 ? 128 + BitOperations.LeadingZeroCount(c) : Bits;
    }

    /// <summary>Negative when <paramref name="x"/> is closer to this id than <paramref name="y"/>.</summary>
    public int CompareDistance(NodeId x, NodeId y)
    {
        int order = (_a ^ x._a).CompareTo(_a ^ y._a);
        if (order != 0) return order;
        order = (_b ^ x._b).CompareTo(_b ^ y._b);
        if (order != 0) return order;
        return (_c ^ x._c).CompareTo(_c ^ y._c);
    }

    /// <summary>
    /// A random id sharing exactly <paramref name="prefixLength"/> leading bits with this one (the bit after the
    /// prefix flipped), used to refresh the bucket that holds such ids.
    /// </summary>
    public NodeId RandomWithPrefix(int prefixLength)
    {
        Span<byte> own = stackalloc byte[Length];
        Span<byte> result = stackalloc byte[Length];
        CopyTo(own);
        KernelRandom.Fill(result);
        for (int bit = 0; bit <= Math.Min(prefixLength, Bits - 1); bit++)
        {
            int index = bit >> 3;
            byte mask = (byte)(0x80 >> (bit & 7));
            bool value = (own[index] & mask) != 0;
            if (bit == prefixLength) value = !value;
            result[index] = value ? (byte)(result[index] | mask) : (byte)(result[index] & ~mask);
        }
        return new NodeId(result);
    }

    public bool Equals(NodeId other) => _a == other._a && _b == other._b && _c == other._c;

    public override bool Equals(object? obj) => obj is NodeId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_a, _b, _c);

    public int CompareTo(NodeId other)
    {
        int order = _a.CompareTo(other._a);
        if (order != 0) return order;
        order = _b.CompareTo(other._b);
        return order != 0 ? order : _c.CompareTo(other._c);
    }

    public static bool operator ==(NodeId left, NodeId right) => left.Equals(right);

    public static bool operator !=(NodeId left, NodeId right) => !left.Equals(right);

    public static bool operator <(NodeId left, NodeId right) => left.CompareTo(right) < 0;

    public static bool operator >(NodeId left, NodeId right) => left.CompareTo(right) > 0;

    public static bool operator <=(NodeId left, NodeId right) => left.CompareTo(right) <= 0;

    public static bool operator >=(NodeId left, NodeId right) => left.CompareTo(right) >= 0;

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
