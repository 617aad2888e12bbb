using System.Net;
using Appliance.Networking.Signals;
using Appliance.Networking.Tcp;
using Appliance.Networking.Tcp.Epoll;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Choking;
using Appliance.Seeding.Torrents;
using Appliance.Seeding.Transport;
using Appliance.Seeding.Upload;
using Appliance.Storage;
using Appliance.Storage.Mapping;

namespace Appliance.Seeding.Sessions;

/// <summary>
/// One peer connection, seed side. Two loops: the receive loop parses messages straight from the receive buffer
/// and queues validated requests; the send loop drains the queue in batches (one gather send each). Between them a
/// lock taken once per received chunk and once per batch, never per block. An idle connection holds no buffer:
/// it waits with a zero-byte receive and owns no outbox, request ring or send batch. The bytes travel over a
/// <see cref="PeerTransport"/> (TCP or uTP), so the protocol below is the same for both. What it needs of its server
/// comes as <see cref="SessionServices"/>; it holds an upload slot through the server's <see cref="UploadSlotLedger"/>.
/// </summary>
internal sealed partial class PeerSession : ITcpServerConnection, IUploadSlotHolder, IReadAheadWaiter
{
    private readonly SessionServices _services;
    private readonly PeerTransport _transport;
    private readonly AsyncSignal _sendSignal = new();
    private readonly Lock _gate = new();
    private readonly RequestQueue _queue;
    private readonly long _createdAt;

    // Guarded by _gate.
    private byte[]? _outbox;
    private int _outboxLength;
    private bool _amChoking = true;
    private bool _peerInterested;
    private long _lastUnchokedAt = long.MinValue;
    private long _lastRequestAt;
    private int _queuedUncounted; // requests queued by the receive being processed, not yet in the queue-depth gauge
    private long _skip; // bytes of an ignored message still to discard from the stream
    private bool _readAheadPending; // a reader thread is bringing the head of the queue in from disk
    private bool _headRead; // that read ended: the head goes out without another residency check

    private SeededTorrent? _torrent;
    private Task? _held; // set by a handshake for a torrent still loading: completes when loading ended
    private bool _heldOnce;
    private TaskCompletionSource? _closedWhileHeld;
    private bool _fast;
    private bool _extensions;
    private bool _joinedByV2; // came with a v2 info-hash (a v2-only torrent's, or a hybrid's second one)
    private byte _peerMetadataId;
    private long _lastReceivedAt;
    private long _lastSentAt;
    private long _sendWaitingSince; // when the pending send started waiting for the peer to read; 0 while none waits
    private readonly Action _sendWaited; // made once: the transport calls it when a batch has to wait for the peer
    // Sweeper only: sent bytes that wait in the kernel unacknowledged (our sends completed, the peer's window closed).
    private long _unreadSince; // when the sweeper first saw sent bytes waiting with no acknowledgement since; 0 while none wait
    private long _acknowledgedSeen; // the most bytes the peer had acknowledged at a look
    private long _sentAtLastLook; // _lastSentAt when the sweeper last looked: nothing sent since and nothing waited means no look
    private int _closed;
    private int _draining;
    private int _loopsRunning;
    private string? _closeReason;

    public PeerSession(SessionServices services, PeerTransport transport, long id)
    {
        _services = services;
        _transport = transport;
        Remote = transport.Remote;
        Id = id;
        _queue = new RequestQueue(services.Options.MaxOutstandingRequests);
        _createdAt = _lastReceivedAt = _lastSentAt = _sentAtLastLook = services.Time.GetTimestamp();
        _sendWaited = OnSendWaited;
    }

    private void OnSendWaited()
    {
        _services.SendWaited();
        Volatile.Write(ref _sendWaitingSince, Math.Max(1, _services.Time.GetTimestamp()));
    }

    public long Id { get; }
    public IPEndPoint Remote { get; }
    public PeerTransport Transport => _transport;
    public SeededTorrent? Torrent => Volatile.Read(ref _torrent);
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Stopping: new requests are refused, queued blocks still go out, then the session closes itself.</summary>
    public bool IsDraining => Volatile.Read(ref _draining) != 0;

    public void BeginDrain()
    {
        Volatile.Write(ref _draining, 1);
        _sendSignal.Set();
    }
    public string? CloseReason => _closeReason;
    public bool SupportsFast => _fast;

    public bool AmChoking { get { lock (_gate) return _amChoking; } }

    /// <summary>Starts both loops; the session cleans itself up when both have ended.</summary>
    public void Start()
    {
        _loopsRunning = 2;
        _ = ReceiveLoopAsync();
        _ = SendLoopAsync();
    }

    public SlotHolderState ReadSlotState()
    {
        lock (_gate) return new SlotHolderState(_torrent is not null, _peerInterested, !_amChoking, _lastUnchokedAt, _lastRequestAt, _queue.Count > 0);
    }

    /// <summary>Closes the session; true when this call closed it (so a reason is counted once).</summary>
    public bool Close(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return false;
        _closeReason = reason;
        _transport.Close();
        _sendSignal.Set();
        Volatile.Read(ref _closedWhileHeld)?.TrySetResult();
        return true;
    }

    void ITcpServerConnection.Close(string reason) => Close(reason);

    private async Task ReceiveLoopAsync()
    {
        var pool = _services.RequestBuffers;
        var large = _services.SmallBuffers;
        byte[]? buffer = null;
        int filled = 0;
        // Over TCP the send loop's work is one non-blocking sendmsg per batch, so the thread that just queued the
        // requests sends them (as a hand-written epoll server would) instead of waking another thread for it.
        bool sendHere = _transport.SendsMappedPages;
        try
        {
            while (!IsClosed)
            {
                if (buffer is null)
                {
                    // Wait for data before taking a buffer, so an idle peer holds none.
                    var probe = await _transport.WaitForDataAsync().ConfigureAwait(false);
                    if (!probe.Succeeded)
                    {
                        Close(probe.Error.ToString());
                        break;
                    }
                    // Handshakes take a large buffer: an encrypted one (MSE) keeps room in it for its initial payload.
                    buffer = _torrent is null ? large.Rent() : pool.Rent();
                }
                var received = await _transport.ReceiveAsync(buffer.AsMemory(filled)).ConfigureAwait(false);
                if (!received.Succeeded || received.BytesTransferred == 0)
                {
                    Close(received.Succeeded ? "closed by peer" : received.Error.ToString());
                    break;
                }
                filled += received.BytesTransferred;
                _lastReceivedAt = _services.Time.GetTimestamp();

                int consumed = Receive(buffer.AsSpan(0, filled), out bool keepBuffer, sendHere: sendHere);
                if (consumed == 0 && _held is { } loading)
                {
                    _held = null;
                    if (!await WaitForLoadingTorrentAsync(loading).ConfigureAwait(false)) break;
                    consumed = Receive(buffer.AsSpan(0, filled), out keepBuffer, sendHere: sendHere);
                }
                if (consumed < 0) break;
                filled -= consumed;
                if (filled > 0 && consumed > 0) buffer.AsSpan(consumed, filled).CopyTo(buffer);
                if (filled == buffer.Length)
                {
                    if (buffer.Length == large.BufferSize)
                    {
                        Disconnect("a message does not fit the receive buffer", protocolError: true);
                        break;
                    }
                    // A message longer than a request buffer (the protocol code waits for it whole only up to the
                    // large buffer's size): read on into a large buffer, given back once the message is handled.
                    var larger = large.Rent();
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    pool.Return(buffer);
                    buffer = larger;
                }
                // A downloading peer will send more requests soon; a quiet one gives its buffer back, and so does a
                // peer done with a long message (its next bytes go into a request buffer).
                if (filled == 0 && (!keepBuffer || buffer.Length != pool.BufferSize))
                {
                    ReturnReceiveBuffer(buffer);
                    buffer = null;
                }
            }
        }
        catch (Exception e)
        {
            SeedingLog.SessionFailed(_services.Logger, Remote, e);
            Close("internal error: " + e.GetType().Name);
        }
        finally
        {
            if (buffer is not null) ReturnReceiveBuffer(buffer);
            LoopEnded();
        }
    }

    // A receive buffer goes back to the pool of its size: a request buffer, or a large one (handshakes, long messages).
    private void ReturnReceiveBuffer(byte[] buffer) =>
        (buffer.Length == _services.RequestBuffers.BufferSize ? _services.RequestBuffers : _services.SmallBuffers).Return(buffer);

    /// <summary>Holds a handshake until its torrent has loaded, within the handshake timeout; false when the session closed instead.</summary>
    private async Task<bool> WaitForLoadingTorrentAsync(Task loading)
    {
        try
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _closedWhileHeld, closed);
            if (IsClosed) return false; // closed before Close could see the source
            var remaining = _services.Options.HandshakeTimeout - _services.Time.GetElapsedTime(_createdAt);
            var first = await Task.WhenAny(loading, closed.Task, Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _services.Time))
                .ConfigureAwait(false);
            if (first == loading) return !IsClosed;
            if (first != closed.Task && Close("handshake timeout: the torrent was still loading")) _services.Counters.HandshakeTimedOut();
            return false;
        }
        finally
        {
            Volatile.Write(ref _closedWhileHeld, null);
            _services.Host.HandshakeHoldEnded();
        }
    }

    /// <summary>
    /// Handles received bytes: returns how many were consumed (a partial message stays for the next receive), or -1
    /// when the peer was disconnected. Wakes the send loop when something was queued. Also the entry point of the
    /// embedded benchmark, which pushes request bytes through here without a socket.
    /// </summary>
    internal int Receive(ReadOnlySpan<byte> data, out bool active, bool sendHere = false)
    {
        int consumed;
        string? violation;
        bool wake;
        lock (_gate)
        {
            consumed = ProcessLocked(data, out violation, out wake);
            // Requests queued by this receive are counted once, not with one shared atomic add each.
            if (_queuedUncounted != 0)
            {
                _services.Counters.QueueDepthChanged(_queuedUncounted);
                _queuedUncounted = 0;
            }
            active = !_amChoking && _peerInterested;
        }
        if (violation is not null)
        {
            Disconnect(violation, protocolError: consumed != HandshakeRefused);
            return -1;
        }
        if (wake)
        {
            if (sendHere) _sendSignal.SetHere();
            else _sendSignal.Set();
        }
        return consumed;
    }

    /// <summary>
    /// Waits for work, then sends batches until the queue and outbox are empty. The only awaits of the hot path are
    /// here, in one long-lived async method, so a suspended send costs no allocation.
    /// </summary>
    private async Task SendLoopAsync()
    {
        try
        {
            while (!IsClosed)
            {
                await _sendSignal.WaitAsync().ConfigureAwait(false);
                while (!IsClosed)
                {
                    // Blocks read with pread (uTP, encryption, a pread store) may wait for the disk: not on an epoll loop
                    // thread, where every socket of the loop would wait too. The pool takes over (no allocation).
                    if (EpollEngine.IsLoopThread && !SendsFromMapping) await Task.Yield();
                    var batch = _services.SendBatches.Rent();
                    try
                    {
                        if (!TakeBatch(batch))
                        {
                            if (IsDraining && !WaitingForDisk) Close("shutting down");
                            break;
                        }
                        var torrent = _torrent!;
                        if (!PrepareBatch(batch, torrent))
                        {
                            _services.Counters.DiskError();
                            _services.Host.StoreFailed(torrent);
                            Close("storage cannot serve: " + (torrent.Store.FaultReason ?? "read failed"));
                            break;
                        }
                        while (!_services.RateLimiter.TryTake((int)batch.TotalBytes))
                        {
                            await Task.Delay(_services.RateLimiter.DelayFor()).ConfigureAwait(false);
                        }
                        // A send from a mapping that waited for the disk shows as major faults of the sending thread.
                        bool watchFaults = _services.ReadAhead is not null && batch.RequestCount > 0 && torrent.Store.SupportsSegments && _transport.SendsMappedPages;
                        long faultsBefore = watchFaults ? MajorFaults.OfCurrentThread() : 0;
                        int sendingThread = Environment.CurrentManagedThreadId;
                        var outcome = await _transport.SendAsync(batch, _sendWaited).ConfigureAwait(false);
                        Volatile.Write(ref _sendWaitingSince, 0);
                        if (outcome == SendOutcome.BadAddress)
                        {
                            torrent.Store.Fault("a socket send from the mapping failed with EFAULT (a file shrank or changed under the mapping)");
                            _services.Counters.DiskError();
                            _services.Host.StoreFailed(torrent);
                            break;
                        }
                        if (outcome != SendOutcome.Sent)
                        {
                            Close("send failed");
                            break;
                        }
                        if (watchFaults && Environment.CurrentManagedThreadId == sendingThread)
                            NoteMajorFaults(torrent.Store, MajorFaults.OfCurrentThread() - faultsBefore);
                        Completed(batch, torrent);
                    }
                    finally
                    {
                        batch.Reset(_services.SmallBuffers);
                        _services.SendBatches.Return(batch);
                    }
                }
            }
        }
        catch (Exception e)
        {
            SeedingLog.SessionFailed(_services.Logger, Remote, e);
            Close("internal error: " + e.GetType().Name);
        }
        finally
        {
            LoopEnded();
        }
    }

    /// <summary>
    /// Moves the outbox and the next requests into <paramref name="batch"/>. Shared with the embedded benchmark. With
    /// read-ahead, a block of mapped content not in the page cache ends the batch: a reader thread brings it (and the
    /// blocks queued after it) in while this thread sends other peers' cached blocks, and wakes this peer when done.
    /// </summary>
    internal bool TakeBatch(SendBatch batch)
    {
        var store = _torrent?.Store;
        bool mappedSends = store is not { SupportsSegments: false } && _transport.SendsMappedPages;
        int readBufferSize = mappedSends ? 0 : _services.ReadBuffers.BufferSize;
        var readAhead = mappedSends && store is not null ? _services.ReadAhead : null;
        int taken = 0;
        bool startRead = false;
        lock (_gate)
        {
            if (_outbox is not null)
            {
                batch.SetOutbox(_outbox, _outboxLength);
                _outbox = null;
                _outboxLength = 0;
            }
            while (_queue.Count > 0 && batch.CanAdd(_queue.Peek().Block.Length, readBufferSize))
            {
                var next = _queue.Peek().Block;
                // No system call unless the store has seen its content cold (IsResident is a flag read otherwise).
                if (readAhead is not null && !_headRead && !store!.IsResident(next.Piece, next.Begin, next.Length))
                {
                    if (!_readAheadPending) startRead = _readAheadPending = true;
                    break;
                }
                _headRead = false;
                batch.Add(_queue.Dequeue());
                taken++;
            }
        }
        if (startRead) readAhead!.Submit(store!, this);
        if (taken > 0) _services.Counters.QueueDepthChanged(-taken);
        return !batch.IsEmpty;
    }

    /// <summary>Blocks go out as pages of the mapping (nothing to read first), or there are none to send yet.</summary>
    private bool SendsFromMapping => _torrent is not { } torrent || (torrent.Store.SupportsSegments && _transport.SendsMappedPages);

    private bool WaitingForDisk
    {
        get { lock (_gate) return _readAheadPending; }
    }

    int IReadAheadWaiter.CopyQueued(Span<BlockRequest> destination)
    {
        lock (_gate) return _queue.CopyTo(destination);
    }

    void IReadAheadWaiter.ReadAheadDone()
    {
        lock (_gate)
        {
            _readAheadPending = false;
            _headRead = true;
        }
        _sendSignal.Set();
    }

    /// <summary>
    /// A send that waited for the disk (major faults on its thread during the synchronous sendmsg; two getrusage calls
    /// per batch, none per block) marks its store cold, so the store checks residency again and the next cold blocks go
    /// to the reader threads. Faults in a remainder sent later from another thread are not seen.
    /// </summary>
    private void NoteMajorFaults(PieceStore store, long faults)
    {
        if (faults <= 0) return;
        _services.Counters.SendFaulted(faults);
        store.MarkCold();
    }

    internal void Completed(SendBatch batch, SeededTorrent torrent)
    {
        long now = _services.Time.GetTimestamp();
        _lastSentAt = now;
        int blocks = batch.RequestCount;
        if (blocks == 0) return;
        long serveTicks = 0;
        var requests = batch.Requests;
        Span<long> waited = stackalloc long[SendBatch.MaxBlocks];
        for (int i = 0; i < requests.Length; i++)
        {
            waited[i] = now - requests[i].ArrivedAt;
            serveTicks += waited[i];
        }
        _services.Counters.ServeLatency.RecordTicks(waited[..requests.Length]);
        _services.Counters.BatchSent(batch.PayloadBytes, blocks, serveTicks);
        torrent.AddUploaded(batch.PayloadBytes, blocks);
    }

    /// <summary>A torrent removed while this batch was being prepared has its mapping released: that is a failed read, not a crash.</summary>
    private bool PrepareBatch(SendBatch batch, SeededTorrent torrent)
    {
        try
        {
            return batch.Prepare(torrent.Store, _services.ReadBuffers, copyBlocks: !_transport.SendsMappedPages);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private void Disconnect(string reason, bool protocolError)
    {
        if (protocolError) _services.Counters.ProtocolError();
        Close(reason);
    }

    private void LoopEnded()
    {
        if (Interlocked.Decrement(ref _loopsRunning) != 0) return;
        int dropped;
        lock (_gate)
        {
            if (_outbox is not null && _outbox.Length == _services.SmallBuffers.BufferSize) _services.SmallBuffers.Return(_outbox);
            _outbox = null;
            dropped = _queue.Count;
            while (_queue.Count > 0) _queue.Dequeue();
            if (!_amChoking) _services.Slots.HolderLeft();
            _amChoking = true;
        }
        if (dropped > 0) _services.Counters.QueueDepthChanged(-dropped);
        if (_torrent is { } torrent)
        {
            torrent.PeerLeft();
            _services.Counters.PeerLeft(_joinedByV2);
        }
        _transport.Dispose();
        _services.Host.SessionEnded(this);
    }

    /// <summary>Called by the sweeper (one at a time): handshake, idle and send-stall timeouts, and keep-alives on a quiet line.</summary>
    public void Sweep(long now)
    {
        // A closed session stays listed until both its loops end; the next sweep must not count it again.
        if (IsClosed) return;
        var options = _services.Options;
        var time = _services.Time;
        if (_torrent is null)
        {
            if (time.GetElapsedTime(_createdAt, now) > options.HandshakeTimeout && Close("handshake timeout"))
                _services.Counters.HandshakeTimedOut();
            return;
        }
        if (time.GetElapsedTime(_lastReceivedAt, now) > options.IdleTimeout)
        {
            if (Close("idle timeout")) _services.Counters.IdleDisconnect();
            return;
        }
        // A peer that never reads would otherwise hold its socket buffers and outbox forever: caught when our send has
        // waited too long for room, or, when every send fit in the socket buffer, when what it holds is not taken.
        long waitingSince = Volatile.Read(ref _sendWaitingSince);
        if (waitingSince != 0 ? time.GetElapsedTime(waitingSince, now) > options.SendStallTimeout : SentBytesUnread(now))
        {
            if (Close("send stalled: the peer does not read")) _services.Counters.IdleDisconnect();
            return;
        }
        if (time.GetElapsedTime(_lastSentAt, now) > options.KeepAliveInterval)
        {
            bool queued;
            lock (_gate) queued = TryAppend(PeerMessageWriter.KeepAliveLength, out var span) && Written(PeerMessageWriter.WriteKeepAlive(span));
            _lastSentAt = now;
            if (queued) _sendSignal.Set();
        }
    }

    /// <summary>
    /// True when bytes our completed sends left in the kernel have waited <see cref="SeedingOptions.SendStallTimeout"/>
    /// with none acknowledged (the peer's window stays closed). One getsockopt per look, and none for a session that sent
    /// nothing since a look found nothing waiting, so idle peers cost nothing.
    /// </summary>
    private bool SentBytesUnread(long now)
    {
        long sentAt = Volatile.Read(ref _lastSentAt);
        if (_unreadSince == 0 && sentAt == _sentAtLastLook) return false;
        if (!_transport.TryGetSendProgress(out var progress)) return false;
        _sentAtLastLook = sentAt;
        if (!progress.Pending)
        {
            _unreadSince = 0;
            return false;
        }
        if (_unreadSince == 0 || progress.Acknowledged > _acknowledgedSeen)
        {
            _acknowledgedSeen = Math.Max(_acknowledgedSeen, progress.Acknowledged);
            _unreadSince = Math.Max(1, now);
            return false;
        }
        return _services.Time.GetElapsedTime(_unreadSince, now) > _services.Options.SendStallTimeout;
    }

    /// <summary>The ledger's verdict (a round or a refill): choke, releasing the slot.</summary>
    public void Choke()
    {
        bool queued;
        lock (_gate)
        {
            if (_amChoking || _torrent is null) return;
            queued = ChokeLocked();
        }
        // Choked with no room to say so: a peer whose outbox is full does not read, so it is let go.
        if (!queued) Close("outbox full: the peer does not read");
        else _sendSignal.Set();
    }

    /// <summary>The round's verdict: unchoke, if a slot can still be claimed (peers unchoked on interest since the round began may hold every slot).</summary>
    public void Unchoke()
    {
        bool wake;
        lock (_gate)
        {
            if (!_amChoking || _torrent is null) return;
            wake = TryUnchokeLocked();
        }
        if (wake) _sendSignal.Set();
    }

    /// <summary>A refill's offer: unchokes this peer if it still waits and a slot is still free (claimed atomically, so events racing the refill never overfill).</summary>
    public void UnchokeIfWaiting()
    {
        bool changed = false;
        lock (_gate)
        {
            if (_amChoking && _peerInterested && _torrent is not null && !IsClosed) changed = TryUnchokeLocked();
        }
        if (changed) _sendSignal.Set();
    }
}
