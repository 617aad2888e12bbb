using Appliance.TestKit;
using System.Buffers.Binary;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;

namespace Appliance.Protocol.Tests.Robustness;

/// <summary>
/// The peer-wire codec under hostile streams: framing must not depend on how TCP split the bytes, a bad length
/// prefix is reported (never thrown), and what the writers produce reads back unchanged.
/// </summary>
public sealed class PeerWireFuzzTests
{
    private const int MaxFrame = 16 * 1024 + 13; // a 16 KiB block plus the piece header, what a seeder accepts

    private sealed record Frame(int Length, PeerMessageId Id, byte[] Payload)
    {
        public bool Equals(Frame? other) => other is not null && Length == other.Length && Id == other.Id && Payload.AsSpan().SequenceEqual(other.Payload);
        public override int GetHashCode() => HashCode.Combine(Length, Id, Payload.Length);
    }

    private sealed record FramingResult(List<Frame> Frames, bool TooLong, int Leftover);

    /// <summary>Feeds <paramref name="stream"/> in the given chunks to a receive buffer and frames what has arrived after each.</summary>
    private static FramingResult FrameStream(byte[] stream, IEnumerable<int> chunkSizes)
    {
        var frames = new List<Frame>();
        var buffer = new byte[stream.Length];
        int received = 0, consumed = 0;
        foreach (int size in chunkSizes)
        {
            Array.Copy(stream, received, buffer, received, size);
            received += size;
            for (int guard = 0; ; guard++)
            {
                Assert.True(guard <= stream.Length, "framing made no progress");
                var available = buffer.AsSpan(consumed, received - consumed);
                var status = PeerMessageReader.TryReadHeader(available, MaxFrame, out var header);
                if (status == FrameStatus.TooLong)
                {
                    Assert.True(BinaryPrimitives.ReadUInt32BigEndian(available) > MaxFrame);
                    return new FramingResult(frames, true, stream.Length - consumed);
                }
                if (status == FrameStatus.NeedMoreData)
                {
                    Assert.True(available.Length < PeerMessageReader.LengthPrefix + 1, $"NeedMoreData with {available.Length} bytes buffered");
                    break;
                }
                Assert.InRange(header.Length, 0, MaxFrame);
                Assert.True(header.FrameLength >= PeerMessageReader.LengthPrefix);
                Assert.Equal(header.IsKeepAlive ? 0 : header.Length - 1, header.PayloadLength);
                if (available.Length < header.FrameLength) break;
                var payload = header.IsKeepAlive ? [] : available.Slice(PeerMessageHeader.PayloadOffset, header.PayloadLength).ToArray();
                frames.Add(new Frame(header.Length, header.Id, payload));
                consumed += header.FrameLength;
            }
        }
        Assert.Equal(stream.Length, received);
        return new FramingResult(frames, false, received - consumed);
    }

    private static IEnumerable<int> Whole(byte[] stream) => [stream.Length];

    private static IEnumerable<int> OneByOne(byte[] stream) => Enumerable.Repeat(1, stream.Length);

    private static IEnumerable<int> RandomChunks(byte[] stream, Random random)
    {
        int left = stream.Length;
        while (left > 0)
        {
            int n = Math.Min(left, 1 + random.Next(40));
            left -= n;
            yield return n;
        }
    }

    private static void AssertSame(FramingResult expected, FramingResult actual)
    {
        Assert.Equal(expected.TooLong, actual.TooLong);
        Assert.Equal(expected.Leftover, actual.Leftover);
        Assert.Equal(expected.Frames, actual.Frames);
    }

    /// <summary>One of every message our writers produce, concatenated as a peer would send them.</summary>
    private static byte[] ValidStream(out int messageCount)
    {
        var output = new byte[64 * 1024];
        int n = 0;
        int count = 0;
        void Count(int written) { n += written; count++; }
        Count(PeerMessageWriter.WriteKeepAlive(output.AsSpan(n)));
        Count(PeerMessageWriter.WriteFullBitfield(output.AsSpan(n), 37));
        foreach (var id in new[] { PeerMessageId.Choke, PeerMessageId.Unchoke, PeerMessageId.Interested, PeerMessageId.NotInterested, PeerMessageId.HaveAll, PeerMessageId.HaveNone })
            Count(PeerMessageWriter.WriteSimple(output.AsSpan(n), id));
        Count(PeerMessageWriter.WriteHave(output.AsSpan(n), 36));
        Count(PeerMessageWriter.WriteBlockMessage(output.AsSpan(n), PeerMessageId.Request, new BlockRequest(3, 16384, 16384)));
        Count(PeerMessageWriter.WriteBlockMessage(output.AsSpan(n), PeerMessageId.Cancel, new BlockRequest(3, 16384, 16384)));
        Count(PeerMessageWriter.WriteBlockMessage(output.AsSpan(n), PeerMessageId.RejectRequest, new BlockRequest(0, 0, 1)));
        n += PeerMessageWriter.WritePieceHeader(output.AsSpan(n), 5, 0, 1000);
        for (int i = 0; i < 1000; i++) output[n++] = (byte)i;
        count++;
        Span<byte> extension = stackalloc byte[256];
        int extensionLength = ExtensionHandshake.Write(extension, 12345, 250, "Appliance/test"u8);
        n += PeerMessageWriter.WriteExtendedHeader(output.AsSpan(n), ExtensionHandshake.HandshakeId, extensionLength);
        extension[..extensionLength].CopyTo(output.AsSpan(n));
        n += extensionLength;
        count++;
        Count(PeerMessageWriter.WriteKeepAlive(output.AsSpan(n)));
        messageCount = count;
        return output[..n];
    }

    [Fact]
    public void Valid_stream_frames_the_same_whatever_the_split_and_round_trips()
    {
        byte[] stream = ValidStream(out int messageCount);
        var whole = FrameStream(stream, Whole(stream));
        Assert.False(whole.TooLong);
        Assert.Equal(0, whole.Leftover);
        Assert.Equal(messageCount, whole.Frames.Count);

        AssertSame(whole, FrameStream(stream, OneByOne(stream)));
        for (int split = 0; split <= stream.Length; split++)
            AssertSame(whole, FrameStream(stream, [split, stream.Length - split]));

        var request = whole.Frames.Single(f => f.Id == PeerMessageId.Request);
        Assert.True(BlockRequest.TryParse(request.Payload, out var block));
        Assert.Equal(new BlockRequest(3, 16384, 16384), block);
        var have = whole.Frames.Single(f => f.Id == PeerMessageId.Have);
        Assert.Equal(36, BinaryPrimitives.ReadInt32BigEndian(have.Payload));
        var bitfield = whole.Frames.Single(f => f.Id == PeerMessageId.Bitfield);
        Assert.Equal(5, bitfield.Payload.Length);
        Assert.Equal(0xF8, bitfield.Payload[^1]); // 37 pieces: three spare bits clear
        var extended = whole.Frames.Single(f => f.Id == PeerMessageId.Extended);
        Assert.Equal(ExtensionHandshake.HandshakeId, extended.Payload[0]);
        Assert.True(ExtensionHandshake.TryParse(extended.Payload.AsSpan(1), out byte metadataId));
        Assert.Equal(ExtensionHandshake.OurMetadataId, metadataId);
    }

    [Fact]
    public void Mutated_streams_frame_the_same_fed_whole_one_byte_at_a_time_or_in_random_chunks()
    {
        byte[] valid = ValidStream(out _);
        var random = new Random(20261124);
        foreach (var mutant in Mutations.Random(valid, seed: 1, count: 400))
        {
            var whole = FrameStream(mutant, Whole(mutant));
            AssertSame(whole, FrameStream(mutant, OneByOne(mutant)));
            AssertSame(whole, FrameStream(mutant, RandomChunks(mutant, random)));
            foreach (var frame in whole.Frames)
            {
                if (frame.Id is PeerMessageId.Request or PeerMessageId.Cancel or PeerMessageId.RejectRequest && BlockRequest.TryParse(frame.Payload, out var block))
                    Assert.True(block.Piece >= 0 && block.Begin >= 0 && block.Length >= 0);
            }
        }
    }

    [Fact]
    public void Random_byte_streams_never_throw_and_frame_consistently()
    {
        var random = new Random(77);
        for (int i = 0; i < 300; i++)
        {
            var stream = new byte[random.Next(0, 600)];
            random.NextBytes(stream);
            // Bias half of them towards small length prefixes so frames actually complete.
            if (i % 2 == 0)
            {
                for (int at = 0; at + 4 <= stream.Length; at += 4 + random.Next(20))
                    BinaryPrimitives.WriteUInt32BigEndian(stream.AsSpan(at), (uint)random.Next(0, 24));
            }
            var whole = FrameStream(stream, Whole(stream));
            AssertSame(whole, FrameStream(stream, OneByOne(stream)));
            AssertSame(whole, FrameStream(stream, RandomChunks(stream, random)));
        }
    }

    [Theory]
    [InlineData(0x7FFF_FFFFu)]
    [InlineData(0x8000_0000u)]
    [InlineData(0xFFFF_FFFFu)]
    [InlineData((uint)MaxFrame + 1)]
    public void Length_prefix_beyond_the_limit_is_reported_as_too_long_before_the_body_arrives(uint length)
    {
        Span<byte> prefix = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, length);
        Assert.Equal(FrameStatus.TooLong, PeerMessageReader.TryReadHeader(prefix, MaxFrame, out _));
    }

    [Fact]
    public void Block_request_payloads_of_any_length_or_sign_are_refused_without_throwing()
    {
        var random = new Random(5);
        for (int i = 0; i < 2000; i++)
        {
            var payload = new byte[random.Next(0, 20)];
            random.NextBytes(payload);
            bool ok = BlockRequest.TryParse(payload, out var request);
            Assert.Equal(payload.Length == 12 && (BinaryPrimitives.ReadInt32BigEndian(payload) | BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)) | BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(8))) >= 0, ok);
            if (ok)
            {
                var again = new byte[12];
                request.WriteTo(again);
                Assert.Equal(payload, again);
            }
        }
    }

    private static byte[] ValidHandshake(out Handshake handshake)
    {
        var hash = new byte[InfoHash.Length];
        new Random(3).NextBytes(hash);
        handshake = new Handshake(ReservedBits.Ours, new InfoHash(hash), ClientIdentity.NewPeerId());
        var bytes = new byte[Handshake.Length];
        handshake.WriteTo(bytes);
        return bytes;
    }

    [Fact]
    public void Handshake_prefixes_ask_for_more_and_the_whole_round_trips()
    {
        byte[] valid = ValidHandshake(out var expected);
        foreach (var prefix in Mutations.Truncations(valid))
        {
            Assert.Equal(HandshakeStatus.NeedMoreData, Handshake.TryParse(prefix, out _));
            var header = Handshake.TryParseHeader(prefix, out var reserved, out var infoHash);
            Assert.Equal(prefix.Length < Handshake.PeerIdOffset ? HandshakeStatus.NeedMoreData : HandshakeStatus.Complete, header);
            if (header == HandshakeStatus.Complete) Assert.Equal(expected.InfoHash, infoHash);
        }
        Assert.Equal(HandshakeStatus.Complete, Handshake.TryParse(valid, out var parsed));
        Assert.Equal(expected.InfoHash, parsed.InfoHash);
        Assert.Equal(expected.PeerId, parsed.PeerId);
        Assert.Equal(expected.Reserved, parsed.Reserved);
        Assert.True(parsed.Reserved.SupportsFast && parsed.Reserved.SupportsExtensionProtocol);
    }

    [Fact]
    public void Handshake_with_any_protocol_byte_changed_is_refused_as_soon_as_that_byte_arrives()
    {
        byte[] valid = ValidHandshake(out _);
        for (int at = 0; at < 20; at++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                var bad = (byte[])valid.Clone();
                bad[at] ^= (byte)(1 << bit);
                for (int length = 0; length <= bad.Length; length++)
                {
                    var status = Handshake.TryParse(bad.AsSpan(0, length), out _);
                    Assert.Equal(length > at ? HandshakeStatus.BadProtocol : HandshakeStatus.NeedMoreData, status);
                }
            }
        }
    }

    [Fact]
    public void Mutated_handshakes_never_throw_and_complete_only_with_the_protocol_header()
    {
        byte[] valid = ValidHandshake(out _);
        foreach (var mutant in Mutations.Random(valid, seed: 11, count: 3000))
        {
            var status = Handshake.TryParse(mutant, out var parsed);
            if (status == HandshakeStatus.Complete)
            {
                Assert.True(mutant.Length >= Handshake.Length);
                Assert.True(mutant.AsSpan(0, 20).SequenceEqual("\u0013BitTorrent protocol"u8));
                Assert.Equal(new InfoHash(mutant.AsSpan(Handshake.InfoHashOffset, InfoHash.Length)), parsed.InfoHash);
            }
        }
    }

    [Fact]
    public void Mutated_extension_handshakes_never_throw_and_give_a_metadata_id_in_range()
    {
        var valid = new byte[256];
        int n = ExtensionHandshake.Write(valid, 40000, 500, "Appliance/9.9"u8);
        valid = valid[..n];
        Assert.True(ExtensionHandshake.TryParse(valid, out byte id));
        Assert.Equal(ExtensionHandshake.OurMetadataId, id);
        foreach (var mutant in Mutations.Truncations(valid).Concat(Mutations.Random(valid, seed: 21, count: 3000)))
        {
            if (ExtensionHandshake.TryParse(mutant, out _)) Assert.Equal((byte)'d', mutant[0]);
        }
    }

    [Fact]
    public void Mutated_metadata_messages_never_throw_and_accepted_ones_have_non_negative_fields()
    {
        var data = new byte[MetadataMessage.MaxHeaderLength];
        int n = MetadataMessage.WriteDataHeader(data, 2, 40000);
        Assert.True(MetadataMessage.TryParse(data.AsSpan(0, n), out int type, out int piece));
        Assert.Equal((MetadataMessage.Data, 2), (type, piece));
        var reject = new byte[MetadataMessage.MaxHeaderLength];
        int r = MetadataMessage.WriteReject(reject, 7);
        Assert.True(MetadataMessage.TryParse(reject.AsSpan(0, r), out type, out piece));
        Assert.Equal((MetadataMessage.Reject, 7), (type, piece));

        var inputs = Mutations.Truncations(data[..n]).Concat(Mutations.Random(data[..n], 31, 2000)).Concat(Mutations.Random(reject[..r], 32, 2000));
        foreach (var mutant in inputs)
        {
            if (MetadataMessage.TryParse(mutant, out type, out piece))
            {
                Assert.True(type >= 0);
                Assert.True(piece >= 0);
            }
        }
    }
}
