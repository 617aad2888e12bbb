using System.Runtime.InteropServices;
using Appliance.Storage.Files;

namespace Appliance.Storage.Pool;

/// <summary>
/// The files every seeded torrent reads from, opened (and for the mapped store mapped) when a read needs them and kept
/// open up to <see cref="Capacity"/>; beyond it the least recently used file nobody is reading is closed (CLOCK: a
/// lease marks the file recent, the sweep gives recent files a second round). One pool serves all torrents, so a
/// library of 100,000 files seeds with a few hundred descriptors and mappings. A file leased by a send in flight is
/// never closed under it: while sends hold more files than the cap, the pool runs over it and shrinks back as they end.
/// </summary>
public sealed class FilePool
{
    /// <summary>Descriptors and mappings left for everything else (sockets, the runtime): the pool takes a quarter of each limit.</summary>
    private const int ShareOfLimit = 4;
    private const int MinimumCapacity = 16;

    /// <summary>
    /// The default's ceiling: enough for the files peers are fetching from at once on a busy box, small enough that a
    /// library of any size seeds with a few hundred descriptors and mappings. A larger hot set costs an open and a map
    /// per miss (counted as misses and evictions); raise <c>--file-pool</c> then.
    /// </summary>
    public const int DefaultMaximumCapacity = 512;
    private const int DefaultMaxMapCount = 65530;

    private readonly Lock _gate = new();
    private readonly Lock _releaseGate = new();
    private PooledFile[] _releaseScratch = new PooledFile[64];
    private long _releasedBytes;
    private PooledFile[] _slots = new PooledFile[64];
    private int _openCount;
    private int _hand;
    private long _hits;
    private long _misses;
    private long _evictions;
    private long _openFailures;

    public FilePool(int capacity, int windowShift = 30)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        WindowShift = windowShift;
    }

    /// <summary>The pool used when none is given (tools, tests): sized from this process's limits.</summary>
    public static FilePool Shared => SharedPool.Instance;

    /// <summary>Files kept open at most (exceeded only while every open file is being read).</summary>
    public int Capacity { get; }

    /// <summary>Log2 of the largest window of a mapping handed out as one Memory (1 GiB; tests use small ones).</summary>
    internal int WindowShift { get; }

    public int OpenCount => Volatile.Read(ref _openCount);
    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>Files that could not be (re)opened when a read needed them (deleted, permissions, descriptors exhausted).</summary>
    public long OpenFailures => Interlocked.Read(ref _openFailures);

    /// <summary>Bytes of mapped content <see cref="ReleaseIdlePages"/> took out of this process's resident set.</summary>
    public long ReleasedBytes => Interlocked.Read(ref _releasedBytes);

    /// <summary>Called with the file's path and why, whenever a file cannot be (re)opened (the seeder logs it).</summary>
    public event Action<string, string>? OpenFailed;

    /// <summary>
    /// The default capacity: a quarter of the descriptor limit (RLIMIT_NOFILE, soft) and of vm.max_map_count, whichever
    /// is smaller, at least 16 and at most <see cref="DefaultMaximumCapacity"/>.
    /// </summary>
    public static int DefaultCapacity()
    {
        long descriptors = Libc.getrlimit(Libc.RlimitNofile, out var limit) == 0 ? (long)Math.Min(limit.Current, int.MaxValue) : 1024;
        return CapacityFor(descriptors, ReadMaxMapCount());
    }

    internal static int CapacityFor(long descriptors, long mappings) =>
        (int)Math.Clamp(Math.Min(descriptors, mappings) / ShareOfLimit, MinimumCapacity, DefaultMaximumCapacity);

    private static long ReadMaxMapCount()
    {
        try
        {
            return long.TryParse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim(), out long value) && value > 0 ? value : DefaultMaxMapCount;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return DefaultMaxMapCount;
        }
    }

    internal void CountHit() => Interlocked.Increment(ref _hits);

    internal OpenFile? OpenOnMiss(PooledFile file, out string? error)
    {
        error = null;
        lock (file)
        {
            if (file.Closed)
            {
                error = "the store is closed";
                return null;
            }
            // Another reader may have opened it while this one waited.
            var current = file.Current;
            if (current is not null && current.TryAddReference())
            {
                CountHit();
                return current;
            }
            OpenFile opened;
            try
            {
                opened = OpenFile.Open(this, file.Path, file.Beneath, file.Length, file.Map);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Interlocked.Increment(ref _openFailures);
                error = $"cannot open '{file.Path}': {e.Message}";
                OpenFailed?.Invoke(file.Path, e.Message);
                return null;
            }
            Interlocked.Increment(ref _misses);
            file.Recent = true;
            file.Publish(opened);
            lock (_gate)
            {
                if (_openCount == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
                file.Slot = _openCount;
                _slots[_openCount] = file;
                Volatile.Write(ref _openCount, _openCount + 1);
                while (_openCount > Capacity && EvictOne()) { }
            }
            return opened;
        }
    }

    /// <summary>
    /// One release pass: in every open mapped file, the chunks (2 MiB) that sends touched before the previous pass but
    /// not since leave this process's resident set (madvise MADV_DONTNEED on a read-only shared mapping drops only our
    /// page-table entries: the page cache keeps the pages, and a later send maps them back with a minor fault). Chunks in
    /// steady use stay mapped, so serving a hot working set pays nothing; without any pass the resident set grows by
    /// every page ever sent, which ps, top and RSS alerts count as ours. Returns the bytes released.
    /// </summary>
    public long ReleaseIdlePages()
    {
        lock (_releaseGate)
        {
            int count = 0;
            lock (_gate)
            {
                if (_releaseScratch.Length < _openCount) _releaseScratch = new PooledFile[_slots.Length];
                for (int i = 0; i < _openCount; i++)
                {
                    if (_slots[i].Map) _releaseScratch[count++] = _slots[i];
                }
            }
            // Outside the pool's lock: a miss opening another file need not wait for page-table work.
            long released = 0;
            for (int i = 0; i < count; i++)
            {
                var open = _releaseScratch[i].Current;
                _releaseScratch[i] = null!;
                if (open is null || !open.TryAddReference()) continue;
                try
                {
                    released += open.ReleaseIdleChunks();
                }
                finally
                {
                    open.Release();
                }
            }
            Interlocked.Add(ref _releasedBytes, released);
            return released;
        }
    }

    internal bool IsOverCapacity => Volatile.Read(ref _openCount) > Capacity;

    /// <summary>Closes idle files while the pool is over its cap (files held by sends in flight took it over).</summary>
    internal void Trim()
    {
        lock (_gate)
        {
            while (_openCount > Capacity && EvictOne()) { }
        }
    }

    /// <summary>Closes a store's file for good (the store is disposed); a reader holding it keeps it until released.</summary>
    internal void Remove(PooledFile file)
    {
        lock (file)
        {
            file.Closed = true;
            lock (_gate) RemoveSlot(file);
            var current = file.Current;
            if (current is null) return;
            file.Publish(null);
            current.Release();
        }
    }

    // One CLOCK sweep, at most two rounds: clears the recent mark of files it passes, closes the first idle unmarked one.
    private bool EvictOne()
    {
        for (int step = 0; step < 2 * _openCount; step++)
        {
            if (_hand >= _openCount) _hand = 0;
            var candidate = _slots[_hand];
            if (candidate.Recent)
            {
                candidate.Recent = false;
                _hand++;
                continue;
            }
            var open = candidate.Current;
            if (open is not null && open.TryCloseIdle())
            {
                candidate.Forget(open);
                RemoveSlot(candidate);
                Interlocked.Increment(ref _evictions);
                return true;
            }
            _hand++;
        }
        return false;
    }

    private void RemoveSlot(PooledFile file)
    {
        int slot = file.Slot;
        if (slot < 0) return;
        int last = _openCount - 1;
        var moved = _slots[last];
        _slots[slot] = moved;
        moved.Slot = slot;
        _slots[last] = null!;
        file.Slot = -1;
        Volatile.Write(ref _openCount, last);
    }

    private static class SharedPool
    {
        public static readonly FilePool Instance = new(DefaultCapacity());
    }
}
