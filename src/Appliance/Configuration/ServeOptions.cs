using System.Net;
using Appliance.Storage;

namespace Appliance.Configuration;

/// <summary>
/// Every option of <c>appliance serve</c>. Flags, environment (<c>APPLIANCE_...</c>) and the config file all
/// land here; defaults are the documented ones. Mutable so the configuration binder can fill it.
/// </summary>
public sealed class ServeOptions
{
    public const int DefaultPeerPort = 6881;
    public const int DefaultTrackerPort = 6969;
    public const int DefaultMetricsPort = 9469;

    /// <summary>Folder holding each torrent's data at CONTENT/&lt;info.name&gt;.</summary>
    public string Content { get; set; } = "";

    /// <summary>Folder scanned for .torrent files; defaults to <see cref="Content"/>.</summary>
    public string? Torrents { get; set; }

    /// <summary>Fast-resume and DHT state; defaults to CONTENT/.appliance.</summary>
    public string? State { get; set; }

    /// <summary>Dual-stack by default: "[::]" also accepts IPv4 (as IPv4-mapped addresses).</summary>
    public string Listen { get; set; } = "[::]:" + DefaultPeerPort;
    public int MaxConnections { get; set; } = 10_000;
    public int MaxConnectionsPerIp { get; set; } = 64;

    /// <summary>Peers unchoked at once; 0 means unlimited (every interested peer).</summary>
    public int UploadSlots { get; set; } = 16;

    /// <summary>Global upload cap in bytes per second; 0 means none.</summary>
    public long UploadRateLimit { get; set; }

    public int ChokeIntervalSeconds { get; set; } = 10;
    public int MaxRequestLength { get; set; } = 16 * 1024;
    public int MaxOutstandingRequests { get; set; } = 500;

    /// <summary>Largest peer-wire message accepted (a bitfield of a huge torrent is the largest legitimate one).</summary>
    public int MaxMessageLength { get; set; } = 1024 * 1024;

    public int HandshakeTimeoutSeconds { get; set; } = 10;
    public int IdleTimeoutSeconds { get; set; } = 300;

    /// <summary>"mmap" (default: blocks sent straight from mapped files) or "pread" (for btrfs/ZFS/NFS read-ahead).</summary>
    public string Storage { get; set; } = "mmap";

    /// <summary>Torrent files kept open (and mapped) at once, all torrents together; 0 sizes it from the descriptor and mapping limits.</summary>
    public int FilePool { get; set; }

    /// <summary>
    /// Milliseconds between passes that release mapped content chunks no send touched for a whole interval from the
    /// process's resident set (the page cache keeps them); 0 never releases them, so resident memory grows by every page served.
    /// </summary>
    public int PageReleaseIntervalMs { get; set; } = 1000;

    /// <summary>Reader threads (disk reads in flight) for queued blocks of mapped content not in the page cache; 0 = off.</summary>
    public int ReadAhead { get; set; } = 16;

    /// <summary>
    /// What drives TCP peer sockets: "sockets" (the runtime's engine) or "epoll" (our own loop threads, which run the
    /// sessions themselves; Linux only, elsewhere the runtime's engine serves either way).
    /// </summary>
    public string TcpEngine { get; set; } = DefaultTcpEngine;

    public static readonly string DefaultTcpEngine = Seeding.SeedingOptions.DefaultTcpEngine == Seeding.TcpEngine.Epoll ? "epoll" : "sockets";

    /// <summary>Loop threads of the epoll engine; 0 = one per processor.</summary>
    public int EpollLoops { get; set; }

    /// <summary>"allow" (plaintext and MSE/PE), "prefer" (RC4 when an MSE peer offers it) or "require" (no plaintext handshakes).</summary>
    public string Encryption { get; set; } = "allow";

    public bool Dht { get; set; } = true;

    /// <summary>uTP (BEP 29) on the listen port's UDP side, beside TCP.</summary>
    public bool Utp { get; set; } = true;
    public int? DhtPort { get; set; }

    /// <summary>HOST:PORT entries; empty means the public routers; the single entry "none" means wait to be contacted.</summary>
    public List<string> DhtBootstrap { get; set; } = [];

    public bool Tracker { get; set; } = true;
    public string TrackerListen { get; set; } = "[::]:" + DefaultTrackerPort;
    public bool OpenTracker { get; set; }

    /// <summary>Announces per second the embedded tracker accepts from one address (IPv6: one /64); 0 turns the limit off.</summary>
    public int TrackerRateLimit { get; set; } = 200;

    /// <summary>UDP sockets (and receive threads) of the embedded tracker, sharing its port with SO_REUSEPORT.</summary>
    public int TrackerUdpWorkers { get; set; } = 1;

    /// <summary>Address the embedded tracker and magnet links advertise; defaults to the listen address or 127.0.0.1.</summary>
    public string? AnnounceHost { get; set; }

    public int MaxConcurrentAnnounces { get; set; } = 32;

    /// <summary>HOST:PORT of the BEP 19 web seed (the seeded files over HTTP); empty or absent turns it off (the default).</summary>
    public string? WebSeedListen { get; set; }

    public int WebSeedMaxConnections { get; set; } = 1024;

    /// <summary>Web seed connections from one address (IPv6: one /64). libtorrent opens one per web seed, aria2 up to its --split.</summary>
    public int WebSeedMaxConnectionsPerIp { get; set; } = 16;

    /// <summary>How long a web seed connection may wait for its next request.</summary>
    public int WebSeedIdleTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a web seed response may go without the client taking a byte before the connection is closed.</summary>
    public int WebSeedSendTimeoutSeconds { get; set; } = 30;

    /// <summary>HOST:PORT for /metrics, /healthz, /readyz and the admin API; empty turns it off.</summary>
    public string? MetricsListen { get; set; } = "127.0.0.1:" + DefaultMetricsPort;

    /// <summary>
    /// File holding the token the admin API requires (<c>Authorization: Bearer TOKEN</c>); without one the admin API
    /// answers loopback clients only. A file, not a flag value, so the token stays out of argv and the environment.
    /// </summary>
    public string? AdminTokenFile { get; set; }

    /// <summary>Per-torrent metric labels for at most this many torrents (0 = off: bounded cardinality by default).</summary>
    public int PerTorrentMetrics { get; set; }

    public string LogLevel { get; set; } = "Information";

    /// <summary>The JSON config file these options were read from, if any (flag --config or APPLIANCE_CONFIG).</summary>
    public string? Config { get; set; }

    public int ShutdownDeadlineSeconds { get; set; } = 10;

    public string GetTorrentsFolder() => Torrents ?? Content;
    public string GetStateFolder() => State ?? Path.Combine(Content, ".appliance");

    public StorageKind GetStorageKind() => Storage.ToLowerInvariant() switch
    {
        "mmap" or "mapped" => StorageKind.Mapped,
        "pread" => StorageKind.Pread,
        _ => throw new OptionsException($"Storage: '{Storage}' is not 'mmap' or 'pread'"),
    };

    public IPEndPoint GetListenEndPoint() => EndPoints.Parse(Listen, "Listen");
    public IPEndPoint GetTrackerEndPoint() => EndPoints.Parse(TrackerListen, "TrackerListen");
    public IPEndPoint? GetWebSeedEndPoint() => string.IsNullOrEmpty(WebSeedListen) ? null : EndPoints.Parse(WebSeedListen, "WebSeedListen");
    public IPEndPoint? GetMetricsEndPoint() => string.IsNullOrEmpty(MetricsListen) ? null : EndPoints.Parse(MetricsListen, "MetricsListen");
    public int GetDhtPort() => DhtPort ?? GetListenEndPoint().Port;

    /// <summary>Shortest admin token accepted: a guessable token would be worse than the loopback-only default.</summary>
    public const int MinAdminTokenLength = 16;

    private string? _adminToken;
    private string? _adminTokenReadFrom;

    /// <summary>
    /// The admin token (the file's text without surrounding whitespace), or null when no file is configured. Read once
    /// (validation reads it, composition uses it) unless <see cref="AdminTokenFile"/> changed since.
    /// </summary>
    public string? ReadAdminToken()
    {
        if (string.IsNullOrEmpty(AdminTokenFile)) return null;
        if (_adminTokenReadFrom == AdminTokenFile) return _adminToken;
        string token;
        try
        {
            token = File.ReadAllText(AdminTokenFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OptionsException($"AdminTokenFile: cannot read '{AdminTokenFile}': {e.Message}");
        }
        if (token.Length < MinAdminTokenLength || token.Any(char.IsWhiteSpace))
            throw new OptionsException($"AdminTokenFile: '{AdminTokenFile}' must hold one token of at least {MinAdminTokenLength} characters without spaces");
        _adminToken = token;
        _adminTokenReadFrom = AdminTokenFile;
        return token;
    }
}

public static class EndPoints
{
    public static IPEndPoint Parse(string text, string what)
    {
        if (!IPEndPoint.TryParse(text, out var endPoint) || !text.Contains(':', StringComparison.Ordinal))
            throw new OptionsException($"{what}: '{text}' is not HOST:PORT (an IP address and a port)");
        // The dual-stack default on a host without IPv6 means all of IPv4, not a failure to start.
        return endPoint.Address.Equals(IPAddress.IPv6Any) && !System.Net.Sockets.Socket.OSSupportsIPv6
            ? new IPEndPoint(IPAddress.Any, endPoint.Port)
            : endPoint;
    }
}

/// <summary>A configuration error naming the offending option.</summary>
public sealed class OptionsException(string message) : Exception(message);
