using Appliance.Fuzz.Encryption;
using Appliance.Fuzz.PeerWire;
using Appliance.Fuzz.Utp;
using Appliance.Networking.Utp;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;

namespace Appliance.Fuzz.Tests;

/// <summary>
/// The seeds of the stateful targets get where their names say: a valid handshake completes, a valid upload ends in a
/// closed connection. If the fixed keys or the event encoding change, the seeds go stale and the fuzzer starts shallow;
/// this says so.
/// </summary>
public sealed class SeedDepthTests
{
    private static byte[] Seed(string target, string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "corpus", target, name));

    [Theory]
    [InlineData("whole-stream-rc4", MseStatus.Done)]
    [InlineData("after-ya-plaintext", MseStatus.Done)]
    [InlineData("after-ya-chunks-of-7", MseStatus.Done)]
    [InlineData("plain-fields-rc4", MseStatus.Done)]
    [InlineData("plain-fields-bytewise", MseStatus.Done)]
    [InlineData("plain-fields-max-padc-empty-ia", MseStatus.Done)]
    [InlineData("pad-a-512", MseStatus.Done)]
    [InlineData("pad-a-513", MseStatus.Failed)]
    [InlineData("padc-513", MseStatus.Failed)]
    [InlineData("ia-4097", MseStatus.Failed)]
    [InlineData("vc-not-zero", MseStatus.Failed)]
    [InlineData("provide-nothing-known", MseStatus.Failed)]
    [InlineData("unknown-skey", MseStatus.Failed)]
    [InlineData("ya-zero", MseStatus.Failed)]
    [InlineData("ya-p-minus-1", MseStatus.Failed)]
    [InlineData("ya-cut", MseStatus.NeedMoreData)]
    public void Mse_seed_ends_where_its_name_says(string seed, MseStatus expected)
    {
        Assert.Equal(expected, MseTarget.Run(Seed("mse", seed)));
    }

    [Theory]
    [InlineData("establish-read-fin", UtpState.Connected)]
    [InlineData("upload-acked-close", UtpState.Closed)]
    [InlineData("raw-datagrams", UtpState.Connected)]
    [InlineData("half-open-timeout", UtpState.Closed)]
    [InlineData("idle-timeout", UtpState.Closed)]
    [InlineData("reset-by-peer", UtpState.Closed)]
    [InlineData("syn-resent", UtpState.Connected)]
    public void Utp_connection_seed_ends_where_its_name_says(string seed, UtpState expected)
    {
        Assert.Equal(expected, UtpConnectionTarget.Run(Seed("utp-connection", seed)));
    }

    [Theory]
    [InlineData("v2-nested-piece-layers", TorrentFormat.V2)]
    [InlineData("hybrid-pad-nested-piece-layers", TorrentFormat.Hybrid)]
    public void Metainfo_v2_seeds_reach_file_trees_and_piece_layers(string seed, TorrentFormat format)
    {
        Assert.True(TorrentMetainfo.TryParse(Seed("metainfo", seed), out var metainfo, out string? reason), reason);
        Assert.Equal(format, metainfo!.Format);
        Assert.Contains(metainfo.Files, file => !file.IsPad && file.PathSegments.Count >= 3);
        Assert.Contains(metainfo.Files, file => !file.PieceLayer.IsEmpty);
        // A hybrid names its pad files; a v2 torrent's piece alignment comes out as pad files too.
        Assert.Contains(metainfo.Files, file => file.IsPad);
    }

    [Theory]
    [InlineData("hash-request", PeerMessageId.HashRequest)]
    [InlineData("hashes", PeerMessageId.Hashes)]
    [InlineData("hash-reject", PeerMessageId.HashReject)]
    public void Peer_wire_hash_seeds_hold_a_whole_bep52_message(string seed, PeerMessageId id)
    {
        var data = Seed("peer-wire", seed).AsSpan();
        if (Handshake.TryParse(data, out _) == HandshakeStatus.Complete) data = data[Handshake.Length..];
        Assert.Equal(FrameStatus.Complete, PeerMessageReader.TryReadHeader(data, int.MaxValue, out var header));
        Assert.Equal(id, header.Id);
        Assert.True(header.FrameLength <= data.Length);
        Assert.True(HashRequest.TryParse(data.Slice(PeerMessageHeader.PayloadOffset, HashRequest.PayloadLength), out _));
        PeerWireTarget.Fuzz(data);
    }

    [Theory]
    [InlineData("whole-piece-layer-to-root", 16)]
    [InlineData("pair-with-uncles", 5)]
    [InlineData("upper-layer", 5)]
    [InlineData("single-hash", 3)]
    [InlineData("three-piece-file", 4)]
    [InlineData("one-piece-file-unknown", -1)]
    [InlineData("raw-root", -1)]
    [InlineData("below-piece-layer", -1)]
    [InlineData("too-many", -1)]
    [InlineData("beyond-layer", -1)]
    public void Hash_answer_seed_is_answered_or_rejected_as_its_name_says(string seed, int hashes)
    {
        Assert.Equal(hashes, HashAnswerTarget.Run(Seed("hash-answer", seed)));
    }
}
