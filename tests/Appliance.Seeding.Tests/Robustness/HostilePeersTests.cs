using Appliance.TestKit;
using System.Buffers.Binary;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;

namespace Appliance.Seeding.Tests.Robustness;

/// <summary>
/// The "bad input affects only its source" standard on a live seeding server: hostile raw-socket peers send
/// garbage and mutated messages while one well-behaved peer downloads the whole torrent.
/// </summary>
public sealed class HostilePeersTests
{
    private const int MaxMessageLength = 32 * 1024;
    private const int HostilePeers = 16;
    private const int RoundsPerHostilePeer = 4;

    private static SeedingOptions Options => new()
    {
        UploadSlots = 0,
        MaxMessageLength = MaxMessageLength,
        HandshakeTimeout = TimeSpan.FromSeconds(1),
        SweepInterval = TimeSpan.FromMilliseconds(250),
    };

    private enum Attack
    {
        GarbageHandshake,
        UnknownInfoHash,
        StalledHandshake,
        MutatedMessages,
        RandomBytesAfterHandshake,
        RequestBeyondTorrent,
        UnsolicitedPiece,
        MetadataAbuse,
    }

    [Fact]
    public async Task Good_peer_downloads_every_block_while_hostile_peers_are_disconnected_and_the_server_stays_up()
    {
        await using var seeder = new TestSeeder(Options, size: 600_011, pieceLength: 32 * 1024);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var hostile = Enumerable.Range(0, HostilePeers).Select(i => Task.Run(() => HostilePeerAsync(seeder, seed: 1000 + i))).ToArray();
        var good = Task.Run(() => DownloadEverythingAsync(seeder));

        var all = Task.WhenAll([.. hostile, good]);
        var finished = await Task.WhenAny(all, Task.Delay(Timeout.Infinite, deadline.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        Assert.True(finished == all, "the hostile peers and the good download did not finish within 60 s");
        await all; // surfaces any assertion from the peers

        var outcomes = hostile.SelectMany(t => t.Result).ToList();
        Assert.Equal(HostilePeers * RoundsPerHostilePeer, outcomes.Count);
        var kept = outcomes.Where(o => !o.Closed).Select(o => $"{o.Attack} (seed {o.Seed})").ToList();
        Assert.True(kept.Count == 0, "hostile connections left open: " + string.Join(", ", kept));
        Assert.True(Enum.GetValues<Attack>().All(a => outcomes.Any(o => o.Attack == a)), "every kind of attack should have run");

        // Still serving: a fresh peer gets a block.
        using var after = await seeder.ConnectAsync();
        await after.SendSimpleAsync(PeerMessageId.Interested);
        await after.ReadUntilAsync(PeerMessageId.Unchoke);
        await after.RequestAsync(seeder.Metainfo.PieceCount - 1, 0, seeder.Metainfo.PieceSize(seeder.Metainfo.PieceCount - 1));
        var last = await after.ReadUntilAsync(PeerMessageId.Piece);
        Assert.True(seeder.Data.AsSpan((int)((long)(seeder.Metainfo.PieceCount - 1) * seeder.Metainfo.PieceLength)).SequenceEqual(last.AsSpan(8)));
    }

    [Fact]
    public async Task Peer_that_sends_its_whole_session_one_byte_at_a_time_is_served_the_same_blocks()
    {
        // 68 awaited one-byte sends can take longer than the 1 s handshake timeout of the other attacks on a busy
        // machine: this test is about framing, so it gives the handshake the default time.
        await using var seeder = new TestSeeder(Options with { HandshakeTimeout = new SeedingOptions().HandshakeTimeout },
            size: 100_003, pieceLength: 32 * 1024);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        var stream = new List<byte>(FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true));
        var interested = new byte[PeerMessageWriter.SimpleLength];
        PeerMessageWriter.WriteSimple(interested, PeerMessageId.Interested);
        stream.AddRange(interested);
        var keepAlive = new byte[PeerMessageWriter.KeepAliveLength];
        stream.AddRange(keepAlive);
        var expected = new List<(int Piece, int Begin, int Length)>();
        for (int piece = 0; piece < seeder.Metainfo.PieceCount; piece++)
        {
            int size = seeder.Metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += 16 * 1024)
            {
                int length = Math.Min(16 * 1024, size - begin);
                stream.AddRange(FakePeer.Block(PeerMessageId.Request, piece, begin, length));
                expected.Add((piece, begin, length));
            }
        }
        foreach (byte b in stream) await peer.SendAsync([b]);

        await peer.ReadHandshakeAsync();
        foreach (var (piece, begin, length) in expected)
        {
            var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
            Assert.Equal(piece, BinaryPrimitives.ReadInt32BigEndian(payload));
            Assert.Equal(begin, BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)));
            long offset = (long)piece * seeder.Metainfo.PieceLength + begin;
            Assert.True(seeder.Data.AsSpan((int)offset, length).SequenceEqual(payload.AsSpan(8)), $"block {piece}/{begin} differs");
        }
    }

    private static async Task DownloadEverythingAsync(TestSeeder seeder)
    {
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        var metainfo = seeder.Metainfo;
        var expected = new List<(int Piece, int Begin, int Length)>();
        for (int piece = 0; piece < metainfo.PieceCount; piece++)
        {
            int size = metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += 16 * 1024) expected.Add((piece, begin, Math.Min(16 * 1024, size - begin)));
        }
        // A few requests at a time so the download overlaps the attacks instead of finishing first.
        foreach (var batch in expected.Chunk(4))
        {
            foreach (var (piece, begin, length) in batch) await peer.RequestAsync(piece, begin, length);
            foreach (var (piece, begin, length) in batch)
            {
                var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
                Assert.Equal(piece, BinaryPrimitives.ReadInt32BigEndian(payload));
                Assert.Equal(begin, BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)));
                long offset = (long)piece * metainfo.PieceLength + begin;
                Assert.True(seeder.Data.AsSpan((int)offset, length).SequenceEqual(payload.AsSpan(8)), $"block {piece}/{begin} differs");
            }
            await Task.Delay(5);
        }
    }

    private sealed record Outcome(Attack Attack, int Seed, bool Closed);

    private static async Task<List<Outcome>> HostilePeerAsync(TestSeeder seeder, int seed)
    {
        var random = new Random(seed);
        var outcomes = new List<Outcome>();
        var attacks = Enum.GetValues<Attack>();
        for (int round = 0; round < RoundsPerHostilePeer; round++)
        {
            var attack = attacks[(seed + round) % attacks.Length];
            int roundSeed = seed * 100 + round;
            bool closed = await RunAttackAsync(seeder, attack, new Random(roundSeed));
            outcomes.Add(new Outcome(attack, roundSeed, closed));
        }
        return outcomes;
    }

    private static async Task<bool> RunAttackAsync(TestSeeder seeder, Attack attack, Random random)
    {
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        try
        {
            switch (attack)
            {
                case Attack.GarbageHandshake:
                {
                    var bytes = new byte[1 + random.Next(200)];
                    random.NextBytes(bytes);
                    bytes[0] = (byte)(19 + 1 + random.Next(200)); // never the protocol length byte
                    await peer.SendAsync(bytes);
                    break;
                }
                case Attack.UnknownInfoHash:
                {
                    var hash = new byte[InfoHash.Length];
                    random.NextBytes(hash);
                    await peer.SendAsync(FakePeer.HandshakeBytes(new InfoHash(hash), fast: true, extensions: true));
                    break;
                }
                case Attack.StalledHandshake:
                {
                    var handshake = FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true);
                    await peer.SendAsync(handshake[..random.Next(1, Handshake.PeerIdOffset)]);
                    break; // and never the rest: the handshake timeout must close it
                }
                case Attack.MutatedMessages:
                    await HandshakeAsync(seeder, peer);
                    await peer.SendAsync(Mutations.Mutate(ValidMessages(seeder.Metainfo.PieceCount), random));
                    await peer.SendAsync(Poison());
                    break;
                case Attack.RandomBytesAfterHandshake:
                {
                    await HandshakeAsync(seeder, peer);
                    var bytes = new byte[random.Next(1, 4000)];
                    random.NextBytes(bytes);
                    await peer.SendAsync(bytes);
                    await peer.SendAsync(Poison());
                    break;
                }
                case Attack.RequestBeyondTorrent:
                    await HandshakeAsync(seeder, peer);
                    await peer.SendSimpleAsync(PeerMessageId.Interested);
                    await peer.RequestAsync(seeder.Metainfo.PieceCount + random.Next(0, 1000), 0, 16 * 1024);
                    break;
                case Attack.UnsolicitedPiece:
                {
                    await HandshakeAsync(seeder, peer);
                    var piece = new byte[PeerMessageWriter.PieceHeaderLength + 100];
                    PeerMessageWriter.WritePieceHeader(piece, 0, 0, 100);
                    await peer.SendAsync(piece);
                    break;
                }
                case Attack.MetadataAbuse:
                {
                    await HandshakeAsync(seeder, peer);
                    var body = new byte[256];
                    int length = ExtensionHandshake.Write(body, 0, 10, "abuse"u8);
                    await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.HandshakeId, body.AsSpan(0, length)));
                    string[] requests =
                    [
                        "d8:msg_typei0e5:piecei2147483647ee", "d8:msg_typei0e5:piecei-1ee", "d8:msg_typei0e5:piecei1099511627776ee",
                        "d8:msg_typei7e5:piecei0ee", "d8:msg_typei1e5:piecei0e10:total_sizei99999999999ee", "de", "le", "i1e",
                        "d8:msg_typei0e5:piecei0ee",
                    ];
                    foreach (string request in requests)
                        await peer.SendAsync(FakePeer.Extended(ExtensionHandshake.OurMetadataId, System.Text.Encoding.ASCII.GetBytes(request)));
                    for (int i = 0; i < 50; i++) // an unknown extended id, and the metadata id with random bytes
                    {
                        var junk = new byte[random.Next(0, 300)];
                        random.NextBytes(junk);
                        await peer.SendAsync(FakePeer.Extended((byte)random.Next(0, 4), junk));
                    }
                    await peer.SendAsync(Poison());
                    break;
                }
            }
        }
        catch (SocketException)
        {
            return true; // reset while we were still sending: already disconnected
        }
        return await peer.WaitClosedAsync();
    }

    private static async Task HandshakeAsync(TestSeeder seeder, FakePeer peer)
    {
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        await peer.ReadHandshakeAsync();
    }

    /// <summary>
    /// Whatever state a mutated stream left the session in (mid-frame, skipping a frame of up to the limit), this
    /// fills it and then leaves an all-ones length prefix, which is always beyond the limit.
    /// </summary>
    private static byte[] Poison()
    {
        var bytes = new byte[MaxMessageLength + 64];
        bytes.AsSpan().Fill(0xFF);
        return bytes;
    }

    private static byte[] ValidMessages(int pieceCount)
    {
        var output = new byte[4096];
        int n = 0;
        n += PeerMessageWriter.WriteSimple(output.AsSpan(n), PeerMessageId.Interested);
        n += PeerMessageWriter.WriteHave(output.AsSpan(n), pieceCount - 1);
        n += PeerMessageWriter.WriteBlockMessage(output.AsSpan(n), PeerMessageId.Request, new BlockRequest(0, 0, 16 * 1024));
        n += PeerMessageWriter.WriteBlockMessage(output.AsSpan(n), PeerMessageId.Cancel, new BlockRequest(0, 0, 16 * 1024));
        n += PeerMessageWriter.WriteKeepAlive(output.AsSpan(n));
        var body = new byte[256];
        int length = ExtensionHandshake.Write(body, 1000, 10, "hostile"u8);
        n += PeerMessageWriter.WriteExtendedHeader(output.AsSpan(n), ExtensionHandshake.HandshakeId, length);
        body.AsSpan(0, length).CopyTo(output.AsSpan(n));
        n += length;
        n += PeerMessageWriter.WriteSimple(output.AsSpan(n), PeerMessageId.NotInterested);
        return output[..n];
    }
}
