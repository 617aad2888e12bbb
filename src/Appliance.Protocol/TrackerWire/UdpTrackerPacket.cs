using System.Buffers.Binary;
using System.Net;
using System.Text;
using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.TrackerWire;

public enum UdpTrackerAction
{
    Connect = 0,
    Announce = 1,
    Scrape = 2,
    Error = 3,
}

/// <summary>A parsed BEP 15 announce request (tracker side); the peer id is left in the packet at <see cref="UdpTrackerPacket.PeerIdOffset"/>.</summary>
public readonly record struct UdpAnnounceRequest(
    long ConnectionId, int TransactionId, InfoHash InfoHash, long Downloaded, long Left, long Uploaded,
    AnnounceEvent Event, uint IPv4, uint Key, int NumWant, ushort Port);

/// <summary>BEP 15 UDP tracker packets. All integers are big-endian. Pure encode/decode over spans.</summary>
public static class UdpTrackerPacket
{
    public const long ProtocolId = 0x41727101980;
    public const int ConnectLength = 16;
    public const int AnnounceRequestLength = 98;
    public const int AnnounceResponseHeaderLength = 20;
    public const int ScrapeRequestHeaderLength = 16;
    public const int ScrapeEntryLength = 12;
    public const int PeerIdOffset = 36;

    /// <summary>BEP 15: at most about 74 info-hashes per scrape so the answer fits a datagram.</summary>
    public const int MaxScrapeHashes = 74;

    public static int WriteConnectRequest(Span<byte> packet, int transactionId)
    {
        BinaryPrimitives.WriteInt64BigEndian(packet, ProtocolId);
        BinaryPrimitives.WriteInt32BigEndian(packet[8..], (int)UdpTrackerAction.Connect);
        BinaryPrimitives.WriteInt32BigEndian(packet[12..], transactionId);
        return ConnectLength;
    }

    public static bool TryReadConnectRequest(ReadOnlySpan<byte> packet, out int transactionId)
    {
        transactionId = 0;
        if (packet.Length < ConnectLength || BinaryPrimitives.ReadInt64BigEndian(packet) != ProtocolId
            || BinaryPrimitives.ReadInt32BigEndian(packet[8..]) != (int)UdpTrackerAction.Connect) return false;
        transactionId = BinaryPrimitives.ReadInt32BigEndian(packet[12..]);
        return true;
    }

    public static int WriteConnectResponse(Span<byte> packet, int transactionId, long connectionId)
    {
        BinaryPrimitives.WriteInt32BigEndian(packet, (int)UdpTrackerAction.Connect);
        BinaryPrimitives.WriteInt32BigEndian(packet[4..], transactionId);
        BinaryPrimitives.WriteInt64BigEndian(packet[8..], connectionId);
        return ConnectLength;
    }

    /// <summary>Reads the action and transaction id every response starts with.</summary>
    public static bool TryReadResponseHeader(ReadOnlySpan<byte> packet, out UdpTrackerAction action, out int transactionId)
    {
        action = default;
        transactionId = 0;
        if (packet.Length < 8) return false;
        action = (UdpTrackerAction)BinaryPrimitives.ReadInt32BigEndian(packet);
        transactionId = BinaryPrimitives.ReadInt32BigEndian(packet[4..]);
        return true;
    }

    public static bool TryReadConnectResponse(ReadOnlySpan<byte> packet, out long connectionId)
    {
        connectionId = 0;
        if (packet.Length < ConnectLength) return false;
        connectionId = BinaryPrimitives.ReadInt64BigEndian(packet[8..]);
        return true;
    }

    /// <summary>An error packet's message (action 3), trimmed to printable text.</summary>
    public static string ReadErrorMessage(ReadOnlySpan<byte> packet)
    {
        var message = packet.Length > 8 ? packet[8..Math.Min(packet.Length, 8 + 512)] : default;
        return Encoding.UTF8.GetString(message).TrimEnd('\0');
    }

    public static int WriteAnnounceRequest(Span<byte> packet, long connectionId, int transactionId, AnnounceRequest request)
    {
        BinaryPrimitives.WriteInt64BigEndian(packet, connectionId);
        BinaryPrimitives.WriteInt32BigEndian(packet[8..], (int)UdpTrackerAction.Announce);
        BinaryPrimitives.WriteInt32BigEndian(packet[12..], transactionId);
        request.InfoHash.CopyTo(packet[16..]);
        request.PeerId.Span.CopyTo(packet[PeerIdOffset..]);
        BinaryPrimitives.WriteInt64BigEndian(packet[56..], request.Downloaded);
        BinaryPrimitives.WriteInt64BigEndian(packet[64..], request.Left);
        BinaryPrimitives.WriteInt64BigEndian(packet[72..], request.Uploaded);
        BinaryPrimitives.WriteInt32BigEndian(packet[80..], (int)request.Event);
        uint ip = 0;
        if (request.IPAddress is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } v4)
        {
            Span<byte> four = stackalloc byte[4];
            v4.TryWriteBytes(four, out _);
            ip = BinaryPrimitives.ReadUInt32BigEndian(four);
        }
        BinaryPrimitives.WriteUInt32BigEndian(packet[84..], ip);
        BinaryPrimitives.WriteUInt32BigEndian(packet[88..], request.Key);
        BinaryPrimitives.WriteInt32BigEndian(packet[92..], request.NumWant);
        BinaryPrimitives.WriteUInt16BigEndian(packet[96..], (ushort)request.Port);
        return AnnounceRequestLength;
    }

    /// <summary>Reads the action of a request (connect requests carry the protocol id where the connection id would be).</summary>
    public static bool TryReadRequestAction(ReadOnlySpan<byte> packet, out UdpTrackerAction action, out long connectionId, out int transactionId)
    {
        action = default;
        connectionId = 0;
        transactionId = 0;
        if (packet.Length < 16) return false;
        connectionId = BinaryPrimitives.ReadInt64BigEndian(packet);
        action = (UdpTrackerAction)BinaryPrimitives.ReadInt32BigEndian(packet[8..]);
        transactionId = BinaryPrimitives.ReadInt32BigEndian(packet[12..]);
        return true;
    }

    public static bool TryReadAnnounceRequest(ReadOnlySpan<byte> packet, out UdpAnnounceRequest request)
    {
        request = default;
        if (packet.Length < AnnounceRequestLength || BinaryPrimitives.ReadInt32BigEndian(packet[8..]) != (int)UdpTrackerAction.Announce) return false;
        int e = BinaryPrimitives.ReadInt32BigEndian(packet[80..]);
        if (e is < 0 or > 3) return false;
        request = new UdpAnnounceRequest(
            BinaryPrimitives.ReadInt64BigEndian(packet),
            BinaryPrimitives.ReadInt32BigEndian(packet[12..]),
            new InfoHash(packet.Slice(16, InfoHash.Length)),
            BinaryPrimitives.ReadInt64BigEndian(packet[56..]),
            BinaryPrimitives.ReadInt64BigEndian(packet[64..]),
            BinaryPrimitives.ReadInt64BigEndian(packet[72..]),
            (AnnounceEvent)e,
            BinaryPrimitives.ReadUInt32BigEndian(packet[84..]),
            BinaryPrimitives.ReadUInt32BigEndian(packet[88..]),
            BinaryPrimitives.ReadInt32BigEndian(packet[92..]),
            BinaryPrimitives.ReadUInt16BigEndian(packet[96..]));
        return true;
    }

    public static int WriteAnnounceResponseHeader(Span<byte> packet, int transactionId, int interval, int leechers, int seeders)
    {
        BinaryPrimitives.WriteInt32BigEndian(packet, (int)UdpTrackerAction.Announce);
        BinaryPrimitives.WriteInt32BigEndian(packet[4..], transactionId);
        BinaryPrimitives.WriteInt32BigEndian(packet[8..], interval);
        BinaryPrimitives.WriteInt32BigEndian(packet[12..], leechers);
        BinaryPrimitives.WriteInt32BigEndian(packet[16..], seeders);
        return AnnounceResponseHeaderLength;
    }

    /// <summary>Reads an announce response; peers are 6-byte entries over IPv4 and 18-byte entries over IPv6 (BEP 15).</summary>
    public static bool TryReadAnnounceResponse(ReadOnlySpan<byte> packet, bool ipv6, out AnnounceResponse? response, out string error)
    {
        response = null;
        if (packet.Length < AnnounceResponseHeaderLength)
        {
            error = $"announce response of {packet.Length} bytes is shorter than 20";
            return false;
        }
        int interval = BinaryPrimitives.ReadInt32BigEndian(packet[8..]);
        int leechers = BinaryPrimitives.ReadInt32BigEndian(packet[12..]);
        int seeders = BinaryPrimitives.ReadInt32BigEndian(packet[16..]);
        var peers = new List<IPEndPoint>();
        var body = packet[AnnounceResponseHeaderLength..];
        if (ipv6) CompactPeerCodec.ReadAllV6(body, peers);
        else CompactPeerCodec.ReadAllV4(body, peers);
        response = new AnnounceResponse
        {
            Interval = Math.Max(0, interval),
            Incomplete = Math.Max(0, leechers),
            Complete = Math.Max(0, seeders),
            Peers = peers,
        };
        error = "";
        return true;
    }

    public static int WriteScrapeRequest(Span<byte> packet, long connectionId, int transactionId, ReadOnlySpan<InfoHash> hashes)
    {
        BinaryPrimitives.WriteInt64BigEndian(packet, connectionId);
        BinaryPrimitives.WriteInt32BigEndian(packet[8..], (int)UdpTrackerAction.Scrape);
        BinaryPrimitives.WriteInt32BigEndian(packet[12..], transactionId);
        int offset = ScrapeRequestHeaderLength;
        foreach (var hash in hashes)
        {
            hash.CopyTo(packet[offset..]);
            offset += InfoHash.Length;
        }
        return offset;
    }

    /// <summary>The number of whole info-hashes in a scrape request (capped at <see cref="MaxScrapeHashes"/>).</summary>
    public static int ScrapeRequestHashCount(ReadOnlySpan<byte> packet) =>
        packet.Length < ScrapeRequestHeaderLength ? 0 : Math.Min(MaxScrapeHashes, (packet.Length - ScrapeRequestHeaderLength) / InfoHash.Length);

    public static InfoHash ScrapeRequestHash(ReadOnlySpan<byte> packet, int index) =>
        new(packet.Slice(ScrapeRequestHeaderLength + index * InfoHash.Length, InfoHash.Length));

    public static int WriteScrapeResponseHeader(Span<byte> packet, int transactionId)
    {
        BinaryPrimitives.WriteInt32BigEndian(packet, (int)UdpTrackerAction.Scrape);
        BinaryPrimitives.WriteInt32BigEndian(packet[4..], transactionId);
        return 8;
    }

    public static int WriteScrapeEntry(Span<byte> packet, ScrapeCounts counts)
    {
        BinaryPrimitives.WriteInt32BigEndian(packet, counts.Complete);
        BinaryPrimitives.WriteInt32BigEndian(packet[4..], counts.Downloaded);
        BinaryPrimitives.WriteInt32BigEndian(packet[8..], counts.Incomplete);
        return ScrapeEntryLength;
    }

    public static bool TryReadScrapeResponse(ReadOnlySpan<byte> packet, ReadOnlySpan<InfoHash> asked, Dictionary<InfoHash, ScrapeCounts> into)
    {
        if (packet.Length < 8 + asked.Length * ScrapeEntryLength) return false;
        for (int i = 0; i < asked.Length; i++)
        {
            var entry = packet.Slice(8 + i * ScrapeEntryLength, ScrapeEntryLength);
            into[asked[i]] = new ScrapeCounts(
                Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(entry)),
                Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(entry[4..])),
                Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(entry[8..])));
        }
        return true;
    }

    public static int WriteError(Span<byte> packet, int transactionId, string message)
    {
        BinaryPrimitives.WriteInt32BigEndian(packet, (int)UdpTrackerAction.Error);
        BinaryPrimitives.WriteInt32BigEndian(packet[4..], transactionId);
        int max = Math.Min(packet.Length - 8, 200);
        int n = Encoding.UTF8.GetBytes(message.Length > max ? message[..max] : message, packet[8..]);
        return 8 + n;
    }
}
