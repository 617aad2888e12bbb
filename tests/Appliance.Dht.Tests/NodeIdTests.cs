namespace Appliance.Dht.Tests;

public class NodeIdTests
{
    [Theory]
    // Test vectors of BEP 42.
    [InlineData(124, 31, 75, 21, 1, "5fbfbf")]
    [InlineData(21, 75, 31, 124, 86, "5a3ce9")]
    [InlineData(65, 23, 51, 170, 22, "a5d432")]
    [InlineData(84, 124, 73, 14, 65, "1b0321")]
    [InlineData(43, 213, 53, 83, 90, "e56f6c")]
    public void Secure_id_matches_BEP42_vectors(int a, int b, int c, int d, int random, string prefix)
    {
        uint address = (uint)(a << 24 | b << 16 | c << 8 | d);
        var tail = new byte[20];
        var id = NodeIdSecurity.Generate(address, (byte)random, tail);
        var bytes = id.ToArray();
        var expected = Convert.FromHexString(prefix);
        Assert.Equal(expected[0], bytes[0]);
        Assert.Equal(expected[1], bytes[1]);
        Assert.Equal(expected[2] & 0xF8, bytes[2] & 0xF8);
        Assert.Equal((byte)random, bytes[19]);
        Assert.True(NodeIdSecurity.IsValid(id, address));
        Assert.False(NodeIdSecurity.IsValid(NodeId.Parse("0000000000000000000000000000000000000000"), address));
    }

    [Fact]
    public void Distance_ordering_is_xor()
    {
        var target = NodeId.Parse("0000000000000000000000000000000000000000");
        var near = NodeId.Parse("0000000000000000000000000000000000000001");
        var far = NodeId.Parse("8000000000000000000000000000000000000000");
        Assert.True(target.CompareDistance(near, far) < 0);
        Assert.Equal(159, target.CommonPrefixLength(near));
        Assert.Equal(0, target.CommonPrefixLength(far));
    }

    [Fact]
    public void Random_with_prefix_shares_exactly_that_prefix()
    {
        var own = NodeId.Random();
        for (int prefix = 0; prefix < 160; prefix += 7)
            Assert.Equal(prefix, own.CommonPrefixLength(own.RandomWithPrefix(prefix)));
    }
}
