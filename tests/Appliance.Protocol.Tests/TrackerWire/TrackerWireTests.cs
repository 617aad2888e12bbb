using System.Buffers;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Protocol.Tests.TrackerWire;

public sealed class TrackerWireTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("wire"u8);
    private static readonly byte[] PeerId = "-AP0100-abcdefghijkl"u8.ToArray();

    [Fact]
    public void Announce_query_round_trips_through_build_and_parse()
    {
        var request = new AnnounceRequest
        {
            InfoHash = Hash, PeerId = PeerId, Port = 51413, Uploaded = 1L << 40, Left = 0,
            Event = AnnounceEvent.Stopped, NumWant = 30, TrackerId = "t i/d", Key = 0xABCDEF01,
        };
        string url = HttpAnnounceQuery.Build("http://t.example/announce?passkey=x", request);
        Assert.StartsWith("http://t.example/announce?passkey=x&info_hash=", url, StringComparison.Ordinal);
        Assert.True(HttpAnnounceQuery.TryParse(url[(url.IndexOf('?', StringComparison.Ordinal) + 1)..], out var parsed, out string error), error);
        Assert.Equal(Hash, parsed!.InfoHash);
        Assert.Equal(request.PeerId.ToArray(), parsed.PeerId.ToArray());
        Assert.Equal((51413, 1L << 40, 0L, AnnounceEvent.Stopped, 30, "t i/d"), (parsed.Port, parsed.Uploaded, parsed.Left, parsed.Event, parsed.NumWant, parsed.TrackerId));
    }

    [Fact]
    public void Raw_announce_and_scrape_query_bytes_parse_without_allocating()
    {
        string url = HttpAnnounceQuery.Build("http://t.example/announce", new AnnounceRequest
        {
            InfoHash = Hash, PeerId = PeerId, Port = 6881, Left = 0, Event = AnnounceEvent.Started, NumWant = 40,
        });
        byte[] query = System.Text.Encoding.ASCII.GetBytes(url[(url.IndexOf('?', StringComparison.Ordinal) + 1)..]);
        string scrapeUrl = HttpAnnounceQuery.BuildScrape("http://t.example/scrape", [Hash, InfoHash.Compute("other"u8)]);
        byte[] scrape = System.Text.Encoding.ASCII.GetBytes(scrapeUrl[(scrapeUrl.IndexOf('?', StringComparison.Ordinal) + 1)..]);
        var hashes = new InfoHash[HttpAnnounceQuery.MaxScrapeHashes];

        Assert.True(HttpAnnounceQuery.TryParse(query, out HttpAnnounceFields fields, out string error), error);
        Assert.Equal((Hash, 6881, 0L, AnnounceEvent.Started, 40, true), (fields.InfoHash, fields.Port, fields.Left, fields.Event, fields.NumWant, fields.Compact));
        Assert.True(HttpAnnounceQuery.TryParseScrape(scrape, hashes, out int count, out _));
        Assert.Equal([Hash, InfoHash.Compute("other"u8)], hashes[..count]);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            HttpAnnounceQuery.TryParse(query, out HttpAnnounceFields _, out _);
            HttpAnnounceQuery.TryParseScrape(scrape, hashes, out _, out _);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData("info_hash=%zz", "malformed value")]
    [InlineData("info_hash=%4", "malformed value")]
    [InlineData("event=paused", "unknown event")]
    public void Bad_query_values_are_refused_with_a_reason(string query, string reason)
    {
        Assert.False(HttpAnnounceQuery.TryParse(query, out _, out string error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://t/announce", "http://t/scrape")]
    [InlineData("http://t/x/announce.php?k=1", "http://t/x/scrape.php?k=1")]
    [InlineData("http://t/a", null)]
    [InlineData("http://t/announce/x", null)]
    public void Scrape_url_follows_bep_48(string announce, string? scrape) => Assert.Equal(scrape, HttpAnnounceQuery.ScrapeUrl(announce));

    [Fact]
    public void Compact_response_with_peers_and_peers6_parses()
    {
        var output = new ArrayBufferWriter<byte>();
        HttpTrackerResponse.WriteAnnounce(output, 1800, 60, 3, 4, [1, 2, 3, 4, 0x1a, 0xe1], [.. new byte[15], 1, 0, 80]);
        Assert.True(HttpTrackerResponse.TryParseAnnounce(output.WrittenMemory, out var response, out _));
        Assert.Equal(["1.2.3.4:6881", "[::1]:80"], response!.Peers.Select(p => p.ToString()));
        Assert.Equal((1800, 60, 3, 4), (response.Interval, response.MinInterval, response.Complete, response.Incomplete));
    }

    [Fact]
    public void Announce_answer_with_keys_out_of_order_parses()
    {
        var body = System.Text.Encoding.Latin1.GetBytes("d5:peers6:\u0001\u0002\u0003\u0004\u001a\u00e18:intervali900e8:completei2e10:incompletei7ee");
        Assert.True(HttpTrackerResponse.TryParseAnnounce(body, out var response, out var error), error);
        Assert.Equal("1.2.3.4:6881", Assert.Single(response!.Peers).ToString());
        Assert.Equal((900, 2, 7), (response.Interval, response.Complete, response.Incomplete));
    }

    [Fact]
    public void Dictionary_peer_list_parses_and_skips_bad_entries()
    {
        var body = "d8:intervali60e5:peersld2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti99eed2:ip3:bad4:porti1eed2:ip7:5.6.7.84:porti0eeee"u8.ToArray();
        Assert.True(HttpTrackerResponse.TryParseAnnounce(body, out var response, out _));
        Assert.Equal("1.2.3.4:99", Assert.Single(response!.Peers).ToString());
    }

    [Fact]
    public void Scrape_response_round_trips()
    {
        var output = new ArrayBufferWriter<byte>();
        HttpTrackerResponse.WriteScrape(output, [(Hash, new ScrapeCounts(5, 6, 7))]);
        var counts = new Dictionary<InfoHash, ScrapeCounts>();
        Assert.True(HttpTrackerResponse.TryParseScrape(output.WrittenMemory, counts, out var failure, out _));
        Assert.Null(failure);
        Assert.Equal(new ScrapeCounts(5, 6, 7), counts[Hash]);
    }

    [Fact]
    public void Udp_announce_response_over_ipv6_reads_18_byte_peers()
    {
        var packet = new byte[20 + 18];
        UdpTrackerPacket.WriteAnnounceResponseHeader(packet, 1, 60, 0, 1);
        packet[35] = 1;
        packet[37] = 80;
        Assert.True(UdpTrackerPacket.TryReadAnnounceResponse(packet, ipv6: true, out var response, out _));
        Assert.Equal("[::1]:80", Assert.Single(response!.Peers).ToString());
    }
}
