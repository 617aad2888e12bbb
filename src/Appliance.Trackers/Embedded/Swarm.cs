using System.Buffers.Binary;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// One swarm's peers, compact: 12 bytes per IPv4 peer and 24 per IPv6 peer in two arrays, found through an
/// open-addressing table of 4-byte indices keyed by the peer's source (IPv4 address or IPv6 /64), so a source's ports
/// sit together and are counted while looking a peer up. Not thread-safe: <see cref="SwarmStore"/> locks it.
/// </summary>
internal sealed class Swarm
{
    /// <summary>The last-seen time of a peer that never expires (this appliance).</summary>
    public const uint Pinned = uint.MaxValue;

    private const byte SeedFlag = 1, PinnedFlag = 2;
    // Large enough that two of a reply's few dozen sources rarely share a bit (a shared bit only defers one to the second walk).
    private const int SourceBits = 2048;

    // Keys the table and reply sampling so a client cannot pick addresses that collide.
    private static readonly ulong HashSeed = (ulong)Random.Shared.NextInt64();

    private V4Peer[] _v4 = [];
    private V6Peer[] _v6 = [];
    private int _v4Count, _v6Count;

    // Slot values: i + 1 for _v4[i], -(i + 1) for _v6[i], 0 for empty. Linear probing, at most half full.
    private int[] _table = [];

    public int Count => _v4Count + _v6Count;
    public int Seeders { get; private set; }
    public int Downloaded { get; set; }
    public uint LastSweep { get; private set; }

    /// <summary>Set under the lock once the swarm left the store; an announce that found it before must look again.</summary>
    public bool Retired { get; set; }

    /// <summary>The source a peer's limits are counted by: its IPv4 address, or its IPv6 /64 (one subscriber's prefix).</summary>
    public static ulong SourceKey(PeerAddress address) =>
        address.IsV6 ? (ulong)(address.Address >> 64) : 0xFFFF_FFFF_0000_0000UL | (uint)address.Address;

    /// <summary>Adds or refreshes a peer; returns 1 if it was added. A new peer is refused (silently: its announce is still
    /// answered) when the swarm holds <paramref name="maxPeers"/> or its source already holds <paramref name="maxPortsPerSource"/>.</summary>
    public int Upsert(PeerAddress address, bool seed, bool pinned, uint now, int maxPeers, int maxPortsPerSource)
    {
        ulong key = SourceKey(address);
        int slot = Find(address, key, out int sameSource, out int free);
        if (slot >= 0)
        {
            int code = _table[slot];
            ref byte flags = ref code > 0 ? ref _v4[code - 1].Flags : ref _v6[-code - 1].Flags;
            ref uint lastSeen = ref code > 0 ? ref _v4[code - 1].LastSeen : ref _v6[-code - 1].LastSeen;
            if (((flags & SeedFlag) != 0) != seed) Seeders += seed ? 1 : -1;
            flags = (byte)((flags & PinnedFlag) | (pinned ? PinnedFlag : 0) | (seed ? SeedFlag : 0));
            lastSeen = (flags & PinnedFlag) != 0 ? Pinned : now;
            return 0;
        }
        if (Count >= maxPeers || sameSource >= maxPortsPerSource) return 0;
        if ((Count + 1) * 2 > _table.Length)
        {
            Rehash(Math.Max(8, _table.Length * 2));
            Find(address, key, out _, out free);
        }
        byte newFlags = (byte)((seed ? SeedFlag : 0) | (pinned ? PinnedFlag : 0));
        uint seen = pinned ? Pinned : now;
        if (address.IsV6)
        {
            if (_v6Count == _v6.Length) Array.Resize(ref _v6, Math.Max(2, _v6.Length * 2));
            _v6[_v6Count] = new V6Peer { Hi = (ulong)(address.Address >> 64), Lo = (ulong)address.Address, Port = address.Port, Flags = newFlags, LastSeen = seen };
            _table[free] = -++_v6Count;
        }
        else
        {
            if (_v4Count == _v4.Length) Array.Resize(ref _v4, Math.Max(2, _v4.Length * 2));
            _v4[_v4Count] = new V4Peer { Address = (uint)address.Address, Port = address.Port, Flags = newFlags, LastSeen = seen };
            _table[free] = ++_v4Count;
        }
        if (seed) Seeders++;
        return 1;
    }

    /// <summary>Removes a peer; returns 1 if it was there.</summary>
    public int Remove(PeerAddress address)
    {
        int slot = Find(address, SourceKey(address), out _, out _);
        if (slot < 0) return 0;
        RemoveSlot(slot);
        return 1;
    }

    /// <summary>Drops peers last seen before <paramref name="expiredBefore"/> and gives back unused room; returns how many were dropped.</summary>
    public int Sweep(uint expiredBefore, uint now)
    {
        LastSweep = now;
        int removed = 0;
        // From the end: removing i moves the last peer (already checked) into i.
        for (int i = _v4Count - 1; i >= 0; i--)
        {
            if (_v4[i].LastSeen >= expiredBefore) continue;
            RemoveSlot(SlotOf(i + 1));
            removed++;
        }
        for (int i = _v6Count - 1; i >= 0; i--)
        {
            if (_v6[i].LastSeen >= expiredBefore) continue;
            RemoveSlot(SlotOf(-(i + 1)));
            removed++;
        }
        if (_v4.Length > 8 && _v4Count < _v4.Length / 4) Array.Resize(ref _v4, _v4.Length / 2);
        if (_v6.Length > 8 && _v6Count < _v6.Length / 4) Array.Resize(ref _v6, _v6.Length / 2);
        if (Count == 0) _table = [];
        else if (_table.Length > 16 && Count * 8 < _table.Length) Rehash(_table.Length / 2);
        return removed;
    }

    /// <summary>
    /// Writes up to <paramref name="want"/> peers, walking from a random point. A seed gets leechers first and then seeds:
    /// a client that joined by magnet link announces left=0 before it has the metadata, and must still learn of a seed.
    /// Within each group, every source gets one peer in before any source gets a second, so one address (or /64) with
    /// many ports, or a run of peers announced together, cannot fill the list.
    /// </summary>
    public (int V4, int V6) Select(PeerAddress self, bool selfIsSeed, int want, uint expiredBefore, Span<byte> v4, Span<byte> v6)
    {
        int count = Count;
        if (count == 0 || want <= 0) return (0, 0);
        var cursor = new Cursor { V4 = v4, V6 = v6, Want = want, Self = self, ExpiredBefore = expiredBefore, Start = Random.Shared.Next(count) };
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
        public Span<byte> V4, V6;
        public int V4Bytes, V6Bytes, Taken, Want, Start;
        public PeerAddress Self;
        public uint ExpiredBefore;
    }

    // One walk marks each source in a small keyed bitmap. The first walk sends the peers whose source was unmarked; the
    // second replays the same marking and sends exactly the peers the first skipped, so nothing is sent twice.
    private void Walk(ref Cursor c, Filter filter, bool repeats)
    {
        if (c.Taken >= c.Want) return;
        Span<ulong> marked = stackalloc ulong[SourceBits / 64];
        int count = Count;
        for (int n = 0; n < count && c.Taken < c.Want; n++)
        {
            int k = c.Start + n;
            if (k >= count) k -= count;
            bool isV6 = k >= _v4Count;
            byte flags;
            uint lastSeen;
            ulong key;
            if (isV6)
            {
                ref readonly var p = ref _v6[k - _v4Count];
                if (c.Self.IsV6 && c.Self.Port == p.Port && c.Self.Address == (((UInt128)p.Hi << 64) | p.Lo)) continue;
                (flags, lastSeen, key) = (p.Flags, p.LastSeen, p.Hi);
                if (c.V6.Length - c.V6Bytes < 18) continue;
            }
            else
            {
                ref readonly var p = ref _v4[k];
                if (!c.Self.IsV6 && c.Self.Port == p.Port && (uint)c.Self.Address == p.Address) continue;
                (flags, lastSeen, key) = (p.Flags, p.LastSeen, 0xFFFF_FFFF_0000_0000UL | p.Address);
                if (c.V4.Length - c.V4Bytes < 6) continue;
            }
            if (lastSeen < c.ExpiredBefore) continue;
            bool seed = (flags & SeedFlag) != 0;
            if ((filter == Filter.Leechers && seed) || (filter == Filter.Seeds && !seed)) continue;
            int bit = (int)(Hash(key) >> 53) & (SourceBits - 1);
            bool repeat = (marked[bit >> 6] & (1UL << bit)) != 0;
            marked[bit >> 6] |= 1UL << bit;
            if (repeat != repeats) continue;
            if (isV6)
            {
                ref readonly var p = ref _v6[k - _v4Count];
                var into = c.V6[c.V6Bytes..];
                BinaryPrimitives.WriteUInt64BigEndian(into, p.Hi);
                BinaryPrimitives.WriteUInt64BigEndian(into[8..], p.Lo);
                BinaryPrimitives.WriteUInt16BigEndian(into[16..], p.Port);
                c.V6Bytes += 18;
            }
            else
            {
                ref readonly var p = ref _v4[k];
                var into = c.V4[c.V4Bytes..];
                BinaryPrimitives.WriteUInt32BigEndian(into, p.Address);
                BinaryPrimitives.WriteUInt16BigEndian(into[4..], p.Port);
                c.V4Bytes += 6;
            }
            c.Taken++;
        }
    }

    private static ulong Hash(ulong key) => (key ^ HashSeed) * 0x9E3779B97F4A7C15UL;

    private static int Home(ulong key, int mask) => (int)(Hash(key) >> 32) & mask;

    private ulong KeyOf(int code) => code > 0 ? 0xFFFF_FFFF_0000_0000UL | _v4[code - 1].Address : _v6[-code - 1].Hi;

    /// <summary>The slot holding <paramref name="address"/> or -1; counts that source's peers met on the way and finds a free slot.</summary>
    private int Find(PeerAddress address, ulong key, out int sameSource, out int free)
    {
        sameSource = 0;
        free = -1;
        if (_table.Length == 0) return -1;
        int mask = _table.Length - 1;
        for (int slot = Home(key, mask); ; slot = (slot + 1) & mask)
        {
            int code = _table[slot];
            if (code == 0)
            {
                free = slot;
                return -1;
            }
            if (KeyOf(code) != key) continue;
            sameSource++;
            if (code > 0)
            {
                ref readonly var p = ref _v4[code - 1];
                if (!address.IsV6 && p.Address == (uint)address.Address && p.Port == address.Port) return slot;
            }
            else
            {
                ref readonly var p = ref _v6[-code - 1];
                if (address.IsV6 && p.Port == address.Port && p.Lo == (ulong)address.Address && p.Hi == (ulong)(address.Address >> 64)) return slot;
            }
        }
    }

    private int SlotOf(int code)
    {
        int mask = _table.Length - 1;
        int slot = Home(KeyOf(code), mask);
        while (_table[slot] != code) slot = (slot + 1) & mask;
        return slot;
    }

    private void RemoveSlot(int slot)
    {
        int code = _table[slot];
        DeleteSlot(slot);
        if (code > 0)
        {
            int i = code - 1, last = --_v4Count;
            if ((_v4[i].Flags & SeedFlag) != 0) Seeders--;
            if (i != last)
            {
                _v4[i] = _v4[last];
                _table[SlotOf(last + 1)] = code;
            }
            _v4[last] = default;
        }
        else
        {
            int i = -code - 1, last = --_v6Count;
            if ((_v6[i].Flags & SeedFlag) != 0) Seeders--;
            if (i != last)
            {
                _v6[i] = _v6[last];
                _table[SlotOf(-(last + 1))] = code;
            }
            _v6[last] = default;
        }
    }

    // Linear-probing deletion without tombstones: later entries of the cluster that may live in the hole move back.
    private void DeleteSlot(int hole)
    {
        int mask = _table.Length - 1;
        for (int j = (hole + 1) & mask; _table[j] != 0; j = (j + 1) & mask)
        {
            int home = Home(KeyOf(_table[j]), mask);
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
        int mask = size - 1;
        for (int i = 0; i < _v4Count; i++) Place(i + 1, mask);
        for (int i = 0; i < _v6Count; i++) Place(-(i + 1), mask);
    }

    private void Place(int code, int mask)
    {
        int slot = Home(KeyOf(code), mask);
        while (_table[slot] != 0) slot = (slot + 1) & mask;
        _table[slot] = code;
    }

    private struct V4Peer
    {
        public uint Address;
        public uint LastSeen;
        public ushort Port;
        public byte Flags;
    }

    private struct V6Peer
    {
        public ulong Hi, Lo;
        public uint LastSeen;
        public ushort Port;
        public byte Flags;
    }
}
