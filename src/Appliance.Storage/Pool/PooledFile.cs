namespace Appliance.Storage.Pool;

/// <summary>
/// One file of one torrent as the pool knows it: where it is, and its current <see cref="OpenFile"/> when open.
/// <see cref="TryLease"/> on an open file is a compare-and-swap and a flag: no system call, no allocation.
/// </summary>
internal sealed class PooledFile
{
    private readonly FilePool _pool;
    private OpenFile? _open;

    public PooledFile(FilePool pool, string path, string? beneath, long length, bool map)
    {
        _pool = pool;
        Path = path;
        Beneath = beneath;
        Length = length;
        Map = map;
    }

    public string Path { get; }
    public string? Beneath { get; }
    public long Length { get; }
    public bool Map { get; }

    /// <summary>Set by a lease, cleared by the eviction sweep: recently used files get another round (CLOCK).</summary>
    internal bool Recent;

    /// <summary>Index in the pool's open slots, -1 when closed. Guarded by the pool's lock.</summary>
    internal int Slot = -1;

    /// <summary>Set once the owning store is disposed: never opened again. Guarded by this object's lock.</summary>
    internal bool Closed;

    internal OpenFile? Current => Volatile.Read(ref _open);

    /// <summary>
    /// The open file with a reference the caller must <see cref="OpenFile.Release"/>, opening (and evicting the least
    /// recently used idle file) when closed. Null with <paramref name="error"/> when the file cannot be opened now.
    /// </summary>
    public OpenFile? TryLease(out string? error)
    {
        error = null;
        var open = Volatile.Read(ref _open);
        if (open is not null && open.TryAddReference())
        {
            if (!Recent) Recent = true;
            _pool.CountHit();
            return open;
        }
        return _pool.OpenOnMiss(this, out error);
    }

    internal void Publish(OpenFile? open) => Volatile.Write(ref _open, open);

    /// <summary>Forgets <paramref name="open"/> if it is still the current opening (eviction).</summary>
    internal void Forget(OpenFile open) => Interlocked.CompareExchange(ref _open, null, open);
}
