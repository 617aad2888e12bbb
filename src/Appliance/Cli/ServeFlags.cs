namespace Appliance.Cli;

/// <summary>The flags of <c>appliance serve</c>; each sets one <see cref="Configuration.ServeOptions"/> key.</summary>
public static class ServeFlags
{
    public const string Usage = "usage: appliance serve --content DIR [options]";

    public static IReadOnlyList<FlagSpec> All { get; } =
    [
        new("--content", "Content", "folder with each torrent's data at DIR/<name> (required)", "DIR"),
        new("--torrents", "Torrents", "folder scanned for .torrent files (default: the content folder)", "DIR"),
        new("--state", "State", "fast-resume and DHT state (default: CONTENT/.appliance)", "DIR"),
        new("--config", "Config", "JSON config file with the same keys (flags > APPLIANCE_* env > file)", "FILE"),
        new("--listen", "Listen", "peer-wire TCP listen address (default [::]:6881, IPv4 and IPv6)", "HOST:PORT"),
        new("--max-connections", "MaxConnections", "peer connections in total (default 10000)", "N"),
        new("--max-connections-per-ip", "MaxConnectionsPerIp", "peer connections from one IP (default 64)", "N"),
        new("--upload-slots", "UploadSlots", "peers unchoked at once, or 'unlimited' (default 16)", "N"),
        new("--upload-rate", "UploadRateLimit", "global upload cap in bytes/s, 0 = none (default 0)", "BYTES"),
        new("--choke-interval", "ChokeIntervalSeconds", "seconds between choker rounds (default 10)", "SECONDS"),
        new("--max-request-length", "MaxRequestLength", "largest block a peer may request (default 16384, max 131072)", "BYTES"),
        new("--max-outstanding-requests", "MaxOutstandingRequests", "queued requests per peer (default 500)", "N"),
        new("--max-message-length", "MaxMessageLength", "largest peer-wire message accepted (default 1 MiB)", "BYTES"),
        new("--storage", "Storage", "'mmap' (default) or 'pread' (btrfs/ZFS/NFS)", "KIND"),
        new("--file-pool", "FilePool", "torrent files kept open and mapped at once, all torrents (default 0: a quarter of the descriptor and map-count limits, at most 512)", "N"),
        new("--page-release-interval", "PageReleaseIntervalMs", "content chunks no send touched for this many milliseconds leave resident memory; the page cache keeps them (default 1000, 0 = never)", "MS"),
        new("--read-ahead", "ReadAhead", "reader threads (disk reads in flight) for queued blocks not in the page cache, so sends never wait for the disk (default 16, 0 = off)", "N"),
        new("--tcp-engine", "TcpEngine", $"what drives TCP peer sockets: 'sockets' (the runtime's engine) or 'epoll' (our own loop threads run the sessions; Linux) (default {Configuration.ServeOptions.DefaultTcpEngine})", "ENGINE"),
        new("--epoll-loops", "EpollLoops", "loop threads of --tcp-engine epoll (default 0: one per processor)", "N"),
        new("--encryption", "Encryption", "MSE/PE for incoming peers: allow, prefer (RC4) or require (default allow)", "POLICY"),
        new("--dht-port", "DhtPort", "DHT UDP port (default: the listen port)", "PORT"),
        new("--no-dht", "Dht", "turn the DHT node off", FixedValue: "false"),
        new("--no-utp", "Utp", "turn uTP off (peers over TCP only)", FixedValue: "false"),
        new("--dht-bootstrap", "DhtBootstrap", "bootstrap node, repeatable; 'none' waits to be contacted (default: public routers)", "HOST:PORT", Repeatable: true),
        new("--tracker-listen", "TrackerListen", "embedded tracker, HTTP and UDP (default [::]:6969, IPv4 and IPv6)", "HOST:PORT"),
        new("--no-tracker", "Tracker", "turn the embedded tracker off", FixedValue: "false"),
        new("--open-tracker", "OpenTracker", "embedded tracker tracks any info-hash, not only ours", FixedValue: "true"),
        new("--tracker-rate-limit", "TrackerRateLimit", "announces per second the embedded tracker accepts per address, IPv6 per /64 (default 200; 0 = no limit)", "N"),
        new("--tracker-udp-workers", "TrackerUdpWorkers", "embedded tracker UDP sockets sharing the port (SO_REUSEPORT), a thread each (default 1)", "N"),
        new("--announce-host", "AnnounceHost", "address put in magnet links and the embedded tracker (default: listen address)", "HOST"),
        new("--max-concurrent-announces", "MaxConcurrentAnnounces", "tracker requests in flight at once per tracker (host and port) and address family (default 32)", "N"),
        new("--web-seed-listen", "WebSeedListen", "BEP 19 web seed: the seeded torrents' files over HTTP at /NAME[/PATH] (default off)", "HOST:PORT"),
        new("--web-seed-max-connections", "WebSeedMaxConnections", "web seed connections in total (default 1024)", "N"),
        new("--web-seed-max-connections-per-ip", "WebSeedMaxConnectionsPerIp", "web seed connections from one IP, IPv6 per /64 (default 16)", "N"),
        new("--metrics-listen", "MetricsListen", "/metrics, /healthz, /readyz and admin API (default 127.0.0.1:9469; '' = off)", "HOST:PORT"),
        new("--admin-token-file", "AdminTokenFile", "token the admin API requires as 'Authorization: Bearer TOKEN' (default: none, loopback clients only)", "PATH"),
        new("--per-torrent-metrics", "PerTorrentMetrics", "per-torrent metric labels for the top N torrents (default 0 = off)", "N"),
        new("--log-level", "LogLevel", "Trace, Debug, Information, Warning, Error (default Information)", "LEVEL"),
        new("--shutdown-deadline", "ShutdownDeadlineSeconds", "seconds to finish in-flight sends on shutdown (default 10)", "SECONDS"),
    ];
}
