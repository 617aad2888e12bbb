using Appliance.Protocol.Metainfo;
using Appliance.Trackers.Announcing;

namespace Appliance.Trackers.Tests;

public sealed class AnnounceScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Back_off_doubles_from_the_minimum_and_is_capped()
    {
        var options = AnnouncerHttpTests.Options();
        var schedule = new AnnounceSchedule(InfoHash.Compute("x"u8), [["http://a/announce"]], options, new Random(1));
        var delays = Enumerable.Range(0, 10).Select(_ => schedule.AllFailed(Now).TotalSeconds).ToArray();
        Assert.InRange(delays[0], 60, 66);
        Assert.InRange(delays[1], 120, 132);
        Assert.InRange(delays[2], 240, 264);
        Assert.InRange(delays[9], 3600, 3960);
    }

    [Fact]
    public void Success_resets_back_off_and_marks_started()
    {
        var schedule = new AnnounceSchedule(InfoHash.Compute("x"u8), [["http://a/announce"]], AnnouncerHttpTests.Options(), new Random(1));
        schedule.AllFailed(Now);
        var tracker = schedule.Order().Single();
        Assert.Equal(Appliance.Protocol.TrackerWire.AnnounceEvent.Started, AnnounceSchedule.EventFor(tracker));
        schedule.Succeeded(tracker, new Appliance.Protocol.TrackerWire.AnnounceResponse { Interval = 100 }, Now);
        Assert.Equal(0, schedule.ConsecutiveFailures);
        Assert.Equal(Appliance.Protocol.TrackerWire.AnnounceEvent.None, AnnounceSchedule.EventFor(tracker));
        Assert.InRange(schedule.AllFailed(Now).TotalSeconds, 60, 66);
    }

    [Fact]
    public void Interval_below_the_floor_is_raised_and_duplicates_are_dropped()
    {
        var schedule = new AnnounceSchedule(InfoHash.Compute("x"u8), [["http://a/announce", "http://a/announce"], [], ["udp://b:1"]],
            AnnouncerHttpTests.Options(), new Random(1));
        Assert.Equal(2, schedule.Tiers.Count);
        var delay = schedule.Succeeded(schedule.Order().First(), new Appliance.Protocol.TrackerWire.AnnounceResponse { Interval = 1 }, Now);
        Assert.Equal(TimeSpan.FromSeconds(30), delay);
    }

    [Fact]
    public void First_announces_are_spread_over_the_initial_window()
    {
        var random = new Random(3);
        var times = Enumerable.Range(0, 200).Select(i =>
        {
            var s = new AnnounceSchedule(InfoHash.Compute([(byte)i]), [["http://a/announce"]], AnnouncerHttpTests.Options(), random);
            s.ScheduleFirst(Now, TimeSpan.FromSeconds(100));
            return (s.NextAnnounce - Now).TotalSeconds;
        }).ToArray();
        Assert.All(times, t => Assert.InRange(t, 0, 100));
        Assert.True(times.Count(t => t < 50) is > 50 and < 150);
    }
}
