using System.Buffers.Binary;
using System.Numerics;
using Appliance.Protocol.Krpc;
using Appliance.Protocol.Randomness;

namespace Appliance.Dht;

/// <summary>
/// BEP 42: a node id whose first 21 bits are derived from the node's external address (IPv4, or the first 64 bits of IPv6), so an attacker
/// cannot pick ids next to a target. Our policy for other nodes' ids is in docs/dht.md: we accept any id
/// (checking is off by default in libtorrent too, and on loopback/private networks it cannot hold), but count
/// the nodes whose id does not match their address.
/// </summary>
public static class NodeIdSecurity
{
    public static NodeId Generate(uint address, byte random, ReadOnlySpan<byte> randomTail)
    {
        uint crc = Prefix(address, random);
        Span<byte> id = stackalloc byte[NodeId.Length];
        randomTail[..NodeId.Length].CopyTo(id);
        id[0] = (byte)(crc >> 24);
        id[1] = (byte)(crc >> 16);
        id[2] = (byte)((crc >> 8) & 0xF8 | (uint)(id[2] & 0x07));
        id[19] = random;
        return new NodeId(id);
    }

    public static NodeId Generate(uint address)
    {
        Span<byte> tail = stackalloc byte[NodeId.Length];
        KernelRandom.Fill(tail);
        return Generate(address, tail[19], tail);
    }

    public static bool IsValid(NodeId id, uint address)
    {
        if (IsExempt(address)) return true;
        Span<byte> bytes = stackalloc byte[NodeId.Length];
        id.CopyTo(bytes);
        uint crc = Prefix(address, bytes[19]);
        return bytes[0] == (byte)(crc >> 24) && bytes[1] == (byte)(crc >> 16) && (bytes[2] & 0xF8) == ((crc >> 8) & 0xF8);
    }

    /// <summary>Local and private addresses are exempt from BEP 42 (their ids cannot be tied to a public address).</summary>
    public static bool IsExempt(uint address)
    {
        byte first = (byte)(address >> 24);
        byte second = (byte)(address >> 16);
        return first is 10 or 127 || (first == 192 && second == 168) || (first == 172 && (second & 0xF0) == 16)
            || (first == 169 && second == 254);
    }

    /// <summary>BEP 42 over either family: an IPv4 peer uses the IPv4 rule, an IPv6 peer the first 8 bytes of its address.</summary>
    public static bool IsValid(NodeId id, CompactPeer address)
    {
        if (!address.IsV6) return IsValid(id, address.V4);
        if (IsExempt(address)) return true;
        Span<byte> bytes = stackalloc byte[NodeId.Length];
        id.CopyTo(bytes);
        uint crc = PrefixV6(address.Address, bytes[19]);
        return bytes[0] == (byte)(crc >> 24) && bytes[1] == (byte)(crc >> 16) && (bytes[2] & 0xF8) == ((crc >> 8) & 0xF8);
    }

    public static bool IsExempt(CompactPeer address)
    {
        if (!address.IsV6) return IsExempt(address.V4);
        var a = address.Address;
        // Loopback, unspecified, link-local fe80::/10 and unique-local fc00::/7.
        return a <= 1 || (a >> 118) == 0x3FA || (a >> 121) == 0x7E;
    }

    public static NodeId Generate(CompactPeer address)
    {
        if (!address.IsV6) return Generate(address.V4);
        Span<byte> tail = stackalloc byte[NodeId.Length];
        KernelRandom.Fill(tail);
        uint crc = PrefixV6(address.Address, tail[19]);
        tail[0] = (byte)(crc >> 24);
        tail[1] = (byte)(crc >> 16);
        tail[2] = (byte)((crc >> 8) & 0xF8 | (uint)(tail[2] & 0x07));
        return new NodeId(tail);
    }

    private static uint PrefixV6(UInt128 address, byte random)
    {
        ulong masked = (ulong)(address >> 64) & 0x0103070F1F3F7FFF | ((ulong)(random & 0x7) << 61);
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, masked);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    private static uint Prefix(uint address, byte random)
    {
        uint masked = (address & 0x030F3FFF) | ((uint)(random & 0x7) << 29);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, masked);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }
}
