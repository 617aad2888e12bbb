using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Trackers.Embedded;

/// <summary>A peer's IP address and port as a small value (IPv4 is stored in the low 32 bits; IPv4-mapped IPv6 becomes IPv4).</summary>
public readonly record struct PeerAddress(UInt128 Address, ushort Port, bool IsV6)
{
    public int CompactLength => IsV6 ? 18 : 6;

    public static PeerAddress FromEndPoint(IPEndPoint endPoint) => From(endPoint.Address, endPoint.Port);

    public static PeerAddress From(IPAddress address, int port)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int n);
        return address.AddressFamily == AddressFamily.InterNetwork
            ? new PeerAddress(BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)port, false)
            : FromV6Bytes(bytes[..n], (ushort)port);
    }

    /// <summary>From 16 raw IPv6 bytes; an IPv4-mapped address (::ffff:a.b.c.d) becomes IPv4.</summary>
    public static PeerAddress FromV6Bytes(ReadOnlySpan<byte> sixteen, ushort port)
    {
        var value = BinaryPrimitives.ReadUInt128BigEndian(sixteen);
        if (value >> 32 == 0xFFFF) return new PeerAddress(value & uint.MaxValue, port, false);
        return new PeerAddress(value, port, true);
    }

    public static PeerAddress FromV4(uint address, ushort port) => new(address, port, false);

    public PeerAddress WithPort(int port) => this with { Port = (ushort)port };

    /// <summary>Writes the compact form: 4 or 16 address bytes and the port, big-endian.</summary>
    public int WriteCompact(Span<byte> destination)
    {
        if (IsV6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(destination, Address);
            BinaryPrimitives.WriteUInt16BigEndian(destination[16..], Port);
            return 18;
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)Address);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], Port);
        return 6;
    }

    public IPEndPoint ToEndPoint()
    {
        Span<byte> bytes = stackalloc byte[18];
        int n = WriteCompact(bytes);
        return new IPEndPoint(new IPAddress(bytes[..(n - 2)]), Port);
    }

    public override string ToString() => ToEndPoint().ToString();
}
