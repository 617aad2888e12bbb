using System.Globalization;
using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;
using Appliance.TestKit;
using Appliance.Trackers;
using Appliance.Trackers.Announcing;

namespace Appliance.Interop.Tests.Trackers;

/// <summary>
/// The announcer registers 10,000 torrents with Debian's opentracker; opentracker's own stats page (open to 127.0.0.1
/// through <c>access.stats</c>) must count all of them. The assertion is on the count; the wait is only a generous bound.
/// </summary>
[Trait("Category", "Interop")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class OpentrackerScaleTests
{
    private const int Torrents = 10_000;

    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Opentracker_counts_all_10000_torrents_the_announcer_registers(string scheme)
    {
        using var temp = new TempDirectory("opentracker-scale");
        var hashes = Enumerable.Range(0, Torrents).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        int port = Ports.FreeTcpAndUdp();
        string portText = port.ToString(CultureInfo.InvariantCulture);

        // opentracker drops to nobody and chroots into its folder; the whitelist path in the config is inside it.
        string chroot = temp.CreateSubdirectory("opentracker");
        await File.WriteAllLinesAsync(Path.Combine(chroot, "whitelist.txt"), hashes.Select(h => h.ToHex()));
        string config = Path.Combine(chroot, "opentracker.conf");
        await File.WriteAllTextAsync(config, "access.whitelist whitelist.txt\naccess.stats 127.0.0.1\n");
        File.SetUnixFileMode(temp.Path, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(chroot, (UnixFileMode)0b111_101_101);
        foreach (var file in new[] { "whitelist.txt", "opentracker.conf" }) File.SetUnixFileMode(Path.Combine(chroot, file), (UnixFileMode)0b110_100_100);
        using var opentracker = ExternalProcess.Start("opentracker",
            ["-f", config, "-i", "127.0.0.1", "-p", portText, "-P", portText, "-d", chroot, "-u", "nobody"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string stats = $"http://127.0.0.1:{port}/stats?mode=torr";
        Assert.Equal(0, await TorrentCountAsync(http, stats, opentracker, TimeSpan.FromSeconds(30)));

        string url = scheme == "http" ? $"http://127.0.0.1:{port}/announce" : $"udp://127.0.0.1:{port}";
        var counters = new TrackerCounters();
        var peerId = new byte[20];
        RandomNumberGenerator.Fill(peerId);
        var log = new WarningLog();
        await using (var announcer = new Announcer(new AnnouncerOptions { PeerId = peerId, Port = 6881, StopTimeout = TimeSpan.FromSeconds(30) }, counters, log))
        {
            foreach (var hash in hashes) announcer.Add(hash, [[url]], () => 0);
            announcer.Start();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(180));
            int known = 0;
            while (!deadline.IsCancellationRequested && (known = await TorrentCountAsync(http, stats, opentracker, TimeSpan.FromSeconds(30))) < Torrents)
                await Task.Delay(250);
            Assert.True(known == Torrents, $"opentracker knows {known} of {Torrents} torrents\n{log}\n{opentracker.AllOutput}");
        }
        Assert.Equal(0, counters.ReadAnnounces(AnnounceCounter.TimedOut));
        Assert.Equal(0, counters.ReadAnnounces(AnnounceCounter.Refused));
        Assert.Equal(Torrents, scheme == "http" ? counters.ReadAnnounces(AnnounceCounter.HttpOk) : counters.ReadAnnounces(AnnounceCounter.UdpOk));
    }

    /// <summary>The first line of opentracker's MRTG-style <c>mode=torr</c> page is the number of torrents it knows.</summary>
    private static async Task<int> TorrentCountAsync(HttpClient http, string url, ExternalProcess opentracker, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                string page = await http.GetStringAsync(url, cts.Token);
                return int.Parse(page.Split('\n')[0].Trim(), CultureInfo.InvariantCulture);
            }
            catch (HttpRequestException) when (!cts.IsCancellationRequested)
            {
                await Task.Delay(100); // not listening yet
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                throw new TimeoutException("opentracker's stats page did not answer\n" + opentracker.AllOutput, e);
            }
        }
    }

    /// <summary>The announcer's warnings, kept to explain a failure.</summary>
    private sealed class WarningLog : Microsoft.Extensions.Logging.ILogger
    {
        private readonly List<string> _lines = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines) if (_lines.Count < 20) _lines.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {formatter(state, exception)}");
        }

        public override string ToString() { lock (_lines) return string.Join('\n', _lines); }
    }
}
