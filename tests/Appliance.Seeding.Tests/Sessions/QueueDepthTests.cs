using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;

namespace Appliance.Seeding.Tests.Sessions;

public sealed class QueueDepthTests
{
    private const int Block = 16 * 1024;
    private const int PieceLength = 256 * 1024;
    private const int Requested = 1200; // about 19 MiB: more than loopback buffers hold while the peer does not read
    private const int Cancelled = 100;

    [Fact]
    public async Task Queue_depth_counts_requests_and_cancels_sent_in_one_write_and_returns_to_zero_when_the_peer_leaves()
    {
        var options = new SeedingOptions { UploadSlots = 0, MaxOutstandingRequests = 2 * Requested };
        await using var seeder = new TestSeeder(options, size: 32L * 1024 * 1024, pieceLength: PieceLength);
        var peer = await seeder.ConnectAsync();
        await peer.ReadUntilAsync(PeerMessageId.HaveAll);
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);

        var bytes = new List<byte>();
        for (int i = 0; i < Requested; i++) bytes.AddRange(FakePeer.Block(PeerMessageId.Request, i * Block / PieceLength, i * Block % PieceLength, Block));
        // The newest requests are the ones still queued when the cancels arrive (the peer is not reading).
        for (int i = Requested - Cancelled; i < Requested; i++) bytes.AddRange(FakePeer.Block(PeerMessageId.Cancel, i * Block / PieceLength, i * Block % PieceLength, Block));
        await peer.SendAsync([.. bytes]);

        // Everything has arrived once the depth stops changing (the peer is not reading, so sends have stalled); it is
        // never negative, and then it counts no more than the requests left uncancelled.
        using var settle = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long previous = -1, depth;
        while (true)
        {
            await Task.Delay(200, settle.Token);
            depth = seeder.Counters.Read(SeedingCounter.SendQueueDepth);
            Assert.True(depth >= 0, $"queue depth {depth}");
            if (depth > 0 && depth == previous) break;
            previous = depth;
        }
        Assert.InRange(depth, 1, Requested - Cancelled);

        peer.Dispose();
        using var leave = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (seeder.Server.SessionCount > 0) await Task.Delay(50, leave.Token);
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.SendQueueDepth));
    }
}
