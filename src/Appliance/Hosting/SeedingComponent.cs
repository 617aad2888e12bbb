using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Configuration;
using Appliance.Logging;
using Appliance.Seeding;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Torrents;
using Appliance.Storage.Pool;
using Appliance.Storage.Resume;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The seeder: loads every torrent of the torrents folder into <see cref="Registry"/>, then serves peers on the listen
/// address. Prints one <c>seeding &lt;infohash&gt; &lt;name&gt; &lt;magnet&gt;</c> line per torrent and a
/// <c>listening on &lt;addr&gt;</c> line to stdout (scripts and tests wait for them). Trackers, DHT, metrics and a folder
/// watcher use <see cref="Registry"/>, <see cref="Loader"/> and <see cref="Counters"/>.
/// </summary>
public sealed class SeedingComponent : IApplianceComponent
{
    private readonly TextWriter _output;
    private readonly string? _announceHost;
    private readonly SeedingStorageOpener _opener;
    private readonly ILogger _logger;
    private readonly Action<string, string> _logWriteFailure;

    private SeedingComponent(SeedingServer server, TorrentFolderLoader loader, SeedingStorageOpener opener, ResumeWriter resumeWriter,
        TextWriter output, string? announceHost, ILogger logger)
    {
        Server = server;
        Loader = loader;
        ResumeWriter = resumeWriter;
        _opener = opener;
        _output = output;
        _announceHost = announceHost;
        _logger = logger;
        _logWriteFailure = (path, reason) => HostLog.ResumeWriteFailed(_logger, path, reason);
        ResumeWriter.WriteFailed += _logWriteFailure;
    }

    public string Name => "seeding";
    public SeedingServer Server { get; }
    public TorrentRegistry Registry => Server.Registry;
    public SeedingCounters Counters => Server.Counters;
    public TorrentFolderLoader Loader { get; }

    /// <summary>Records each torrent's verification in the state folder once loads are over (exported as appliance_resume_writes_pending).</summary>
    public ResumeWriter ResumeWriter { get; }

    /// <summary>The files of every torrent, opened on demand (exported as appliance_file_pool_*).</summary>
    public FilePool FilePool { get; private init; } = FilePool.Shared;

    /// <summary>How often served content pages leave the resident set (<see cref="MappedPageReleaser"/>); zero: never.</summary>
    public TimeSpan PageReleaseInterval { get; private init; }

    private MappedPageReleaser? _pageReleaser;

    /// <summary>The peer-wire address peers can reach (bound port; the announce host when the listen address is a wildcard).</summary>
    public IPEndPoint? AdvertisedEndPoint { get; private set; }

    /// <summary>
    /// Every address we advertise: <see cref="AdvertisedEndPoint"/> first, then, when we listen on IPv6 too and it is
    /// IPv4, the IPv6 one (::1 for a dual-stack wildcard), so IPv6 clients are handed an IPv6 peer.
    /// </summary>
    public IReadOnlyList<IPEndPoint> AdvertisedEndPoints { get; private set; } = [];

    public static SeedingComponent Create(ServeOptions options, ILoggerFactory loggers, TextWriter output,
        Metrics.Counters.VerificationProgress? verification = null)
    {
        var seeding = new SeedingOptions
        {
            ListenEndPoint = options.GetListenEndPoint(),
            MaxConnections = options.MaxConnections,
            MaxConnectionsPerIp = options.MaxConnectionsPerIp,
            UploadSlots = options.UploadSlots,
            UploadRateLimit = options.UploadRateLimit,
            ChokeInterval = TimeSpan.FromSeconds(Math.Max(1, options.ChokeIntervalSeconds)),
            MaxRequestLength = options.MaxRequestLength,
            MaxOutstandingRequests = options.MaxOutstandingRequests,
            ReadAheadThreads = options.ReadAhead,
            TcpEngine = options.TcpEngine == "epoll" ? TcpEngine.Epoll : TcpEngine.Sockets,
            EpollLoops = options.EpollLoops,
            MaxMessageLength = options.MaxMessageLength,
            Encryption = options.Encryption switch
            {
                "prefer" => EncryptionPolicy.Prefer,
                "require" => EncryptionPolicy.Require,
                _ => EncryptionPolicy.Allow,
            },
            HandshakeTimeout = TimeSpan.FromSeconds(options.HandshakeTimeoutSeconds),
            IdleTimeout = TimeSpan.FromSeconds(options.IdleTimeoutSeconds),
            // Half the shutdown deadline drains queued blocks; the rest is left for stopped announces and state.
            DrainTimeout = TimeSpan.FromSeconds(options.ShutdownDeadlineSeconds / 2.0),
        };
        var logger = loggers.CreateLogger("Appliance.Seeding");
        var server = new SeedingServer(seeding, new TorrentRegistry(), new SeedingCounters(), logger);
        var pool = options.FilePool > 0 ? new FilePool(options.FilePool) : FilePool.Shared;
        var opener = new SeedingStorageOpener(options.GetStateFolder(), options.GetStorageKind(), logger, verification, pool);
        var resumeWriter = new ResumeWriter(options.GetStateFolder());
        var loader = new TorrentFolderLoader(server.Registry, opener, options.GetTorrentsFolder(), options.Content, logger,
            parallelism: Math.Max(1, Environment.ProcessorCount), resumeWriter);
        return new SeedingComponent(server, loader, opener, resumeWriter, output, options.AnnounceHost, logger)
        {
            FilePool = pool,
            PageReleaseInterval = TimeSpan.FromMilliseconds(options.PageReleaseIntervalMs),
        };
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var local = Server.Start();
        if (PageReleaseInterval > TimeSpan.Zero) _pageReleaser = new MappedPageReleaser(FilePool, PageReleaseInterval);
        var advertisedAddress = _announceHost is not null && IPAddress.TryParse(_announceHost, out var host) ? host
            : local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback
            : local.Address;
        AdvertisedEndPoint = new IPEndPoint(advertisedAddress, local.Port);
        AdvertisedEndPoints = local.Address.Equals(IPAddress.IPv6Any) && advertisedAddress.AddressFamily == AddressFamily.InterNetwork
            ? [AdvertisedEndPoint, new IPEndPoint(IPAddress.IPv6Loopback, local.Port)]
            : [AdvertisedEndPoint];
        return Task.CompletedTask;
    }

    /// <summary>
    /// Loads the torrents folder (the <see cref="LibraryComponent"/> runs it once the other listeners are up, so a peer
    /// that dials during a long first start reaches a held handshake on TCP and on uTP), prints a <c>seeding</c> line per
    /// torrent, then <c>listening on &lt;addr&gt;</c>.
    /// </summary>
    public async Task LoadLibraryAsync(CancellationToken cancellationToken)
    {
        var results = await Loader.LoadAllAsync(cancellationToken).ConfigureAwait(false);
        foreach (var result in results)
        {
            if (result.Torrent is { } torrent) PrintSeeding(torrent);
        }
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"listening on {Server.LocalEndPoint}"));
        _output.Flush();
    }

    /// <summary>Trackers named in magnet links of torrents that have none (the embedded tracker's announce URL).</summary>
    public IReadOnlyList<string> DefaultTrackers { get; set; } = [];

    /// <summary>Prints the <c>seeding</c> line of a torrent (also for torrents added after start).</summary>
    public void PrintSeeding(SeededTorrent torrent)
    {
        // A torrent without trackers gets the embedded tracker in its magnet link (set by the composition root). This line
        // goes to the journal: a tracker URL that carries a passkey is left out (a redacted URL would only mislead a client).
        var metainfo = torrent.Metainfo;
        var trackers = metainfo.AnnounceTiers.Count == 0 ? DefaultTrackers : metainfo.Trackers;
        string magnet = Protocol.Metainfo.MagnetLink.Format(metainfo.HasV1 ? metainfo.InfoHash : null, metainfo.InfoHashV2, metainfo.Name,
            trackers.Where(Protocol.TrackerWire.TrackerUrl.IsSafeToShow).Distinct());
        foreach (var peer in AdvertisedEndPoints) magnet += "&x.pe=" + Uri.EscapeDataString(peer.ToString()); // BEP 9: a peer to connect to
        lock (_output)
        {
            _output.WriteLine($"seeding {torrent.InfoHash.ToHex()} {torrent.Name} {magnet}");
            _output.Flush();
        }
    }

    /// <summary>Peer sessions drain while every transport (TCP, and uTP on the DHT's port) is still up.</summary>
    public Task DrainAsync(CancellationToken cancellationToken) => Server.StopAsync(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Server.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pageReleaser?.Dispose();
            // Before unloading, which forgets the pending writes of the torrents it unloads. Bounded by the shutdown
            // deadline; what is left is verified again on the next start.
            int unwritten = await ResumeWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (unwritten > 0) HostLog.ResumeWritesUnflushed(_logger, unwritten);
            ResumeWriter.Dispose();
            ResumeWriter.WriteFailed -= _logWriteFailure;
            foreach (var torrent in Registry.Snapshot()) Loader.Unload(torrent.InfoHash.ToHex());
            // The pool (often the process-wide shared one) outlives this host: its open failures stop coming here.
            _opener.Dispose();
        }
    }
}
