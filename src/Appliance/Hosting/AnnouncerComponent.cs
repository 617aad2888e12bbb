using Appliance.Configuration;
using Appliance.Seeding.Torrents;
using Appliance.Trackers;
using Appliance.Trackers.Announcing;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>Announces every seeded torrent to the trackers named in its metainfo; event=stopped to all of them on shutdown.</summary>
public sealed class AnnouncerComponent : IApplianceComponent
{
    private readonly ServeOptions _options;
    private readonly SeedingComponent _seeding;
    private readonly TrackerCounters _counters;
    private readonly ILogger _logger;

    public AnnouncerComponent(ServeOptions options, SeedingComponent seeding, TrackerCounters counters, ILoggerFactory loggers)
    {
        _options = options;
        _seeding = seeding;
        _counters = counters;
        _logger = loggers.CreateLogger("Appliance.Trackers.Announcing");
    }

    public string Name => "announcer";

    public Announcer? Announcer { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        int port = _seeding.AdvertisedEndPoint?.Port ?? _options.GetListenEndPoint().Port;
        var listen = _seeding.Server.LocalEndPoint ?? _options.GetListenEndPoint();
        var announcer = new Announcer(new AnnouncerOptions
        {
            // The peer id of our handshakes: a peer that learns of us from the tracker sees the same one when it connects.
            PeerId = PeerIdBytes(_seeding.Server.PeerId),
            Port = port,
            // Each family the peer port accepts announces on its own, so IPv6-only peers at a dual-stack tracker learn of us too.
            Families = ListenAddresses.Families(listen),
            AnnouncedAddresses = ListenAddresses.Announced(listen),
            MaxConcurrentPerTracker = Math.Max(1, _options.MaxConcurrentAnnounces),
        }, _counters, _logger);
        Announcer = announcer;
        _seeding.Registry.Added += OnAdded;
        _seeding.Registry.Removed += OnRemoved;
        foreach (var torrent in _seeding.Registry.Snapshot()) OnAdded(torrent);
        announcer.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _seeding.Registry.Added -= OnAdded;
        _seeding.Registry.Removed -= OnRemoved;
        if (Announcer is { } announcer)
        {
            await announcer.StopAsync(cancellationToken).ConfigureAwait(false);
            await announcer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static byte[] PeerIdBytes(Protocol.PeerWire.PeerId id)
    {
        var bytes = new byte[Protocol.PeerWire.PeerId.Length];
        id.WriteTo(bytes);
        return bytes;
    }

    // A hybrid torrent is announced under both its hashes (BEP 52): v1 and v2 clients look for it by different ones.
    private void OnAdded(SeededTorrent torrent)
    {
        foreach (var hash in torrent.Metainfo.SwarmHashes) Announcer?.Add(hash, torrent.Metainfo.AnnounceTiers, () => torrent.UploadedBytes);
    }

    private void OnRemoved(SeededTorrent torrent)
    {
        foreach (var hash in torrent.Metainfo.SwarmHashes) Announcer?.Remove(hash);
    }
}
