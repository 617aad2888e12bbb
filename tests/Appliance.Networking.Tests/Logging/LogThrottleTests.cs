using Appliance.TestKit;
using Appliance.Networking.Logging;

namespace Appliance.Networking.Tests.Logging;

public sealed class LogThrottleTests
{
    [Fact]
    public void One_line_per_interval_then_the_count_of_those_held_back()
    {
        var time = new ManualTime();
        var throttle = new LogThrottle(TimeSpan.FromSeconds(10), time);
        Assert.True(throttle.TryEnter(out long held));
        Assert.Equal(0, held);
        for (int i = 0; i < 1000; i++) Assert.False(throttle.TryEnter(out _));
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(throttle.TryEnter(out _));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(throttle.TryEnter(out held));
        Assert.Equal(1001, held);
    }
}
