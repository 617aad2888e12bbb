using Appliance.TestKit;
using System.Text;
using Appliance.Protocol.Metainfo;
using Appliance.Trackers.Announcing;

namespace Appliance.Trackers.Tests;

public sealed class AnnouncerHttpTests
{
    internal static readonly InfoHash Hash = InfoHash.Compute("announcer-test"u8);
    internal static readonly byte[] PeerId = Encoding.ASCII.GetBytes("-AP0100-abcdefghijkl");
    private const string Good = "d8:intervali1800e5:peers6:\u007f\u0000\u0000\u0001\u001a\u00e1e";

    /// <summary>
    /// The UDP timeout is long by default because a loaded machine answers late and a retransmission changes what the
    /// tests count; tests that expect a loss pass a short one.
    /// </summary>
    internal static AnnouncerOptions Options(TimeSpan? udpBaseTimeout = null, int udpAttempts = 2) => new()
    {
        PeerId = PeerId,
        Port = 6881,
        MaxInitialSpread = TimeSpan.Zero,
        HttpTimeout = TimeSpan.FromSeconds(5),
        UdpBaseTimeout = udpBaseTimeout ?? TimeSpan.FromSeconds(10),
        UdpAttempts = udpAttempts,
        StopTimeout = TimeSpan.FromSeconds(5),
    };

    internal static async Task<(Announcer Announcer, TrackerCounters Counters)> AnnounceOnceAsync(AnnouncerOptions options, TimeProvider? time,
        IReadOnlyList<IReadOnlyList<string>> tiers, long uploaded = 12345)
    {
        var counters = new TrackerCounters();
        var announcer = new Announcer(options, counters, time: time);
        announcer.Add(Hash, tiers, () => uploaded);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await announcer.AnnounceNowAsync(Hash, cts.Token);
        return (announcer, counters);
    }

    [Fact]
    public async Task First_announce_carries_started_and_real_counters_then_reannounce_has_no_event()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(Good));
        var time = new ManualTime();
        var (announcer, counters) = await AnnounceOnceAsync(Options(), time, [[tracker.Url]]);
        await using (announcer)
        {
            await announcer.AnnounceNowAsync(Hash, CancellationToken.None);
            string first = tracker.Requests[0], second = tracker.Requests[1];
            Assert.Contains("info_hash=" + Escaped(Hash.ToArray()), first, StringComparison.Ordinal);
            Assert.Contains("peer_id=-AP0100-abcdefghijkl", first, StringComparison.Ordinal);
            Assert.Contains("&port=6881&uploaded=12345&downloaded=0&left=0", first, StringComparison.Ordinal);
            Assert.Contains("compact=1", first, StringComparison.Ordinal);
            Assert.Contains("event=started", first, StringComparison.Ordinal);
            Assert.DoesNotContain("event=", second, StringComparison.Ordinal);
            Assert.Equal(2, counters.ReadAnnounces(AnnounceCounter.HttpOk));
            var schedule = announcer.GetSchedule(Hash)!;
            Assert.InRange(schedule.NextAnnounce - time.GetUtcNow(), TimeSpan.FromSeconds(1620), TimeSpan.FromSeconds(1800));
        }
    }

    [Theory]
    [InlineData("this is not bencode", "invalid bencode")]
    [InlineData("d8:intervali-5ee", "interval")]
    [InlineData("le", "not a dictionary")]
    public async Task Garbage_answers_fail_the_tracker_and_back_off(string body, string expected)
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(body));
        var time = new ManualTime();
        var (announcer, counters) = await AnnounceOnceAsync(Options(), time, [[tracker.Url]]);
        await using (announcer)
        {
            var schedule = announcer.GetSchedule(Hash)!;
            Assert.Equal(1, schedule.ConsecutiveFailures);
            Assert.Contains(expected, schedule.Order().Single().LastError, StringComparison.Ordinal);
            Assert.Equal(1, counters.ReadAnnounces(AnnounceCounter.HttpFailed));
            Assert.InRange(schedule.NextAnnounce - time.GetUtcNow(), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(66));
        }
    }

    [Fact]
    public async Task Failure_reason_is_a_refusal_and_counts_as_failed_tracker()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d14:failure reason12:unregisterede"));
        var (announcer, counters) = await AnnounceOnceAsync(Options(), new ManualTime(), [[tracker.Url]]);
        await using (announcer)
        {
            Assert.Equal(1, counters.ReadAnnounces(AnnounceCounter.Refused));
            Assert.Equal("failure reason: unregistered", announcer.GetSchedule(Hash)!.Order().Single().LastError);
            Assert.Null(announcer.GetSchedule(Hash)!.Current);
        }
    }

    [Fact]
    public async Task Warning_message_still_counts_as_success()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d8:intervali900e5:peers0:15:warning message4:slowe"));
        var (announcer, _) = await AnnounceOnceAsync(Options(), new ManualTime(), [[tracker.Url]]);
        await using (announcer)
        {
            Assert.NotNull(announcer.GetSchedule(Hash)!.Current);
            Assert.Equal(0, announcer.GetSchedule(Hash)!.ConsecutiveFailures);
        }
    }

    [Fact]
    public async Task Oversized_body_is_refused()
    {
        var body = "d8:intervali1800e5:peers60000:" + new string('x', 60000) + "e";
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(body));
        var (announcer, _) = await AnnounceOnceAsync(new AnnouncerOptions
        {
            PeerId = PeerId, Port = 6881, MaxInitialSpread = TimeSpan.Zero, MaxHttpResponseBytes = 4096,
        }, new ManualTime(), [[tracker.Url]]);
        await using (announcer)
        {
            Assert.Contains("limit", announcer.GetSchedule(Hash)!.Order().Single().LastError, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Silent_tracker_times_out()
    {
        await using var tracker = new ScriptedHttpTracker(_ => []);
        var (announcer, counters) = await AnnounceOnceAsync(new AnnouncerOptions
        {
            PeerId = PeerId, Port = 6881, MaxInitialSpread = TimeSpan.Zero, HttpTimeout = TimeSpan.FromMilliseconds(300),
        }, new ManualTime(), [[tracker.Url]]);
        await using (announcer)
        {
            Assert.Equal(1, counters.ReadAnnounces(AnnounceCounter.TimedOut));
            Assert.Contains("no answer", announcer.GetSchedule(Hash)!.Order().Single().LastError, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Redirect_loop_fails_after_the_redirect_limit()
    {
        ScriptedHttpTracker? tracker = null;
        tracker = new ScriptedHttpTracker(_ => Encoding.ASCII.GetBytes(
            $"HTTP/1.1 302 Found\r\nLocation: {tracker!.Url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        await using (tracker)
        {
            var (announcer, _) = await AnnounceOnceAsync(Options(), new ManualTime(), [[tracker.Url]]);
            await using (announcer)
            {
                Assert.Contains("redirect", announcer.GetSchedule(Hash)!.Order().Single().LastError, StringComparison.Ordinal);
                Assert.InRange(tracker.Requests.Count, 2, 10);
            }
        }
    }

    [Fact]
    public async Task Min_interval_is_honoured_when_larger_than_interval()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d8:intervali10e12:min intervali900e5:peers0:e"));
        var time = new ManualTime();
        var (announcer, _) = await AnnounceOnceAsync(Options(), time, [[tracker.Url]]);
        await using (announcer)
        {
            Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(900), announcer.GetSchedule(Hash)!.NextAnnounce);
        }
    }

    [Fact]
    public async Task Tracker_id_is_echoed_on_later_announces()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d8:intervali1800e5:peers0:10:tracker id5:abc12e"));
        var (announcer, _) = await AnnounceOnceAsync(Options(), new ManualTime(), [[tracker.Url]]);
        await using (announcer)
        {
            await announcer.AnnounceNowAsync(Hash, CancellationToken.None);
            Assert.DoesNotContain("trackerid=", tracker.Requests[0], StringComparison.Ordinal);
            Assert.Contains("trackerid=abc12", tracker.Requests[1], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Tracker_that_answers_is_promoted_to_the_front_of_its_tier()
    {
        await using var bad = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("garbage"));
        await using var good = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(Good));
        for (int round = 0; round < 4; round++) // tiers are shuffled: the outcome must not depend on the shuffle
        {
            var (announcer, _) = await AnnounceOnceAsync(Options(), new ManualTime(), [[bad.Url, good.Url]]);
            await using (announcer)
            {
                var schedule = announcer.GetSchedule(Hash)!;
                Assert.Equal(good.Url, schedule.Tiers[0][0].Url);
                Assert.Same(schedule.Tiers[0][0], schedule.Current);
            }
        }
    }

    [Fact]
    public async Task Next_tier_is_tried_when_every_tracker_of_the_first_fails()
    {
        await using var bad = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d14:failure reason3:no!e"));
        await using var good = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(Good));
        var (announcer, _) = await AnnounceOnceAsync(Options(), new ManualTime(), [[bad.Url], [good.Url]]);
        await using (announcer)
        {
            Assert.Equal(good.Url, announcer.GetSchedule(Hash)!.Current!.Url);
            Assert.Single(bad.Requests);
            Assert.Single(good.Requests);
        }
    }

    [Fact]
    public async Task Stop_sends_event_stopped_to_the_tracker_that_answered()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(Good));
        var (announcer, _) = await AnnounceOnceAsync(Options(), new ManualTime(), [[tracker.Url]]);
        await announcer.StopAsync(CancellationToken.None);
        await announcer.DisposeAsync();
        Assert.Equal(2, tracker.Requests.Count);
        Assert.Contains("event=stopped", tracker.Requests[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scheduler_loop_announces_due_torrents_without_being_asked()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok(Good));
        await using var announcer = new Announcer(Options(), new TrackerCounters());
        announcer.Start();
        for (int i = 0; i < 5; i++) announcer.Add(InfoHash.Compute([(byte)i]), [[tracker.Url]], () => 0);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (tracker.Requests.Count < 5) await Task.Delay(50, cts.Token);
        Assert.Equal(5, tracker.Requests.Count(r => r.Contains("event=started", StringComparison.Ordinal)));
    }

    internal static string Escaped(byte[] bytes)
    {
        var text = new StringBuilder();
        Appliance.Protocol.TrackerWire.HttpAnnounceQuery.AppendEscaped(text, bytes);
        return text.ToString();
    }
}
