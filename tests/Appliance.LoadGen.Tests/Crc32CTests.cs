using System.Text;
using Appliance.LoadGen;

namespace Appliance.LoadGen.Tests;

/// <summary>The block checksum of --reference-digests: standard CRC-32C, the same on every path.</summary>
public sealed class Crc32CTests
{
    [Theory]
    // RFC 3720 (iSCSI) B.4 and the usual check value.
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("", 0u)]
    public void Known_inputs_give_the_published_crc32c(string text, uint expected)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(expected, Crc32C.Compute(bytes));
        Assert.Equal(expected, ~Crc32C.AppendPortable(~0u, bytes));
    }

    [Fact]
    public void Thirty_two_zero_bytes_and_thirty_two_ff_bytes_give_the_rfc_3720_values()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
    }

    [Fact]
    public void The_hardware_lanes_agree_with_the_byte_table_at_every_length_and_alignment_around_the_lane_edges()
    {
        var data = new byte[3 * 3 * Crc32C.LaneBytes + 64];
        new Random(11).NextBytes(data);
        int[] lengths = [0, 1, 7, 8, 9, 63, 4096, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1,
            3 * Crc32C.LaneBytes - 1, 3 * Crc32C.LaneBytes, 3 * Crc32C.LaneBytes + 9, 6 * Crc32C.LaneBytes + 17, 9 * Crc32C.LaneBytes];
        foreach (var length in lengths)
        {
            for (var offset = 0; offset < 8; offset += 3)
            {
                var slice = data.AsSpan(offset, length);
                Assert.Equal(~Crc32C.AppendPortable(~0u, slice), Crc32C.Compute(slice));
            }
        }
    }

    [Fact]
    public void Appending_in_pieces_gives_the_crc_of_the_whole()
    {
        var data = new byte[20_000];
        new Random(12).NextBytes(data);
        var state = Crc32C.Append(~0u, data.AsSpan(0, 3));
        state = Crc32C.Append(state, data.AsSpan(3, 16_390));
        state = Crc32C.Append(state, data.AsSpan(16_393));
        Assert.Equal(Crc32C.Compute(data), ~state);
    }
}
