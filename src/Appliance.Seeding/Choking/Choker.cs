namespace Appliance.Seeding.Choking;

/// <summary>
/// What the choker knows about one peer. <c>Snubbed</c>: unchoked and interested, yet it has asked for nothing for a
/// while, so its slot is wasted while others wait.
/// </summary>
public readonly record struct ChokerPeer(long Id, bool Interested, bool Unchoked, long LastUnchokedAt, bool Snubbed = false);

/// <summary>Between rounds: the peers to choke and to unchoke now.</summary>
public readonly record struct ChokerChanges(IReadOnlyList<long> Choke, IReadOnlyList<long> Unchoke)
{
    public static ChokerChanges None { get; } = new([], []);

    public bool IsEmpty => Choke.Count == 0 && Unchoke.Count == 0;
}

/// <summary>
/// The seed's unchoke decisions as pure functions of (peers, slots, round): easy to table-test, no clock or I/O inside.
/// <see cref="Decide"/> is the periodic round: rotating round-robin, each round the regular slots go to the interested
/// peers that have waited longest since their last unchoke (peers unchoked right now, and snubbed ones, go to the back
/// of the line), so with more interested peers than slots every one gets turns. One optimistic slot (when there are at
/// least two slots) goes to a peer picked by the round number among those left, so a newcomer is not always last.
/// <see cref="Refill"/> runs on events between rounds (a peer left, lost interest, was snubbed), so a free slot never
/// stays empty until the next round while someone waits. <c>slots = 0</c> means unlimited.
/// </summary>
public static class Choker
{
    public static IReadOnlySet<long> Decide(IReadOnlyList<ChokerPeer> peers, int slots, long round)
    {
        var interested = new List<ChokerPeer>(peers.Count);
        foreach (var peer in peers)
        {
            if (peer.Interested) interested.Add(peer);
        }
        if (slots <= 0 || interested.Count <= slots) return interested.Select(p => p.Id).ToHashSet();

        interested.Sort(static (a, b) =>
        {
            int c = a.Snubbed.CompareTo(b.Snubbed);
            if (c != 0) return c;
            c = a.Unchoked.CompareTo(b.Unchoked);
            if (c != 0) return c;
            c = a.LastUnchokedAt.CompareTo(b.LastUnchokedAt);
            return c != 0 ? c : a.Id.CompareTo(b.Id);
        });
        int regular = slots >= 2 ? slots - 1 : slots;
        var chosen = new HashSet<long>();
        for (int i = 0; i < regular; i++) chosen.Add(interested[i].Id);
        if (regular < slots)
        {
            var rest = interested.Skip(regular).OrderBy(p => p.Id).ToList();
            chosen.Add(rest[(int)(round % rest.Count)].Id);
        }
        return chosen;
    }

    /// <summary>
    /// Fills free slots at once with the waiting peers (interested, choked) that waited longest. A slot held by an
    /// unchoked peer that is snubbed or no longer interested is taken back, but only for a peer that waits.
    /// </summary>
    public static ChokerChanges Refill(IReadOnlyList<ChokerPeer> peers, int slots)
    {
        var waiting = new List<ChokerPeer>();
        var idle = new List<ChokerPeer>();
        int unchoked = 0;
        foreach (var peer in peers)
        {
            if (peer.Unchoked)
            {
                unchoked++;
                if (!peer.Interested || peer.Snubbed) idle.Add(peer);
            }
            else if (peer.Interested)
            {
                waiting.Add(peer);
            }
        }
        if (waiting.Count == 0) return ChokerChanges.None;
        waiting.Sort(static (a, b) =>
        {
            int c = a.LastUnchokedAt.CompareTo(b.LastUnchokedAt);
            return c != 0 ? c : a.Id.CompareTo(b.Id);
        });
        if (slots <= 0) return new ChokerChanges([], waiting.Select(p => p.Id).ToList());

        int free = Math.Max(0, slots - unchoked);
        // Idle holders give way to waiting peers beyond the free slots; the longest-unchoked first.
        idle.Sort(static (a, b) =>
        {
            int c = a.LastUnchokedAt.CompareTo(b.LastUnchokedAt);
            return c != 0 ? c : a.Id.CompareTo(b.Id);
        });
        int taken = Math.Min(idle.Count, Math.Max(0, waiting.Count - free));
        var choke = idle.Take(taken).Select(p => p.Id).ToList();
        var unchoke = waiting.Take(Math.Min(waiting.Count, free + taken)).Select(p => p.Id).ToList();
        return new ChokerChanges(choke, unchoke);
    }
}
