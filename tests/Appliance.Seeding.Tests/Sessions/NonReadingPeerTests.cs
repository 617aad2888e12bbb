using System.Net.Sockets;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;

namespace Appliance.Seeding.Tests.Sessions;

/// <summary>Peers that request blocks and never read them: they must not hold their buffers, or an upload slot, for ever.</summary>
public sealed class NonReadingPeerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Requests for every 16 KiB block of the torrent, <paramref name="rounds"/> times over, in one buffer.</summary>
    private static byte[] Requests(TestSeeder seeder, int rounds)
    {
        var metainfo = seeder.Metainfo;
        var all = new List<byte>();
        for (int r = 0; r < rounds; r++)
        {
            for (int piece = 0; piece < metainfo.PieceCount; piece++)
            {
                long size = metainfo.PieceSize(piece);
                for (int begin = 0; begin < size; begin += 16 * 1024)
                    all.AddRange(FakePeer.Block(PeerMessageId.Request, piece, begin, (int)Math.Min(16 * 1024, size - begin)));
            }
        }
        return [.. all];
    }

    private static async Task<FakePeer> NonReaderAsync(TestSeeder seeder)
    {
        var peer = await FakePeer.ConnectAsync(seeder.EndPoint, receiveBufferSize: 4096);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        await peer.ReadHandshakeAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        return peer;
    }

    [Fact]
    public async Task A_peer_that_keeps_requesting_but_never_reads_is_closed_once_its_sends_stall()
    {
        await using var seeder = new TestSeeder(new SeedingOptions
        {
            UploadSlots = 0,
            IdleTimeout = TimeSpan.FromHours(1),
            SendStallTimeout = TimeSpan.FromSeconds(1),
            SweepInterval = TimeSpan.FromMilliseconds(100),
        }, size: 16 * 1024 * 1024, pieceLength: 256 * 1024);
        using var peer = await NonReaderAsync(seeder);
        var requests = Requests(seeder, 1);

        using var cts = new CancellationTokenSource(Patience);
        try
        {
            // Requests keep arriving (so the receive side is never idle) while nothing is read.
            for (int offset = 0; seeder.Server.SessionCount > 0; offset = (offset + 17 * 64) % requests.Length)
            {
                await peer.Socket.SendAsync(requests.AsMemory(offset, Math.Min(17 * 64, requests.Length - offset)), SocketFlags.None, cts.Token);
                await Task.Delay(50, cts.Token);
            }
        }
        catch (SocketException)
        {
            // The seeder closed the connection under our sends.
        }
        while (seeder.Server.SessionCount > 0) await Task.Delay(20, cts.Token);
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.DisconnectsIdle));
    }

    private static SeedingOptions StallOptions(TimeSpan sendStallTimeout) => new()
    {
        UploadSlots = 0,
        IdleTimeout = TimeSpan.FromHours(1),
        KeepAliveInterval = TimeSpan.FromHours(1),
        SendStallTimeout = sendStallTimeout,
        SweepInterval = TimeSpan.FromMilliseconds(100),
    };

    // 32 blocks (512 KiB): far more than a 4 KiB receive window, far less than the send buffer the kernel gives a
    // loopback connection (it grows to megabytes), so every send of ours completes and the blocks wait in the kernel.
    private const int BlocksInKernel = 32;

    [Fact]
    public async Task A_peer_that_stops_reading_is_closed_even_when_every_send_fit_in_the_socket_buffer()
    {
        await using var seeder = new TestSeeder(StallOptions(TimeSpan.FromSeconds(1)), size: 16 * 1024 * 1024, pieceLength: 256 * 1024);
        using var peer = await NonReaderAsync(seeder);
        await peer.SendAsync(Requests(seeder, 1)[..(BlocksInKernel * PeerMessageWriter.RequestLength)]);

        using var cts = new CancellationTokenSource(Patience);
        while (seeder.Server.SessionCount > 0) await Task.Delay(20, cts.Token);
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.DisconnectsIdle));
        Assert.True(seeder.Counters.Read(SeedingCounter.SendsWouldBlock) == 0, "a send waited for the peer: this test is meant for sends that all fit in the kernel");
    }

    [Fact]
    public async Task A_slow_reader_that_keeps_reading_is_not_closed()
    {
        await using var seeder = new TestSeeder(StallOptions(TimeSpan.FromSeconds(2)), size: 16 * 1024 * 1024, pieceLength: 256 * 1024);
        using var peer = await NonReaderAsync(seeder);
        await peer.SendAsync(Requests(seeder, 1)[..(BlocksInKernel * PeerMessageWriter.RequestLength)]);

        // A block every 150 ms, about 5 s in all: longer than the stall timeout, while each read lets more through.
        for (int block = 0; block < BlocksInKernel; block++)
        {
            await peer.ReadUntilAsync(PeerMessageId.Piece);
            await Task.Delay(150);
        }
        Assert.Equal(1, seeder.Server.SessionCount);
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.DisconnectsIdle));
    }

    [Fact]
    public async Task A_peer_with_a_full_outbox_is_still_choked_and_the_slot_count_holds()
    {
        await using var seeder = new TestSeeder(new SeedingOptions
        {
            UploadSlots = 1,
            ChokeInterval = TimeSpan.FromHours(1),
            IdleTimeout = TimeSpan.FromHours(1),
            SendStallTimeout = TimeSpan.FromHours(1),
            KeepAliveInterval = TimeSpan.FromSeconds(1),
        }, size: 16 * 1024 * 1024, pieceLength: 256 * 1024);
        using var stuck = await NonReaderAsync(seeder);

        // Requests enough to fill the socket buffers until a send waits, then more: the queue is full, and the
        // fast-extension rejects pile up in the outbox until it has no room left.
        using var cts = new CancellationTokenSource(Patience);
        var requests = Requests(seeder, 1);
        await stuck.Socket.SendAsync(requests, SocketFlags.None, cts.Token);
        while (seeder.Counters.Read(SeedingCounter.SendsWouldBlock) == 0) await Task.Delay(20, cts.Token);
        long rejectedBefore = seeder.Counters.Rejected.Read(RejectReason.QueueFull);
        var sending = stuck.Socket.SendAsync(Requests(seeder, 3), SocketFlags.None, cts.Token).AsTask();
        long outboxFull = 32 * 1024 / PeerMessageWriter.RequestLength + 1;
        while (seeder.Counters.Rejected.Read(RejectReason.QueueFull) - rejectedBefore < outboxFull) await Task.Delay(20, cts.Token);
        // Rejects stop fitting with up to 16 bytes left; keep-alives take what a choke (5 bytes) would need.
        long tick = (long)(System.Diagnostics.Stopwatch.Frequency * 2.0);
        for (int i = 1; i <= 8; i++)
        {
            foreach (var session in seeder.Server.Sessions) session.Sweep(System.Diagnostics.Stopwatch.GetTimestamp() + i * tick);
        }

        using var waiting = await seeder.ConnectAsync();
        await waiting.SendSimpleAsync(PeerMessageId.Interested);
        await waiting.SendAsync(new byte[4]);
        while (seeder.Server.SessionCount < 2) await Task.Delay(20, cts.Token);
        await Task.Delay(200, cts.Token); // let the second peer's interested arrive

        seeder.Server.Slots.RunRound();

        await waiting.ReadUntilAsync(PeerMessageId.Unchoke);
        Assert.Equal(1, seeder.Server.UnchokedCount);
        try { await sending; } catch (SocketException) { }
    }
}

