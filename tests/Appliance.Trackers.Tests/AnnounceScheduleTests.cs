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
    public async Task First_announces_leave_at_the_initial_rate_in_the_order_torrents_are_added()
    {
        var time = new Appliance.TestKit.ManualTime(Now);
        var options = new AnnouncerOptions
        {
            PeerId = AnnouncerHttpTests.PeerId, Port = 6881, MaxInitialSpread = TimeSpan.FromSeconds(3), InitialAnnouncesPerSecond = 2,
        };
        await using var announcer = new Announcer(options, new TrackerCounters(), time: time);
        var hashes = Enumerable.Range(0, 10).Select(i => InfoHash.Compute([(byte)i])).ToArray();
        DateTimeOffset First(int i) => announcer.GetSchedule(hashes[i])!.NextAnnounce;

        // Added together: one every half second, never more than the cap ahead.
        for (int i = 0; i < 8; i++) announcer.Add(hashes[i], [["http://a/announce"]], () => 0);
        Assert.Equal([0, 0.5, 1, 1.5, 2, 2.5, 3, 3], Enumerable.Range(0, 8).Select(i => (First(i) - Now).TotalSeconds));

        // A torrent added once the pace has caught up goes at once: a library that loads slowly is announced as it loads.
        time.Advance(TimeSpan.FromSeconds(10));
        announcer.Add(hashes[8], [["http://a/announce"]], () => 0);
        Assert.Equal(Now + TimeSpan.FromSeconds(10), First(8));
    }
}

public sealed class ScrapeScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static AnnouncerOptions Options() => new()
    {
        PeerId = AnnouncerHttpTests.PeerId,
        Port = 6881,
        FirstScrapeDelay = TimeSpan.FromMinutes(1),
        ScrapeInterval = TimeSpan.FromMinutes(30),
        MinBackoff = TimeSpan.FromMinutes(1),
        MaxBackoff = TimeSpan.FromHours(1),
    };

    [Fact]
    public void A_tracker_is_scraped_after_the_first_delay_then_every_interval_with_jitter()
    {
        var schedule = new ScrapeSchedule(Options(), new Random(1));
        schedule.Track("udp://a:1", Now);
        schedule.Track("udp://a:1", Now + TimeSpan.FromMinutes(5)); // already tracked: no change
        Assert.Empty(schedule.TakeDue(Now + TimeSpan.FromSeconds(59)));
        Assert.InRange(schedule.NextDue!.Value - Now, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(66));
        var due = Now + TimeSpan.FromSeconds(67);
        Assert.Equal(["udp://a:1"], schedule.TakeDue(due));
        Assert.Empty(schedule.TakeDue(due)); // taken: not handed out twice while it runs
        var delay = schedule.Succeeded("udp://a:1", due);
        Assert.InRange(delay, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(33));
        Assert.Empty(schedule.TakeDue(due + TimeSpan.FromMinutes(29)));
        Assert.Single(schedule.TakeDue(due + TimeSpan.FromMinutes(33)));
    }

    [Fact]
    public void Failed_scrapes_back_off_exponentially_and_success_resets()
    {
        var schedule = new ScrapeSchedule(Options(), new Random(2));
        schedule.Track("http://a/announce", Now);
        var delays = Enumerable.Range(0, 8).Select(_ => schedule.Failed("http://a/announce", Now).TotalSeconds).ToArray();
        Assert.InRange(delays[0], 60, 66);
        Assert.InRange(delays[1], 120, 132);
        Assert.InRange(delays[7], 3600, 3960);
        schedule.Succeeded("http://a/announce", Now);
        Assert.InRange(schedule.Failed("http://a/announce", Now).TotalSeconds, 60, 66);
    }
}
