using System.Buffers.Binary;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;

namespace Appliance.Protocol.Tests.PeerWire;

public sealed class PeerWireCodecTests
{
    [Fact]
    public void Handshake_round_trips_and_rejects_a_wrong_protocol_string()
    {
        var hash = InfoHash.Compute("x"u8);
        var id = ClientIdentity.NewPeerId();
        var bytes = new byte[Handshake.Length];
        new Handshake(ReservedBits.Ours, hash, id).WriteTo(bytes);

        Assert.Equal(HandshakeStatus.Complete, Handshake.TryParse(bytes, out var parsed));
        Assert.Equal((hash, id, ReservedBits.Ours), (parsed.InfoHash, parsed.PeerId, parsed.Reserved));
        Assert.Equal(HandshakeStatus.NeedMoreData, Handshake.TryParse(bytes.AsSpan(0, 67), out _));
        Assert.Equal(HandshakeStatus.NeedMoreData, Handshake.TryParse(bytes.AsSpan(0, 5), out _));
        bytes[3] = (byte)'X';
        Assert.Equal(HandshakeStatus.BadProtocol, Handshake.TryParse(bytes.AsSpan(0, 5), out _));
    }

    [Fact]
    public void Our_reserved_bits_are_only_the_fast_and_extension_protocol_bits()
    {
        var bytes = new byte[8];
        ReservedBits.Ours.WriteTo(bytes);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0x10, 0, 0x04 }, bytes);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0 }, FrameStatus.NeedMoreData, 0)]
    [InlineData(new byte[] { 0, 0, 0, 0 }, FrameStatus.Complete, 0)]
    [InlineData(new byte[] { 0, 0, 0, 1 }, FrameStatus.NeedMoreData, 0)]
    [InlineData(new byte[] { 0, 0, 0, 1, 2 }, FrameStatus.Complete, 1)]
    [InlineData(new byte[] { 0, 1, 0, 1, 2 }, FrameStatus.TooLong, 0)]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 2 }, FrameStatus.TooLong, 0)]
    public void Frame_header_reading(byte[] input, FrameStatus status, int length)
    {
        Assert.Equal(status, PeerMessageReader.TryReadHeader(input, 65536, out var header));
        if (status == FrameStatus.Complete) Assert.Equal(length, header.Length);
    }

    [Fact]
    public void Request_payload_must_be_twelve_non_negative_bytes()
    {
        var bytes = new byte[12];
        new BlockRequest(1, 16384, 16384).WriteTo(bytes);
        Assert.True(BlockRequest.TryParse(bytes, out var request));
        Assert.Equal(new BlockRequest(1, 16384, 16384), request);
        Assert.False(BlockRequest.TryParse(bytes.AsSpan(0, 11), out _));
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), -1);
        Assert.False(BlockRequest.TryParse(bytes, out _));
    }

    [Fact]
    public void Piece_header_carries_the_block_length_index_and_begin()
    {
        var bytes = new byte[13];
        Assert.Equal(13, PeerMessageWriter.WritePieceHeader(bytes, 7, 32768, 16384));
        Assert.Equal(9 + 16384, BinaryPrimitives.ReadInt32BigEndian(bytes));
        Assert.Equal((byte)PeerMessageId.Piece, bytes[4]);
        Assert.Equal(7, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(5)));
        Assert.Equal(32768, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(9)));
    }

    [Theory]
    [InlineData(1, new byte[] { 0x80 })]
    [InlineData(8, new byte[] { 0xFF })]
    [InlineData(10, new byte[] { 0xFF, 0xC0 })]
    public void Full_bitfield_sets_every_piece_and_clears_spare_bits(int pieces, byte[] expected)
    {
        var bytes = new byte[PeerMessageWriter.BitfieldLength(pieces)];
        PeerMessageWriter.WriteFullBitfield(bytes, pieces);
        Assert.Equal(expected, bytes[5..]);
        Assert.Equal(1 + expected.Length, BinaryPrimitives.ReadInt32BigEndian(bytes));
    }

    [Fact]
    public void Extension_handshake_is_canonical_bencode_with_ut_metadata_and_upload_only()
    {
        var bytes = new byte[256];
        int n = ExtensionHandshake.Write(bytes, 1234, 500, "Appliance 0.1"u8);
        var root = BencodeDocument.Parse(bytes.AsMemory(0, n)).Root;
        Assert.Equal(1, root["m"u8]["ut_metadata"u8].Integer);
        Assert.Equal(1234, root["metadata_size"u8].Integer);
        Assert.Equal(1, root["upload_only"u8].Integer);
        Assert.Equal(500, root["reqq"u8].Integer);
    }

    [Theory]
    [InlineData("d1:md11:ut_metadatai3eee", true, 3)]
    [InlineData("d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881ee", true, 2)]
    [InlineData("d1:v3:abc1:md11:ut_metadatai7eee", true, 7)] // unsorted keys, as some clients send them
    [InlineData("d1:md6:ut_pexi1e11:ut_metadatai9ee1:pi6881ee", true, 9)]
    [InlineData("d1:md11:ut_metadatai3e11:ut_metadatai4eee", false, 0)] // a key twice in a row
    [InlineData("d1:md11:ut_metadatai0eee", true, 0)]
    [InlineData("d1:pi1ee", true, 0)]
    [InlineData("li1ee", false, 0)]
    [InlineData("d1:md11:ut_metadata", false, 0)]
    public void Peer_extension_handshake_gives_its_ut_metadata_id(string input, bool ok, byte id)
    {
        Assert.Equal(ok, ExtensionHandshake.TryParse(System.Text.Encoding.ASCII.GetBytes(input), out byte got));
        Assert.Equal(id, got);
    }

    [Theory]
    [InlineData("d8:msg_typei0e5:piecei2ee", true, 0, 2)]
    [InlineData("d8:msg_typei1e5:piecei0e10:total_sizei5eexxxxx", true, 1, 0)]
    [InlineData("d8:msg_typei0ee", false, 0, -1)]
    [InlineData("i5e", false, -1, -1)]
    public void Metadata_messages_parse(string input, bool ok, int type, int piece)
    {
        Assert.Equal(ok, MetadataMessage.TryParse(System.Text.Encoding.ASCII.GetBytes(input), out int gotType, out int gotPiece));
        if (ok) Assert.Equal((type, piece), (gotType, gotPiece));
    }
}
