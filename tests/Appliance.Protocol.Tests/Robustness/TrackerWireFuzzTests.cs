using Appliance.TestKit;
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Protocol.Tests.Robustness;

/// <summary>
/// Tracker wire formats under hostile input: the HTTP announce query a tracker parses, the bencoded response a
/// client parses, and BEP 15 datagrams both ways. Refusals are values; nothing throws; accepted values are in range.
/// </summary>
public sealed class TrackerWireFuzzTests
{
    private static readonly InfoHash Hash = new(Enumerable.Range(0, 20).Select(i => (byte)(i * 13 + 255)).ToArray());
    private static readonly byte[] PeerIdBytes = "-XX0001-\0%&=+ \u00ff\u0080abc"u8.ToArray()[..20];

    private static AnnounceRequest Request() => new()
    {
        InfoHash = Hash,
        PeerId = PeerIdBytes,
        Port = 51413,
        Uploaded = 1234,
        Downloaded = 5678,
        Left = long.MaxValue,
        Event = AnnounceEvent.Started,
        Key = 0xDEADBEEF,
        NumWant = 50,
        TrackerId = "t&r=a%ck",
        IPAddress = IPAddress.Parse("10.1.2.3"),
    };

    private static string Query(AnnounceRequest request)
    {
        string url = HttpAnnounceQuery.Build("http://127.0.0.1:1/announce", request);
        return url[(url.IndexOf('?', StringComparison.Ordinal) + 1)..];
    }

    [Fact]
    public void Http_announce_query_round_trips()
    {
        var request = Request();
        Assert.True(HttpAnnounceQuery.TryParse(Query(request), out var parsed, out string error), error);
        Assert.Equal(request.InfoHash, parsed!.InfoHash);
        Assert.Equal(PeerIdBytes, parsed.PeerId.ToArray());
        Assert.Equal((request.Port, request.Uploaded, request.Downloaded, request.Left, request.Event, request.NumWant),
            (parsed.Port, parsed.Uploaded, parsed.Downloaded, parsed.Left, parsed.Event, parsed.NumWant));
        Assert.Equal(request.TrackerId, parsed.TrackerId);
        Assert.Equal(request.IPAddress, parsed.IPAddress);
    }

    [Fact]
    public void Mutated_http_announce_queries_are_refused_with_a_reason_or_give_in_range_fields()
    {
        byte[] valid = Encoding.Latin1.GetBytes(Query(Request()));
        int refused = 0;
        foreach (var mutant in Mutations.Truncations(valid).Concat(Mutations.Random(valid, seed: 201, count: 4000)))
        {
            string query = Encoding.Latin1.GetString(mutant);
            if (HttpAnnounceQuery.TryParse(query, out var request, out string error))
            {
                Assert.Equal(AnnounceRequest.PeerIdLength, request!.PeerId.Length);
                Assert.InRange(request.Port, 1, 65535);
                Assert.True(Enum.IsDefined(request.Event));
            }
            else
            {
                refused++;
                Assert.Null(request);
                Assert.False(string.IsNullOrWhiteSpace(error));
            }
            var hashes = new List<InfoHash>();
            HttpAnnounceQuery.TryParseScrape(query, hashes, out _);
            Assert.True(hashes.Count <= HttpAnnounceQuery.MaxScrapeHashes);
        }
        Assert.True(refused > 0);
    }

    [Fact]
    public void Oversized_query_values_are_refused_not_overrun()
    {
        string huge = "info_hash=" + new string('a', 100_000) + "&peer_id=" + string.Concat(Enumerable.Repeat("%41", 5000)) + "&port=1";
        Assert.False(HttpAnnounceQuery.TryParse(huge, out _, out string error));
        Assert.NotEmpty(error);
        var scrape = string.Join('&', Enumerable.Repeat("info_hash=" + new string('b', 20), 1000));
        var hashes = new List<InfoHash>();
        Assert.True(HttpAnnounceQuery.TryParseScrape(scrape, hashes, out _));
        Assert.Equal(HttpAnnounceQuery.MaxScrapeHashes, hashes.Count);
    }

    private static byte[] CompactResponse(out IPEndPoint[] peers)
    {
        peers = [new(IPAddress.Parse("127.0.0.1"), 6881), new(IPAddress.Parse("10.0.0.2"), 1), new(IPAddress.Parse("::1"), 65535), new(IPAddress.Parse("fe80::1"), 443)];
        var v4 = new byte[12];
        CompactPeerCodec.Write(peers[0], v4);
        CompactPeerCodec.Write(peers[1], v4.AsSpan(6));
        var v6 = new byte[36];
        CompactPeerCodec.Write(peers[2], v6);
        CompactPeerCodec.Write(peers[3], v6.AsSpan(18));
        var output = new ArrayBufferWriter<byte>();
        HttpTrackerResponse.WriteAnnounce(output, 1800, 900, 3, 4, v4, v6);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Bencoded_announce_response_round_trips_compact_peers_and_peers6()
    {
        byte[] body = CompactResponse(out var peers);
        Assert.True(HttpTrackerResponse.TryParseAnnounce(body, out var response, out string error), error);
        Assert.Null(response!.FailureReason);
        Assert.Equal((1800, 900, 3, 4), (response.Interval, response.MinInterval, response.Complete, response.Incomplete));
        Assert.Equal(peers, response.Peers);

        var failure = new ArrayBufferWriter<byte>();
        HttpTrackerResponse.WriteFailure(failure, "torrent not registered");
        Assert.True(HttpTrackerResponse.TryParseAnnounce(failure.WrittenMemory, out response, out _));
        Assert.Equal("torrent not registered", response!.FailureReason);
    }

    [Fact]
    public void Mutated_announce_responses_never_throw_and_accepted_ones_are_in_range()
    {
        byte[] body = CompactResponse(out _);
        var failure = new ArrayBufferWriter<byte>();
        HttpTrackerResponse.WriteFailure(failure, "torrent not registered");
        var inputs = Mutations.Truncations(body)
            .Concat(Mutations.Random(body, seed: 202, count: 4000))
            .Concat(Mutations.Random(failure.WrittenSpan.ToArray(), seed: 203, count: 1000));
        foreach (var mutant in inputs)
        {
            if (HttpTrackerResponse.TryParseAnnounce(mutant, out var response, out string error))
            {
                Assert.NotNull(response);
                if (response!.FailureReason is not null) continue;
                Assert.True(response.Interval >= 0);
                Assert.True(response.Peers.Count <= HttpTrackerResponse.MaxPeers);
                Assert.All(response.Peers, p => Assert.InRange(p.Port, 1, 65535));
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
            }
            var scrape = new Dictionary<InfoHash, ScrapeCounts>();
            HttpTrackerResponse.TryParseScrape(mutant, scrape, out _, out _);
        }
    }

    [Fact]
    public void Huge_compact_peer_string_is_capped_at_max_peers()
    {
        var peers = new byte[6 * (HttpTrackerResponse.MaxPeers + 500)];
        for (int i = 0; i < peers.Length; i += 6) { peers[i] = 10; BinaryPrimitives.WriteUInt16BigEndian(peers.AsSpan(i + 4), 7); }
        var output = new ArrayBufferWriter<byte>();
        HttpTrackerResponse.WriteAnnounce(output, 60, 30, 0, 0, peers, default);
        Assert.True(HttpTrackerResponse.TryParseAnnounce(output.WrittenMemory, out var response, out _));
        Assert.Equal(HttpTrackerResponse.MaxPeers, response!.Peers.Count);
    }

    [Fact]
    public void Udp_requests_round_trip_and_mutants_never_throw()
    {
        var connect = new byte[UdpTrackerPacket.ConnectLength];
        UdpTrackerPacket.WriteConnectRequest(connect, 0x1234);
        Assert.True(UdpTrackerPacket.TryReadConnectRequest(connect, out int transaction));
        Assert.Equal(0x1234, transaction);

        var announce = new byte[UdpTrackerPacket.AnnounceRequestLength];
        UdpTrackerPacket.WriteAnnounceRequest(announce, 0x0102030405060708, 99, Request());
        Assert.True(UdpTrackerPacket.TryReadAnnounceRequest(announce, out var parsed));
        Assert.Equal(Hash, parsed.InfoHash);
        Assert.Equal(AnnounceEvent.Started, parsed.Event);

        var scrape = new byte[UdpTrackerPacket.ScrapeRequestHeaderLength + 3 * InfoHash.Length];
        UdpTrackerPacket.WriteScrapeRequest(scrape, 1, 2, [Hash, Hash, Hash]);
        Assert.Equal(3, UdpTrackerPacket.ScrapeRequestHashCount(scrape));

        var inputs = Mutations.Truncations(announce).Concat(Mutations.Random(announce, 204, 3000))
            .Concat(Mutations.Random(connect, 205, 1000)).Concat(Mutations.Random(scrape, 206, 1000));
        foreach (var mutant in inputs)
        {
            UdpTrackerPacket.TryReadConnectRequest(mutant, out _);
            UdpTrackerPacket.TryReadRequestAction(mutant, out _, out _, out _);
            if (UdpTrackerPacket.TryReadAnnounceRequest(mutant, out var request))
            {
                Assert.True(mutant.Length >= UdpTrackerPacket.AnnounceRequestLength);
                Assert.True(Enum.IsDefined(request.Event));
            }
            int count = UdpTrackerPacket.ScrapeRequestHashCount(mutant);
            Assert.InRange(count, 0, UdpTrackerPacket.MaxScrapeHashes);
            for (int i = 0; i < count; i++) UdpTrackerPacket.ScrapeRequestHash(mutant, i);
        }
    }

    [Fact]
    public void Udp_responses_round_trip_and_mutants_never_throw()
    {
        var packet = new byte[UdpTrackerPacket.AnnounceResponseHeaderLength + 2 * CompactPeerCodec.V4Length];
        int n = UdpTrackerPacket.WriteAnnounceResponseHeader(packet, 7, 1800, 2, 5);
        n += CompactPeerCodec.Write(new IPEndPoint(IPAddress.Loopback, 6881), packet.AsSpan(n));
        CompactPeerCodec.Write(new IPEndPoint(IPAddress.Parse("192.168.1.9"), 51413), packet.AsSpan(n));
        Assert.True(UdpTrackerPacket.TryReadResponseHeader(packet, out var action, out int transaction));
        Assert.Equal((UdpTrackerAction.Announce, 7), (action, transaction));
        Assert.True(UdpTrackerPacket.TryReadAnnounceResponse(packet, ipv6: false, out var response, out _));
        Assert.Equal((1800, 2, 5, 2), (response!.Interval, response.Incomplete, response.Complete, response.Peers.Count));

        var connect = new byte[UdpTrackerPacket.ConnectLength];
        UdpTrackerPacket.WriteConnectResponse(connect, 3, long.MinValue);
        Assert.True(UdpTrackerPacket.TryReadConnectResponse(connect, out long connectionId));
        Assert.Equal(long.MinValue, connectionId);

        var inputs = Mutations.Truncations(packet).Concat(Mutations.Random(packet, 207, 3000)).Concat(Mutations.Random(connect, 208, 500));
        foreach (var mutant in inputs)
        {
            UdpTrackerPacket.TryReadResponseHeader(mutant, out _, out _);
            UdpTrackerPacket.TryReadConnectResponse(mutant, out _);
            Assert.True(UdpTrackerPacket.ReadErrorMessage(mutant).Length <= 512);
            foreach (bool ipv6 in new[] { false, true })
            {
                if (UdpTrackerPacket.TryReadAnnounceResponse(mutant, ipv6, out var r, out string error))
                {
                    Assert.True(r!.Interval >= 0 && r.Complete >= 0 && r.Incomplete >= 0);
                    Assert.True(r.Peers.Count <= mutant.Length / CompactPeerCodec.V4Length);
                }
                else
                {
                    Assert.NotEmpty(error);
                }
            }
        }
    }
}
