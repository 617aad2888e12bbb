using System.Globalization;
using System.Net;
using Appliance.Configuration;
using Appliance.Dht;
using Appliance.Networking.Utp;
using Appliance.Metrics;
using Appliance.Metrics.Counters;
using Appliance.Metrics.Export;
using Appliance.Metrics.Runtime;
using Appliance.Networking.Http;
using Appliance.Networking.Http.Files;
using Appliance.Seeding;
using Appliance.Seeding.Torrents;
using Appliance.Trackers;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The operator's endpoint on --metrics-listen: GET /metrics (Prometheus), /healthz (the process answers),
/// /readyz (every component started and not stopping) and the admin API mapped onto the same routes.
/// Started first so start-up can be watched; its <see cref="Readiness"/> marker is added to the host last.
/// </summary>
public sealed class MetricsComponent : IApplianceComponent
{
    private static readonly HttpRouteOptions Reserved = new() { Reserved = true };

    private readonly IPEndPoint _endPoint;
    private readonly ILogger _logger;
    private HttpServer? _server;
    private volatile bool _ready;
    private (TorrentRegistry Registry, ContentWatcher? Watcher)? _library;

    public MetricsComponent(IPEndPoint endPoint, ILogger logger, MetricsExporter? exporter = null)
    {
        _endPoint = endPoint;
        _logger = logger;
        Exporter = exporter ?? new MetricsExporter();
        Routes = new HttpRouteTable()
            .MapGet("/metrics", ServeMetricsAsync, Reserved)
            .MapGet("/healthz", ServeHealth, Reserved)
            .MapGet("/readyz", ServeReadiness, Reserved);
        Readiness = new ReadinessMarker(this);
    }

    public string Name => "metrics";

    public MetricsExporter Exporter { get; }

    /// <summary>Given to the storage opener: torrents verifying now and their progress.</summary>
    public VerificationProgress Verification { get; } = new();

    /// <summary>Routes served beside /metrics (the admin API adds its own before start).</summary>
    public HttpRouteTable Routes { get; }

    /// <summary>Add to the host after every other component: started means all started; stopped first on shutdown.</summary>
    public IApplianceComponent Readiness { get; }

    public bool IsReady => _ready;

    public IPEndPoint LocalEndPoint => _server?.LocalEndPoint ?? throw new InvalidOperationException("metrics endpoint not started");

    /// <summary>The component for <paramref name="options"/>, or null when MetricsListen is empty (turned off).</summary>
    public static MetricsComponent? Create(ServeOptions options, ILoggerFactory loggers)
    {
        var endPoint = options.GetMetricsEndPoint();
        if (endPoint is null) return null;
        var component = new MetricsComponent(endPoint, loggers.CreateLogger<MetricsComponent>());
        ProcessMetrics.Register(component.Exporter);
        component.ExportVerification(component.Verification);
        component.Exporter.AddGauge(MetricNames.BuildInfo, "Always 1; the version label names the running build", "version", [Program.Version], _ => 1);
        return component;
    }

    /// <summary>MSE/PE handshakes by outcome (the RC4 and plaintext results are the completed ones).</summary>
    public void ExportEncryption(Seeding.Encryption.EncryptionCounters counters) =>
        Exporter.AddCounter(MetricNames.EncryptedHandshakes, "Encrypted (MSE/PE) handshakes by outcome", "result",
            ["rc4", "plaintext", "failed", "throttled", "plaintext_refused"], i => i switch
            {
                0 => counters.HandshakesRc4,
                1 => counters.HandshakesPlaintext,
                2 => counters.HandshakesFailed,
                3 => counters.HandshakesThrottled,
                _ => counters.PlaintextRefused,
            });

    /// <summary>Exports the seeder's counters, torrents by state and, when <paramref name="perTorrent"/> &gt; 0, the top torrents.</summary>
    public void ExportSeeding(SeedingCounters counters, TorrentRegistry registry, ContentWatcher? watcher, int perTorrent)
    {
        _library = (registry, watcher);
        var e = Exporter;
        e.AddCounter(MetricNames.UploadedBytes, "Payload bytes of blocks sent to peers", () => counters.BytesUploaded);
        e.AddCounter(MetricNames.BlocksServed, "Blocks (piece messages) sent to peers", () => counters.BlocksServed);
        e.AddCounter(MetricNames.BlockServeSeconds, "Sum over served blocks of the time from request arrival to send completion; divide by blocks served for the mean",
            () => (double)counters.BlockServeTicks / System.Diagnostics.Stopwatch.Frequency);
        e.AddHistogram(MetricNames.BlockServeDuration, "Time from a request arriving to its block's send completing", counters.ServeLatency);
        e.AddCounter(MetricNames.DiskErrors, "Reads or sends of torrent data that failed (the torrent is then faulted)", () => counters.DiskErrors);
        e.AddCounter(MetricNames.SendBatches, "Gather sends of queued blocks; blocks served over this is the average batch", () => counters.BatchesSent);
        e.AddCounter(MetricNames.SendsStalled, "Batches that found the peer's socket buffer full and waited for it (back-pressure from slow peers)", () => counters.SendsWouldBlock);
        e.AddCounter(MetricNames.MetadataPiecesServed, "BEP 9 metadata pieces sent to peers that joined by magnet link", () => counters.MetadataPiecesServed);
        e.AddCounter(MetricNames.RequestsRejected, "Peer requests refused, by reason", "reason", RejectReasons,
            i => counters.Rejected((RejectReason)i));
        e.AddGauge(MetricNames.PeersConnected, "Peer connections open now", () => counters.PeersConnected);
        e.AddCounter(MetricNames.ConnectionsAccepted, "Peer connections accepted", () => counters.ConnectionsAccepted);
        e.AddCounter(MetricNames.Handshakes, "Incoming handshakes by outcome", "result", ["accepted", "unknown_torrent", "invalid", "timeout", "held"], i => i switch
        {
            0 => counters.HandshakesAccepted,
            1 => counters.HandshakesUnknownTorrent,
            2 => counters.HandshakesInvalid,
            3 => counters.HandshakesTimedOut,
            _ => counters.HandshakesHeld,
        });
        e.AddCounter(MetricNames.ConnectionsRefused, "Connections turned away by a limit", "limit", ["total", "per_ip"],
            i => i == 0 ? counters.ConnectionsRefusedTotalLimit : counters.ConnectionsRefusedAddressLimit);
        e.AddCounter(MetricNames.Disconnects, "Peers disconnected by the appliance, by reason", "reason", ["protocol_error", "idle"],
            i => i == 0 ? counters.DisconnectsProtocolError : counters.DisconnectsIdle);
        e.AddGauge(MetricNames.SendQueueRequests, "Requests queued and not yet sent, all peers", () => counters.SendQueueDepth);
        e.AddGauge(MetricNames.PeersByInfoHash, "Peers past the handshake, by the info-hash they came with (v2: BEP 52, truncated SHA-256)", "info_hash", ["v1", "v2"],
            i => counters.PeersJoined(v2: i == 1));
        e.AddCounter(MetricNames.HashRequests, "BEP 52 hash requests received", () => counters.HashRequestsReceived);
        e.AddCounter(MetricNames.HashesSent, "BEP 52 hashes messages sent in answer to hash requests", () => counters.HashesSent);
        e.AddCounter(MetricNames.HashBytesSent, "SHA-256 bytes in the hashes messages sent (32 per hash, proof hashes included)", () => counters.HashBytesSent);
        e.AddCounter(MetricNames.HashRejects, "BEP 52 hash rejects sent, by reason", "reason", counters.HashRejects, HashRejectReasons);

        var states = e.CreateGauge(MetricNames.Torrents, "Torrents by state", "state");
        var seeding = states.WithLabels("seeding");
        var faulted = states.WithLabels("faulted");
        var refused = states.WithLabels("refused");
        var loading = states.WithLabels("loading");
        e.OnCollect(() =>
        {
            var snapshot = registry.Snapshot();
            int broken = snapshot.Count(t => t.Store.IsFaulted);
            seeding.Set(snapshot.Count - broken);
            faulted.Set(broken);
            refused.Set(watcher?.Refused().Count ?? 0);
            loading.Set(registry.LoadingCount);
        });

        if (perTorrent > 0) ExportTopTorrents(registry, perTorrent);
    }

    public void ExportTrackers(TrackerCounters counters)
    {
        var e = Exporter;
        // The announcer counts transport outcomes (ok/failed) and, among them, refusals and timeouts, per address family.
        string[] results = ["success", "refused", "timeout", "error"];
        AnnounceCounters[] families = [counters.Ipv4Announces, counters.Ipv6Announces];
        string[] familyNames = ["ipv4", "ipv6"];
        var series = results.SelectMany(r => familyNames.Select(f => new[] { r, f })).ToArray();
        e.AddCounter(MetricNames.TrackerAnnounces, "Announces to trackers by outcome and address family", ["result", "family"], series, i =>
        {
            var c = families[i % families.Length];
            long ok = Volatile.Read(ref c.HttpOk) + Volatile.Read(ref c.UdpOk);
            long failed = Volatile.Read(ref c.HttpFailed) + Volatile.Read(ref c.UdpFailed);
            long refusedCount = Volatile.Read(ref c.Refused);
            long timedOut = Volatile.Read(ref c.TimedOut);
            return (i / families.Length) switch
            {
                0 => Math.Max(0, ok - refusedCount),
                1 => refusedCount,
                2 => timedOut,
                _ => Math.Max(0, failed - timedOut),
            };
        });
        e.AddGauge(MetricNames.TrackerAnnouncedTorrents, "Torrents the announcer schedules", () => Volatile.Read(ref counters.AnnouncedTorrents));
        e.AddCounter(MetricNames.TrackerScrapes, "Scrape requests to the torrents' trackers by outcome", "result", ["success", "error"],
            i => i == 0 ? Volatile.Read(ref counters.ScrapesOk) : Volatile.Read(ref counters.ScrapesFailed));
        e.AddGauge(MetricNames.TrackerScrapedPeers, "Seeders and leechers the trackers report, summed over our torrents (last scrape)", "role",
            ["seeders", "leechers"], i => i == 0 ? Volatile.Read(ref counters.ScrapedSeeders) : Volatile.Read(ref counters.ScrapedLeechers));
        e.AddGauge(MetricNames.TrackerScrapedDownloads, "Completed downloads the trackers report, summed over our torrents (last scrape)",
            () => Volatile.Read(ref counters.ScrapedDownloaded));
        e.AddCounter(MetricNames.EmbeddedTrackerRequests, "Requests to the embedded tracker by protocol and type", ["protocol", "type"],
            [["http", "announce"], ["http", "scrape"], ["http", "rejected"], ["udp", "connect"], ["udp", "announce"], ["udp", "scrape"], ["udp", "rejected"]],
            i => i switch
            {
                0 => Volatile.Read(ref counters.EmbeddedHttpAnnounces),
                1 => Volatile.Read(ref counters.EmbeddedHttpScrapes),
                2 => Volatile.Read(ref counters.EmbeddedHttpRejected),
                3 => Volatile.Read(ref counters.EmbeddedUdpConnects),
                4 => Volatile.Read(ref counters.EmbeddedUdpAnnounces),
                5 => Volatile.Read(ref counters.EmbeddedUdpScrapes),
                _ => Volatile.Read(ref counters.EmbeddedUdpRejected),
            });
        e.AddGauge(MetricNames.EmbeddedTrackerSwarms, "Swarms the embedded tracker tracks", () => Volatile.Read(ref counters.EmbeddedSwarms));
        e.AddGauge(MetricNames.EmbeddedTrackerPeers, "Peers the embedded tracker tracks", () => Volatile.Read(ref counters.EmbeddedPeers));
    }

    /// <summary>
    /// Every DHT series carries <c>family="ipv4"|"ipv6"</c>: the node per address family (BEP 32) counts on its own, and
    /// a sum over the label gives the whole DHT. The IPv6 counters stay at zero where the peer port is IPv4 only.
    /// </summary>
    public void ExportDht(DhtCounters ipv4, DhtCounters ipv6)
    {
        var e = Exporter;
        DhtCounters[] nodes = [ipv4, ipv6];
        string[] families = ["ipv4", "ipv6"];
        string[] types = ["ping", "find_node", "get_peers", "announce_peer", "unknown"];
        Protocol.Krpc.KrpcMethod[] methods = [Protocol.Krpc.KrpcMethod.Ping, Protocol.Krpc.KrpcMethod.FindNode, Protocol.Krpc.KrpcMethod.GetPeers,
            Protocol.Krpc.KrpcMethod.AnnouncePeer, Protocol.Krpc.KrpcMethod.Unknown];
        e.AddGauge(MetricNames.DhtNodes, "Nodes in the DHT routing table", "family", families, i => nodes[i].TableSize);
        e.AddGauge(MetricNames.DhtPeersStored, "Peers stored for announce_peer", "family", families, i => nodes[i].PeersStored);
        AddPerFamily(MetricNames.DhtQueriesReceived, "KRPC queries received by type", "type", types, (c, i) => c.QueriesReceived(methods[i]));
        AddPerFamily(MetricNames.DhtQueriesSent, "KRPC queries sent by type", "type", types, (c, i) => c.QueriesSent(methods[i]));
        AddPerFamily(MetricNames.DhtRepliesSent, "Replies to received queries by result", "result", ["response", "error"],
            (c, i) => i == 0 ? c.ResponsesSent : c.ErrorsSent);
        AddPerFamily(MetricNames.DhtRepliesReceived, "Outcomes of sent queries", "result", ["response", "error", "timeout"],
            (c, i) => i switch { 0 => c.ResponsesReceived, 1 => c.ErrorsReceived, _ => c.Timeouts });
        AddPerFamily(MetricNames.DhtDroppedPackets, "DHT datagrams dropped, by reason", "reason", ["malformed", "unknown_transaction", "bad_token", "peer_store_full"],
            (c, i) => i switch { 0 => c.MalformedPackets, 1 => c.UnknownTransactions, 2 => c.BadTokens, _ => c.PeersRefused });
        e.AddCounter(MetricNames.RateLimitedPackets, "UDP packets dropped by a per-source rate limit", "family", families, i => nodes[i].RateLimitedPackets);

        void AddPerFamily(string name, string help, string label, string[] values, Func<DhtCounters, int, long> read)
        {
            var series = new List<string[]>(families.Length * values.Length);
            foreach (var family in families)
            {
                foreach (var value in values) series.Add([value, family]);
            }
            e.AddCounter(name, help, [label, "family"], series, i => read(nodes[i / values.Length], i % values.Length));
        }
    }

    public void ExportUtp(UtpCounters counters)
    {
        var e = Exporter;
        e.AddGauge(MetricNames.UtpConnections, "uTP connections open (half-open included); the rest of the peers are on TCP", () => counters.Connections);
        e.AddCounter(MetricNames.UtpConnectionsAccepted, "uTP connections that became peer sessions", () => counters.ConnectionsAccepted);
        e.AddCounter(MetricNames.UtpConnectionsRefused, "uTP SYNs or connections refused with a reset, by reason", "reason", ["limit", "half_open"],
            i => i == 0 ? counters.ConnectionsRefused - counters.HalfOpenRefused : counters.HalfOpenRefused);
        e.AddCounter(MetricNames.UtpPackets, "uTP packets by direction", "direction", ["in", "out"], i => i == 0 ? counters.PacketsReceived : counters.PacketsSent);
        e.AddCounter(MetricNames.UtpSentBytes, "uTP payload bytes sent, retransmissions included", () => counters.PayloadBytesSent);
        e.AddCounter(MetricNames.UtpRetransmits, "uTP packets sent again, by cause", "cause", ["timeout", "fast"],
            i => i == 0 ? counters.Retransmits - counters.FastRetransmits : counters.FastRetransmits);
        e.AddCounter(MetricNames.UtpTimeouts, "uTP retransmission timeouts", () => counters.Timeouts);
        e.AddCounter(MetricNames.UtpResets, "uTP resets by direction", "direction", ["sent", "received"], i => i == 0 ? counters.ResetsSent : counters.ResetsReceived);
        e.AddCounter(MetricNames.UtpDroppedPackets, "uTP packets ignored: malformed, unknown connection, or acknowledging data never sent", () => counters.Dropped);
        e.AddHistogram(MetricNames.UtpRtt, "uTP round-trip times", counters.Rtt);
    }

    /// <summary>The web seed's HTTP traffic, apart from the peer-wire metrics: bytes, responses by status class, connections.</summary>
    /// <summary>The shared pool of open (and mapped) torrent files.</summary>
    public void ExportFilePool(Storage.Pool.FilePool pool)
    {
        var e = Exporter;
        e.AddGauge(MetricNames.FilePoolCapacity, "Torrent files the pool keeps open at most (--file-pool)", () => pool.Capacity);
        e.AddGauge(MetricNames.FilePoolOpen, "Torrent files open (and mapped) now", () => pool.OpenCount);
        e.AddCounter(MetricNames.FilePoolLookups, "File lookups by reads and sends: hit (already open) or miss (opened)", "result", ["hit", "miss"],
            i => i == 0 ? pool.Hits : pool.Misses);
        e.AddCounter(MetricNames.FilePoolEvictions, "Idle files closed to make room for another", () => pool.Evictions);
        e.AddCounter(MetricNames.FilePoolOpenFailures, "Files that could not be opened when a read needed them (deleted, permissions); that read fails", () => pool.OpenFailures);
    }

    public void ExportWebSeed(HttpFileCounters counters)
    {
        var e = Exporter;
        e.AddCounter(MetricNames.WebSeedSentBytes, "File bytes sent to web seed (HTTP) clients", () => counters.BodyBytesSent);
        e.AddCounter(MetricNames.WebSeedRequests, "Web seed responses by status class", "status", ["2xx", "3xx", "4xx", "5xx"], counters.Responses.ReadAt);
        e.AddGauge(MetricNames.WebSeedConnections, "Web seed connections open now", () => counters.Connections);
        e.AddCounter(MetricNames.WebSeedConnectionsAccepted, "Web seed connections accepted", () => counters.ConnectionsAccepted);
        e.AddCounter(MetricNames.WebSeedConnectionsRefused, "Web seed connections turned away by a limit", "limit", ["total", "per_ip"],
            i => i == 0 ? counters.RefusedTotalLimit : counters.RefusedAddressLimit);
        e.AddCounter(MetricNames.WebSeedTimeouts, "Web seed connections closed by a deadline, by phase", "phase", ["idle", "head", "send"], counters.Timeouts.ReadAt);
        e.AddCounter(MetricNames.WebSeedSendsStalled, "Times a web seed response found the client's socket buffer full and waited for room", () => counters.SendsStalled);
        e.AddCounter(MetricNames.WebSeedFileErrors, "Files that ended before their size while served (the torrent is then faulted)", () => counters.FileErrors);
    }

    public void ExportVerification(VerificationProgress progress)
    {
        Exporter.AddGauge(MetricNames.VerificationProgress, "Bytes verified over bytes to verify, torrents verifying now (1 when none)", progress.Ratio);
        Exporter.AddGauge(MetricNames.TorrentsVerifying, "Torrents being verified now", () => progress.Active);
    }

    private void ExportTopTorrents(TorrentRegistry registry, int top)
    {
        var uploaded = Exporter.CreateCounter(MetricNames.TorrentUploadedBytes, "Payload bytes uploaded, top torrents by upload", "infohash", "name");
        var peers = Exporter.CreateGauge(MetricNames.TorrentPeersConnected, "Peers connected, top torrents by upload", "infohash", "name");
        var shown = new Dictionary<InfoHashKey, string[]>();
        Exporter.OnCollect(() =>
        {
            var leaders = registry.Snapshot().OrderByDescending(t => t.UploadedBytes).Take(top).ToList();
            var keep = new HashSet<InfoHashKey>();
            foreach (var torrent in leaders)
            {
                var key = new InfoHashKey(torrent.InfoHash.ToHex());
                keep.Add(key);
                if (!shown.TryGetValue(key, out var labels)) shown[key] = labels = [key.Hex, torrent.Name];
                uploaded.WithLabels(labels).IncTo(torrent.UploadedBytes);
                peers.WithLabels(labels).Set(torrent.Peers);
            }
            foreach (var (key, labels) in shown.Where(s => !keep.Contains(s.Key)).ToList())
            {
                uploaded.RemoveLabelled(labels);
                peers.RemoveLabelled(labels);
                shown.Remove(key);
            }
        });
    }

    private static readonly string[] RejectReasons = [.. Enum.GetValues<RejectReason>().Select(SnakeCase)];

    private static readonly string[] HashRejectReasons = [.. Enum.GetValues<HashRejectReason>().Select(SnakeCase)];

    private static string SnakeCase(HashRejectReason reason) => reason switch
    {
        HashRejectReason.NotV2 => "not_v2",
        HashRejectReason.UnknownRoot => "unknown_root",
        HashRejectReason.BelowPieceLayer => "below_piece_layer",
        HashRejectReason.BadLayer => "bad_layer",
        HashRejectReason.OutOfRange => "out_of_range",
        HashRejectReason.TooMany => "too_many",
        HashRejectReason.OutboxFull => "outbox_full",
        _ => "other",
    };

    private static string SnakeCase(RejectReason reason) => reason switch
    {
        RejectReason.Choked => "choked",
        RejectReason.QueueFull => "queue_full",
        RejectReason.TooLong => "too_long",
        RejectReason.MetadataUnavailable => "metadata_unavailable",
        RejectReason.ShuttingDown => "shutting_down",
        _ => "other",
    };

    private readonly record struct InfoHashKey(string Hex);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // No route reads a body unless it says so (the admin API's POST does); one address cannot take every slot, and
        // a few slots are kept for health and metrics so a scrape or a probe is answered while the rest are taken.
        var server = new HttpServer("metrics", _endPoint, Routes, new HttpServerOptions
        {
            MaxConnections = 64,
            MaxConnectionsPerAddress = 16,
            ReservedConnections = 8,
            MaxRequestBodyBytes = 0,
        }, _logger);
        server.Start();
        _server = server;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _ready = false;
        if (_server is { } server)
        {
            _server = null;
            await server.StopAsync(cancellationToken).ConfigureAwait(false);
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask ServeMetricsAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = MetricsExporter.ContentType;
        await Exporter.WriteAsync(response.BodyStream, cancellationToken).ConfigureAwait(false);
    }

    private static ValueTask ServeHealth(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        response.Write("ok\n");
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// 200 once every component started, unless torrents are refused for want of descriptors or memory (retried until they
    /// load): a box that could not load its library is not ready. The body counts torrents seeded, loading and refused.
    /// </summary>
    private ValueTask ServeReadiness(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        int shortOfResources = _library?.Watcher?.TransientRefusals ?? 0;
        if (!_ready)
        {
            response.StatusCode = 503;
            response.Write("starting or stopping\n");
        }
        else if (shortOfResources > 0)
        {
            response.StatusCode = 503;
            response.Write(string.Create(CultureInfo.InvariantCulture,
                $"not ready: {shortOfResources} torrent(s) refused for want of file descriptors or memory (retrying; see the log)\n"));
        }
        else
        {
            response.Write("ready\n");
        }
        if (_library is { } library)
        {
            response.Write(string.Create(CultureInfo.InvariantCulture,
                $"torrents {library.Registry.Count}\nloading {library.Registry.LoadingCount}\nrefused {library.Watcher?.Refused().Count ?? 0}\n"));
        }
        return ValueTask.CompletedTask;
    }

    private sealed class ReadinessMarker(MetricsComponent owner) : IApplianceComponent
    {
        public string Name => "readiness";

        public Task StartAsync(CancellationToken cancellationToken)
        {
            owner._ready = true;
            return Task.CompletedTask;
        }

        // The first to drain (it started last): load balancers move away from this box while the rest shuts down.
        public Task DrainAsync(CancellationToken cancellationToken) => StopAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken)
        {
            owner._ready = false;
            return Task.CompletedTask;
        }
    }
}
