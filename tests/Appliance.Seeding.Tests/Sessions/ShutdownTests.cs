using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;

namespace Appliance.Seeding.Tests.Sessions;

public sealed class ShutdownTests
{
    private const int Block = 16 * 1024;
    private const int PieceLength = 256 * 1024;

    // 1,200 blocks are about 19 MiB: more than the loopback socket buffers on both sides hold (a few MiB each even
    // after autotuning) while the peer is not reading, so many are still queued in the session when the stop begins.
    private const int Requested = 1200;
    private const long Size = 32L * 1024 * 1024;

    private static SeedingOptions Options(TimeSpan drain) =>
        new() { UploadSlots = 0, MaxOutstandingRequests = 2 * Requested, DrainTimeout = drain };

    [Fact]
    public async Task Stopping_sends_every_queued_block_before_closing_the_peer()
    {
        await using var seeder = new TestSeeder(Options(TimeSpan.FromSeconds(20)), size: Size, pieceLength: PieceLength);
        using var peer = await UnchokedPeerWithQueuedRequestsAsync(seeder);

        var stopping = seeder.Server.StopAsync(CancellationToken.None);
        await ReadUntilClosedAsync(peer);
        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(Requested, seeder.Counters.Read(SeedingCounter.BlocksServed));
    }

    [Fact]
    public async Task A_peer_that_stops_reading_is_cut_off_at_the_drain_deadline()
    {
        await using var seeder = new TestSeeder(Options(TimeSpan.FromMilliseconds(300)), size: Size, pieceLength: PieceLength);
        using var peer = await UnchokedPeerWithQueuedRequestsAsync(seeder);

        await seeder.Server.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, seeder.Server.SessionCount);
    }

    [Fact]
    public async Task Requests_arriving_while_stopping_are_rejected()
    {
        await using var seeder = new TestSeeder(Options(TimeSpan.FromSeconds(20)), size: Size, pieceLength: PieceLength);
        using var peer = await UnchokedPeerWithQueuedRequestsAsync(seeder);
        var stopping = seeder.Server.StopAsync(CancellationToken.None);
        await peer.RequestAsync(100, 0, Block);

        await ReadUntilClosedAsync(peer);
        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(Requested, seeder.Counters.Read(SeedingCounter.BlocksServed));
        Assert.Equal(1, seeder.Counters.Rejected.Read(RejectReason.ShuttingDown));
    }

    /// <summary>Reads (so the seeder's sends can complete) until the seeder closes the connection.</summary>
    private static async Task ReadUntilClosedAsync(FakePeer peer)
    {
        try
        {
            while (true) await peer.ReadMessageAsync();
        }
        catch (EndOfStreamException)
        {
        }
        catch (System.Net.Sockets.SocketException)
        {
        }
    }

    private static async Task<FakePeer> UnchokedPeerWithQueuedRequestsAsync(TestSeeder seeder)
    {
        var peer = await seeder.ConnectAsync();
        await peer.ReadUntilAsync(PeerMessageId.HaveAll);
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        for (int i = 0; i < Requested; i++)
        {
            int offset = i * Block;
            await peer.RequestAsync(offset / PieceLength, offset % PieceLength, Block);
        }
        // Stop only once every request has reached the seeder (a request arriving after the stop is refused by
        // design). The peer is not reading, so sends stall and the queue only grows while requests still arrive:
        // wait until it holds most of them and has stopped growing.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        long previous = -1;
        while (true)
        {
            await Task.Delay(100, cts.Token);
            long depth = seeder.Counters.Read(SeedingCounter.SendQueueDepth);
            if (depth >= Requested / 2 && depth == previous) break;
            previous = depth;
        }
        return peer;
    }
}
