using Appliance.Seeding.Choking;

namespace Appliance.Seeding.Tests.Choking;

public sealed class ChokerTests
{
    // Peer notation: id, interested, currently unchoked, last unchoked at (long.MinValue = never).
    private static ChokerPeer P(long id, bool interested = true, bool unchoked = false, long lastUnchokedAt = long.MinValue, bool snubbed = false) =>
        new(id, interested, unchoked, lastUnchokedAt, snubbed);

    public static TheoryData<string, ChokerPeer[], int, long, long[]> Table => new()
    {
        { "unlimited slots unchoke every interested peer", [P(1), P(2), P(3, interested: false)], 0, 1, [1, 2] },
        { "fewer interested peers than slots: all of them", [P(1), P(2)], 4, 1, [1, 2] },
        { "nobody interested: nobody unchoked", [P(1, interested: false), P(2, interested: false)], 2, 1, [] },
        { "one slot goes to the peer that waited longest", [P(1, unchoked: true, lastUnchokedAt: 50), P(2, lastUnchokedAt: 10), P(3, lastUnchokedAt: 20)], 1, 1, [2] },
        { "never-unchoked peers come first", [P(1, lastUnchokedAt: 5), P(2), P(3, lastUnchokedAt: 1)], 1, 7, [2] },
        { "unchoked peers rotate to the back of the line", [P(1, unchoked: true, lastUnchokedAt: 1), P(2, unchoked: true, lastUnchokedAt: 2), P(3, lastUnchokedAt: 90), P(4, lastUnchokedAt: 80)], 2, 2, [4, 3] },
        // Three slots: two regular by waiting time (4 never, then 3), one optimistic among the rest {1, 2, 5} by round.
        { "optimistic slot picks by round among the rest (round 0)", [P(1, unchoked: true, lastUnchokedAt: 1), P(2, unchoked: true, lastUnchokedAt: 2), P(3, lastUnchokedAt: 9), P(4), P(5, unchoked: true, lastUnchokedAt: 3)], 3, 0, [4, 3, 1] },
        { "optimistic slot picks by round among the rest (round 1)", [P(1, unchoked: true, lastUnchokedAt: 1), P(2, unchoked: true, lastUnchokedAt: 2), P(3, lastUnchokedAt: 9), P(4), P(5, unchoked: true, lastUnchokedAt: 3)], 3, 1, [4, 3, 2] },
        { "optimistic slot picks by round among the rest (round 5)", [P(1, unchoked: true, lastUnchokedAt: 1), P(2, unchoked: true, lastUnchokedAt: 2), P(3, lastUnchokedAt: 9), P(4), P(5, unchoked: true, lastUnchokedAt: 3)], 3, 5, [4, 3, 5] },
        { "uninterested peers never take a slot", [P(1, interested: false), P(2, interested: false), P(3)], 1, 1, [3] },
        { "ties broken by id", [P(9), P(3), P(5)], 1, 1, [3] },
        { "snubbed peers go to the back of the line", [P(1, unchoked: true, lastUnchokedAt: 1, snubbed: true), P(2, lastUnchokedAt: 5), P(3, lastUnchokedAt: 6)], 1, 1, [2] },
    };

    // Events between rounds: each row is the peer table right after the event, and what the choker does at once.
    public static TheoryData<string, ChokerPeer[], int, long[], long[]> Events => new()
    {
        { "interested with a free slot: unchoked at once", [P(1, unchoked: true, lastUnchokedAt: 1), P(2)], 2, [], [2] },
        { "interested with no free slot: waits for the round", [P(1, unchoked: true, lastUnchokedAt: 1), P(2)], 1, [], [] },
        { "a peer disconnected: its slot goes to the peer that waited longest", [P(1, unchoked: true, lastUnchokedAt: 1), P(2, lastUnchokedAt: 9), P(3, lastUnchokedAt: 4)], 2, [], [3] },
        { "a peer lost interest (and was choked): its slot goes to a waiting peer", [P(1, interested: false, lastUnchokedAt: 1), P(2, unchoked: true, lastUnchokedAt: 2), P(3)], 2, [], [3] },
        { "an unchoked peer that is not interested gives way", [P(1, interested: false, unchoked: true, lastUnchokedAt: 1), P(2)], 1, [1], [2] },
        { "a snubbed peer gives way to a waiting peer", [P(1, unchoked: true, lastUnchokedAt: 1, snubbed: true), P(2, unchoked: true, lastUnchokedAt: 2), P(3)], 2, [1], [3] },
        { "a snubbed peer keeps its slot when nobody waits", [P(1, unchoked: true, lastUnchokedAt: 1, snubbed: true), P(2, interested: false)], 1, [], [] },
        { "only as many snubbed peers give way as peers wait", [P(1, unchoked: true, lastUnchokedAt: 1, snubbed: true), P(2, unchoked: true, lastUnchokedAt: 2, snubbed: true), P(3)], 2, [1], [3] },
        { "several free slots fill at once", [P(1), P(2), P(3), P(4, interested: false)], 2, [], [1, 2] },
        { "unlimited slots: every waiting peer", [P(1), P(2), P(3, interested: false)], 0, [], [1, 2] },
        { "slots over-full after a lowered limit: nothing unchoked", [P(1, unchoked: true, lastUnchokedAt: 1), P(2, unchoked: true, lastUnchokedAt: 2), P(3)], 1, [], [] },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide_unchokes_the_expected_peers(string because, ChokerPeer[] peers, int slots, long round, long[] expected)
    {
        var unchoked = Choker.Decide(peers, slots, round);
        Assert.True(unchoked.SetEquals(expected), $"{because}: got [{string.Join(", ", unchoked.Order())}], expected [{string.Join(", ", expected.Order())}]");
    }

    [Theory]
    [MemberData(nameof(Events))]
    public void Refill_after_an_event_chokes_and_unchokes_the_expected_peers(string because, ChokerPeer[] peers, int slots, long[] choke, long[] unchoke)
    {
        var changes = Choker.Refill(peers, slots);
        Assert.True(changes.Choke.Order().SequenceEqual(choke.Order()), $"{because}: choked [{string.Join(", ", changes.Choke)}]");
        Assert.True(changes.Unchoke.Order().SequenceEqual(unchoke.Order()), $"{because}: unchoked [{string.Join(", ", changes.Unchoke)}]");
    }

    [Fact]
    public void Over_successive_rounds_every_interested_peer_gets_a_turn()
    {
        var peers = Enumerable.Range(1, 10).Select(i => P(i)).ToArray();
        var served = new HashSet<long>();
        for (long round = 1; round <= 10; round++)
        {
            var unchoked = Choker.Decide(peers, 2, round);
            Assert.Equal(2, unchoked.Count);
            served.UnionWith(unchoked);
            peers = [.. peers.Select(p => unchoked.Contains(p.Id) ? p with { Unchoked = true, LastUnchokedAt = round } : p with { Unchoked = false })];
        }
        Assert.Equal(10, served.Count);
    }
}
