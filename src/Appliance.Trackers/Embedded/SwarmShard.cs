using Appliance.Protocol.Metainfo;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// A share of the swarms, under its own lock (the shard itself): <see cref="Swarm"/> values kept dense in fixed-size
/// chunks, found through an open-addressing table of 4-byte indices keyed by a keyed hash of the info-hash. A swarm thus
/// costs its value and a few bytes of table, with no object or dictionary node of its own, and workers announcing to
/// swarms of different shards do not wait for each other. Chunks rather than one array that grows: a grown array leaves
/// its old copy behind, and while swarms keep arriving those copies live long enough to reach the oldest generation,
/// where they stay as garbage (about four times the swarms' own size at 100,000 swarms) until a full collection. The
/// few swarms with IPv6 peers or many peers have a <see cref="SwarmOverflow"/> here too, in a table of slots a swarm
/// refers to by number, so the swarm values hold no reference and their chunks are not traced by the collector.
/// </summary>
internal sealed class SwarmShard
{
    // SipHash with a secret key: in open mode a client picks the info-hashes, and must not be able to pick colliding ones.
    private static readonly ulong K0 = (ulong)Random.Shared.NextInt64(), K1 = (ulong)Random.Shared.NextInt64();

    // 32 swarms of 40 bytes: 1.3 KB a chunk.
    private const int ChunkBits = 5;
    private const int ChunkSize = 1 << ChunkBits;

    // Swarm i lives at _chunks[i >> ChunkBits][i & (ChunkSize - 1)]; chunks past the last swarm's are null but one.
    private Swarm[]?[] _chunks = [];

    // Slot values: i + 1 for swarm i, 0 for empty. Linear probing, at most three quarters full.
    private int[] _table = [];

    // Slot i holds the overflow of the swarm whose value names i, or null when free (and on _freeOverflows).
    private SwarmOverflow?[] _overflows = [];
    private int[] _freeOverflows = [];
    private int _overflowSlots, _freeOverflowCount;

    public int Count { get; private set; }

    /// <summary>Overflows in use.</summary>
    public int OverflowCount => _overflowSlots - _freeOverflowCount;

    /// <summary>Overflow slots handed out, in use or free: the most that were in use at once.</summary>
    public int OverflowSlots => _overflowSlots;

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

    public SwarmOverflow Overflow(int slot) => _overflows[slot]!;

    /// <summary>Keeps <paramref name="overflow"/> in a free slot (one freed before, else a new one); returns the slot.</summary>
    public int AddOverflow(SwarmOverflow overflow)
    {
        int slot;
        if (_freeOverflowCount > 0) slot = _freeOverflows[--_freeOverflowCount];
        else
        {
            if (_overflowSlots == _overflows.Length) Array.Resize(ref _overflows, Math.Max(4, _overflows.Length * 2));
            slot = _overflowSlots++;
        }
        _overflows[slot] = overflow;
        return slot;
    }

    public void FreeOverflow(int slot)
    {
        _overflows[slot] = null;
        if (_freeOverflowCount == _freeOverflows.Length) Array.Resize(ref _freeOverflows, Math.Max(4, _freeOverflows.Length * 2));
        _freeOverflows[_freeOverflowCount++] = slot;
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
        At(i).ReturnPeers(this);
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
