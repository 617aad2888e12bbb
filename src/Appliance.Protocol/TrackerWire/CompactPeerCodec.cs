using System.Buffers.Binary;
using System.Net;

namespace Appliance.Protocol.TrackerWire;

/// <summary>Tracker-wire compact peers as <see cref="IPEndPoint"/>s: BEP 23 (4-byte IPv4 + 2-byte port) and BEP 7 (16-byte IPv6 + 2-byte port).</summary>
public static class CompactPeerCodec
{
    public const int V4Length = 6;
    public const int V6Length = 18;

    public static IPEndPoint ReadV4(ReadOnlySpan<byte> six) =>
        new(new IPAddress(six[..4]), BinaryPrimitives.ReadUInt16BigEndian(six[4..]));

    public static IPEndPoint ReadV6(ReadOnlySpan<byte> eighteen) =>
        new(new IPAddress(eighteen[..16]), BinaryPrimitives.ReadUInt16BigEndian(eighteen[16..]));

    /// <summary>Writes 6 bytes for IPv4 (or IPv4-mapped IPv6) or 18 bytes for IPv6; returns the count.</summary>
    public static int Write(IPEndPoint endPoint, Span<byte> destination)
    {
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        if (!address.TryWriteBytes(destination, out int n)) throw new ArgumentException("destination too small", nameof(destination));
        BinaryPrimitives.WriteUInt16BigEndian(destination[n..], (ushort)endPoint.Port);
        return n + 2;
    }

    /// <summary>Appends every whole 6-byte entry; a trailing partial entry is ignored (returns false to report it).</summary>
    public static bool ReadAllV4(ReadOnlySpan<byte> data, List<IPEndPoint> into)
    {
        for (int i = 0; i + V4Length <= data.Length; i += V4Length)
        {
            var peer = ReadV4(data.Slice(i, V4Length));
            if (peer.Port != 0) into.Add(peer);
        }
        return data.Length % V4Length == 0;
    }

    public static bool ReadAllV6(ReadOnlySpan<byte> data, List<IPEndPoint> into)
    {
        for (int i = 0; i + V6Length <= data.Length; i += V6Length)
        {
            var peer = ReadV6(data.Slice(i, V6Length));
            if (peer.Port != 0) into.Add(peer);
        }
        return data.Length % V6Length == 0;
    }
}
