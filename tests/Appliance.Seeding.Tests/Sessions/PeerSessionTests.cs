using System.Buffers.Binary;
using System.Security.Cryptography;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Tests.Support;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Sessions;

public sealed class PeerSessionTests
{
    private static readonly SeedingOptions Unlimited = new() { UploadSlots = 0 };

    [Fact]
    public async Task Handshake_answers_with_our_reserved_bits_peer_id_extension_handshake_and_have_all()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        var handshake = await peer.ReadHandshakeAsync();

        Assert.Equal(seeder.Metainfo.InfoHash, handshake.InfoHash);
        Assert.Equal(ReservedBits.Ours, handshake.Reserved);
        Assert.True(handshake.Reserved.SupportsFast && handshake.Reserved.SupportsExtensionProtocol);
        Assert.Equal(seeder.Server.PeerId, handshake.PeerId);
        Assert.StartsWith(System.Text.Encoding.ASCII.GetString(ClientIdentity.PeerIdPrefix), handshake.PeerId.ToString(), StringComparison.Ordinal);

        var (id, payload) = await peer.ReadMessageAsync();
        Assert.Equal(PeerMessageId.Extended, id);
        Assert.Equal(ExtensionHandshake.HandshakeId, payload[0]);
        var document = BencodeDocument.Parse(payload.AsMemory(1));
        Assert.Equal(ExtensionHandshake.OurMetadataId, document.Root["m"u8]["ut_metadata"u8].Integer);
        Assert.Equal(seeder.Metainfo.InfoBytes.Length, document.Root["metadata_size"u8].Integer);
        Assert.Equal(1, document.Root["upload_only"u8].Integer);
        Assert.True(document.Root["v"u8].Bytes.SequenceEqual(ClientIdentity.ExtensionVersion));

        Assert.Equal(PeerMessageId.HaveAll, (await peer.ReadMessageAsync()).Id);
    }

    [Fact]
    public async Task Handshake_without_fast_extension_gets_a_full_bitfield_with_spare_bits_clear()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync(fast: false, extensions: false);
        var (id, payload) = await peer.ReadMessageAsync();

        Assert.Equal(PeerMessageId.Bitfield, id);
        int pieces = seeder.Metainfo.PieceCount;
        Assert.Equal((pieces + 7) / 8, payload.Length);
        for (int i = 0; i < payload.Length * 8; i++)
        {
            bool set = (payload[i / 8] & (0x80 >> (i % 8))) != 0;
            Assert.Equal(i < pieces, set);
        }
    }

    [Fact]
    public async Task Unknown_info_hash_closes_the_connection()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(InfoHash.Compute("not ours"u8), fast: true, extensions: true);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HandshakesUnknownTorrent));
    }

    [Fact]
    public async Task Wrong_protocol_string_closes_the_connection()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        // Anything that is not a plaintext handshake is read as an encrypted one: a 96-byte key, then at most 532 bytes
        // of padding before HASH('req1', S); bytes without it are dropped once that limit is passed.
        byte[] request = [.. "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8, .. new byte[1024]];
        await peer.SendAsync(request);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Server.EncryptionCounters.Read(EncryptionCounter.HandshakesFailed)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Interested_peer_is_unchoked_and_gets_the_exact_bytes_it_requests(bool segments)
    {
        await using var seeder = new TestSeeder(Unlimited, segments: segments);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);

        int blocks = await seeder.RequestEveryBlockAndVerifyAsync(peer);
        Assert.Equal(seeder.Data.Length, await Eventually.SettledAsync((long)seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
        Assert.Equal(blocks, await Eventually.SettledAsync((long)blocks, () => seeder.Counters.Read(SeedingCounter.BlocksServed)));
    }

    [Fact]
    public async Task Blocks_the_store_will_not_give_as_segments_are_read_and_served_instead()
    {
        await using var seeder = new TestSeeder(Unlimited);
        seeder.Store.NoSegmentsForPiece = 1;
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.SendAsync([.. FakePeer.Block(PeerMessageId.Request, 0, 0, 16384), .. FakePeer.Block(PeerMessageId.Request, 1, 16384, 16384),
            .. FakePeer.Block(PeerMessageId.Request, 1, 0, 16384), .. FakePeer.Block(PeerMessageId.Request, 2, 0, 16384)]);

        foreach (var (piece, begin) in new[] { (0, 0), (1, 16384), (1, 0), (2, 0) })
        {
            var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
            long offset = (long)piece * seeder.Metainfo.PieceLength + begin;
            Assert.True(seeder.Data.AsSpan((int)offset, 16384).SequenceEqual(payload.AsSpan(8)), $"block {piece}/{begin} differs");
        }
        Assert.False(seeder.Store.IsFaulted);
    }

    [Fact]
    public async Task Request_beyond_piece_end_disconnects_peer()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.RequestAsync(0, seeder.Metainfo.PieceLength - 1024, 16 * 1024);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.DisconnectsProtocolError));
    }

    [Fact]
    public async Task Request_for_a_piece_beyond_the_torrent_disconnects_peer()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.RequestAsync(seeder.Metainfo.PieceCount, 0, 16 * 1024);

        Assert.True(await peer.WaitClosedAsync());
    }

    [Fact]
    public async Task Oversize_message_disconnects_peer()
    {
        await using var seeder = new TestSeeder(Unlimited with { MaxMessageLength = 64 * 1024 });
        using var peer = await seeder.ConnectAsync();
        var header = new byte[5];
        BinaryPrimitives.WriteInt32BigEndian(header, 64 * 1024 + 1);
        header[4] = 99;
        await peer.SendAsync(header);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.DisconnectsProtocolError));
    }

    [Fact]
    public async Task Piece_message_from_the_peer_disconnects_it()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        var piece = new byte[13 + 4];
        PeerMessageWriter.WritePieceHeader(piece, 0, 0, 4);
        await peer.SendAsync(piece);

        Assert.True(await peer.WaitClosedAsync());
    }

    [Fact]
    public async Task Unknown_message_ids_and_large_ignored_messages_are_skipped_by_length()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        // An unknown id with a payload larger than the receive buffer, then a keep-alive, then interested.
        int size = 100_000;
        var unknown = new byte[5 + size];
        BinaryPrimitives.WriteInt32BigEndian(unknown, size + 1);
        unknown[4] = 42;
        await peer.SendAsync(unknown);
        await peer.SendAsync(new byte[4]);
        await peer.SendSimpleAsync(PeerMessageId.Interested);

        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.RequestAsync(0, 0, 1024);
        var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
        Assert.True(seeder.Data.AsSpan(0, 1024).SequenceEqual(payload.AsSpan(8)));
    }

    [Fact]
    public async Task Request_while_choked_is_rejected_with_the_fast_extension()
    {
        await using var seeder = new TestSeeder(Unlimited with { UploadSlots = 1 });
        using var first = await seeder.ConnectAsync();
        await first.SendSimpleAsync(PeerMessageId.Interested);
        await first.ReadUntilAsync(PeerMessageId.Unchoke);

        using var second = await seeder.ConnectAsync();
        await second.SendSimpleAsync(PeerMessageId.Interested);
        await second.RequestAsync(1, 0, 16 * 1024);

        var reject = await second.ReadUntilAsync(PeerMessageId.RejectRequest);
        Assert.True(BlockRequest.TryParse(reject, out var block));
        Assert.Equal(new BlockRequest(1, 0, 16 * 1024), block);
        Assert.Equal(1, seeder.Counters.Rejected.Read(RejectReason.Choked));
    }

    [Fact]
    public async Task Request_while_choked_without_fast_extension_is_dropped_silently()
    {
        await using var seeder = new TestSeeder(Unlimited with { UploadSlots = 1 });
        using var first = await seeder.ConnectAsync();
        await first.SendSimpleAsync(PeerMessageId.Interested);
        await first.ReadUntilAsync(PeerMessageId.Unchoke);

        using var second = await seeder.ConnectAsync(fast: false, extensions: false);
        await second.ReadUntilAsync(PeerMessageId.Bitfield);
        await second.SendSimpleAsync(PeerMessageId.Interested);
        await second.RequestAsync(1, 0, 16 * 1024);
        await second.SendAsync(new byte[4]); // keep-alive, so we know the request has been processed after it

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seeder.Counters.Rejected.Read(RejectReason.Choked) == 0) await Task.Delay(20, cts.Token);
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.BlocksServed));
    }

    [Fact]
    public async Task Choker_round_rotates_the_only_slot_to_the_waiting_peer()
    {
        await using var seeder = new TestSeeder(Unlimited with { UploadSlots = 1, ChokeInterval = TimeSpan.FromHours(1) });
        using var first = await seeder.ConnectAsync();
        await first.SendSimpleAsync(PeerMessageId.Interested);
        await first.ReadUntilAsync(PeerMessageId.Unchoke);
        using var second = await seeder.ConnectAsync();
        await second.SendSimpleAsync(PeerMessageId.Interested);
        await second.SendAsync(new byte[4]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seeder.Server.SessionCount < 2) await Task.Delay(20, cts.Token);
        await Task.Delay(200, cts.Token); // let the second peer's interested arrive

        seeder.Server.Slots.RunRound();

        await first.ReadUntilAsync(PeerMessageId.Choke);
        await second.ReadUntilAsync(PeerMessageId.Unchoke);
        Assert.Equal(1, seeder.Server.UnchokedCount);
    }

    [Fact]
    public async Task Interested_peer_is_unchoked_at_once_while_a_slot_is_free()
    {
        await using var seeder = new TestSeeder(Unlimited with { UploadSlots = 2, ChokeInterval = TimeSpan.FromHours(1) });
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        Assert.Equal(1, seeder.Server.UnchokedCount);
    }

    [Theory]
    [InlineData("disconnect")]
    [InlineData("not interested")]
    public async Task Freed_slot_goes_to_the_waiting_peer_at_once(string how)
    {
        await using var seeder = new TestSeeder(Unlimited with { UploadSlots = 1, ChokeInterval = TimeSpan.FromHours(1) });
        var first = await seeder.ConnectAsync();
        await first.SendSimpleAsync(PeerMessageId.Interested);
        await first.ReadUntilAsync(PeerMessageId.Unchoke);
        using var second = await seeder.ConnectAsync();
        await second.SendSimpleAsync(PeerMessageId.Interested);
        await second.RequestAsync(1, 0, 16 * 1024);
        await second.ReadUntilAsync(PeerMessageId.RejectRequest); // its interest has been seen, while the slot is taken

        if (how == "disconnect") first.Dispose();
        else await first.SendSimpleAsync(PeerMessageId.NotInterested);

        await second.ReadUntilAsync(PeerMessageId.Unchoke);
        Assert.Equal(1, seeder.Server.UnchokedCount);
        first.Dispose();
    }

    [Fact]
    public async Task Snubbed_peer_gives_its_slot_to_a_waiting_peer_between_rounds()
    {
        await using var seeder = new TestSeeder(Unlimited with
        {
            UploadSlots = 1, ChokeInterval = TimeSpan.FromHours(1), SnubTimeout = TimeSpan.FromMilliseconds(200), SweepInterval = TimeSpan.FromMilliseconds(100),
        });
        using var idle = await seeder.ConnectAsync();
        await idle.SendSimpleAsync(PeerMessageId.Interested);
        await idle.ReadUntilAsync(PeerMessageId.Unchoke);
        // No step here waits on the snub timeout: on a loaded machine it may pass before the eager peer has connected.
        using var eager = await seeder.ConnectAsync();
        await eager.SendSimpleAsync(PeerMessageId.Interested);

        await idle.ReadUntilAsync(PeerMessageId.Choke);
        await eager.ReadUntilAsync(PeerMessageId.Unchoke);
        await eager.RequestAsync(1, 0, 16 * 1024);
        await eager.ReadUntilAsync(PeerMessageId.Piece);
    }

    [Fact]
    public async Task Request_longer_than_the_limit_is_rejected()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.RequestAsync(0, 0, 32 * 1024);

        await peer.ReadUntilAsync(PeerMessageId.RejectRequest);
        Assert.Equal(1, seeder.Counters.Rejected.Read(RejectReason.TooLong));
    }

    [Fact]
    public async Task Requests_beyond_the_queue_limit_are_rejected()
    {
        await using var seeder = new TestSeeder(Unlimited with { MaxOutstandingRequests = 2 });
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        // Ten requests in one write: the session queues what fits before the sender drains any.
        var burst = Enumerable.Range(0, 10).SelectMany(i => FakePeer.Block(PeerMessageId.Request, i, 0, 1024)).ToArray();
        await peer.SendAsync(burst);

        int pieces = 0, rejects = 0;
        while (pieces + rejects < 10)
        {
            var (id, _) = await peer.ReadMessageAsync();
            if (id == PeerMessageId.Piece) pieces++;
            if (id == PeerMessageId.RejectRequest) rejects++;
        }
        Assert.True(rejects >= 1, "the queue limit was never hit");
        Assert.Equal(rejects, seeder.Counters.Rejected.Read(RejectReason.QueueFull));
    }

    [Fact]
    public async Task Cancel_drops_the_queued_request_and_rejects_it_with_the_fast_extension()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        // Request and cancel in one write: both are parsed before the sender takes the queue.
        await peer.SendAsync([.. FakePeer.Block(PeerMessageId.Request, 2, 0, 16 * 1024), .. FakePeer.Block(PeerMessageId.Cancel, 2, 0, 16 * 1024)]);
        await peer.RequestAsync(3, 0, 1024);

        var (id, payload) = await peer.ReadMessageAsync();
        Assert.Equal(PeerMessageId.RejectRequest, id);
        Assert.True(BlockRequest.TryParse(payload, out var rejected));
        Assert.Equal(new BlockRequest(2, 0, 16 * 1024), rejected);
        var piece = await peer.ReadUntilAsync(PeerMessageId.Piece);
        Assert.Equal(3, BinaryPrimitives.ReadInt32BigEndian(piece));
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Counters.Read(SeedingCounter.BlocksServed)));
    }

    [Fact]
    public async Task Ut_metadata_serves_the_info_dictionary_in_pieces_that_hash_to_the_info_hash()
    {
        // Many pieces make an info dictionary larger than one 16 KiB metadata piece.
        await using var seeder = new TestSeeder(Unlimited, size: 40L * 1024 * 1024, pieceLength: 16 * 1024);
        int size = seeder.Metainfo.InfoBytes.Length;
        Assert.True(size > MetadataMessage.PieceSize);
        using var peer = await seeder.ConnectAsync();
        await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.HandshakeId, "d1:md11:ut_metadatai3eee"u8));

        var info = new List<byte>();
        for (int piece = 0; piece < MetadataMessage.PieceCount(size); piece++)
        {
            await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.OurMetadataId, System.Text.Encoding.ASCII.GetBytes($"d8:msg_typei0e5:piecei{piece}ee")));
            byte[] payload;
            do payload = await peer.ReadUntilAsync(PeerMessageId.Extended);
            while (payload[0] != 3);
            var body = payload.AsSpan(1);
            Assert.True(MetadataMessage.TryParse(body, out int type, out int got));
            Assert.Equal((MetadataMessage.Data, piece), (type, got));
            int dictionaryEnd = body.IndexOf("ee"u8) + 2;
            info.AddRange(body[dictionaryEnd..].ToArray());
        }
        Assert.Equal(seeder.Metainfo.InfoHash, new InfoHash(SHA1.HashData([.. info])));

        await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.OurMetadataId, "d8:msg_typei0e5:piecei999ee"u8));
        byte[] reject;
        do reject = await peer.ReadUntilAsync(PeerMessageId.Extended);
        while (reject[0] != 3);
        Assert.True(MetadataMessage.TryParse(reject.AsSpan(1), out int rejectType, out _));
        Assert.Equal(MetadataMessage.Reject, rejectType);
    }

    [Fact]
    public async Task A_store_that_fails_disconnects_its_peers_and_the_server_keeps_accepting()
    {
        await using var seeder = new TestSeeder(Unlimited);
        seeder.Store.FailReadsAfter = 0;
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.RequestAsync(0, 0, 1024);

        Assert.True(await peer.WaitClosedAsync());
        Assert.True(seeder.Store.IsFaulted);
        // New handshakes for the faulted torrent are refused; the listener itself keeps working.
        using var again = await FakePeer.ConnectAsync(seeder.EndPoint);
        await again.SendHandshakeAsync(seeder.Metainfo.InfoHash, true, true);
        Assert.True(await again.WaitClosedAsync());
    }

    [Fact]
    public async Task Connections_beyond_the_per_address_limit_are_refused()
    {
        await using var seeder = new TestSeeder(Unlimited with { MaxConnectionsPerIp = 2 });
        using var a = await seeder.ConnectAsync();
        using var b = await seeder.ConnectAsync();
        using var c = await FakePeer.ConnectAsync(seeder.EndPoint);

        Assert.True(await c.WaitClosedAsync());
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Counters.Read(SeedingCounter.ConnectionsRefusedAddressLimit)));
    }

    [Fact]
    public async Task Silent_connection_is_closed_after_the_handshake_timeout()
    {
        await using var seeder = new TestSeeder(Unlimited with { HandshakeTimeout = TimeSpan.FromMilliseconds(200), SweepInterval = TimeSpan.FromMilliseconds(100) });
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Counters.Read(SeedingCounter.HandshakesTimedOut)));
    }

    [Fact]
    public async Task A_quiet_line_gets_keep_alives_and_a_silent_peer_is_closed_after_the_idle_timeout()
    {
        await using var seeder = new TestSeeder(Unlimited with
        {
            KeepAliveInterval = TimeSpan.FromMilliseconds(200),
            // Far beyond the keep-alive interval, so a busy machine still sees the keep-alive before the close.
            IdleTimeout = TimeSpan.FromSeconds(4),
            SweepInterval = TimeSpan.FromMilliseconds(100),
        });
        using var peer = await seeder.ConnectAsync();
        await peer.ReadUntilAsync(PeerMessageId.HaveAll);

        Assert.Equal((PeerMessageId)255, (await peer.ReadMessageAsync()).Id); // keep-alive
        Assert.True(await peer.WaitClosedAsync());
        // The sweeper counts the disconnect just after it closed the socket the peer saw close.
        Assert.Equal(1, await Eventually.SettledAsync(1, () => seeder.Counters.Read(SeedingCounter.DisconnectsIdle)));
    }

    [Fact]
    public async Task Global_upload_rate_limit_holds_back_the_sender()
    {
        // A bucket of one second at 1 MiB/s: 3 MiB cannot go out in less than about two seconds.
        await using var seeder = new TestSeeder(Unlimited with { UploadRateLimit = 1024 * 1024 }, size: 3L * 1024 * 1024, pieceLength: 256 * 1024);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var requests = new List<byte>();
        for (int block = 0; block < 3 * 64; block++)
            requests.AddRange(FakePeer.Block(PeerMessageId.Request, block / 16, block % 16 * 16384, 16384));
        await peer.SendAsync([.. requests]);
        for (int i = 0; i < 3 * 64; i++) await peer.ReadUntilAsync(PeerMessageId.Piece);

        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(1.5), $"3 MiB went out in {clock.Elapsed}");
    }

    [Fact]
    public async Task Idle_connections_hold_no_pooled_buffer()
    {
        await using var seeder = new TestSeeder(Unlimited);
        var peers = new List<FakePeer>();
        try
        {
            for (int i = 0; i < 50; i++)
            {
                var peer = await seeder.ConnectAsync();
                await peer.ReadUntilAsync(PeerMessageId.HaveAll);
                peers.Add(peer);
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            // The handshake answers' outboxes go back once sent; receive buffers are only taken when bytes arrive.
            while (seeder.Server.SmallBuffers.Rented != 0 || seeder.Server.RequestBuffers.Rented != 0) await Task.Delay(20, cts.Token);
            Assert.Equal(50, seeder.Server.SessionCount);
        }
        finally
        {
            foreach (var peer in peers) peer.Dispose();
        }
    }

    [Fact]
    public async Task A_downloading_peer_holds_a_request_buffer_not_a_large_one()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        for (int i = 0; i < 3; i++)
        {
            await peer.SendAsync(FakePeer.Block(PeerMessageId.Request, i, 0, 16384));
            await peer.ReadUntilAsync(PeerMessageId.Piece);
        }

        // The handshake's large buffer went back once it was read; an unchoked, interested peer keeps one 4 KiB buffer.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seeder.Server.SmallBuffers.Rented != 0 || seeder.Server.RequestBuffers.Rented != 1) await Task.Delay(20, cts.Token);
        Assert.Equal(SeedingServer.RequestBufferSize, seeder.Server.RequestBuffers.BufferSize);
    }

    [Fact]
    public async Task A_message_longer_than_a_request_buffer_is_read_whole()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.SendAsync(FakePeer.Block(PeerMessageId.Request, 0, 0, 16384));
        await peer.ReadUntilAsync(PeerMessageId.Piece);

        // An extension handshake of 10 KiB (a long client name), sent while the session reads into a 4 KiB buffer: its
        // ut_metadata id only takes effect if the whole message was read and handled.
        string name = new('x', 10 * 1024);
        var handshake = System.Text.Encoding.ASCII.GetBytes($"d1:md11:ut_metadatai7ee1:v{name.Length}:{name}e");
        Assert.True(handshake.Length > SeedingServer.RequestBufferSize);
        await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.HandshakeId, handshake));
        await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.OurMetadataId, "d8:msg_typei0e5:piecei0ee"u8));

        byte[] payload;
        do payload = await peer.ReadUntilAsync(PeerMessageId.Extended);
        while (payload[0] != 7);
        Assert.True(MetadataMessage.TryParse(payload.AsSpan(1), out int type, out int piece));
        Assert.Equal((MetadataMessage.Data, 0), (type, piece));
        // And the session goes back to a request buffer for what follows.
        await peer.SendAsync(FakePeer.Block(PeerMessageId.Request, 1, 0, 16384));
        await peer.ReadUntilAsync(PeerMessageId.Piece);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seeder.Server.SmallBuffers.Rented != 0) await Task.Delay(20, cts.Token);
    }

    [Fact]
    public async Task Removing_a_torrent_disconnects_its_peers()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await seeder.ConnectAsync();
        await peer.ReadUntilAsync(PeerMessageId.HaveAll);
        Assert.True(seeder.Registry.TryRemove(seeder.Metainfo.InfoHash, out _));

        Assert.True(await peer.WaitClosedAsync());
    }
}
