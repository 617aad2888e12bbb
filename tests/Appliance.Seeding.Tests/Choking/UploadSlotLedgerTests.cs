using Appliance.Seeding.Choking;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Choking;

/// <summary>The slot ledger driven event by event, with peers that behave as sessions do toward it, and a manual clock.</summary>
public sealed class UploadSlotLedgerTests
{
    private static readonly TimeSpan SnubTimeout = TimeSpan.FromSeconds(15);
    private readonly ManualTime _time = new();
    private readonly List<Peer> _peers = [];

    private UploadSlotLedger Ledger(int slots) => new(slots, SnubTimeout, _time, () => { lock (_peers) return _peers.ToList(); });

    private Peer Join(UploadSlotLedger ledger, bool interested = false)
    {
        Peer peer;
        lock (_peers)
        {
            peer = new Peer(ledger, _time, _peers.Count + 1, _peers);
            _peers.Add(peer);
        }
        if (interested) peer.BecomeInterested();
        return peer;
    }

    [Fact]
    public void Claims_stop_at_the_slot_count_and_a_release_frees_one()
    {
        var ledger = Ledger(2);
        Assert.True(ledger.TryClaim());
        Assert.True(ledger.TryClaim());
        Assert.False(ledger.TryClaim());
        Assert.Equal(2, ledger.Unchoked);

        ledger.Release();

        Assert.Equal(1, ledger.Unchoked);
        Assert.True(ledger.TryClaim());
    }

    [Fact]
    public void Unlimited_slots_grant_every_claim_and_a_round_rotates_nobody()
    {
        var ledger = Ledger(0);
        var peers = Enumerable.Range(0, 100).Select(_ => Join(ledger, interested: true)).ToList();
        Assert.All(peers, p => Assert.True(p.Unchoked));
        Assert.Equal(100, ledger.Unchoked);

        ledger.RunRound();

        Assert.All(peers, p => Assert.True(p.Unchoked));
        Assert.Equal(100, ledger.Unchoked);
    }

    [Fact]
    public void Interested_peer_takes_a_free_slot_at_once_and_waits_when_none_is_free()
    {
        var ledger = Ledger(1);
        var first = Join(ledger, interested: true);
        var second = Join(ledger, interested: true);

        Assert.True(first.Unchoked);
        Assert.False(second.Unchoked);
        Assert.Equal(1, ledger.Unchoked);
    }

    [Fact]
    public async Task A_holder_that_disconnects_gives_its_slot_to_the_peer_that_waited_longest_at_once()
    {
        var ledger = Ledger(1);
        var holder = Join(ledger, interested: true);
        var later = Join(ledger, interested: true);
        var earlier = Join(ledger, interested: true);
        later.LastUnchokedAt = 50;
        earlier.LastUnchokedAt = 10;

        holder.Leave();

        Assert.True(await Eventually.SettledAsync(true, () => earlier.Unchoked));
        Assert.False(later.Unchoked);
        Assert.Equal(1, ledger.Unchoked);
    }

    [Fact]
    public async Task A_holder_that_loses_interest_is_choked_and_its_slot_refilled_at_once()
    {
        var ledger = Ledger(1);
        var holder = Join(ledger, interested: true);
        var waiting = Join(ledger, interested: true);

        holder.LoseInterest();

        Assert.False(holder.Unchoked);
        Assert.True(await Eventually.SettledAsync(true, () => waiting.Unchoked));
        Assert.Equal(1, ledger.Unchoked);
    }

    [Fact]
    public async Task A_snubbed_holder_gives_its_slot_to_a_waiting_peer_at_the_sweep()
    {
        var ledger = Ledger(1);
        var snubbed = Join(ledger, interested: true);
        var waiting = Join(ledger, interested: true);
        _time.Advance(SnubTimeout + TimeSpan.FromSeconds(1));

        ledger.CheckSnubbed();

        Assert.True(await Eventually.SettledAsync(true, () => waiting.Unchoked));
        Assert.False(snubbed.Unchoked);
        Assert.Equal(1, ledger.Unchoked);
    }

    [Fact]
    public void A_holder_is_not_snubbed_while_it_has_requests_queued_or_asked_within_the_timeout()
    {
        var ledger = Ledger(2);
        var busy = Join(ledger, interested: true);
        var recent = Join(ledger, interested: true);
        var waiting = Join(ledger, interested: true);
        busy.HasQueuedRequests = true;
        _time.Advance(SnubTimeout + TimeSpan.FromSeconds(1));
        recent.LastRequestAt = _time.GetTimestamp();

        ledger.RunRefill();

        Assert.True(busy.Unchoked);
        Assert.True(recent.Unchoked);
        Assert.False(waiting.Unchoked);
    }

    [Fact]
    public void A_snubbed_holder_keeps_its_slot_when_nobody_waits()
    {
        var ledger = Ledger(1);
        var snubbed = Join(ledger, interested: true);
        Join(ledger);
        _time.Advance(SnubTimeout + TimeSpan.FromSeconds(1));

        ledger.RunRefill();

        Assert.True(snubbed.Unchoked);
        Assert.Equal(1, ledger.Unchoked);
    }

    [Fact]
    public void A_round_rotates_the_only_slot_to_the_waiting_peer()
    {
        var ledger = Ledger(1);
        var holder = Join(ledger, interested: true);
        var waiting = Join(ledger, interested: true);

        ledger.RunRound();

        Assert.False(holder.Unchoked);
        Assert.True(waiting.Unchoked);
        Assert.Equal(1, ledger.Unchoked);
    }

    [Fact]
    public void A_round_never_unchokes_beyond_the_slots_taken_meanwhile()
    {
        var ledger = Ledger(2);
        var holder = Join(ledger, interested: true);
        // A peer the round does not see (its session is still being added) took the other slot on interest.
        Assert.True(ledger.TryClaim());
        var waiting = Join(ledger, interested: true);
        Assert.False(waiting.Unchoked);

        ledger.RunRound(); // both listed peers are chosen, but only one slot is still there to claim

        Assert.True(holder.Unchoked);
        Assert.False(waiting.Unchoked);
        Assert.Equal(2, ledger.Unchoked);
    }

    [Fact]
    public void Peers_without_a_handshake_are_not_seen_by_a_round()
    {
        var ledger = Ledger(1);
        var holder = Join(ledger, interested: true);
        var connecting = Join(ledger);
        connecting.Handshaken = false;
        connecting.Interested = true;

        ledger.RunRound();

        Assert.True(holder.Unchoked);
        Assert.False(connecting.Unchoked);
    }

    [Fact]
    public async Task No_refill_starts_after_the_ledger_is_stopped()
    {
        var ledger = Ledger(1);
        var holder = Join(ledger, interested: true);
        var waiting = Join(ledger, interested: true);

        ledger.Stop();
        holder.Leave();

        // A negative can only be waited for: give a refill ample time to have run, then look.
        await Task.Delay(500);
        Assert.False(waiting.Unchoked);
        Assert.Equal(0, ledger.Unchoked);
    }

    /// <summary>Behaves toward the ledger as a <c>PeerSession</c> does: claims before unchoking, releases when choked or gone.</summary>
    private sealed class Peer(UploadSlotLedger ledger, TimeProvider time, long id, List<Peer> all) : IUploadSlotHolder
    {
        private readonly Lock _gate = new();
        private bool _unchoked;
        private bool _interested;

        public long Id => id;
        public bool Handshaken { get; set; } = true;
        public bool Interested { get { lock (_gate) return _interested; } set { lock (_gate) _interested = value; } }
        public bool Unchoked { get { lock (_gate) return _unchoked; } }
        public bool HasQueuedRequests { get; set; }
        public long LastUnchokedAt { get; set; } = long.MinValue;
        public long LastRequestAt { get; set; }
        private bool Gone { get; set; }

        public SlotHolderState ReadSlotState()
        {
            lock (_gate) return new SlotHolderState(Handshaken, _interested, _unchoked, LastUnchokedAt, LastRequestAt, HasQueuedRequests);
        }

        public void BecomeInterested()
        {
            lock (_gate)
            {
                _interested = true;
                if (!_unchoked) TryUnchokeLocked();
            }
        }

        public void LoseInterest()
        {
            lock (_gate)
            {
                _interested = false;
                if (!_unchoked || !ledger.IsLimited) return;
                _unchoked = false;
                ledger.Release();
                ledger.HolderLostInterest();
            }
        }

        public void Leave()
        {
            lock (all) all.Remove(this);
            lock (_gate)
            {
                Gone = true;
                if (_unchoked) ledger.HolderLeft();
                _unchoked = false;
            }
        }

        public void Choke()
        {
            lock (_gate)
            {
                if (!_unchoked) return;
                _unchoked = false;
                ledger.Release();
            }
        }

        public void Unchoke()
        {
            lock (_gate)
            {
                if (!_unchoked && Handshaken) TryUnchokeLocked();
            }
        }

        public void UnchokeIfWaiting()
        {
            lock (_gate)
            {
                if (!_unchoked && _interested && Handshaken && !Gone) TryUnchokeLocked();
            }
        }

        private void TryUnchokeLocked()
        {
            if (!ledger.TryClaim()) return;
            _unchoked = true;
            LastUnchokedAt = time.GetTimestamp();
        }
    }
}
