using Appliance.Networking.Utp;

namespace Appliance.Networking.Tests.Utp;

public sealed class UtpPacketTests
{
    [Fact]
    public void Header_round_trips_through_its_twenty_bytes()
    {
        var header = new UtpHeader(UtpPacketType.Data, 0xBEEF, 123456789, 987654321, 1 << 20, 65535, 7);
        var bytes = new byte[UtpHeader.Length + 3];
        header.WriteTo(bytes);
        "abc"u8.CopyTo(bytes.AsSpan(UtpHeader.Length));

        Assert.True(UtpHeader.TryParse(bytes, out var parsed, out int payloadOffset, out var sack));
        Assert.Equal(header, parsed);
        Assert.Equal(UtpHeader.Length, payloadOffset);
        Assert.True(sack.IsEmpty);
        Assert.Equal(0x01, bytes[0]); // type 0 (DATA) in the high nibble, version 1 in the low one
    }

    [Theory]
    [InlineData(1)] // libtorrent sends as few bitmask bytes as it needs
    [InlineData(4)]
    public void Selective_ack_extension_is_found_and_the_payload_follows_it(int maskLength)
    {
        var bytes = new byte[UtpHeader.Length + 2 + maskLength + 2];
        new UtpHeader(UtpPacketType.State, 1, 0, 0, 0, 5, 9).WriteTo(bytes, extension: UtpHeader.SelectiveAckExtension);
        bytes[UtpHeader.Length] = 0;
        bytes[UtpHeader.Length + 1] = (byte)maskLength;
        bytes[UtpHeader.Length + 2] = 0b101;

        Assert.True(UtpHeader.TryParse(bytes, out _, out int payloadOffset, out var sack));
        Assert.Equal(maskLength, sack.Length);
        Assert.True(UtpHeader.SackBit(sack, 0));
        Assert.False(UtpHeader.SackBit(sack, 1));
        Assert.True(UtpHeader.SackBit(sack, 2));
        Assert.Equal(bytes.Length - 2, payloadOffset);
    }

    [Fact]
    public void Unknown_extensions_are_skipped_by_length()
    {
        var bytes = new byte[UtpHeader.Length + 2 + 8 + 1];
        new UtpHeader(UtpPacketType.Syn, 1, 0, 0, 0, 1, 0).WriteTo(bytes, extension: 2);
        bytes[UtpHeader.Length + 1] = 8;
        Assert.True(UtpHeader.TryParse(bytes, out var header, out int payloadOffset, out var sack));
        Assert.Equal(UtpPacketType.Syn, header.Type);
        Assert.True(sack.IsEmpty);
        Assert.Equal(bytes.Length - 1, payloadOffset);
    }

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "shorter than a header", new byte[19] },
        { "version 0", Packet(0x00) },
        { "type 5", Packet(0x51) },
        { "extension past the end", WithExtension(1, 40) },
        { "empty selective ack", WithExtension(1, 0) },
        { "extension longer than the limit", WithExtension(2, 200, total: 300) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_packets_are_refused(string because, byte[] datagram)
    {
        Assert.False(UtpHeader.TryParse(datagram, out _, out _, out _), because);
    }

    [Fact]
    public void Krpc_is_not_taken_for_utp()
    {
        Assert.False(UtpHeader.LooksLikeUtp("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"u8));
        Assert.True(UtpHeader.LooksLikeUtp(Packet(0x41)));
    }

    [Theory]
    [InlineData(10, 12, 2)]
    [InlineData(65535, 1, 2)]
    [InlineData(1, 65535, -2)]
    public void Sequence_distance_wraps(int from, int to, int expected) =>
        Assert.Equal(expected, UtpSequence.Distance((ushort)from, (ushort)to));

    private static byte[] Packet(byte typeVersion)
    {
        var bytes = new byte[UtpHeader.Length];
        bytes[0] = typeVersion;
        return bytes;
    }

    private static byte[] WithExtension(byte type, int length, int total = 24)
    {
        var bytes = new byte[total];
        bytes[0] = 0x21;
        bytes[1] = type;
        bytes[UtpHeader.Length] = 0;
        bytes[UtpHeader.Length + 1] = (byte)length;
        return bytes;
    }
}
