using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Tcp;
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
/// The peer-wire server: accepts connections, runs a <see cref="PeerSession"/> per peer, re-evaluates the choker
/// every interval and sweeps timeouts. Owns the shared pools: 32 KiB pinned buffers (receive buffers and outboxes),
/// 256 KiB pinned read buffers (pread store only) and the pooled <see cref="SendBatch"/>es.
/// </summary>
public sealed class SeedingServer : IConnectionHandler, IAsyncDisposable
{
    public const int SmallBufferSize = 32 * 1024;
    public const int ReadBufferSize = 256 * 1024;

    private readonly TcpServerLifecycle<PeerSession> _sessions;
    private int _unchoked;
    private long _round;
    private UtpSessionAcceptor? _utpAcceptor;
    private int _refillPending;
    private readonly Lock _chokerGate = new();
    private readonly Networking.Logging.LogThrottle _refusalLog = new(TimeSpan.FromSeconds(10));

    public SeedingServer(SeedingOptions options, TorrentRegistry registry, SeedingCounters counters, ILogger logger, TimeProvider? time = null)
    {
        options.Validate();
        Options = options;
        Registry = registry;
        Counters = counters;
        Logger = logger;
        Time = time ?? TimeProvider.System;
        // Peers that still have blocks queued at the drain deadline (slow readers) are cut off.
        _sessions = new TcpServerLifecycle<PeerSession>("shutting down", options.DrainTimeout, "shutting down: drain deadline passed");
        PeerId = ClientIdentity.NewPeerId();
        RateLimiter = new UploadRateLimiter(options.UploadRateLimit, Time);
        Registry.Removed += torrent => CloseSessionsOf(torrent, "torrent removed");
        OnSendWaited = counters.SendWouldBlock;
        _encryption = new EncryptionServices(options.Encryption, registry,
            new HandshakeGate(options.MaxEncryptedHandshakes, options.EncryptedHandshakesPerSecondPerAddress, options.EncryptedHandshakeBurst, Time),
            EncryptionCounters, SendBatches, SmallBuffers, logger);
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

    /// <summary>Peers unchoked right now.</summary>
    public int UnchokedCount => Volatile.Read(ref _unchoked);

    /// <summary>Above this many unchoked peers, sends are cut to <see cref="CrowdedBatchBlocks"/> blocks.</summary>
    public const int CrowdedPeers = 128;

    public const int CrowdedBatchBlocks = 16;

    /// <summary>
    /// Blocks one send may carry. Few peers get large batches (fewer syscalls per byte); many get small ones, so a
    /// peer whose send loop runs cannot take a large share while hundreds wait. Measured at 512 peers: p99/p50 of
    /// block latency 2.3x with 16 blocks against 1.8-6.6x with 60, for about 15% more CPU per byte
    /// (perf-reports/2026-11-24-seeding-vs-libtorrent.md).
    /// </summary>
    internal int BatchBlockLimit => UnchokedCount > CrowdedPeers ? CrowdedBatchBlocks : SendBatch.MaxBlocks;

    /// <summary>The bound listen address (after <see cref="Start"/>).</summary>
    public IPEndPoint? LocalEndPoint => _sessions.AcceptLoop?.LocalEndPoint;

    internal ILogger Logger { get; }

    /// <summary>Counts a send that had to wait for a slow peer (one delegate for every session).</summary>
    internal Action OnSendWaited { get; }
    internal TimeProvider Time { get; }
    internal UploadRateLimiter RateLimiter { get; }
    internal PinnedBufferPool SmallBuffers { get; } = new(SmallBufferSize, maxRetained: 1024);
    internal PinnedBufferPool ReadBuffers { get; } = new(ReadBufferSize, maxRetained: 64);
    internal ObjectPool<SendBatch> SendBatches { get; } = new DefaultObjectPool<SendBatch>(new DefaultPooledObjectPolicy<SendBatch>(), 256);

    /// <summary>Binds the listen socket (throws when the address is taken), starts accepting and the timers.</summary>
    public IPEndPoint Start()
    {
        var limiter = new ConnectionLimiter(Options.MaxConnections, Options.MaxConnectionsPerIp);
        var bound = _sessions.Start(new TcpAcceptLoop(Options.ListenEndPoint, limiter, this, Logger),
            // Unlimited slots: peers are unchoked the moment they are interested; nothing to rotate.
            PeriodicLoop.Every(Options.ChokeInterval, Time, () => { if (Options.UploadSlots > 0) RunChokerRound(); }),
            PeriodicLoop.Every(Options.SweepInterval, Time, Sweep));
        SeedingLog.Listening(Logger, bound);
        return bound;
    }

    /// <summary>
    /// Stops accepting, lets every session send what it has queued (within <see cref="SeedingOptions.DrainTimeout"/>),
    /// closes the rest and waits (within the token's deadline) until all have released their resources.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken) => _sessions.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => _sessions.DisposeAsync();

    void IConnectionHandler.OnAccepted(Socket socket, IPEndPoint remote, bool onReserve)
    {
        Counters.ConnectionAccepted();
        var session = new PeerSession(this, new EncryptedTransport(new TcpPeerTransport(socket, remote), _encryption), _sessions.NextId());
        _sessions.Add(session);
        session.Start();
    }

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
        var session = new PeerSession(this, new EncryptedTransport(transport, _encryption), _sessions.NextId());
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
    internal Task? TryHold(Protocol.Metainfo.InfoHash infoHash)
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

    internal void ReleaseHold() => Interlocked.Decrement(ref _heldHandshakes);

    internal void OnSessionEnded(PeerSession session)
    {
        Counters.ConnectionClosed();
        SeedingLog.PeerDisconnected(Logger, session.Remote, session.CloseReason ?? "closed");
        _sessions.Remove(session);
    }

    /// <summary>A store stopped serving: its peers are disconnected, every other torrent keeps going.</summary>
    internal void OnStoreFailed(SeededTorrent torrent)
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

    internal bool TryClaimUploadSlot()
    {
        int slots = Options.UploadSlots;
        while (true)
        {
            int current = Volatile.Read(ref _unchoked);
            if (slots > 0 && current >= slots) return false;
            if (Interlocked.CompareExchange(ref _unchoked, current + 1, current) == current) return true;
        }
    }

    internal void ClaimUploadSlot() => Interlocked.Increment(ref _unchoked);
    internal void ReleaseUploadSlot() => Interlocked.Decrement(ref _unchoked);

    /// <summary>One choker round over every handshaken peer: choke first, then unchoke, so the slot count holds.</summary>
    internal void RunChokerRound()
    {
        lock (_chokerGate)
        {
            var sessions = _sessions.Connections.ToList();
            var unchoke = Choker.Decide(ChokerView(sessions), Options.UploadSlots, Interlocked.Increment(ref _round));
            foreach (var session in sessions)
            {
                if (!unchoke.Contains(session.Id)) session.SetChoked(true);
            }
            foreach (var session in sessions)
            {
                if (unchoke.Contains(session.Id)) session.SetChoked(false);
            }
        }
    }

    /// <summary>
    /// A slot was freed (a peer left or lost interest) or may be wasted (snubbed peers, checked each sweep): refill it
    /// at once instead of at the next round. Bursts of events coalesce into one pass over the sessions.
    /// </summary>
    internal void RequestRefill()
    {
        if (Options.UploadSlots <= 0 || _sessions.IsStopping) return;
        if (Interlocked.Exchange(ref _refillPending, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static server => server.RunRefill(), this, preferLocal: false);
    }

    internal void RunRefill()
    {
        Volatile.Write(ref _refillPending, 0);
        lock (_chokerGate)
        {
            var sessions = _sessions.Connections.ToList();
            var changes = Choker.Refill(ChokerView(sessions), Options.UploadSlots);
            if (changes.IsEmpty) return;
            foreach (var session in sessions)
            {
                if (changes.Choke.Contains(session.Id)) session.SetChoked(true);
            }
            foreach (var session in sessions)
            {
                if (changes.Unchoke.Contains(session.Id)) session.TryUnchokeIntoFreeSlot();
            }
        }
    }

    private List<ChokerPeer> ChokerView(List<PeerSession> sessions)
    {
        long now = Time.GetTimestamp();
        var peers = new List<ChokerPeer>(sessions.Count);
        foreach (var session in sessions)
        {
            var s = session.Snapshot(now);
            if (s.Handshaken) peers.Add(new ChokerPeer(session.Id, s.Interested, s.Unchoked, s.LastUnchokedAt, s.Snubbed));
        }
        return peers;
    }

    private void Sweep()
    {
        long now = Time.GetTimestamp();
        foreach (var session in _sessions.Connections) session.Sweep(now);
        // Snubbed peers give their slots to waiting ones here, between rounds.
        RequestRefill();
    }
}
