using System.Buffers.Binary;
using Appliance.Protocol.Metainfo;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// One swarm, kept as a value in its <see cref="SwarmShard"/>'s array. An IPv4 peer is 8 bytes (address, port, a 15-bit
/// last-seen tick and the seed bit) in a block of the shard's <see cref="PeerSlab"/> sized close to its count. IPv6 peers,
/// IPv4 peers past <see cref="PeerSlab.MaxLength"/>, and the index a swarm builds once it holds more than
/// <see cref="LinearLimit"/> peers live in a <see cref="SwarmOverflow"/> that a small IPv4 swarm does not have: up to that
/// size a peer is found by scanning, which also counts its source's ports. Not thread-safe: the shard's lock guards it.
/// </summary>
internal struct Swarm
{
    /// <summary>Up to this many peers a swarm is scanned; past it, an index keyed by source finds a peer.</summary>
    public const int LinearLimit = 32;

    // Large enough that two of a reply's few dozen sources rarely share a bit (a shared bit only defers one to the second walk).
    private const int SourceBits = 2048;

    // Keys the index and reply sampling so a client cannot pick addresses that collide.
    private static readonly ulong HashSeed = (ulong)Random.Shared.NextInt64();

    public readonly InfoHash Hash;

    private SwarmOverflow? _more;

    // The IPv4 peers, address << 32 | port << 16 | tick << 1 | seed: the overflow's V4 array when it has one, else the
    // slab block at handle _v4Block >> 6 of _v4Block & 63 entries (one int, not two: the value is 48 bytes, not 56).
    private int _v4Block, _v4Count;

    public int Seeders;
    public int Downloaded;

    /// <summary>Seconds (store time) of the last sweep.</summary>
    public uint LastSweep;

    public Swarm(InfoHash hash, uint now)
    {
        Hash = hash;
        LastSweep = now;
    }

    public readonly int Count => _v4Count + (_more?.V6Count ?? 0);

    /// <summary>The source a peer's limits are counted by: its IPv4 address, or its IPv6 /64 (one subscriber's prefix).</summary>
    public static ulong SourceKey(PeerAddress address) =>
        address.IsV6 ? (ulong)(address.Address >> 64) : 0xFFFF_FFFF_0000_0000UL | (uint)address.Address;

    /// <summary>Adds or refreshes a peer; returns 1 if it was added. A new peer is refused (silently: its announce is still
    /// answered) when the swarm holds <paramref name="maxPeers"/> or its source already holds <paramref name="maxPortsPerSource"/>.</summary>
    public int Upsert(PeerAddress address, bool seed, bool pinned, in PeerClock clock, int maxPeers, int maxPortsPerSource, PeerSlab slab)
    {
        var v4 = V4(slab);
        int code = Find(v4, address, SourceKey(address), out int sameSource, out int free);
        if (code != 0)
        {
            int meta = MetaOf(v4, code);
            if (((meta & 1) != 0) != seed) Seeders += seed ? 1 : -1;
            int tick = pinned || meta >> 1 == PeerClock.Pinned ? PeerClock.Pinned : clock.Tick;
            SetMeta(v4, code, Meta(tick, seed));
            return 0;
        }
        if (Count >= maxPeers || sameSource >= maxPortsPerSource) return 0;
        ushort newMeta = Meta(pinned ? PeerClock.Pinned : clock.Tick, seed);
        if (address.IsV6)
        {
            var more = _more ??= new SwarmOverflow();
            if (more.V6Count == more.V6.Length) Array.Resize(ref more.V6, Grown(more.V6.Length));
            more.V6[more.V6Count] = new V6Peer
            {
                Hi = (ulong)(address.Address >> 64), Lo = (ulong)address.Address, Port = address.Port, Meta = newMeta,
            };
            code = -++more.V6Count;
        }
        else
        {
            if (_v4Count == v4.Length) v4 = Resize(Grown(v4.Length), slab);
            v4[_v4Count] = (ulong)(uint)address.Address << 32 | (ulong)address.Port << 16 | newMeta;
            code = ++_v4Count;
        }
        if (seed) Seeders++;
        if (_more?.Index is { } index)
        {
            if (Count * 2 > index.Length) Rehash(v4, index.Length * 2);
            else index[free] = code;
        }
        else if (Count > LinearLimit)
        {
            _more ??= new SwarmOverflow();
            Rehash(v4, LinearLimit * 4);
        }
        return 1;
    }

    /// <summary>Removes a peer; returns 1 if it was there.</summary>
    public int Remove(PeerAddress address, PeerSlab slab)
    {
        var v4 = V4(slab);
        int code = Find(v4, address, SourceKey(address), out _, out _);
        if (code == 0) return 0;
        RemoveCode(v4, code);
        return 1;
    }

    /// <summary>Drops expired peers and gives back unused room; returns how many were dropped.</summary>
    public int Sweep(in PeerClock clock, PeerSlab slab)
    {
        // An announce sweeps first when the last sweep is over half a timeout old, so every stored peer was seen no later
        // than half a timeout after the last sweep. Past one and a half timeouts since then, all have expired; before
        // that, the oldest tick is at most two and a half timeouts old, so none has come round again.
        bool all = clock.Now > LastSweep && clock.Now - LastSweep > clock.TimeoutSeconds + clock.TimeoutSeconds / 2;
        LastSweep = Math.Max(LastSweep, clock.Now);
        int removed = 0;
        var v4 = V4(slab);
        // From the end: removing i moves the last peer (already checked) into i.
        for (int i = _v4Count - 1; i >= 0; i--)
        {
            int tick = (int)(v4[i] >> 1) & 0x7FFF;
            if (tick == PeerClock.Pinned || (!all && !clock.IsExpired(tick))) continue;
            RemoveCode(v4, i + 1);
            removed++;
        }
        if (_more is { } more)
        {
            for (int i = more.V6Count - 1; i >= 0; i--)
            {
                int tick = more.V6[i].Meta >> 1;
                if (tick == PeerClock.Pinned || (!all && !clock.IsExpired(tick))) continue;
                RemoveCode(v4, -(i + 1));
                removed++;
            }
        }
        if (v4.Length - _v4Count > 2 * Math.Max(2, _v4Count / 4)) v4 = Resize(_v4Count, slab);
        if (_more is { } overflow)
        {
            Fit(ref overflow.V6, overflow.V6Count);
            if (overflow.Index is { } index)
            {
                if (Count <= LinearLimit / 2) overflow.Index = null;
                else if (index.Length > LinearLimit * 4 && Count * 8 < index.Length) Rehash(v4, index.Length / 2);
            }
            if (overflow.V6Count == 0 && overflow.Index is null && overflow.V4 is null) _more = null;
        }
        return removed;
    }

    /// <summary>
    /// Writes up to <paramref name="want"/> peers, walking from a random point. A seed gets leechers first and then seeds:
    /// a client that joined by magnet link announces left=0 before it has the metadata, and must still learn of a seed.
    /// Within each group, every source gets one peer in before any source gets a second, so one address (or /64) with
    /// many ports, or a run of peers announced together, cannot fill the list.
    /// </summary>
    public readonly (int V4, int V6) Select(PeerAddress self, bool selfIsSeed, int want, in PeerClock clock, Span<byte> v4, Span<byte> v6, PeerSlab slab)
    {
        int count = Count;
        if (count == 0 || want <= 0) return (0, 0);
        var cursor = new Cursor
        {
            Peers = V4(slab), V4 = v4, V6 = v6, Want = want, Self = self, Clock = clock, Start = Random.Shared.Next(count),
        };
        if (selfIsSeed)
        {
            Walk(ref cursor, Filter.Leechers, repeats: false);
            Walk(ref cursor, Filter.Leechers, repeats: true);
            Walk(ref cursor, Filter.Seeds, repeats: false);
            Walk(ref cursor, Filter.Seeds, repeats: true);
        }
        else
        {
            Walk(ref cursor, Filter.All, repeats: false);
            Walk(ref cursor, Filter.All, repeats: true);
        }
        return (cursor.V4Bytes, cursor.V6Bytes);
    }

    private enum Filter { All, Leechers, Seeds }

    private ref struct Cursor
    {
        public ReadOnlySpan<ulong> Peers;
        public Span<byte> V4, V6;
        public int V4Bytes, V6Bytes, Taken, Want, Start;
        public PeerAddress Self;
        public PeerClock Clock;
    }

    // One walk marks each source in a small keyed bitmap. The first walk sends the peers whose source was unmarked; the
    // second replays the same marking and sends exactly the peers the first skipped, so nothing is sent twice.
    private readonly void Walk(ref Cursor c, Filter filter, bool repeats)
    {
        if (c.Taken >= c.Want) return;
        Span<ulong> marked = stackalloc ulong[SourceBits / 64];
        int count = Count;
        V6Peer[] v6 = _more?.V6 ?? [];
        for (int n = 0; n < count && c.Taken < c.Want; n++)
        {
            int k = c.Start + n;
            if (k >= count) k -= count;
            bool isV6 = k >= _v4Count;
            int meta;
            ulong key;
            if (isV6)
            {
                ref readonly var p = ref v6[k - _v4Count];
                if (c.Self.IsV6 && c.Self.Port == p.Port && c.Self.Address == (((UInt128)p.Hi << 64) | p.Lo)) continue;
                (meta, key) = (p.Meta, p.Hi);
                if (c.V6.Length - c.V6Bytes < 18) continue;
            }
            else
            {
                ulong p = c.Peers[k];
                if (!c.Self.IsV6 && p >> 16 == ((ulong)(uint)c.Self.Address << 16 | c.Self.Port)) continue;
                (meta, key) = ((ushort)p, 0xFFFF_FFFF_0000_0000UL | (p >> 32));
                if (c.V4.Length - c.V4Bytes < 6) continue;
            }
            if (c.Clock.IsExpired(meta >> 1)) continue;
            bool seed = (meta & 1) != 0;
            if ((filter == Filter.Leechers && seed) || (filter == Filter.Seeds && !seed)) continue;
            int bit = (int)(Hash64(key) >> 53) & (SourceBits - 1);
            bool repeat = (marked[bit >> 6] & (1UL << bit)) != 0;
            marked[bit >> 6] |= 1UL << bit;
            if (repeat != repeats) continue;
            if (isV6)
            {
                ref readonly var p = ref v6[k - _v4Count];
                var into = c.V6[c.V6Bytes..];
                BinaryPrimitives.WriteUInt64BigEndian(into, p.Hi);
                BinaryPrimitives.WriteUInt64BigEndian(into[8..], p.Lo);
                BinaryPrimitives.WriteUInt16BigEndian(into[16..], p.Port);
                c.V6Bytes += 18;
            }
            else
            {
                ulong p = c.Peers[k];
                var into = c.V4[c.V4Bytes..];
                BinaryPrimitives.WriteUInt32BigEndian(into, (uint)(p >> 32));
                BinaryPrimitives.WriteUInt16BigEndian(into[4..], (ushort)(p >> 16));
                c.V4Bytes += 6;
            }
            c.Taken++;
        }
    }

    private static ushort Meta(int tick, bool seed) => (ushort)(tick << 1 | (seed ? 1 : 0));

    // Small arrays grow by two entries, larger ones by a quarter: a swarm of 10 peers holds 10 slots, not 16.
    private static int Grown(int length) => length + Math.Max(2, length / 4);

    /// <summary>Gives the IPv4 peers' block back to <paramref name="slab"/> (a swarm that goes away).</summary>
    public void ReturnPeers(PeerSlab slab) => ReleaseV4(slab);

    /// <summary>Copies the IPv4 peers' slab block, if they have one, into <paramref name="to"/> (a shard compacting its slab).</summary>
    public void MoveBlock(PeerSlab from, PeerSlab to)
    {
        int length = _v4Block & 63;
        if (_more?.V4 is not null || length == 0) return;
        int at = to.Rent(length);
        from.Block(_v4Block >> 6, length).CopyTo(to.Block(at, length));
        _v4Block = at << 6 | length;
    }

    private readonly Span<ulong> V4(PeerSlab slab) => _more?.V4 is { } array ? array : slab.Block(_v4Block >> 6, _v4Block & 63);

    // Moves the IPv4 peers into room for length entries: a slab block up to PeerSlab.MaxLength, an array of their own past it.
    private Span<ulong> Resize(int length, PeerSlab slab)
    {
        var old = V4(slab);
        if (length <= PeerSlab.MaxLength)
        {
            int at = slab.Rent(length);
            var block = slab.Block(at, length);
            old[.._v4Count].CopyTo(block);
            ReleaseV4(slab);
            _v4Block = at << 6 | length;
            return block;
        }
        var array = new ulong[length];
        old[.._v4Count].CopyTo(array);
        ReleaseV4(slab);
        (_more ??= new SwarmOverflow()).V4 = array;
        return array;
    }

    private void ReleaseV4(PeerSlab slab)
    {
        if (_more?.V4 is not null) _more.V4 = null;
        else slab.Return(_v4Block >> 6, _v4Block & 63);
        _v4Block = 0;
    }

    private static void Fit<T>(ref T[] array, int count)
    {
        if (array.Length - count <= 2 * Math.Max(2, count / 4)) return;
        if (count == 0) array = [];
        else Array.Resize(ref array, count);
    }

    private static ulong Hash64(ulong key) => (key ^ HashSeed) * 0x9E3779B97F4A7C15UL;

    private static int Home(ulong key, int mask) => (int)(Hash64(key) >> 32) & mask;

    // Codes: i + 1 for IPv4 peer i, -(i + 1) for the overflow's V6[i], 0 for none (an empty index slot).
    private readonly int MetaOf(Span<ulong> v4, int code) => code > 0 ? (ushort)v4[code - 1] : _more!.V6[-code - 1].Meta;

    private readonly void SetMeta(Span<ulong> v4, int code, ushort meta)
    {
        if (code > 0) v4[code - 1] = (v4[code - 1] & ~0xFFFFUL) | meta;
        else _more!.V6[-code - 1].Meta = meta;
    }

    private readonly ulong KeyOf(Span<ulong> v4, int code) => code > 0 ? 0xFFFF_FFFF_0000_0000UL | (v4[code - 1] >> 32) : _more!.V6[-code - 1].Hi;

    /// <summary>The code of <paramref name="address"/> or 0; counts that source's peers met on the way and, with an index,
    /// finds a free slot.</summary>
    private readonly int Find(Span<ulong> v4, PeerAddress address, ulong key, out int sameSource, out int free)
    {
        sameSource = 0;
        free = -1;
        var index = _more?.Index;
        if (index is null)
        {
            if (address.IsV6)
            {
                if (_more is null) return 0;
                var v6 = _more.V6;
                ulong lo = (ulong)address.Address;
                for (int i = 0; i < _more.V6Count; i++)
                {
                    if (v6[i].Hi != key) continue;
                    sameSource++;
                    if (v6[i].Lo == lo && v6[i].Port == address.Port) return -(i + 1);
                }
                return 0;
            }
            uint source = (uint)address.Address;
            ulong wanted = (ulong)source << 16 | address.Port;
            for (int i = 0; i < _v4Count; i++)
            {
                ulong p = v4[i];
                if ((uint)(p >> 32) != source) continue;
                sameSource++;
                if (p >> 16 == wanted) return i + 1;
            }
            return 0;
        }
        int mask = index.Length - 1;
        for (int slot = Home(key, mask); ; slot = (slot + 1) & mask)
        {
            int code = index[slot];
            if (code == 0)
            {
                free = slot;
                return 0;
            }
            if (KeyOf(v4, code) != key) continue;
            sameSource++;
            if (code > 0)
            {
                if (!address.IsV6 && v4[code - 1] >> 16 == ((ulong)(uint)address.Address << 16 | address.Port)) return code;
            }
            else
            {
                ref readonly var p = ref _more!.V6[-code - 1];
                if (address.IsV6 && p.Port == address.Port && p.Lo == (ulong)address.Address) return code;
            }
        }
    }

    private void RemoveCode(Span<ulong> v4, int code)
    {
        var index = _more?.Index;
        if (index is not null) DeleteSlot(v4, index, SlotOf(v4, index, code));
        if (code > 0)
        {
            int i = code - 1, last = --_v4Count;
            if ((v4[i] & 1) != 0) Seeders--;
            if (i != last)
            {
                v4[i] = v4[last];
                if (index is not null) index[SlotOf(v4, index, last + 1)] = code;
            }
            v4[last] = 0;
        }
        else
        {
            var more = _more!;
            int i = -code - 1, last = --more.V6Count;
            if ((more.V6[i].Meta & 1) != 0) Seeders--;
            if (i != last)
            {
                more.V6[i] = more.V6[last];
                if (index is not null) index[SlotOf(v4, index, -(last + 1))] = code;
            }
            more.V6[last] = default;
        }
    }

    private readonly int SlotOf(Span<ulong> v4, int[] index, int code)
    {
        int mask = index.Length - 1;
        int slot = Home(KeyOf(v4, code), mask);
        while (index[slot] != code) slot = (slot + 1) & mask;
        return slot;
    }

    // Linear-probing deletion without tombstones: later entries of the cluster that may live in the hole move back.
    private readonly void DeleteSlot(Span<ulong> v4, int[] index, int hole)
    {
        int mask = index.Length - 1;
        for (int j = (hole + 1) & mask; index[j] != 0; j = (j + 1) & mask)
        {
            int home = Home(KeyOf(v4, index[j]), mask);
            bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (stays) continue;
            index[hole] = index[j];
            hole = j;
        }
        index[hole] = 0;
    }

    private readonly void Rehash(Span<ulong> v4, int size)
    {
        var index = _more!.Index = new int[size];
        int mask = size - 1;
        for (int i = 0; i < _v4Count; i++) Place(v4, index, i + 1, mask);
        for (int i = 0; i < _more.V6Count; i++) Place(v4, index, -(i + 1), mask);
    }

    private readonly void Place(Span<ulong> v4, int[] index, int code, int mask)
    {
        int slot = Home(KeyOf(v4, code), mask);
        while (index[slot] != 0) slot = (slot + 1) & mask;
        index[slot] = code;
    }
}

/// <summary>What a small IPv4 swarm does without: its IPv6 peers, the array of IPv4 peers too many for a slab block, and the
/// index of a swarm past <see cref="Swarm.LinearLimit"/>.</summary>
internal sealed class SwarmOverflow
{
    public ulong[]? V4;
    public V6Peer[] V6 = [];
    public int V6Count;

    // Slot values: i + 1 for a swarm's IPv4 peer i, -(i + 1) for V6[i], 0 for empty. Keyed by source, linear probing, at most half full.
    public int[]? Index;
}

internal struct V6Peer
{
    public ulong Hi, Lo;
    public ushort Port;

    // tick << 1 | seed, as in an IPv4 entry's low 16 bits.
    public ushort Meta;
}
