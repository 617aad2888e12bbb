namespace Appliance.Seeding.Choking;

/// <summary>What the choker knows about one peer at the start of a round.</summary>
public readonly record struct ChokerPeer(long Id, bool Interested, bool Unchoked, long LastUnchokedAt);

/// <summary>
/// The seed's unchoke decision as a pure function of (peers, slots, round): easy to table-test, no clock or I/O inside.
/// Rotating round-robin: each round the regular slots go to the interested peers that have waited longest since
/// their last unchoke (peers unchoked right now go to the back of the line), so with more interested peers than
/// slots every one gets turns. One optimistic slot (when there are at least two slots) goes to a peer picked by the
/// round number among those left, so a newcomer is not always last. <c>slots = 0</c> means unlimited.
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
            int c = a.Unchoked.CompareTo(b.Unchoked);
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
}
