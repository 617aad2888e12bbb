using Appliance.Protocol.Randomness;

namespace Appliance.Protocol.Tests.Randomness;

public sealed class KernelRandomTests
{
    // A block of 32 random bytes is all zero with probability 2^-256: a zero block means a part was left unfilled.
    private static void AssertNoZeroBlock(ReadOnlySpan<byte> bytes)
    {
        for (int at = 0; at < bytes.Length; at += 32)
        {
            var block = bytes.Slice(at, Math.Min(32, bytes.Length - at));
            Assert.True(block.Length < 32 || block.ContainsAnyExcept((byte)0), $"bytes {at} to {at + block.Length} were not filled");
        }
    }

    [Fact]
    public void Fill_writes_every_byte_of_the_span()
    {
        var bytes = new byte[4096 + 32];
        KernelRandom.Fill(bytes);
        AssertNoZeroBlock(bytes);
    }

    [Fact]
    public void Two_fills_give_different_bytes()
    {
        var a = new byte[32];
        var b = new byte[32];
        KernelRandom.Fill(a);
        KernelRandom.Fill(b);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void A_span_larger_than_one_getrandom_call_returns_is_filled_to_the_end()
    {
        // The kernel hands out at most 32 MiB per call; the rest needs further calls.
        var bytes = new byte[40 << 20];
        KernelRandom.Fill(bytes);
        AssertNoZeroBlock(bytes.AsSpan((32 << 20) - 4096));
        AssertNoZeroBlock(bytes.AsSpan(0, 4096));
    }

    [Fact]
    public void An_empty_span_is_fine()
    {
        KernelRandom.Fill([]);
    }

    [Fact]
    public void GetInt32_stays_in_range_and_reaches_every_value()
    {
        var seen = new bool[3];
        for (int i = 0; i < 600; i++)
        {
            int value = KernelRandom.GetInt32(3);
            Assert.InRange(value, 0, 2);
            seen[value] = true;
        }
        Assert.All(seen, Assert.True);
        Assert.Equal(0, KernelRandom.GetInt32(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelRandom.GetInt32(0));
    }
}
