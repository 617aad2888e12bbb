using System.Collections.Concurrent;
using Appliance.Networking.Http.Files;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.Storage.Files;

namespace Appliance.Seeding.WebSeed;

/// <summary>
/// What the web seed (BEP 19) serves: every file of every seeded torrent, at the URL path a web-seed client builds from
/// the torrent, <c>/NAME</c> for a single-file torrent and <c>/NAME/PATH</c> for a multi-file one, and nothing else.
/// Lookups are exact matches against this table, so no spelling of a path reaches a file the torrents do not list; the
/// bytes come from the store's pooled files (checked to resolve inside the content folder at every open).
/// Pad files (BEP 47) are zeros that exist on no disk and are never listed. When two torrents list the same path
/// (two torrents of one folder: CONTENT/NAME is shared), the one loaded first (<see cref="SeededTorrent.LoadOrder"/>)
/// serves it, and the next takes over if it is removed or its content faults. Follows the registry's Added and Removed events.
/// </summary>
public sealed class WebSeedFiles : IHttpFileSource, IDisposable
{
    private readonly TorrentRegistry _registry;
    private readonly ConcurrentDictionary<string, WebSeedEntry[]> _byPath = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WebSeedEntry[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Lock _gate = new();

    public WebSeedFiles(TorrentRegistry registry)
    {
        _registry = registry;
        _lookup = _byPath.GetAlternateLookup<ReadOnlySpan<char>>();
        _registry.Added += Add;
        _registry.Removed += Remove;
        foreach (var torrent in _registry.Snapshot()) Add(torrent);
    }

    /// <summary>URL paths served now.</summary>
    public int Count => _byPath.Count;

    /// <summary>The path (decoded, no leading '/') a web-seed client asks for one file of a torrent.</summary>
    public static string UrlPath(TorrentMetainfo metainfo, TorrentFile file) =>
        metainfo.IsMultiFile ? metainfo.Name + "/" + file.Path : metainfo.Name;

    public HttpFileLookup TryOpen(ReadOnlySpan<char> path, out HttpFile file)
    {
        file = default;
        if (!_lookup.TryGetValue(path, out var entries)) return HttpFileLookup.NotFound;
        foreach (var entry in entries)
        {
            if (entry.TryOpen(out file)) return HttpFileLookup.Found;
        }
        return HttpFileLookup.Unavailable;
    }

    public void Failed(in HttpFile file, string reason)
    {
        if (file.Owner is WebSeedEntry entry) entry.Torrent.Store.Fault($"'{entry.Torrent.Metainfo.Files[entry.FileIndex].Path}': {reason}");
    }

    public void Dispose()
    {
        _registry.Added -= Add;
        _registry.Removed -= Remove;
    }

    private void Add(SeededTorrent torrent)
    {
        var metainfo = torrent.Metainfo;
        lock (_gate)
        {
            for (int i = 0; i < metainfo.Files.Count; i++)
            {
                var file = metainfo.Files[i];
                if (file.IsPad) continue;
                string path = UrlPath(metainfo, file);
                var entries = _byPath.TryGetValue(path, out var known) ? known : [];
                if (entries.Any(e => e.Torrent == torrent)) continue; // added twice (an event raced the initial snapshot)
                _byPath[path] = [.. entries.Append(new WebSeedEntry(torrent, i)).OrderBy(e => e.Torrent.LoadOrder)];
            }
        }
    }

    private void Remove(SeededTorrent torrent)
    {
        var metainfo = torrent.Metainfo;
        lock (_gate)
        {
            foreach (var file in metainfo.Files)
            {
                if (file.IsPad) continue;
                string path = UrlPath(metainfo, file);
                if (!_byPath.TryGetValue(path, out var entries)) continue;
                WebSeedEntry[] left = [.. entries.Where(e => e.Torrent != torrent)];
                if (left.Length == 0) _byPath.TryRemove(path, out _);
                else _byPath[path] = left;
            }
        }
    }
}

/// <summary>One torrent's file at a URL path.</summary>
internal sealed class WebSeedEntry(SeededTorrent torrent, int fileIndex)
{
    public SeededTorrent Torrent { get; } = torrent;
    public int FileIndex { get; } = fileIndex;

    /// <summary>
    /// Opens the file for one response from the store's handle, with its size and mtime read from the descriptor now
    /// (one statx): a file whose size no longer matches the torrent faults the store instead of being served.
    /// </summary>
    public bool TryOpen(out HttpFile file)
    {
        file = default;
        var store = Torrent.Store;
        if (store.IsFaulted || store is not FilePieceStore files) return false;
        var layoutFile = files.Layout.Files[FileIndex];
        if (layoutFile.Length == 0)
        {
            file = HttpFile.Empty(0, this);
            return true;
        }
        // The lease keeps the descriptor from the pool's eviction until the response holds its own reference.
        if (!files.Files.TryLease(FileIndex, out var lease, out _)) return false;
        using (lease)
        {
            if (FileStamp.Read(lease.Handle) is not { } stamp) return false;
            if (stamp.Size != layoutFile.Length)
            {
                store.Fault($"'{layoutFile.RelativePath}' is now {stamp.Size} bytes, expected {layoutFile.Length}");
                return false;
            }
            return HttpFile.TryOpen(lease.Handle, stamp.Size, stamp.MtimeNanoseconds, this, out file);
        }
    }
}
