namespace Appliance.Trackers.Embedded;

/// <summary>
/// The IPv4 peer arrays a shard's swarms gave back when they grew or shrank, one per length up to
/// <see cref="MaxLength"/>, handed to the next swarm of the shard that needs that length. A swarm of 10 peers grows
/// through arrays of 2, 4, 6 and 8 entries; left to the collector, those are about three times the swarm's own size
/// in garbage while swarms fill, and whatever of it a collection finds still in use is promoted and dies later in an
/// older generation. Passed on, the next swarm's growth reuses them. Arrays over <see cref="MaxLength"/> (swarms
/// past <see cref="Swarm.LinearLimit"/>, which grow rarely) are left to the collector. Guarded by the shard's lock.
/// </summary>
internal sealed class PeerArrayPool
{
    public const int MaxLength = Swarm.LinearLimit + 1;

    // _spare[n] is an array of length n (entries zero) or null.
    private readonly ulong[]?[] _spare = new ulong[]?[MaxLength + 1];

    /// <summary>A zeroed array of <paramref name="length"/> entries (the empty array for 0).</summary>
    public ulong[] Rent(int length)
    {
        if (length == 0) return [];
        if (length <= MaxLength && _spare[length] is { } spare)
        {
            _spare[length] = null;
            return spare;
        }
        return new ulong[length];
    }

    /// <summary>Keeps <paramref name="array"/> for the next <see cref="Rent"/> of its length if there is room.</summary>
    public void Return(ulong[] array)
    {
        int length = array.Length;
        if (length == 0 || length > MaxLength || _spare[length] is not null) return;
        Array.Clear(array);
        _spare[length] = array;
    }
}
