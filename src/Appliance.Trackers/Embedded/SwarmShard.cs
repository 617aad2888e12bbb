using Appliance.Protocol.Metainfo;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// A share of the swarms, under its own lock (the shard itself): <see cref="Swarm"/> values kept dense in fixed-size
/// chunks, found through an open-addressing table of 4-byte indices keyed by a keyed hash of the info-hash. A swarm thus
/// costs its value and a few bytes of table, with no object or dictionary node of its own, and workers announcing to
/// swarms of different shards do not wait for each other. Chunks rather than one array that grows: a grown array leaves
/// its old copy behind, and while swarms keep arriving those copies live long enough to reach the oldest generation,
/// where they stay as garbage (about four times the swarms' own size at 100,000 swarms) until a full collection.
/// </summary>
internal sealed class SwarmShard
{
    // SipHash with a secret key: in open mode a client picks the info-hashes, and must not be able to pick colliding ones.
    private static readonly ulong K0 = (ulong)Random.Shared.NextInt64(), K1 = (ulong)Random.Shared.NextInt64();

    // 32 swarms of 48 bytes: under 2 KB, so a chunk stays in the small-object heap.
    private const int ChunkBits = 5;
    private const int ChunkSize = 1 << ChunkBits;

    // Swarm i lives at _chunks[i >> ChunkBits][i & (ChunkSize - 1)]; chunks past the last swarm's are null but one.
    private Swarm[]?[] _chunks = [];

    // Slot values: i + 1 for swarm i, 0 for empty. Linear probing, at most three quarters full.
    private int[] _table = [];

    public int Count { get; private set; }

    /// <summary>The IPv4 peers of this shard's small swarms.</summary>
    public PeerSlab Peers { get; private set; } = new();

    public static ulong HashOf(InfoHash hash)
    {
        Span<byte> bytes = stackalloc byte[InfoHash.Length];
        hash.CopyTo(bytes);
        return SipHash.Compute(K0, K1, bytes);
    }

    public ref Swarm At(int i) => ref _chunks[i >> ChunkBits]![i & (ChunkSize - 1)];

    /// <summary>The position of the swarm of <paramref name="hash"/> (whose <see cref="HashOf"/> is <paramref name="code"/>), or -1.</summary>
    public int IndexOf(InfoHash hash, ulong code)
    {
        if (Count == 0) return -1;
        int mask = _table.Length - 1;
        for (int slot = (int)code & mask; ; slot = (slot + 1) & mask)
        {
            int i = _table[slot];
            if (i == 0) return -1;
            if (At(i - 1).Hash == hash) return i - 1;
        }
    }

    /// <summary>Adds an empty swarm for a hash that is not here; returns its position.</summary>
    public int Add(InfoHash hash, ulong code, uint now)
    {
        int chunk = Count >> ChunkBits;
        if (chunk == _chunks.Length) Array.Resize(ref _chunks, Math.Max(4, _chunks.Length * 2));
        _chunks[chunk] ??= new Swarm[ChunkSize];
        if ((Count + 1) * 4 > _table.Length * 3) Rehash(Math.Max(16, _table.Length * 2));
        At(Count) = new Swarm(hash, now);
        Place(Count + 1, code);
        return Count++;
    }

    /// <summary>Moves the swarms' slab blocks into a fresh slab when the old one is mostly holes (<see cref="PeerSlab.IsSparse"/>).</summary>
    public void CompactPeersIfSparse()
    {
        if (!Peers.IsSparse) return;
        var dense = new PeerSlab();
        for (int i = 0; i < Count; i++) At(i).MoveBlock(Peers, dense);
        Peers = dense;
    }

    /// <summary>Removes the swarm at <paramref name="i"/>; the last swarm moves into its place.</summary>
    public void RemoveAt(int i)
    {
        DeleteSlot(SlotOf(i + 1));
        At(i).ReturnPeers(Peers);
        int last = Count - 1;
        if (i != last)
        {
            At(i) = At(last);
            _table[SlotOf(last + 1)] = i + 1;
        }
        At(last) = default;
        Count = last;
        // Keep one empty chunk past the last swarm's, so a swarm coming and going at a chunk's edge does not allocate.
        int spare = (Count >> ChunkBits) + 2;
        if (spare < _chunks.Length) _chunks[spare] = null;
        if (_chunks.Length > 4 && spare * 4 < _chunks.Length) Array.Resize(ref _chunks, _chunks.Length / 2);
        if (_table.Length > 16 && Count * 8 < _table.Length) Rehash(_table.Length / 2);
    }

    private int SlotOf(int value)
    {
        int mask = _table.Length - 1;
        int slot = (int)HashOf(At(value - 1).Hash) & mask;
        while (_table[slot] != value) slot = (slot + 1) & mask;
        return slot;
    }

    // Linear-probing deletion without tombstones: later entries of the cluster that may live in the hole move back.
    private void DeleteSlot(int hole)
    {
        int mask = _table.Length - 1;
        for (int j = (hole + 1) & mask; _table[j] != 0; j = (j + 1) & mask)
        {
            int home = (int)HashOf(At(_table[j] - 1).Hash) & mask;
            bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (stays) continue;
            _table[hole] = _table[j];
            hole = j;
        }
        _table[hole] = 0;
    }

    private void Rehash(int size)
    {
        _table = new int[size];
        for (int i = 0; i < Count; i++) Place(i + 1, HashOf(At(i).Hash));
    }

    private void Place(int value, ulong code)
    {
        int mask = _table.Length - 1;
        int slot = (int)code & mask;
        while (_table[slot] != 0) slot = (slot + 1) & mask;
        _table[slot] = value;
    }
}
