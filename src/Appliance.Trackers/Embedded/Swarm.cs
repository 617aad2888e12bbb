using System.Buffers.Binary;
using Appliance.Protocol.Metainfo;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// One swarm, kept as a value in its <see cref="SwarmShard"/>'s chunks. An IPv4 peer is 8 bytes (address, port, a 15-bit
/// last-seen tick and the seed bit) in a block of the shard's <see cref="PeerSlab"/> sized close to its count. A swarm with
/// IPv6 peers, or with more than <see cref="LinearLimit"/> peers (which it finds through an index rather than by scanning,
/// the scan also counting its source's ports), has a <see cref="SwarmOverflow"/> in its shard, and keeps all its IPv4 peers
/// in the overflow's array while it does. The value holds no reference: the shard's chunks are not traced by the collector.
/// Not thread-safe: the shard's lock guards it.
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

    // Where the IPv4 peers (address << 32 | port << 16 | tick << 1 | seed) are. From 0 up: the slab block at handle
    // _v4 >> 6 of _v4 & 63 entries. Below 0: the V4 array of the overflow in the shard's slot ~_v4. One int for the
    // block and the overflow, no reference: the value is 40 bytes.
    private int _v4;

    // All peers, IPv4 and IPv6; without an overflow all are IPv4.
    private int _count;

    public int Seeders;
    public int Downloaded;

    /// <summary>Seconds (store time) of the last sweep.</summary>
    public uint LastSweep;

    public Swarm(InfoHash hash, uint now)
    {
        Hash = hash;
        LastSweep = now;
    }

    public readonly int Count => _count;

    /// <summary>The source a peer's limits are counted by: its IPv4 address, or its IPv6 /64 (one subscriber's prefix).</summary>
    public static ulong SourceKey(PeerAddress address) =>
        address.IsV6 ? (ulong)(address.Address >> 64) : 0xFFFF_FFFF_0000_0000UL | (uint)address.Address;

    /// <summary>Adds or refreshes a peer; returns 1 if it was added. A new peer is refused (silently: its announce is still
    /// answered) when the swarm holds <paramref name="maxPeers"/> or its source already holds <paramref name="maxPortsPerSource"/>.</summary>
    public int Upsert(PeerAddress address, bool seed, bool pinned, in PeerClock clock, int maxPeers, int maxPortsPerSource, SwarmShard shard)
    {
        var more = Overflow(shard);
        var v4 = V4(shard, more);
        int code = Find(v4, more, address, SourceKey(address), out int sameSource, out int free);
        if (code != 0)
        {
            int meta = MetaOf(v4, more, code);
            if (((meta & 1) != 0) != seed) Seeders += seed ? 1 : -1;
            int tick = pinned || meta >> 1 == PeerClock.Pinned ? PeerClock.Pinned : clock.Tick;
            SetMeta(v4, more, code, Meta(tick, seed));
            return 0;
        }
        if (_count >= maxPeers || sameSource >= maxPortsPerSource) return 0;
        ushort newMeta = Meta(pinned ? PeerClock.Pinned : clock.Tick, seed);
        if (address.IsV6)
        {
            if (more is null)
            {
                more = Spill(shard);
                v4 = more.V4;
            }
            if (more.V6Count == more.V6.Length) Array.Resize(ref more.V6, Grown(more.V6.Length));
            more.V6[more.V6Count] = new V6Peer
            {
                Hi = (ulong)(address.Address >> 64), Lo = (ulong)address.Address, Port = address.Port, Meta = newMeta,
            };
            code = -++more.V6Count;
        }
        else
        {
            int n = V4Count(more);
            if (n == v4.Length) v4 = Grow(shard, ref more, Grown(n));
            v4[n] = (ulong)(uint)address.Address << 32 | (ulong)address.Port << 16 | newMeta;
            code = n + 1;
        }
        _count++;
        if (seed) Seeders++;
        if (more?.Index is { } index)
        {
            if (_count * 2 > index.Length) Rehash(v4, more, index.Length * 2);
            else index[free] = code;
        }
        else if (_count > LinearLimit)
        {
            more ??= Spill(shard);
            Rehash(more.V4, more, LinearLimit * 4);
        }
        return 1;
    }

    /// <summary>Removes a peer; returns 1 if it was there.</summary>
    public int Remove(PeerAddress address, SwarmShard shard)
    {
        var more = Overflow(shard);
        var v4 = V4(shard, more);
        int code = Find(v4, more, address, SourceKey(address), out _, out _);
        if (code == 0) return 0;
        RemoveCode(v4, more, code);
        return 1;
    }

    /// <summary>Drops expired peers and gives back unused room; returns how many were dropped.</summary>
    public int Sweep(in PeerClock clock, SwarmShard shard)
    {
        // An announce sweeps first when the last sweep is over half a timeout old, so every stored peer was seen no later
        // than half a timeout after the last sweep. Past one and a half timeouts since then, all have expired; before
        // that, the oldest tick is at most two and a half timeouts old, so none has come round again.
        bool all = clock.Now > LastSweep && clock.Now - LastSweep > clock.TimeoutSeconds + clock.TimeoutSeconds / 2;
        LastSweep = Math.Max(LastSweep, clock.Now);
        int removed = 0;
        var more = Overflow(shard);
        var v4 = V4(shard, more);
        // From the end: removing i moves the last peer (already checked) into i.
        for (int i = V4Count(more) - 1; i >= 0; i--)
        {
            int tick = (int)(v4[i] >> 1) & 0x7FFF;
            if (tick == PeerClock.Pinned || (!all && !clock.IsExpired(tick))) continue;
            RemoveCode(v4, more, i + 1);
            removed++;
        }
        if (more is null)
        {
            if (v4.Length - _count > 2 * Math.Max(2, _count / 4)) Reblock(shard.Peers, v4, _count);
            return removed;
        }
        for (int i = more.V6Count - 1; i >= 0; i--)
        {
            int tick = more.V6[i].Meta >> 1;
            if (tick == PeerClock.Pinned || (!all && !clock.IsExpired(tick))) continue;
            RemoveCode(v4, more, -(i + 1));
            removed++;
        }
        Fit(ref more.V6, more.V6Count);
        if (more.Index is { } index)
        {
            if (_count <= LinearLimit / 2) more.Index = null;
            else if (index.Length > LinearLimit * 4 && _count * 8 < index.Length) Rehash(v4, more, index.Length / 2);
        }
        if (more.V6Count == 0 && more.Index is null) Unspill(shard, more);
        else Fit(ref more.V4, V4Count(more));
        return removed;
    }

    /// <summary>
    /// Writes up to <paramref name="want"/> peers, walking from a random point. A seed gets leechers first and then seeds:
    /// a client that joined by magnet link announces left=0 before it has the metadata, and must still learn of a seed.
    /// Within each group, every source gets one peer in before any source gets a second, so one address (or /64) with
    /// many ports, or a run of peers announced together, cannot fill the list.
    /// </summary>
    public readonly (int V4, int V6) Select(PeerAddress self, bool selfIsSeed, int want, in PeerClock clock, Span<byte> v4, Span<byte> v6, SwarmShard shard)
    {
        if (_count == 0 || want <= 0) return (0, 0);
        var more = Overflow(shard);
        var cursor = new Cursor
        {
            Peers = V4(shard, more), V4Count = V4Count(more), V6Peers = more is null ? default : more.V6,
            V4 = v4, V6 = v6, Want = want, Self = self, Clock = clock, Start = Random.Shared.Next(_count),
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
        public ReadOnlySpan<V6Peer> V6Peers;
        public Span<byte> V4, V6;
        public int V4Count, V4Bytes, V6Bytes, Taken, Want, Start;
        public PeerAddress Self;
        public PeerClock Clock;
    }

    // One walk marks each source in a small keyed bitmap. The first walk sends the peers whose source was unmarked; the
    // second replays the same marking and sends exactly the peers the first skipped, so nothing is sent twice.
    private readonly void Walk(ref Cursor c, Filter filter, bool repeats)
    {
        if (c.Taken >= c.Want) return;
        Span<ulong> marked = stackalloc ulong[SourceBits / 64];
        int count = _count;
        var v6 = c.V6Peers;
        for (int n = 0; n < count && c.Taken < c.Want; n++)
        {
            int k = c.Start + n;
            if (k >= count) k -= count;
            bool isV6 = k >= c.V4Count;
            int meta;
            ulong key;
            if (isV6)
            {
                ref readonly var p = ref v6[k - c.V4Count];
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
                ref readonly var p = ref v6[k - c.V4Count];
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

    /// <summary>Gives back the IPv4 peers' slab block or the overflow's slot (a swarm that goes away).</summary>
    public void ReturnPeers(SwarmShard shard)
    {
        if (_v4 < 0) shard.FreeOverflow(~_v4);
        else shard.Peers.Return(_v4 >> 6, _v4 & 63);
        _v4 = 0;
    }

    /// <summary>Copies the IPv4 peers' slab block, if they have one, into <paramref name="to"/> (a shard compacting its slab).</summary>
    public void MoveBlock(PeerSlab from, PeerSlab to)
    {
        int length = _v4 & 63;
        if (_v4 < 0 || length == 0) return;
        int at = to.Rent(length);
        from.Block(_v4 >> 6, length).CopyTo(to.Block(at, length));
        _v4 = at << 6 | length;
    }

    private readonly SwarmOverflow? Overflow(SwarmShard shard) => _v4 < 0 ? shard.Overflow(~_v4) : null;

    private readonly Span<ulong> V4(SwarmShard shard, SwarmOverflow? more) =>
        more is not null ? more.V4 : shard.Peers.Block(_v4 >> 6, _v4 & 63);

    private readonly int V4Count(SwarmOverflow? more) => more is null ? _count : _count - more.V6Count;

    // Room for length IPv4 peers: a slab block up to PeerSlab.MaxLength, the overflow's array past it or once there is one.
    private Span<ulong> Grow(SwarmShard shard, scoped ref SwarmOverflow? more, int length)
    {
        if (more is null && length <= PeerSlab.MaxLength) return Reblock(shard.Peers, V4(shard, null), length);
        more ??= Spill(shard);
        Array.Resize(ref more.V4, length);
        return more.V4;
    }

    // Moves the IPv4 peers of a swarm without an overflow into a fresh slab block of length entries.
    private Span<ulong> Reblock(PeerSlab slab, Span<ulong> old, int length)
    {
        int at = slab.Rent(length);
        var block = slab.Block(at, length);
        old[.._count].CopyTo(block);
        slab.Return(_v4 >> 6, _v4 & 63);
        _v4 = at << 6 | length;
        return block;
    }

    // Gives the swarm an overflow: its IPv4 peers move from their slab block (the same positions, so an index's codes
    // stay true) to the overflow's array.
    private SwarmOverflow Spill(SwarmShard shard)
    {
        var block = V4(shard, null);
        var more = new SwarmOverflow { V4 = block.IsEmpty ? [] : block.ToArray() };
        shard.Peers.Return(_v4 >> 6, _v4 & 63);
        _v4 = ~shard.AddOverflow(more);
        return more;
    }

    // The overflow is no longer needed (no IPv6 peers, no index, so at most LinearLimit peers): the IPv4 peers go back to
    // a slab block and the shard's slot is freed.
    private void Unspill(SwarmShard shard, SwarmOverflow more)
    {
        int at = shard.Peers.Rent(_count);
        more.V4.AsSpan(0, _count).CopyTo(shard.Peers.Block(at, _count));
        shard.FreeOverflow(~_v4);
        _v4 = at << 6 | _count;
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
    private static int MetaOf(Span<ulong> v4, SwarmOverflow? more, int code) => code > 0 ? (ushort)v4[code - 1] : more!.V6[-code - 1].Meta;

    private static void SetMeta(Span<ulong> v4, SwarmOverflow? more, int code, ushort meta)
    {
        if (code > 0) v4[code - 1] = (v4[code - 1] & ~0xFFFFUL) | meta;
        else more!.V6[-code - 1].Meta = meta;
    }

    private static ulong KeyOf(Span<ulong> v4, SwarmOverflow? more, int code) =>
        code > 0 ? 0xFFFF_FFFF_0000_0000UL | (v4[code - 1] >> 32) : more!.V6[-code - 1].Hi;

    /// <summary>The code of <paramref name="address"/> or 0; counts that source's peers met on the way and, with an index,
    /// finds a free slot.</summary>
    private readonly int Find(Span<ulong> v4, SwarmOverflow? more, PeerAddress address, ulong key, out int sameSource, out int free)
    {
        sameSource = 0;
        free = -1;
        var index = more?.Index;
        if (index is null)
        {
            if (address.IsV6)
            {
                if (more is null) return 0;
                var v6 = more.V6;
                ulong lo = (ulong)address.Address;
                for (int i = 0; i < more.V6Count; i++)
                {
                    if (v6[i].Hi != key) continue;
                    sameSource++;
                    if (v6[i].Lo == lo && v6[i].Port == address.Port) return -(i + 1);
                }
                return 0;
            }
            uint source = (uint)address.Address;
            ulong wanted = (ulong)source << 16 | address.Port;
            int count = V4Count(more);
            for (int i = 0; i < count; i++)
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
            if (KeyOf(v4, more, code) != key) continue;
            sameSource++;
            if (code > 0)
            {
                if (!address.IsV6 && v4[code - 1] >> 16 == ((ulong)(uint)address.Address << 16 | address.Port)) return code;
            }
            else
            {
                ref readonly var p = ref more!.V6[-code - 1];
                if (address.IsV6 && p.Port == address.Port && p.Lo == (ulong)address.Address) return code;
            }
        }
    }

    private void RemoveCode(Span<ulong> v4, SwarmOverflow? more, int code)
    {
        var index = more?.Index;
        if (index is not null) DeleteSlot(v4, more, index, SlotOf(v4, more, index, code));
        if (code > 0)
        {
            int i = code - 1, last = V4Count(more) - 1;
            if ((v4[i] & 1) != 0) Seeders--;
            if (i != last)
            {
                v4[i] = v4[last];
                if (index is not null) index[SlotOf(v4, more, index, last + 1)] = code;
            }
            v4[last] = 0;
        }
        else
        {
            int i = -code - 1, last = --more!.V6Count;
            if ((more.V6[i].Meta & 1) != 0) Seeders--;
            if (i != last)
            {
                more.V6[i] = more.V6[last];
                if (index is not null) index[SlotOf(v4, more, index, -(last + 1))] = code;
            }
            more.V6[last] = default;
        }
        _count--;
    }

    private static int SlotOf(Span<ulong> v4, SwarmOverflow? more, int[] index, int code)
    {
        int mask = index.Length - 1;
        int slot = Home(KeyOf(v4, more, code), mask);
        while (index[slot] != code) slot = (slot + 1) & mask;
        return slot;
    }

    // Linear-probing deletion without tombstones: later entries of the cluster that may live in the hole move back.
    private static void DeleteSlot(Span<ulong> v4, SwarmOverflow? more, int[] index, int hole)
    {
        int mask = index.Length - 1;
        for (int j = (hole + 1) & mask; index[j] != 0; j = (j + 1) & mask)
        {
            int home = Home(KeyOf(v4, more, index[j]), mask);
            bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (stays) continue;
            index[hole] = index[j];
            hole = j;
        }
        index[hole] = 0;
    }

    private readonly void Rehash(Span<ulong> v4, SwarmOverflow more, int size)
    {
        var index = more.Index = new int[size];
        int mask = size - 1;
        int count = V4Count(more);
        for (int i = 0; i < count; i++) Place(v4, more, index, i + 1, mask);
        for (int i = 0; i < more.V6Count; i++) Place(v4, more, index, -(i + 1), mask);
    }

    private static void Place(Span<ulong> v4, SwarmOverflow more, int[] index, int code, int mask)
    {
        int slot = Home(KeyOf(v4, more, code), mask);
        while (index[slot] != 0) slot = (slot + 1) & mask;
        index[slot] = code;
    }
}

/// <summary>What a small IPv4 swarm does without, kept in its shard (<see cref="SwarmShard.Overflow"/>) and found by slot:
/// its IPv6 peers, the index of a swarm past <see cref="Swarm.LinearLimit"/>, and, while it has either, all its IPv4 peers
/// (more than a slab block holds, once past <see cref="PeerSlab.MaxLength"/>).</summary>
internal sealed class SwarmOverflow
{
    public ulong[] V4 = [];
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
