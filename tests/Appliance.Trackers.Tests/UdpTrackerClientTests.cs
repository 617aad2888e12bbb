using Appliance.TestKit;
using Appliance.Protocol.Metainfo;
using System.Buffers.Binary;
using System.Text;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Announcing;

namespace Appliance.Trackers.Tests;

public sealed class UdpTrackerClientTests
{
    private static readonly InfoHash Hash = AnnouncerHttpTests.Hash;

    private static byte[] ConnectReply(byte[] request, long connectionId)
    {
        var reply = new byte[16];
        UdpTrackerPacket.WriteConnectResponse(reply, BinaryPrimitives.ReadInt32BigEndian(request.AsSpan(12)), connectionId);
        return reply;
    }

    private static byte[] AnnounceReply(byte[] request, int transactionDelta = 0)
    {
        var reply = new byte[26];
        UdpTrackerPacket.WriteAnnounceResponseHeader(reply, BinaryPrimitives.ReadInt32BigEndian(request.AsSpan(12)) + transactionDelta, 900, 3, 7);
        new byte[] { 10, 0, 0, 5, 0x1a, 0xe1 }.CopyTo(reply, 20);
        return reply;
    }

    private static bool IsConnect(byte[] packet) => BinaryPrimitives.ReadInt64BigEndian(packet) == UdpTrackerPacket.ProtocolId;

    private static Func<byte[], IEnumerable<byte[]>> Tracker(long connectionId = 42, int transactionDelta = 0) => packet =>
        IsConnect(packet) ? [ConnectReply(packet, connectionId)] : [AnnounceReply(packet, transactionDelta)];

    private static AnnounceRequest Request(InfoHash hash) => new()
    {
        InfoHash = hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6881, Uploaded = 77, Event = AnnounceEvent.Started, NumWant = 10, Key = 5,
    };

    [Fact]
    public async Task Announce_connects_then_announces_with_all_fields()
    {
        await using var tracker = new ScriptedUdpTracker(Tracker());
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options());
        var response = await client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None);
        Assert.Equal(900, response.Interval);
        Assert.Equal(7, response.Complete);
        Assert.Equal(3, response.Incomplete);
        Assert.Equal("10.0.0.5:6881", Assert.Single(response.Peers).ToString());
        var announce = tracker.Requests.First(p => !IsConnect(p));
        Assert.Equal(98, announce.Length);
        Assert.Equal(42, BinaryPrimitives.ReadInt64BigEndian(announce));
        Assert.True(UdpTrackerPacket.TryReadAnnounceRequest(announce, out var parsed));
        Assert.Equal(Hash, parsed.InfoHash);
        Assert.Equal(77, parsed.Uploaded);
        Assert.Equal(0, parsed.Left);
        Assert.Equal(AnnounceEvent.Started, parsed.Event);
        Assert.Equal(6881, parsed.Port);
        Assert.Equal(10, parsed.NumWant);
        Assert.Equal("-AP0100-abcdefghijkl", Encoding.ASCII.GetString(announce, UdpTrackerPacket.PeerIdOffset, 20));
    }

    [Fact]
    public async Task One_connection_id_is_shared_by_all_torrents_of_a_tracker()
    {
        await using var tracker = new ScriptedUdpTracker(Tracker());
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options());
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => client.AnnounceAsync(tracker.Url, Request(InfoHash.Compute([(byte)i])), CancellationToken.None)));
        Assert.Equal(1, client.Connects);
    }

    [Fact]
    public async Task Connection_id_older_than_a_minute_is_renewed()
    {
        var time = new ManualTime();
        await using var tracker = new ScriptedUdpTracker(Tracker());
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options(), time);
        await client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(59));
        await client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None);
        Assert.Equal(1, client.Connects);
        time.Advance(TimeSpan.FromSeconds(2));
        await client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None);
        Assert.Equal(2, client.Connects);
    }

    [Fact]
    public async Task Reply_with_wrong_transaction_id_is_ignored_and_the_announce_times_out()
    {
        await using var tracker = new ScriptedUdpTracker(Tracker(transactionDelta: 1));
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options(TimeSpan.FromMilliseconds(200)));
        var error = await Assert.ThrowsAsync<TrackerException>(() => client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None));
        Assert.True(error.TimedOut);
        Assert.True(client.UnmatchedResponses >= 2);
    }

    [Fact]
    public async Task Lost_request_is_retransmitted()
    {
        int announces = 0;
        await using var tracker = new ScriptedUdpTracker(packet =>
            IsConnect(packet) ? [ConnectReply(packet, 9)] : Interlocked.Increment(ref announces) == 1 ? [] : [AnnounceReply(packet)]);
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options(TimeSpan.FromMilliseconds(200), udpAttempts: 6));
        var response = await client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None);
        Assert.Equal(900, response.Interval);
        Assert.True(announces >= 2);
    }

    [Fact]
    public async Task Error_packet_fails_with_the_trackers_message_and_drops_the_connection_id()
    {
        await using var tracker = new ScriptedUdpTracker(packet =>
        {
            if (IsConnect(packet)) return [ConnectReply(packet, 9)];
            var reply = new byte[64];
            int n = UdpTrackerPacket.WriteError(reply, BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(12)), "torrent not registered");
            return [reply[..n]];
        });
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options());
        var error = await Assert.ThrowsAsync<TrackerException>(() => client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None));
        Assert.Contains("torrent not registered", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TrackerException>(() => client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None));
        Assert.Equal(2, client.Connects);
    }

    [Fact]
    public async Task Short_announce_reply_is_a_protocol_error()
    {
        await using var tracker = new ScriptedUdpTracker(packet =>
            IsConnect(packet) ? [ConnectReply(packet, 9)] : [AnnounceReply(packet)[..12]]);
        await using var client = new UdpTrackerClient(AnnouncerHttpTests.Options());
        var error = await Assert.ThrowsAsync<TrackerException>(() => client.AnnounceAsync(tracker.Url, Request(Hash), CancellationToken.None));
        Assert.Contains("shorter", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Announcer_over_udp_sends_stopped_on_shutdown()
    {
        await using var tracker = new ScriptedUdpTracker(Tracker());
        var announcer = new Announcer(AnnouncerHttpTests.Options(), new TrackerCounters());
        announcer.Add(Hash, [[tracker.Url]], () => 0);
        await announcer.AnnounceNowAsync(Hash, CancellationToken.None);
        await announcer.DisposeAsync();
        var last = tracker.Requests.Last(p => !IsConnect(p));
        Assert.True(UdpTrackerPacket.TryReadAnnounceRequest(last, out var parsed));
        Assert.Equal(AnnounceEvent.Stopped, parsed.Event);
    }
}
