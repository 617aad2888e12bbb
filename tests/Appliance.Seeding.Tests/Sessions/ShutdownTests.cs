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
        int pieces = 0;
        while (pieces < Requested)
        {
            var (id, _) = await peer.ReadMessageAsync();
            if (id == PeerMessageId.Piece) pieces++;
        }
        Assert.True(await peer.WaitClosedAsync());
        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(Requested, pieces);
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

        int pieces = 0;
        bool rejected = false;
        while (pieces < Requested || !rejected)
        {
            var (id, _) = await peer.ReadMessageAsync();
            if (id == PeerMessageId.Piece) pieces++;
            else if (id == PeerMessageId.RejectRequest) rejected = true;
        }
        Assert.True(await peer.WaitClosedAsync());
        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, seeder.Counters.Rejected(RejectReason.ShuttingDown));
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
        // Wait until the session holds them (queued, or already in the socket) before stopping.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seeder.Counters.SendQueueDepth < Requested / 2) await Task.Delay(10, cts.Token);
        return peer;
    }
}
