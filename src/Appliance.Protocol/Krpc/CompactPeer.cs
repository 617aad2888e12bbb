using System.Buffers.Binary;
using System.Net;

namespace Appliance.Protocol.Krpc;

/// <summary>An IPv4 address and port in the 6-byte compact form of BEP 5 (address then port, big-endian).</summary>
public readonly record struct CompactPeer(uint Address, ushort Port)
{
    public const int Length = 6;

    public static CompactPeer Read(ReadOnlySpan<byte> compact) =>
        new(BinaryPrimitives.ReadUInt32BigEndian(compact), BinaryPrimitives.ReadUInt16BigEndian(compact[4..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Address);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], Port);
    }

    public static CompactPeer FromEndPoint(IPEndPoint endPoint)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (!endPoint.Address.TryWriteBytes(bytes, out int written) || written != 4)
            throw new ArgumentException("only IPv4 endpoints have a 6-byte compact form", nameof(endPoint));
        return new CompactPeer(BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)endPoint.Port);
    }

    public IPEndPoint ToEndPoint()
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Address);
        return new IPEndPoint(new IPAddress(bytes), Port);
    }

    public bool IsValid => Address != 0 && Port != 0;

    public override string ToString() =>
        $"{Address >> 24}.{(Address >> 16) & 0xFF}.{(Address >> 8) & 0xFF}.{Address & 0xFF}:{Port}";
}

/// <summary>A node's 20-byte id followed by its compact address: 26 bytes (BEP 5 "compact node info").</summary>
public static class CompactNode
{
    public const int Length = 26;
    public const int IdLength = 20;
}
