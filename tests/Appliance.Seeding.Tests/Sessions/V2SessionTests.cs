using System.Buffers.Binary;
using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Sessions;

/// <summary>Peers of v2 and hybrid torrents: either info-hash, BEP 52 hash requests, and pad bytes served as zeros.</summary>
public sealed class V2SessionTests
{
    private const int Block = 16 * 1024;

    private static byte[] Hash(params byte[][] parts) => SHA256.HashData(parts.SelectMany(p => p).ToArray());

    private static byte[] HashRequestMessage(ReadOnlySpan<byte> root, int baseLayer, int index, int count, int proofLayers)
    {
        var bytes = new byte[HashRequest.RejectMessageLength];
        HashRequest.Write(bytes, root, baseLayer, index, count, proofLayers);
        return bytes;
    }

    [Fact]
    public async Task Hash_request_gets_the_hashes_and_the_uncles_that_prove_them_against_the_pieces_root()
    {
        // 7 blocks at 16 KiB pieces: the piece layer is the leaf layer, 8 leaves wide (one padding leaf).
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 6 * Block + 100)], TorrentFormat.V2, Block);
        var data = seeder.Files["file.bin"];
        var leaves = Enumerable.Range(0, 7).Select(i => SHA256.HashData(data.AsSpan(i * Block, Math.Min(Block, data.Length - i * Block)))).ToList();
        leaves.Add(new byte[32]);
        var l1 = Enumerable.Range(0, 4).Select(i => Hash(leaves[2 * i], leaves[2 * i + 1])).ToList();
        var l2 = Enumerable.Range(0, 2).Select(i => Hash(l1[2 * i], l1[2 * i + 1])).ToList();
        var root = seeder.Metainfo.Files[0].PiecesRoot.ToArray();
        Assert.Equal(Hash(l2[0], l2[1]), root);

        using var peer = await seeder.ConnectAsync();
        await peer.SendAsync(HashRequestMessage(root, baseLayer: 0, index: 0, count: 2, proofLayers: 2));
        var payload = await peer.ReadUntilAsync(PeerMessageId.Hashes);

        Assert.Equal(HashRequestMessage(root, 0, 0, 2, 2)[5..], payload[..HashRequest.PayloadLength]);
        var hashes = payload[HashRequest.PayloadLength..].Chunk(32).ToList();
        Assert.Equal([leaves[0], leaves[1], l1[1], l2[1]], hashes);
        Assert.Equal(root, Hash(Hash(Hash(hashes[0], hashes[1]), hashes[2]), hashes[3]));

        // Counted before the answer is queued, so they are settled once it arrives.
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HashRequestsReceived));
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HashesSent));
        Assert.Equal(4 * 32, seeder.Counters.Read(SeedingCounter.HashBytesSent));
        Assert.Equal(0, seeder.Counters.HashRejects.Total());
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.PeersJoinedV2)); // a v2-only torrent is known by its v2 hash only
    }

    [Theory]
    [InlineData(3, 0, 2, 0, HashRejectReason.BadLayer)]       // the root layer: nothing above the piece layer's tree to give
    [InlineData(0, 8, 2, 0, HashRejectReason.OutOfRange)]     // index past the layer
    [InlineData(0, 6, 4, 0, HashRejectReason.OutOfRange)]     // range runs past the layer
    [InlineData(0, 0, 0, 0, HashRejectReason.OutOfRange)]     // no hashes
    [InlineData(0, 0, 9000, 0, HashRejectReason.TooMany)]     // more than any peer may ask for at once
    [InlineData(0, 0, 2, 3, HashRejectReason.OutOfRange)]     // proof above the root
    [InlineData(-1, 0, 2, 0, HashRejectReason.BadLayer)]
    [InlineData(0, -2, 2, 0, HashRejectReason.OutOfRange)]
    [InlineData(0, 0, 2, -1, HashRejectReason.OutOfRange)]
    public async Task Hash_request_outside_the_tree_gets_a_hash_reject_and_the_peer_stays(int baseLayer, int index, int count, int proofLayers,
        HashRejectReason reason)
    {
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 6 * Block + 100)], TorrentFormat.V2, Block);
        var root = seeder.Metainfo.Files[0].PiecesRoot.ToArray();
        using var peer = await seeder.ConnectAsync();
        var request = HashRequestMessage(root, baseLayer, index, count, proofLayers);
        await peer.SendAsync(request);
        var reject = await peer.ReadUntilAsync(PeerMessageId.HashReject);
        Assert.Equal(request[5..], reject);
        Assert.Equal(1, seeder.Counters.HashRejects.Read(reason));
        Assert.Equal(1, seeder.Counters.HashRejects.Total());
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.HashesSent));

        // Still served afterwards.
        await peer.SendAsync(HashRequestMessage(root, 0, 0, 8, 0));
        Assert.Equal(HashRequest.PayloadLength + 8 * 32, (await peer.ReadUntilAsync(PeerMessageId.Hashes)).Length);
        Assert.Equal(2, seeder.Counters.Read(SeedingCounter.HashRequestsReceived));
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HashesSent));
        Assert.Equal(8 * 32, seeder.Counters.Read(SeedingCounter.HashBytesSent));
    }

    [Fact]
    public async Task Hash_request_below_the_piece_layer_or_for_an_unknown_root_is_rejected()
    {
        // 64 KiB pieces: the piece layer is two layers above the blocks, which we do not keep.
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 20 * Block)], TorrentFormat.V2, 4 * Block);
        var root = seeder.Metainfo.Files[0].PiecesRoot.ToArray();
        using var peer = await seeder.ConnectAsync();
        await peer.SendAsync(HashRequestMessage(root, 0, 0, 4, 0));
        await peer.ReadUntilAsync(PeerMessageId.HashReject);
        Assert.Equal(1, seeder.Counters.HashRejects.Read(HashRejectReason.BelowPieceLayer));
        await peer.SendAsync(HashRequestMessage(new byte[32], 2, 0, 4, 0));
        await peer.ReadUntilAsync(PeerMessageId.HashReject);
        Assert.Equal(1, seeder.Counters.HashRejects.Read(HashRejectReason.UnknownRoot));
        await peer.SendAsync(HashRequestMessage(root, 2, 0, 8, 0));
        var hashes = await peer.ReadUntilAsync(PeerMessageId.Hashes);
        Assert.Equal(seeder.Metainfo.Files[0].PieceLayer.ToArray(), hashes[HashRequest.PayloadLength..(HashRequest.PayloadLength + 5 * 32)]);
        Assert.Equal(MerkleTree.PadHash(2).ToArray(), hashes[(HashRequest.PayloadLength + 5 * 32)..(HashRequest.PayloadLength + 6 * 32)]);
    }

    [Fact]
    public async Task Uncles_above_a_piece_layer_pad_with_the_hash_of_empty_subtrees_of_their_height()
    {
        // 20 blocks at 64 KiB pieces: 5 pieces, 32 leaves. Layer 2 (pieces) has 5 real nodes and 3 padding nodes, whose
        // value is the root of 4 zero leaves, not 32 zero bytes.
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 20 * Block)], TorrentFormat.V2, 4 * Block);
        var data = seeder.Files["file.bin"];
        var zero = new byte[32];
        var pad1 = Hash(zero, zero);
        var pad2 = Hash(pad1, pad1);
        var pad3 = Hash(pad2, pad2);
        var blocks = Enumerable.Range(0, 20).Select(i => SHA256.HashData(data.AsSpan(i * Block, Block))).ToList();
        var l2 = Enumerable.Range(0, 5).Select(p => Hash(Hash(blocks[4 * p], blocks[4 * p + 1]), Hash(blocks[4 * p + 2], blocks[4 * p + 3]))).ToList();
        var l3 = new[] { Hash(l2[0], l2[1]), Hash(l2[2], l2[3]), Hash(l2[4], pad2), pad3 };
        var l4 = new[] { Hash(l3[0], l3[1]), Hash(l3[2], l3[3]) };
        var root = seeder.Metainfo.Files[0].PiecesRoot.ToArray();
        Assert.Equal(Hash(l4[0], l4[1]), root);

        using var peer = await seeder.ConnectAsync();
        await peer.SendAsync(HashRequestMessage(root, baseLayer: 2, index: 0, count: 2, proofLayers: 2));
        var hashes = (await peer.ReadUntilAsync(PeerMessageId.Hashes))[HashRequest.PayloadLength..].Chunk(32).ToList();
        Assert.Equal([l2[0], l2[1], l3[1], l4[1]], hashes);
    }

    [Fact]
    public async Task Hash_request_for_a_v1_torrent_is_rejected_as_not_v2()
    {
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 3 * Block)], TorrentFormat.V1, Block);
        using var peer = await seeder.ConnectAsync();
        await peer.SendAsync(HashRequestMessage(new byte[32], 0, 0, 2, 0));
        await peer.ReadUntilAsync(PeerMessageId.HashReject);
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HashRequestsReceived));
        Assert.Equal(1, seeder.Counters.HashRejects.Read(HashRejectReason.NotV2));
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.PeersJoinedV1));
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.PeersJoinedV2));
    }

    [Theory]
    [InlineData(TorrentFormat.V1, false)]
    [InlineData(TorrentFormat.V2, true)]
    [InlineData(TorrentFormat.Hybrid, true)]
    public async Task Handshake_reply_sets_the_v2_bit_only_for_a_torrent_with_v2_metadata(TorrentFormat format, bool v2)
    {
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 3 * Block)], format, Block);
        var (peer, reply) = await seeder.HandshakeAsync(format == TorrentFormat.V2 ? seeder.Metainfo.TruncatedInfoHashV2 : null);
        using (peer)
        {
            Assert.Equal(v2, reply.Reserved.SupportsV2);
            Assert.True(reply.Reserved.SupportsFast);
        }
    }

    [Fact]
    public async Task Malformed_hash_request_disconnects_the_peer()
    {
        await using var seeder = await FileSeeder.StartAsync([("file.bin", 3 * Block)], TorrentFormat.V2, Block);
        using var peer = await seeder.ConnectAsync();
        var bytes = new byte[5 + 40];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 41);
        bytes[4] = (byte)PeerMessageId.HashRequest;
        await peer.SendAsync(bytes);
        Assert.True(await peer.WaitClosedAsync());
    }

    [Fact]
    public async Task Hybrid_torrent_is_one_swarm_reached_by_either_info_hash()
    {
        await using var seeder = await FileSeeder.StartAsync([("a/x.bin", 40_000), ("a/y.bin", 3 * Block)], TorrentFormat.Hybrid, 2 * Block);
        Assert.Equal(TorrentFormat.Hybrid, seeder.Metainfo.Format);
        using var v1 = await seeder.ConnectAsync(seeder.Metainfo.InfoHash);
        using var v2 = await seeder.ConnectAsync(seeder.Metainfo.TruncatedInfoHashV2!.Value);
        using var alsoV2 = await seeder.ConnectAsync(seeder.Metainfo.TruncatedInfoHashV2!.Value);
        foreach (var peer in new[] { v1, v2 })
        {
            await peer.SendSimpleAsync(PeerMessageId.Interested);
            await peer.ReadUntilAsync(PeerMessageId.Unchoke);
            await peer.RequestAsync(2, 0, Block);
            var piece = await peer.ReadUntilAsync(PeerMessageId.Piece);
            Assert.Equal(seeder.Files["a/y.bin"][..Block], piece[8..]);
        }

        // Counted at the handshake, before it is answered; uncounted when the session ends.
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.PeersJoinedV1));
        Assert.Equal(2, seeder.Counters.Read(SeedingCounter.PeersJoinedV2));
        alsoV2.Dispose();
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Counters.Read(SeedingCounter.PeersJoinedV2)));
        v1.Dispose();
        v2.Dispose();
        Assert.Equal(0, await Eventually.SettledAsync(0L, () => seeder.Counters.Read(SeedingCounter.PeersJoinedV1)));
        Assert.Equal(0, await Eventually.SettledAsync(0L, () => seeder.Counters.Read(SeedingCounter.PeersJoinedV2)));
    }

    [Theory]
    [InlineData(Appliance.Storage.StorageKind.Mapped)]
    [InlineData(Appliance.Storage.StorageKind.Pread)]
    public async Task Pad_bytes_are_served_as_zeros_without_a_pad_file_on_disk(Appliance.Storage.StorageKind storage)
    {
        // x.bin ends 40,000 bytes into piece 1; a 25,536-byte pad fills it, and y.bin starts piece 2.
        await using var seeder = await FileSeeder.StartAsync([("a/x.bin", 40_000), ("a/y.bin", 3 * Block)], TorrentFormat.Hybrid, 2 * Block, storage);
        Assert.Contains(seeder.Metainfo.Files, f => f.IsPad);
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await peer.RequestAsync(1, 0, Block);
        await peer.RequestAsync(1, Block, Block); // all pad
        var expected = new byte[2 * Block];
        seeder.Files["a/x.bin"].AsSpan(2 * Block).CopyTo(expected);
        Assert.Equal(expected[..Block], (await peer.ReadUntilAsync(PeerMessageId.Piece))[8..]);
        Assert.Equal(expected[Block..], (await peer.ReadUntilAsync(PeerMessageId.Piece))[8..]);
    }
}
