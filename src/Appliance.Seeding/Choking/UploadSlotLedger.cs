namespace Appliance.Seeding.Choking;

/// <summary>What the ledger reads of a peer, taken under the peer's own lock so the fields agree.</summary>
internal readonly record struct SlotHolderState(
    bool Handshaken, bool Interested, bool Unchoked, long LastUnchokedAt, long LastRequestAt, bool HasQueuedRequests);

/// <summary>A peer that can hold an upload slot: the ledger reads its state and hands it the choker's verdicts.</summary>
internal interface IUploadSlotHolder
{
    long Id { get; }

    SlotHolderState ReadSlotState();

    /// <summary>The round's verdict: choke (the slot is released by the holder, through <see cref="UploadSlotLedger.Release"/>).</summary>
    void Choke();

    /// <summary>The round's verdict: unchoke, if a slot can still be claimed.</summary>
    void Unchoke();

    /// <summary>A refill's offer: unchoke if still choked, still interested and a slot can still be claimed.</summary>
    void UnchokeIfWaiting();
}

/// <summary>
/// The one account of upload slots: how many peers are unchoked, the claim a peer makes before it is unchoked and the
/// release when it is choked or leaves, the periodic choker round, and the refill that gives a freed or wasted slot to
/// a waiting peer at once (after a disconnect, a loss of interest, or a snub found by the sweep) instead of at the next
/// round. The decisions themselves are <see cref="Choker"/>'s pure functions; this type builds their view of the peers
/// and carries the verdicts out. Claims are atomic, so peers unchoked on interest never race a round or a refill into
/// more than <c>slots</c> unchoked peers. <c>slots = 0</c> means unlimited: every claim succeeds, nothing rotates.
/// </summary>
internal sealed class UploadSlotLedger
{
    private readonly int _slots;
    private readonly TimeSpan _snubTimeout;
    private readonly TimeProvider _time;
    private readonly Func<IEnumerable<IUploadSlotHolder>> _peers;
    private readonly Lock _chokerGate = new();
    private int _unchoked;
    private long _round;
    private int _refillPending;
    private volatile bool _stopped;

    /// <param name="peers">The live peers, read afresh at each round and refill.</param>
    public UploadSlotLedger(int slots, TimeSpan snubTimeout, TimeProvider time, Func<IEnumerable<IUploadSlotHolder>> peers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slots);
        _slots = slots;
        _snubTimeout = snubTimeout;
        _time = time;
        _peers = peers;
    }

    /// <summary>Slots to give out; 0 means unlimited.</summary>
    public int Slots => _slots;

    public bool IsLimited => _slots > 0;

    /// <summary>Peers unchoked right now (also counted with unlimited slots).</summary>
    public int Unchoked => Volatile.Read(ref _unchoked);

    /// <summary>Takes a slot for a peer about to be unchoked; false when every slot is taken.</summary>
    public bool TryClaim()
    {
        while (true)
        {
            int current = Volatile.Read(ref _unchoked);
            if (_slots > 0 && current >= _slots) return false;
            if (Interlocked.CompareExchange(ref _unchoked, current + 1, current) == current) return true;
        }
    }

    /// <summary>Gives a claimed slot back: the peer was choked, or its unchoke could not be sent.</summary>
    public void Release() => Interlocked.Decrement(ref _unchoked);

    /// <summary>A peer that held a slot disconnected: the slot goes to a waiting peer at once.</summary>
    public void HolderLeft()
    {
        Release();
        RequestRefill();
    }

    /// <summary>A peer that held a slot lost interest and was choked (its slot already released): refill at once.</summary>
    public void HolderLostInterest() => RequestRefill();

    /// <summary>The sweep's turn: snubbed holders give their slots to waiting peers here, between rounds.</summary>
    public void CheckSnubbed() => RequestRefill();

    /// <summary>After this no refill starts (the server is stopping).</summary>
    public void Stop() => _stopped = true;

    /// <summary>One choker round over every handshaken peer: choke first, then unchoke, so the slot count holds.</summary>
    public void RunRound()
    {
        // Unlimited slots: peers are unchoked the moment they are interested; nothing to rotate.
        if (!IsLimited) return;
        lock (_chokerGate)
        {
            var peers = _peers().ToList();
            var unchoke = Choker.Decide(ChokerView(peers), _slots, Interlocked.Increment(ref _round));
            foreach (var peer in peers)
            {
                if (!unchoke.Contains(peer.Id)) peer.Choke();
            }
            foreach (var peer in peers)
            {
                if (unchoke.Contains(peer.Id)) peer.Unchoke();
            }
        }
    }

    /// <summary>Bursts of events coalesce into one refill pass over the peers, on the thread pool.</summary>
    private void RequestRefill()
    {
        if (!IsLimited || _stopped) return;
        if (Interlocked.Exchange(ref _refillPending, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static ledger => ledger.RunRefill(), this, preferLocal: false);
    }

    /// <summary>Fills free slots with waiting peers, taking slots back from idle or snubbed holders only for peers that wait.</summary>
    public void RunRefill()
    {
        Volatile.Write(ref _refillPending, 0);
        lock (_chokerGate)
        {
            var peers = _peers().ToList();
            var changes = Choker.Refill(ChokerView(peers), _slots);
            if (changes.IsEmpty) return;
            foreach (var peer in peers)
            {
                if (changes.Choke.Contains(peer.Id)) peer.Choke();
            }
            foreach (var peer in peers)
            {
                if (changes.Unchoke.Contains(peer.Id)) peer.UnchokeIfWaiting();
            }
        }
    }

    /// <summary>
    /// The choker's view of the handshaken peers. Snubbed: unchoked and interested, yet nothing queued and no request
    /// since <see cref="SeedingOptions.SnubTimeout"/> (counted from its last request or its unchoke, the later).
    /// </summary>
    private List<ChokerPeer> ChokerView(List<IUploadSlotHolder> holders)
    {
        long now = _time.GetTimestamp();
        var peers = new List<ChokerPeer>(holders.Count);
        foreach (var holder in holders)
        {
            var s = holder.ReadSlotState();
            if (!s.Handshaken) continue;
            bool snubbed = s.Unchoked && s.Interested && !s.HasQueuedRequests
                && _time.GetElapsedTime(Math.Max(s.LastRequestAt, s.LastUnchokedAt), now) > _snubTimeout;
            peers.Add(new ChokerPeer(holder.Id, s.Interested, s.Unchoked, s.LastUnchokedAt, snubbed));
        }
        return peers;
    }
}
