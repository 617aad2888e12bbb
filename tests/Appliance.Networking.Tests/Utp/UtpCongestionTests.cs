using Appliance.Networking.Utp;

namespace Appliance.Networking.Tests.Utp;

public sealed class UtpCongestionTests
{
    private const int Max = 1 << 20;

    [Fact]
    public void Slow_start_doubles_the_window_while_the_delay_stays_low()
    {
        var cc = new UtpCongestion(Max);
        int start = cc.Window;
        cc.OnAck(start, 1000, 0);
        Assert.Equal(2 * start, cc.Window);
        Assert.True(cc.SlowStart);
    }

    [Fact]
    public void Queuing_delay_above_the_target_shrinks_the_window()
    {
        var cc = new UtpCongestion(Max);
        cc.OnAck(10_000, 1000, 0); // base delay 1 ms
        int before = cc.Window;
        cc.OnAck(before, 1000 + 2 * UtpCongestion.TargetDelayMicros, 10);
        Assert.False(cc.SlowStart);
        Assert.True(cc.Window < before, $"{cc.Window} should be below {before}");
    }

    [Fact]
    public void Below_the_target_the_window_grows_at_most_the_gain_per_round_trip()
    {
        var cc = new UtpCongestion(Max);
        cc.OnLoss(); // leave slow start
        int before = cc.Window;
        cc.OnAck(before, 5000, 0); // a whole window acknowledged with no queuing delay
        Assert.InRange(cc.Window - before, 1, UtpCongestion.MaxGainPerRtt);
    }

    [Fact]
    public void Loss_halves_and_timeout_leaves_one_packet_with_a_doubled_timer()
    {
        var cc = new UtpCongestion(Max);
        cc.OnAck(100_000, 1000, 0);
        int before = cc.Window;
        cc.OnLoss();
        Assert.Equal(before / 2, cc.Window);
        int rto = cc.RtoMicros;
        cc.OnTimeout();
        Assert.Equal(UtpConnection.MaxPacketSize, cc.Window);
        Assert.Equal(rto * 2, cc.RtoMicros);
    }

    [Fact]
    public void After_a_timeout_the_window_slow_starts_back_to_half_what_it_was()
    {
        var cc = new UtpCongestion(Max);
        cc.OnAck(200_000, 1000, 0);
        int before = cc.Window;
        cc.OnTimeout();
        Assert.True(cc.SlowStart);
        Assert.Equal(before / 2, cc.SlowStartThreshold);
        int rounds = 0;
        while (cc.Window < before / 2 && rounds++ < 20) cc.OnAck(cc.Window, 1000, rounds);
        Assert.Equal(before / 2, cc.Window); // doubled each round trip up to the threshold, not beyond
        Assert.InRange(rounds, 2, 10);
        cc.OnAck(cc.Window, 1000, 100);
        Assert.False(cc.SlowStart); // from there LEDBAT's gain
        Assert.InRange(cc.Window - before / 2, 1, UtpCongestion.MaxGainPerRtt);
    }

    [Fact]
    public void Timeout_has_a_floor_of_half_a_second_and_follows_the_round_trip()
    {
        var cc = new UtpCongestion(Max);
        cc.OnRttSample(100);
        Assert.Equal(UtpCongestion.MinRtoMicros, cc.RtoMicros);
        for (int i = 0; i < 50; i++) cc.OnRttSample(400_000);
        Assert.InRange(cc.RttMicros, 350_000, 400_000);
        Assert.True(cc.RtoMicros >= cc.RttMicros);
    }

    [Fact]
    public void Window_never_exceeds_its_maximum()
    {
        var cc = new UtpCongestion(50_000);
        for (int i = 0; i < 100; i++) cc.OnAck(40_000, 1000, i);
        Assert.Equal(50_000, cc.Window);
    }
}
