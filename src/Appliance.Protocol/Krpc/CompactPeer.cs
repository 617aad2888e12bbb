using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Protocol.Krpc;

/// <summary>
/// An IPv4 or IPv6 address and port, in the compact forms of BEP 5 and BEP 32: 6 bytes (IPv4) or 18 bytes (IPv6),
/// address then port, big-endian. IPv4 addresses are held IPv4-mapped (::ffff:a.b.c.d), so one 128-bit value keys both.
/// </summary>
public readonly record struct CompactPeer(UInt128 Address, ushort Port)
{
    public const int Length = 6;
    public const int V6Length = 18;

    private static readonly UInt128 MappedPrefix = (UInt128)0xFFFF << 32;

    public CompactPeer(uint ipv4, ushort port) : this(MappedPrefix | ipv4, port)
    {
    }

    public bool IsV6 => Address >> 32 != 0xFFFF;

    /// <summary>The IPv4 address (meaningful when not <see cref="IsV6"/>).</summary>
    public uint V4 => (uint)Address;

    public int CompactLength => IsV6 ? V6Length : Length;

    public static CompactPeer Read(ReadOnlySpan<byte> compact) =>
        new(BinaryPrimitives.ReadUInt32BigEndian(compact), BinaryPrimitives.ReadUInt16BigEndian(compact[4..]));

    public static CompactPeer ReadV6(ReadOnlySpan<byte> compact) =>
        new(BinaryPrimitives.ReadUInt128BigEndian(compact), BinaryPrimitives.ReadUInt16BigEndian(compact[16..]));

    /// <summary>Reads a 6- or 18-byte compact address by its length.</summary>
    public static CompactPeer ReadAny(ReadOnlySpan<byte> compact) => compact.Length == V6Length ? ReadV6(compact) : Read(compact);

    /// <summary>Writes the compact form of the address's family: 6 or 18 bytes (<see cref="CompactLength"/>).</summary>
    public void Write(Span<byte> destination)
    {
        if (IsV6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(destination, Address);
            BinaryPrimitives.WriteUInt16BigEndian(destination[16..], Port);
            return;
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination, V4);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], Port);
    }

    public static CompactPeer FromEndPoint(IPEndPoint endPoint)
    {
        var address = endPoint.Address;
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return new CompactPeer(BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)endPoint.Port);
        }
        address.TryWriteBytes(bytes, out _);
        return new CompactPeer(BinaryPrimitives.ReadUInt128BigEndian(bytes), (ushort)endPoint.Port);
    }

    public IPEndPoint ToEndPoint()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!IsV6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, V4);
            return new IPEndPoint(new IPAddress(bytes[..4]), Port);
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        return new IPEndPoint(new IPAddress(bytes), Port);
    }

    public bool IsValid => Port != 0 && (IsV6 ? Address != 0 : V4 != 0);

    public override string ToString() => IsV6
        ? ToEndPoint().ToString()
        : $"{V4 >> 24}.{(V4 >> 16) & 0xFF}.{(V4 >> 8) & 0xFF}.{V4 & 0xFF}:{Port}";
}

/// <summary>A node's 20-byte id followed by its compact address: 26 bytes over IPv4 (BEP 5), 38 over IPv6 (BEP 32).</summary>
public static class CompactNode
{
    public const int Length = 26;
    public const int V6Length = 38;
    public const int IdLength = 20;

    public static int LengthFor(bool ipv6) => ipv6 ? V6Length : Length;
}
