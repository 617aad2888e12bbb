using System.Net;

namespace Appliance.Seeding;

/// <summary>The seeding engine's settings (the host maps them from the serve options).</summary>
public sealed record SeedingOptions
{
    public IPEndPoint ListenEndPoint { get; init; } = new(IPAddress.Any, 6881);
    public int MaxConnections { get; init; } = 10_000;
    public int MaxConnectionsPerIp { get; init; } = 64;

    /// <summary>Peers unchoked at once; 0 means unlimited.</summary>
    public int UploadSlots { get; init; } = 16;

    /// <summary>Bytes per second over all peers; 0 means none.</summary>
    public long UploadRateLimit { get; init; }

    public TimeSpan ChokeInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An unchoked, interested peer that asks for nothing this long gives its slot to a waiting peer.</summary>
    public TimeSpan SnubTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public int MaxRequestLength { get; init; } = 16 * 1024;
    public int MaxOutstandingRequests { get; init; } = 500;

    /// <summary>
    /// Reader threads (disk reads in flight) for queued blocks of mapped content not in the page cache, so sends only
    /// touch cached pages; 0 turns read-ahead off (a cold block is then read by the send itself).
    /// </summary>
    public int ReadAheadThreads { get; init; } = 16;
    public int MaxMessageLength { get; init; } = 1024 * 1024;
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Handshakes held at once for torrents still loading (each waits at most <see cref="HandshakeTimeout"/>); more are refused.</summary>
    public int MaxHeldHandshakes { get; init; } = 4096;
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A peer that does not read is closed after this: when a send has waited this long for room, or when bytes our
    /// completed sends handed to the kernel (or the uTP connection) have waited this long with none acknowledged.
    /// </summary>
    public TimeSpan SendStallTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>BEP 3 suggests a keep-alive every two minutes of silence.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>On stop, how long sessions may keep sending the blocks already queued before they are closed.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often timeouts and keep-alives are checked.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether incoming peers may, must or need not use MSE/PE.</summary>
    public Encryption.EncryptionPolicy Encryption { get; init; } = Seeding.Encryption.EncryptionPolicy.Allow;

    /// <summary>Encrypted handshakes in progress at once (each costs two 768-bit exponentiations).</summary>
    public int MaxEncryptedHandshakes { get; init; } = 256;

    /// <summary>Encrypted handshakes one address (IPv6: one /64) may start per second, after a burst of <see cref="EncryptedHandshakeBurst"/>.</summary>
    public double EncryptedHandshakesPerSecondPerAddress { get; init; } = 5;

    public double EncryptedHandshakeBurst { get; init; } = 20;

    /// <summary>
    /// What drives the TCP peer sockets: the runtime's socket engine, or our own epoll loops, whose threads run the
    /// sessions' continuations themselves (Linux; elsewhere the runtime's is used).
    /// </summary>
    public TcpEngine TcpEngine { get; init; } = DefaultTcpEngine;

    /// <summary>The engine when none is asked for, here and on the command line (flipping it is this one line).</summary>
    public const TcpEngine DefaultTcpEngine = TcpEngine.Epoll;

    /// <summary>Loop threads of the epoll engine; 0 means one per processor.</summary>
    public int EpollLoops { get; init; }

    /// <summary>Largest request length anyone may configure (libtorrent and most clients cap at 128 KiB too).</summary>
    public const int HardMaxRequestLength = 128 * 1024;

    public void Validate()
    {
        if (MaxRequestLength is < 1024 or > HardMaxRequestLength)
            throw new ArgumentOutOfRangeException(nameof(MaxRequestLength), MaxRequestLength, $"must be between 1 KiB and {HardMaxRequestLength / 1024} KiB");
        if (MaxOutstandingRequests < 1) throw new ArgumentOutOfRangeException(nameof(MaxOutstandingRequests), MaxOutstandingRequests, "must be at least 1");
        if (MaxMessageLength < 1024) throw new ArgumentOutOfRangeException(nameof(MaxMessageLength), MaxMessageLength, "must be at least 1 KiB");
        if (ReadAheadThreads is < 0 or > 1024) throw new ArgumentOutOfRangeException(nameof(ReadAheadThreads), ReadAheadThreads, "must be between 0 (off) and 1024");
        if (EpollLoops is < 0 or > 1024) throw new ArgumentOutOfRangeException(nameof(EpollLoops), EpollLoops, "must be between 0 (one per processor) and 1024");
        if (UploadSlots < 0) throw new ArgumentOutOfRangeException(nameof(UploadSlots), UploadSlots, "must be 0 (unlimited) or more");
    }
}

/// <summary>What drives the TCP peer sockets (<see cref="SeedingOptions.TcpEngine"/>).</summary>
public enum TcpEngine : byte
{
    /// <summary>The runtime's socket engine (SocketAsyncEventArgs): waits complete on its epoll thread, continue on the thread pool.</summary>
    Sockets,

    /// <summary>Our own epoll loops (<see cref="Networking.Tcp.Epoll.EpollEngine"/>): the loop thread that sees readiness runs the session.</summary>
    Epoll,
}
