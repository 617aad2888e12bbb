using System.Net.Sockets;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Tests.Support;
using Appliance.Seeding.Transport;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Sessions;

/// <summary>Sessions over our epoll engine (<see cref="TcpEngine.Epoll"/>): served, closed, slowed and spread as over the runtime's.</summary>
public sealed class EpollSessionTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static SeedingOptions Epoll(int loops = 0) => TestTcpEngine.Chosen(new()
    {
        TcpEngine = TcpEngine.Epoll,
        EpollLoops = loops,
        UploadSlots = 0,
        ChokeInterval = TimeSpan.FromHours(1),
        KeepAliveInterval = TimeSpan.FromHours(1),
    });

    private static PeerTransport TransportOf(PeerSession session) =>
        session.Transport is EncryptedTransport encrypted ? encrypted.Inner : session.Transport;

    private static async Task<FakePeer> UnchokedAsync(TestSeeder seeder, int receiveBufferSize = 0)
    {
        var peer = await FakePeer.ConnectAsync(seeder.EndPoint, receiveBufferSize);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        await peer.ReadHandshakeAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        return peer;
    }

    private static byte[] EveryBlockRequested(TestSeeder seeder, int rounds = 1)
    {
        var all = new List<byte>();
        for (int r = 0; r < rounds; r++)
        {
            for (int piece = 0; piece < seeder.Metainfo.PieceCount; piece++)
            {
                int size = seeder.Metainfo.PieceSize(piece);
                for (int begin = 0; begin < size; begin += 16 * 1024)
                    all.AddRange(FakePeer.Block(PeerMessageId.Request, piece, begin, Math.Min(16 * 1024, size - begin)));
            }
        }
        return [.. all];
    }

    [Fact]
    public async Task A_peer_is_served_every_block_of_a_large_torrent_over_the_epoll_engine()
    {
        await using var seeder = new TestSeeder(Epoll(), size: 6L * 1024 * 1024 + 12_345, pieceLength: 256 * 1024); // 385 blocks: within the 500 a peer may queue
        Assert.NotNull(seeder.Server.Epoll);
        using var peer = await UnchokedAsync(seeder);
        Assert.IsType<EpollPeerTransport>(TransportOf(Assert.Single(seeder.Server.Sessions)));

        // Twice over the torrent: the second pass runs on sessions and loops that have served already.
        for (int pass = 0; pass < 2; pass++) await seeder.RequestEveryBlockAndVerifyAsync(peer);
        Assert.Equal(2L * seeder.Data.Length, await Eventually.SettledAsync(2L * seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
    }

    [Fact]
    public async Task An_encrypted_peer_is_served_over_the_epoll_engine()
    {
        await using var seeder = new TestSeeder(TestTcpEngine.Chosen(Epoll() with { Encryption = EncryptionPolicy.Prefer }), size: 2L * 1024 * 1024, pieceLength: 256 * 1024);
        using var peer = await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, CryptoMethods.Rc4,
            FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true));
        Assert.Equal(CryptoMethods.Rc4, peer.Encryption);
        Assert.IsType<EpollPeerTransport>(TransportOf(Assert.Single(seeder.Server.Sessions)));
        await seeder.DownloadEveryBlockAsync(peer);
        Assert.Equal(seeder.Data.Length, await Eventually.SettledAsync((long)seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task Blocks_read_with_pread_are_read_off_the_loop_threads(bool segments, bool rc4)
    {
        // A store without segments, or an RC4 peer, has every block read into a buffer first: never on a loop thread.
        await using var seeder = new TestSeeder(TestTcpEngine.Chosen(Epoll() with { Encryption = EncryptionPolicy.Prefer }), size: 4L * 1024 * 1024, pieceLength: 256 * 1024, segments: segments);
        using var peer = rc4
            ? await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, CryptoMethods.Rc4,
                FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true))
            : await seeder.ConnectAsync();
        if (rc4) await peer.ReadHandshakeAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        // Twice: the second pass runs after sends parked and resumed on the loop thread.
        for (int pass = 0; pass < 2; pass++) await seeder.RequestEveryBlockAndVerifyAsync(peer);
        Assert.Equal(2L * seeder.Data.Length, await Eventually.SettledAsync(2L * seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
        Assert.Equal(0, seeder.Store.ReadsOnLoopThread);
    }

    [Fact]
    public async Task A_peer_closing_in_the_middle_of_sends_ends_its_session_and_the_loop_serves_on()
    {
        await using var seeder = new TestSeeder(Epoll(loops: 1), size: 8L * 1024 * 1024, pieceLength: 256 * 1024);
        var quitter = await UnchokedAsync(seeder, receiveBufferSize: 8 * 1024);
        await quitter.SendAsync(EveryBlockRequested(seeder, rounds: 2));
        await quitter.ReadUntilAsync(PeerMessageId.Piece);
        // Blocks are still queued and a send is parked on the full socket buffer: the peer resets the connection.
        quitter.Socket.LingerState = new LingerOption(true, 0);
        quitter.Dispose();
        using var cts = new CancellationTokenSource(Patience);
        while (seeder.Server.SessionCount > 0) await Task.Delay(20, cts.Token);
        Assert.Equal(0, seeder.Server.Epoll!.SocketsOnLoop(0));

        // The one loop thread is still running: a new peer is served.
        using var next = await UnchokedAsync(seeder);
        await next.RequestAsync(3, 0, 16 * 1024);
        var payload = await next.ReadUntilAsync(PeerMessageId.Piece);
        Assert.True(seeder.Data.AsSpan(3 * 256 * 1024, 16 * 1024).SequenceEqual(payload.AsSpan(8)));
    }

    [Fact]
    public async Task A_slow_reader_makes_sends_wait_for_room_and_still_gets_every_byte()
    {
        await using var seeder = new TestSeeder(Epoll(), size: 4L * 1024 * 1024, pieceLength: 256 * 1024);
        using var peer = await UnchokedAsync(seeder, receiveBufferSize: 16 * 1024);
        var requests = EveryBlockRequested(seeder);
        await peer.SendAsync(requests);
        // Not reading for a while: the seeder's sends fill both socket buffers and park on EPOLLOUT.
        using (var cts = new CancellationTokenSource(Patience))
        {
            while (seeder.Counters.Read(SeedingCounter.SendsWouldBlock) == 0) await Task.Delay(20, cts.Token);
        }
        await Task.Delay(200);
        long blocks = requests.Length / PeerMessageWriter.RequestLength;
        for (long i = 0; i < blocks; i++)
        {
            var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
            int piece = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(payload);
            int begin = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4));
            Assert.True(seeder.Data.AsSpan(piece * 256 * 1024 + begin, payload.Length - 8).SequenceEqual(payload.AsSpan(8)), $"block {piece}/{begin} differs");
        }
        Assert.Equal(seeder.Data.Length, await Eventually.SettledAsync((long)seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
    }

    [Fact]
    public async Task Closing_a_session_whose_receive_is_parked_ends_both_loops()
    {
        await using var seeder = new TestSeeder(Epoll());
        using var peer = await UnchokedAsync(seeder);
        var session = Assert.Single(seeder.Server.Sessions);
        // Idle: the receive loop is parked waiting for data, the send loop waits for work.
        await Task.Delay(100);
        Assert.True(session.Close("test"));
        Assert.True(await peer.WaitClosedAsync(), "the peer sees the connection end");
        using var cts = new CancellationTokenSource(Patience);
        // Both loops ended: the session left the server (LoopEnded ran twice) and the socket left its loop.
        while (seeder.Server.SessionCount > 0) await Task.Delay(20, cts.Token);
        var engine = seeder.Server.Epoll!;
        Assert.Equal(0, Enumerable.Range(0, engine.LoopCount).Sum(engine.SocketsOnLoop));
        Assert.Equal("test", session.CloseReason);
    }

    [Fact]
    public async Task Many_peers_spread_across_the_loops_are_all_served()
    {
        const int Peers = 24, Loops = 3;
        await using var seeder = new TestSeeder(Epoll(loops: Loops), size: 1024 * 1024, pieceLength: 64 * 1024);
        var peers = new List<FakePeer>();
        try
        {
            for (int i = 0; i < Peers; i++) peers.Add(await UnchokedAsync(seeder));
            var engine = seeder.Server.Epoll!;
            for (int loop = 0; loop < Loops; loop++) Assert.Equal(Peers / Loops, engine.SocketsOnLoop(loop));
            await Task.WhenAll(peers.Select(seeder.RequestEveryBlockAndVerifyAsync)).WaitAsync(Patience);
            Assert.Equal((long)Peers * seeder.Data.Length, await Eventually.SettledAsync((long)Peers * seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
        }
        finally
        {
            foreach (var peer in peers) peer.Dispose();
        }
    }
}
