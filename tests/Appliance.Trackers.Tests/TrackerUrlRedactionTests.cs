using Appliance.TestKit;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Announcing;
using Microsoft.Extensions.Logging;

namespace Appliance.Trackers.Tests;

/// <summary>Private trackers' passkeys stay out of the log.</summary>
public sealed class TrackerUrlRedactionTests
{
    [Theory]
    [InlineData("http://tracker.example/announce", "http://tracker.example/announce")]
    [InlineData("udp://tracker.example:6969/announce", "udp://tracker.example:6969/announce")]
    [InlineData("https://tracker.example/0123456789abcdef/announce", "https://tracker.example/[redacted]")]
    [InlineData("https://tracker.example/announce.php?passkey=0123456789abcdef", "https://tracker.example/[redacted]")]
    [InlineData("http://user:secret@tracker.example/announce", "http://tracker.example/[redacted]")]
    [InlineData("not a url /secret", "[tracker URL not shown]")]
    public void Paths_queries_and_credentials_are_hidden(string url, string shown)
    {
        Assert.Equal(shown, TrackerUrl.Redact(url));
        Assert.Equal(shown == url, TrackerUrl.IsSafeToShow(url));
    }

    [Fact]
    public async Task Announce_failures_and_refusals_are_logged_without_the_passkey()
    {
        const string Passkey = "0123456789abcdef0123456789abcdef";
        await using var refusing = new ScriptedHttpTracker(_ => ScriptedHttpTracker.Ok("d14:failure reason6:deniede"));
        string refusingUrl = refusing.Url.Replace("/announce", "/" + Passkey + "/announce", StringComparison.Ordinal);
        string unreachableUrl = $"http://127.0.0.1:{TestKit.Ports.FreeTcp()}/announce?passkey={Passkey}";
        var log = new CapturingLogger();
        await using var announcer = new Announcer(AnnouncerHttpTests.Options(), new TrackerCounters(), log, new ManualTime());
        announcer.Add(AnnouncerHttpTests.Hash, [[unreachableUrl, refusingUrl]], () => 0);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await announcer.AnnounceNowAsync(AnnouncerHttpTests.Hash, cts.Token);

        Assert.Contains(log.Lines, l => l.Contains("refused", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("failed", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Contains(Passkey, StringComparison.Ordinal));
    }

    private sealed class CapturingLogger : ILogger
    {
        private readonly Lock _gate = new();
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines { get { lock (_gate) return [.. _lines]; } }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_gate) _lines.Add(formatter(state, exception) + " " + exception);
        }
    }
}
