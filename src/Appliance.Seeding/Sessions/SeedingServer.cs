using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Tcp;
using Appliance.Networking.Tcp.Epoll;
using Appliance.Networking.Utp;
using Appliance.Protocol.Identity;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Choking;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Torrents;
using Appliance.Seeding.Transport;
using Appliance.Seeding.Upload;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;

namespace Appliance.Seeding.Sessions;

/// <summary>
/// The peer-wire server: accepts connections, runs a <see cref="PeerSession"/> per peer, runs the choker round of its
/// <see cref="UploadSlotLedger"/> every interval and sweeps timeouts. Builds once the <see cref="SessionServices"/> every
/// session shares (the pools: 32 KiB pinned buffers for receive buffers and outboxes, 256 KiB pinned read buffers and
/// the pooled <see cref="SendBatch"/>es; counters, options, clock, the slot ledger) and is the sessions'
/// <see cref="ISessionHost"/>.
/// </summary>
public sealed class SeedingServer : IConnectionHandler, ISessionHost, IAsyncDisposable
{
    // A downloading peer's receive buffer only ever holds requests (17 bytes each) between two reads: 4 KiB takes a
    // burst of 240. Held by every active peer, so at 10,000 peers it is 40 MB, where 32 KiB was 320 MB.
    public const int RequestBufferSize = 4 * 1024;
    public const int SmallBufferSize = 32 * 1024;
    public const int ReadBufferSize = 256 * 1024;

    private readonly TcpServerLifecycle<PeerSession> _sessions;
    private readonly SessionServices _services;
    private readonly UploadSlotLedger _slots;
    private UtpSessionAcceptor? _utpAcceptor;
    private readonly EpollEngine? _epoll;
    private readonly Networking.Logging.LogThrottle _refusalLog = new(TimeSpan.FromSeconds(10));

    public SeedingServer(SeedingOptions options, TorrentRegistry registry, SeedingCounters counters, ILogger logger, TimeProvider? time = null)
    {
        options.Validate();
        Options = options;
        Registry = registry;
        Counters = counters;
        Logger = logger;
        var clock = time ?? TimeProvider.System;
        // Peers that still have blocks queued at the drain deadline (slow readers) are cut off.
        _sessions = new TcpServerLifecycle<PeerSession>("shutting down", options.DrainTimeout, "shutting down: drain deadline passed");
        PeerId = ClientIdentity.NewPeerId();
        _slots = new UploadSlotLedger(options.UploadSlots, options.SnubTimeout, clock, () => _sessions.Connections);
        var smallBuffers = new PinnedBufferPool(SmallBufferSize, maxRetained: 1024);
        var sendBatches = new SendBatchPool();
        _services = new SessionServices
        {
            Options = options,
            Time = clock,
            Counters = counters,
            Logger = logger,
            Registry = registry,
            PeerId = PeerId,
            RequestBuffers = new PinnedBufferPool(RequestBufferSize, maxRetained: 2048),
            SmallBuffers = smallBuffers,
            ReadBuffers = new PinnedBufferPool(ReadBufferSize, maxRetained: 64),
            SendBatches = sendBatches,
            ReadAhead = options.ReadAheadThreads > 0 ? new ReadAheadPool(options.ReadAheadThreads, counters) : null,
            RateLimiter = new UploadRateLimiter(options.UploadRateLimit, clock),
            Slots = _slots,
            Host = this,
            SendWaited = counters.SendWouldBlock,
        };
        // Elsewhere than Linux the runtime's engine serves (it is the only one there).
        if (options.TcpEngine == TcpEngine.Epoll && EpollEngine.IsSupported) _epoll = new EpollEngine(options.EpollLoops, logger);
        Registry.Removed += torrent => CloseSessionsOf(torrent, "torrent removed");
        _encryption = new EncryptionServices(options.Encryption, registry,
            new HandshakeGate(options.MaxEncryptedHandshakes, options.EncryptedHandshakesPerSecondPerAddress, options.EncryptedHandshakeBurst, clock),
            EncryptionCounters, sendBatches, smallBuffers, logger);
    }

    private readonly EncryptionServices _encryption;

    public SeedingOptions Options { get; }

    /// <summary>MSE/PE outcomes (encrypted handshakes by selected method, failures, throttling, refused plaintext).</summary>
    public EncryptionCounters EncryptionCounters { get; } = new();
    public TorrentRegistry Registry { get; }
    public SeedingCounters Counters { get; }
    public PeerId PeerId { get; }
    public int SessionCount => _sessions.Count;
    internal ICollection<PeerSession> Sessions => _sessions.Connections;

    /// <summary>Our epoll engine, when <see cref="SeedingOptions.TcpEngine"/> asks for it.</summary>
    internal EpollEngine? Epoll => _epoll;

    /// <summary>Peers unchoked right now.</summary>
    public int UnchokedCount => _slots.Unchoked;

    /// <summary>Who holds the upload slots; the choker round and the refills run here.</summary>
    internal UploadSlotLedger Slots => _slots;

    /// <summary>What every session of this server is given (the embedded benchmark builds a session from it).</summary>
    internal SessionServices SessionServices => _services;

    /// <summary>The bound listen address (after <see cref="Start"/>).</summary>
    public IPEndPoint? LocalEndPoint => _sessions.AcceptLoop?.LocalEndPoint;

    internal ILogger Logger { get; }
    internal PinnedBufferPool SmallBuffers => _services.SmallBuffers;
    internal PinnedBufferPool RequestBuffers => _services.RequestBuffers;
    internal PinnedBufferPool ReadBuffers => _services.ReadBuffers;

    /// <summary>Binds the listen socket (throws when the address is taken), starts accepting and the timers.</summary>
    public IPEndPoint Start()
    {
        var limiter = new ConnectionLimiter(Options.MaxConnections, Options.MaxConnectionsPerIp);
        var bound = _sessions.Start(new TcpAcceptLoop(Options.ListenEndPoint, limiter, this, Logger),
            PeriodicLoop.Every(Options.ChokeInterval, _services.Time, _slots.RunRound),
            PeriodicLoop.Every(Options.SweepInterval, _services.Time, Sweep));
        SeedingLog.Listening(Logger, bound);
        return bound;
    }

    /// <summary>
    /// Stops accepting, lets every session send what it has queued (within <see cref="SeedingOptions.DrainTimeout"/>),
    /// closes the rest and waits (within the token's deadline) until all have released their resources.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _slots.Stop();
        return _sessions.StopAsync(cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        _slots.Stop();
        return StopSessionsAsync();
    }

    private async ValueTask StopSessionsAsync()
    {
        await _sessions.DisposeAsync().ConfigureAwait(false);
        _services.ReadAhead?.Dispose();
        _epoll?.Dispose();
    }

    void IConnectionHandler.OnAccepted(Socket socket, IPEndPoint remote, bool onReserve)
    {
        Counters.ConnectionAccepted();
        // Encryption wraps either engine's transport (its handshake then runs on the epoll loop thread, bounded by the gate).
        var session = new PeerSession(_services, new EncryptedTransport(TcpTransport(socket, remote), _encryption), _sessions.NextId());
        _sessions.Add(session);
        session.Start();
    }

    private PeerTransport TcpTransport(Socket socket, IPEndPoint remote) =>
        _epoll?.TryRegister(socket) is { } registered ? new EpollPeerTransport(registered, remote) : new TcpPeerTransport(socket, remote);

    /// <summary>Where the uTP listener hands established incoming connections (after <see cref="Start"/>).</summary>
    public IUtpAcceptor UtpAcceptor => _utpAcceptor ??= new UtpSessionAcceptor(this);

    /// <summary>A connection that arrived over another transport (uTP): admitted under the same limits as TCP ones.</summary>
    internal bool TryAccept(PeerTransport transport)
    {
        if (_sessions.AcceptLoop is not { } acceptLoop || _sessions.IsStopping) return false;
        var admitted = acceptLoop.Limiter.TryAdmit(transport.Remote.Address);
        if (admitted != AdmitResult.Admitted)
        {
            ((IConnectionHandler)this).OnRefused(transport.Remote, admitted);
            return false;
        }
        Counters.ConnectionAccepted();
        // MSE/PE runs over uTP as over TCP: libtorrent's default policy tries an encrypted handshake first on either.
        var session = new PeerSession(_services, new EncryptedTransport(transport, _encryption), _sessions.NextId());
        _sessions.Add(session);
        session.Start();
        return true;
    }

    void IConnectionHandler.OnRefused(IPEndPoint remote, AdmitResult reason)
    {
        Counters.ConnectionRefused(reason == AdmitResult.TotalLimit);
        if (_refusalLog.TryEnter(out long suppressed)) SeedingLog.ConnectionRefused(Logger, remote, reason, suppressed);
    }

    private int _heldHandshakes;

    /// <summary>Handshakes waiting right now for their torrent to finish loading.</summary>
    public int HeldHandshakes => Volatile.Read(ref _heldHandshakes);

    /// <summary>
    /// A handshake for a torrent that is still loading (first start verifies content) waits for it rather than being
    /// refused: a refused client backs off for far longer than the load takes. Bounded by <see cref="SeedingOptions.MaxHeldHandshakes"/>.
    /// </summary>
    Task? ISessionHost.TryHoldHandshake(Protocol.Metainfo.InfoHash infoHash)
    {
        if (_sessions.IsStopping) return null;
        if (Interlocked.Increment(ref _heldHandshakes) > Options.MaxHeldHandshakes || Registry.WhenLoaded(infoHash) is not { } loaded)
        {
            Interlocked.Decrement(ref _heldHandshakes);
            return null;
        }
        Counters.HandshakeHeld();
        return loaded;
    }

    void ISessionHost.HandshakeHoldEnded() => Interlocked.Decrement(ref _heldHandshakes);

    void ISessionHost.SessionEnded(PeerSession session)
    {
        Counters.ConnectionClosed();
        SeedingLog.PeerDisconnected(Logger, session.Remote, session.CloseReason ?? "closed");
        _sessions.Remove(session);
    }

    /// <summary>A store stopped serving: its peers are disconnected, every other torrent keeps going.</summary>
    void ISessionHost.StoreFailed(SeededTorrent torrent)
    {
        string reason = torrent.Store.FaultReason ?? "read failed";
        SeedingLog.StoreFaulted(Logger, torrent.InfoHash, torrent.Name, reason);
        CloseSessionsOf(torrent, "storage faulted: " + reason);
    }

    private void CloseSessionsOf(SeededTorrent torrent, string reason)
    {
        foreach (var session in _sessions.Connections)
        {
            if (session.Torrent == torrent) session.Close(reason);
        }
    }

    private void Sweep()
    {
        long now = _services.Time.GetTimestamp();
        foreach (var session in _sessions.Connections) session.Sweep(now);
        _slots.CheckSnubbed();
    }
}
