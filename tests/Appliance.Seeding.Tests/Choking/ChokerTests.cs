using Appliance.Seeding.Choking;

namespace Appliance.Seeding.Tests.Choking;

public sealed class ChokerTests
{
    // Peer notation: id, interested, currently unchoked, last unchoked at (long.MinValue = never).
    private static ChokerPeer P(long id, bool interested = true, bool unchoked = false, long lastUnchokedAt = long.MinValue) =>
        new(id, interested, unchoked, lastUnchokedAt);

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
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide_unchokes_the_expected_peers(string because, ChokerPeer[] peers, int slots, long round, long[] expected)
    {
        var unchoked = Choker.Decide(peers, slots, round);
        Assert.True(unchoked.SetEquals(expected), $"{because}: got [{string.Join(", ", unchoked.Order())}], expected [{string.Join(", ", expected.Order())}]");
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
