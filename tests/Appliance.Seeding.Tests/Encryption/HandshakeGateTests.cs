using System.Net;
using Appliance.Seeding.Encryption;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Encryption;

public sealed class HandshakeGateTests
{
    [Fact]
    public void An_address_gets_its_burst_then_its_rate()
    {
        var time = new ManualTime();
        var gate = new HandshakeGate(maxConcurrent: 100, perSecondPerAddress: 2, burstPerAddress: 3, time);
        var address = IPAddress.Parse("10.0.0.1");
        for (int i = 0; i < 3; i++) Assert.True(gate.TryEnter(address));
        Assert.False(gate.TryEnter(address));
        Assert.True(gate.TryEnter(IPAddress.Parse("10.0.0.2")));

        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(gate.TryEnter(address));
        Assert.False(gate.TryEnter(address));
    }

    [Fact]
    public void IPv6_addresses_of_one_64_share_a_bucket_and_mapped_IPv4_is_IPv4()
    {
        var gate = new HandshakeGate(maxConcurrent: 100, perSecondPerAddress: 1, burstPerAddress: 2, new ManualTime());
        Assert.True(gate.TryEnter(IPAddress.Parse("2001:db8::1")));
        Assert.True(gate.TryEnter(IPAddress.Parse("2001:db8::2")));
        Assert.False(gate.TryEnter(IPAddress.Parse("2001:db8::ffff:3")));
        Assert.True(gate.TryEnter(IPAddress.Parse("2001:db8:0:1::1")));

        Assert.True(gate.TryEnter(IPAddress.Parse("192.0.2.1")));
        Assert.True(gate.TryEnter(IPAddress.Parse("::ffff:192.0.2.1")));
        Assert.False(gate.TryEnter(IPAddress.Parse("192.0.2.1")));
    }

    [Fact]
    public void Handshakes_in_progress_are_capped_until_one_exits()
    {
        var gate = new HandshakeGate(maxConcurrent: 2, perSecondPerAddress: 100, burstPerAddress: 100, new ManualTime());
        Assert.True(gate.TryEnter(IPAddress.Parse("10.0.0.1")));
        Assert.True(gate.TryEnter(IPAddress.Parse("10.0.0.2")));
        Assert.False(gate.TryEnter(IPAddress.Parse("10.0.0.3")));
        gate.Exit();
        Assert.True(gate.TryEnter(IPAddress.Parse("10.0.0.3")));
        Assert.Equal(2, gate.InProgress);
    }
}
