using Appliance.Protocol.Metainfo;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// A share of the swarms, under its own lock (the shard itself): <see cref="Swarm"/> values in one dense array, found
/// through an open-addressing table of 4-byte indices keyed by a keyed hash of the info-hash. A swarm thus costs its
/// value and a few bytes of table, with no object or dictionary node of its own, and workers announcing to swarms of
/// different shards do not wait for each other.
/// </summary>
internal sealed class SwarmShard
{
    // SipHash with a secret key: in open mode a client picks the info-hashes, and must not be able to pick colliding ones.
    private static readonly ulong K0 = (ulong)Random.Shared.NextInt64(), K1 = (ulong)Random.Shared.NextInt64();

    private Swarm[] _swarms = [];

    // Slot values: i + 1 for _swarms[i], 0 for empty. Linear probing, at most three quarters full.
    private int[] _table = [];

    public int Count { get; private set; }

    public static ulong HashOf(InfoHash hash)
    {
        Span<byte> bytes = stackalloc byte[InfoHash.Length];
        hash.CopyTo(bytes);
        return SipHash.Compute(K0, K1, bytes);
    }

    public ref Swarm At(int i) => ref _swarms[i];

    /// <summary>The position of the swarm of <paramref name="hash"/> (whose <see cref="HashOf"/> is <paramref name="code"/>), or -1.</summary>
    public int IndexOf(InfoHash hash, ulong code)
    {
        if (Count == 0) return -1;
        int mask = _table.Length - 1;
        for (int slot = (int)code & mask; ; slot = (slot + 1) & mask)
        {
            int i = _table[slot];
            if (i == 0) return -1;
            if (_swarms[i - 1].Hash == hash) return i - 1;
        }
    }

    /// <summary>Adds an empty swarm for a hash that is not here; returns its position.</summary>
    public int Add(InfoHash hash, ulong code, uint now)
    {
        if (Count == _swarms.Length) Array.Resize(ref _swarms, _swarms.Length + Math.Max(8, _swarms.Length / 4));
        if ((Count + 1) * 4 > _table.Length * 3) Rehash(Math.Max(16, _table.Length * 2));
        _swarms[Count] = new Swarm(hash, now);
        Place(Count + 1, code);
        return Count++;
    }

    /// <summary>Removes the swarm at <paramref name="i"/>; the last swarm moves into its place.</summary>
    public void RemoveAt(int i)
    {
        DeleteSlot(SlotOf(i + 1));
        int last = Count - 1;
        if (i != last)
        {
            _swarms[i] = _swarms[last];
            _table[SlotOf(last + 1)] = i + 1;
        }
        _swarms[last] = default;
        Count = last;
        if (_swarms.Length > 16 && Count * 2 < _swarms.Length) Array.Resize(ref _swarms, Count + Math.Max(8, Count / 4));
        if (_table.Length > 16 && Count * 8 < _table.Length) Rehash(_table.Length / 2);
    }

    private int SlotOf(int value)
    {
        int mask = _table.Length - 1;
        int slot = (int)HashOf(_swarms[value - 1].Hash) & mask;
        while (_table[slot] != value) slot = (slot + 1) & mask;
        return slot;
    }

    // Linear-probing deletion without tombstones: later entries of the cluster that may live in the hole move back.
    private void DeleteSlot(int hole)
    {
        int mask = _table.Length - 1;
        for (int j = (hole + 1) & mask; _table[j] != 0; j = (j + 1) & mask)
        {
            int home = (int)HashOf(_swarms[_table[j] - 1].Hash) & mask;
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
        for (int i = 0; i < Count; i++) Place(i + 1, HashOf(_swarms[i].Hash));
    }

    private void Place(int value, ulong code)
    {
        int mask = _table.Length - 1;
        int slot = (int)code & mask;
        while (_table[slot] != 0) slot = (slot + 1) & mask;
        _table[slot] = value;
    }
}
