using Appliance.Seeding.Upload;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Choking;

public sealed class UploadRateLimiterTests
{
    [Fact]
    public void Zero_rate_never_limits()
    {
        var limiter = new UploadRateLimiter(0, new ManualTime());
        for (int i = 0; i < 1000; i++) Assert.True(limiter.TryTake(1 << 20));
        Assert.Equal(TimeSpan.Zero, limiter.DelayFor());
    }

    [Fact]
    public void Bucket_empties_then_refills_with_time()
    {
        var time = new ManualTime();
        var limiter = new UploadRateLimiter(100_000, time);
        Assert.True(limiter.TryTake(150_000)); // a full bucket lets one large batch through into debt
        Assert.False(limiter.TryTake(1));
        Assert.True(limiter.DelayFor() > TimeSpan.FromMilliseconds(400));
        time.Advance(TimeSpan.FromMilliseconds(600));
        Assert.True(limiter.TryTake(1));
    }
}
