using System.Net;
using System.Net.Sockets;
using Appliance.TestKit;
using Appliance.Trackers.Announcing;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests;

/// <summary>
/// A tracker host with an IPv4 and an IPv6 address, as a dual-stack tracker is: the embedded tracker on 127.0.0.1:P and
/// on [::1]:P, and a host name the injected resolver maps to both (/etc/hosts maps localhost to 127.0.0.1 only here).
/// </summary>
public sealed class AnnouncerDualStackTests
{
    private const string Host = "tracker.test";
    private static readonly IPAddress[] BothFamilies = [IPAddress.Loopback, IPAddress.IPv6Loopback];

    private static AnnouncerOptions Options(IPAddress[] addresses, IReadOnlyList<AddressFamily>? families = null, TimeSpan? udpBaseTimeout = null) => new()
    {
        PeerId = AnnouncerHttpTests.PeerId,
        Port = 6881,
        MaxInitialSpread = TimeSpan.Zero,
        HttpTimeout = TimeSpan.FromSeconds(10),
        UdpBaseTimeout = udpBaseTimeout ?? TimeSpan.FromSeconds(10),
        UdpAttempts = 2,
        StopTimeout = TimeSpan.FromSeconds(10),
        Families = families ?? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6],
        Resolve = (host, _) => host == Host ? Task.FromResult(addresses) : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)),
    };

    private static string Url(string scheme, int port) => scheme == "http" ? $"http://{Host}:{port}/announce" : $"udp://{Host}:{port}";

    /// <summary>The embedded tracker on the same port of 127.0.0.1 and ::1 (or only the IPv6 one), HTTP and UDP each.</summary>
    private sealed class TrackerPair : IAsyncDisposable
    {
        private TrackerPair(int port, EmbeddedTracker? v4, EmbeddedTracker v6)
        {
            Port = port;
            V4 = v4;
            V6 = v6;
        }

        public int Port { get; }
        public EmbeddedTracker? V4 { get; }
        public EmbeddedTracker V6 { get; }

        public static async Task<TrackerPair> StartAsync(bool withIpv4 = true)
        {
            for (int attempt = 0; ; attempt++)
            {
                int port = Ports.FreeTcpAndUdp();
                EmbeddedTracker? v4 = null, v6 = null;
                try
                {
                    if (withIpv4) v4 = Start(IPAddress.Loopback, port);
                    v6 = Start(IPAddress.IPv6Loopback, port);
                    return new TrackerPair(port, v4, v6);
                }
                catch (SocketException) when (attempt < 5)
                {
                    if (v4 is not null) await v4.DisposeAsync();
                    if (v6 is not null) await v6.DisposeAsync();
                }
            }
        }

        private static EmbeddedTracker Start(IPAddress address, int port)
        {
            var tracker = new EmbeddedTracker(new IPEndPoint(address, port), new SwarmStoreOptions { Open = true, Interval = TimeSpan.FromSeconds(120), MinInterval = TimeSpan.FromSeconds(60) },
                new TrackerCounters());
            tracker.Start(udpWorkers: 1);
            return tracker;
        }

        public async ValueTask DisposeAsync()
        {
            if (V4 is not null) await V4.DisposeAsync();
            await V6.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Dual_stack_tracker_hears_one_announce_from_each_family_and_a_stop_from_each(string scheme)
    {
        await using var trackers = await TrackerPair.StartAsync();
        var (announcer, counters) = await AnnouncerHttpTests.AnnounceOnceAsync(Options(BothFamilies), null, [[Url(scheme, trackers.Port)]]);
        await using (announcer)
        {
            Assert.Equal(1, trackers.V4!.Store.PeerCount);
            Assert.Equal(1, trackers.V6.Store.PeerCount);
            var v4 = announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetwork)!;
            var v6 = announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetworkV6)!;
            Assert.NotNull(v4.Current);
            Assert.NotNull(v6.Current);
            Assert.Equal(1, scheme == "http" ? counters.Ipv4Announces.Read(AnnounceCounter.HttpOk) : counters.Ipv4Announces.Read(AnnounceCounter.UdpOk));
            Assert.Equal(1, scheme == "http" ? counters.Ipv6Announces.Read(AnnounceCounter.HttpOk) : counters.Ipv6Announces.Read(AnnounceCounter.UdpOk));

            await announcer.StopAsync(CancellationToken.None);
            Assert.Equal(0, trackers.V4.Store.PeerCount); // event=stopped took us out of each family's swarm
            Assert.Equal(0, trackers.V6.Store.PeerCount);
        }
    }

    [Fact]
    public async Task Http_failure_over_one_family_backs_off_that_family_only()
    {
        await using var trackers = await TrackerPair.StartAsync(withIpv4: false); // 127.0.0.1:P refuses connections
        var time = new ManualTime();
        var (announcer, counters) = await AnnouncerHttpTests.AnnounceOnceAsync(Options(BothFamilies), time, [[Url("http", trackers.Port)]]);
        await using var owned = announcer;

        var v4 = announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetwork)!;
        var v6 = announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetworkV6)!;
        Assert.Equal(1, trackers.V6.Store.PeerCount);
        Assert.NotNull(v6.Current);
        Assert.Equal(0, v6.ConsecutiveFailures);
        Assert.InRange(v6.NextAnnounce - time.GetUtcNow(), TimeSpan.FromSeconds(107), TimeSpan.FromSeconds(120)); // the tracker's interval
        Assert.Null(v4.Current);
        Assert.Equal(1, v4.ConsecutiveFailures);
        Assert.Contains("refused", v4.Order().Single().LastError, StringComparison.OrdinalIgnoreCase);
        Assert.InRange(v4.NextAnnounce - time.GetUtcNow(), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(66)); // first back-off
        Assert.Equal((1, 0), (counters.Ipv4Announces.Read(AnnounceCounter.HttpFailed), counters.Ipv4Announces.Read(AnnounceCounter.HttpOk)));
        Assert.Equal((0, 1), (counters.Ipv6Announces.Read(AnnounceCounter.HttpFailed), counters.Ipv6Announces.Read(AnnounceCounter.HttpOk)));
    }

    [Fact]
    public async Task Udp_family_waiting_for_a_silent_tracker_address_does_not_hold_up_the_other()
    {
        // Nothing answers on 127.0.0.1:P: the IPv4 announce waits 60 s + 120 s before it fails. The IPv6 one must not wait for it.
        await using var trackers = await TrackerPair.StartAsync(withIpv4: false);
        var counters = new TrackerCounters();
        await using var announcer = new Announcer(Options(BothFamilies, udpBaseTimeout: TimeSpan.FromSeconds(60)), counters);
        announcer.Start();
        announcer.Add(AnnouncerHttpTests.Hash, [[Url("udp", trackers.Port)]], () => 0);

        Assert.Equal(1L, await Eventually.SettledAsync(1L, () => trackers.V6.Store.PeerCount));
        Assert.Equal(1L, await Eventually.SettledAsync(1L, () => counters.Ipv6Announces.Read(AnnounceCounter.UdpOk)));
        Assert.NotNull(announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetworkV6)!.Current);
        var v4 = announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetwork)!;
        Assert.Null(v4.Current);
        Assert.Equal(0, v4.ConsecutiveFailures); // still waiting: the IPv6 announce finished first
    }

    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Tracker_with_only_an_ipv4_address_gets_only_ipv4_announces(string scheme)
    {
        await using var trackers = await TrackerPair.StartAsync();
        var time = new ManualTime();
        var (announcer, counters) = await AnnouncerHttpTests.AnnounceOnceAsync(Options([IPAddress.Loopback]), time, [[Url(scheme, trackers.Port)]]);
        await using var owned = announcer;

        Assert.Equal(1, trackers.V4!.Store.PeerCount);
        Assert.Equal(0, trackers.V6.Store.PeerCount);
        var v6 = announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetworkV6)!;
        Assert.Null(v6.Current);
        Assert.Equal(0, v6.ConsecutiveFailures); // nothing failed: the tracker has no IPv6 address to announce to
        Assert.Null(v6.Order().Single().LastError);
        Assert.InRange(v6.NextAnnounce - time.GetUtcNow(), TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(33)); // looks again later
        Assert.Equal(0, counters.Ipv6Announces.Read(AnnounceCounter.HttpOk) + counters.Ipv6Announces.Read(AnnounceCounter.HttpFailed) + counters.Ipv6Announces.Read(AnnounceCounter.UdpOk) + counters.Ipv6Announces.Read(AnnounceCounter.UdpFailed));
    }

    [Fact]
    public async Task Ipv4_listener_announces_over_ipv4_only_to_a_dual_stack_tracker()
    {
        await using var trackers = await TrackerPair.StartAsync();
        var (announcer, _) = await AnnouncerHttpTests.AnnounceOnceAsync(Options(BothFamilies, families: [AddressFamily.InterNetwork]), null,
            [[Url("udp", trackers.Port)]]);
        await using var owned = announcer;
        Assert.Equal(1, trackers.V4!.Store.PeerCount);
        Assert.Equal(0, trackers.V6.Store.PeerCount);
        Assert.Null(announcer.GetSchedule(AnnouncerHttpTests.Hash, AddressFamily.InterNetworkV6));
    }

    [Fact]
    public async Task Http_announce_names_our_global_listen_addresses_bep7()
    {
        await using var tracker = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d8:intervali1800e5:peers0:e"));
        var options = new AnnouncerOptions
        {
            PeerId = AnnouncerHttpTests.PeerId, Port = 6881, MaxInitialSpread = TimeSpan.Zero,
            AnnouncedAddresses = [IPAddress.Parse("2001:db8::5"), IPAddress.Parse("203.0.113.9")],
        };
        await using var announcer = new Announcer(options, new TrackerCounters());
        announcer.Add(AnnouncerHttpTests.Hash, [[tracker.Url]], () => 0);
        await announcer.AnnounceNowAsync(AnnouncerHttpTests.Hash, CancellationToken.None);
        string query = Assert.Single(tracker.Requests);
        Assert.Contains("&ipv6=2001%3Adb8%3A%3A5", query, StringComparison.Ordinal);
        Assert.Contains("&ipv4=203.0.113.9", query, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[::]:6881", "InterNetwork,InterNetworkV6", "")]
    [InlineData("0.0.0.0:6881", "InterNetwork", "")]
    [InlineData("127.0.0.1:6881", "InterNetwork", "")]
    [InlineData("[::1]:6881", "InterNetworkV6", "")]
    [InlineData("192.168.1.4:6881", "InterNetwork", "")]
    [InlineData("[fe80::1]:6881", "InterNetworkV6", "")]
    [InlineData("[fd00::1]:6881", "InterNetworkV6", "")]
    [InlineData("203.0.113.9:6881", "InterNetwork", "203.0.113.9")]
    [InlineData("[2001:db8::5]:6881", "InterNetworkV6", "2001:db8::5")]
    [InlineData("[::ffff:203.0.113.9]:6881", "InterNetwork", "203.0.113.9")]
    public void Listen_address_gives_the_families_that_announce_and_the_address_worth_naming(string listen, string families, string announced)
    {
        var endPoint = IPEndPoint.Parse(listen);
        Assert.Equal(families, string.Join(',', ListenAddresses.Families(endPoint)));
        Assert.Equal(announced, string.Join(',', ListenAddresses.Announced(endPoint).Select(a => a.ToString())));
    }
}
