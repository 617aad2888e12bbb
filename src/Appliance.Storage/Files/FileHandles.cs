using Appliance.Storage.Layout;
using Appliance.Storage.Pool;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Storage.Files;

/// <summary>
/// A layout's non-empty files (none for zero-length and pad ones) as entries of a <see cref="FilePool"/>: opened when
/// a read needs them, closed when the pool needs room, reopened on the next read. Positional reads go through here.
/// </summary>
public sealed class FileHandles : IDisposable
{
    private readonly PooledFile?[] _files;
    private readonly FilePool _pool;

    private FileHandles(FileLayout layout, FilePool pool, PooledFile?[] files)
    {
        Layout = layout;
        _pool = pool;
        _files = files;
    }

    public FileLayout Layout { get; }

    public FilePool Pool => _pool;

    /// <summary>
    /// Registers every non-empty file with <paramref name="pool"/> (<see cref="FilePool.Shared"/> when null) without
    /// opening any: each is opened on its first read, as a regular file and, with <paramref name="beneath"/>, only if it
    /// resolves inside that folder (checked again at every reopen). With <paramref name="map"/>, openings are also mapped.
    /// </summary>
    public static FileHandles Open(FileLayout layout, string? beneath = null, FilePool? pool = null, bool map = false)
    {
        pool ??= FilePool.Shared;
        var files = new PooledFile?[layout.Files.Count];
        for (int i = 0; i < files.Length; i++)
        {
            var file = layout.Files[i];
            if (file.Length == 0 || file.IsPad) continue;
            files[i] = new PooledFile(pool, file.FullPath, beneath, file.Length, map);
        }
        return new FileHandles(layout, pool, files);
    }

    internal PooledFile? Entry(int fileIndex) => _files[fileIndex];

    /// <summary>
    /// The file's descriptor, held open until the lease is disposed (the web seed adds its own reference for a response).
    /// False with <paramref name="error"/> when it is empty or cannot be opened now (deleted, permissions).
    /// </summary>
    public bool TryLease(int fileIndex, out FileLease lease, out string? error)
    {
        lease = default;
        var entry = _files[fileIndex];
        if (entry is null)
        {
            error = $"'{Layout.Files[fileIndex].RelativePath}' has no data";
            return false;
        }
        var open = entry.TryLease(out error);
        if (open is null) return false;
        lease = new FileLease(open);
        return true;
    }

    /// <summary>
    /// Positional read of a torrent byte range into <paramref name="destination"/>. Returns null on success,
    /// otherwise why it failed (a file shorter than the layout says, an I/O error, a file that cannot be opened).
    /// Allocates nothing on success.
    /// </summary>
    public string? Read(long offset, Span<byte> destination) => Read(offset, destination, out _);

    /// <param name="unavailable">True when the failure was a file that could not be opened (not a sign its data changed).</param>
    internal string? Read(long offset, Span<byte> destination, out bool unavailable)
    {
        unavailable = false;
        Span<FileSpan> spans = stackalloc FileSpan[16];
        long done = 0;
        while (done < destination.Length)
        {
            int count = Layout.MapRange(offset + done, destination.Length - done, spans, out long covered);
            for (int s = 0; s < count; s++)
            {
                var span = spans[s];
                var target = destination.Slice((int)done, span.Length);
                string? error = ReadExactly(span.FileIndex, span.FileOffset, target, out unavailable);
                if (error is not null) return error;
                done += span.Length;
            }
            if (covered == 0) return "internal: empty mapping";
        }
        return null;
    }

    private string? ReadExactly(int fileIndex, long fileOffset, Span<byte> target, out bool unavailable)
    {
        unavailable = false;
        var file = Layout.Files[fileIndex];
        if (file.IsPad)
        {
            target.Clear(); // BEP 47: a pad file's bytes are zeros
            return null;
        }
        var entry = _files[fileIndex];
        if (entry is null) return $"'{file.RelativePath}' is not open";
        var open = entry.TryLease(out string? openError);
        if (open is null)
        {
            unavailable = !entry.Closed;
            return openError;
        }
        try
        {
            while (!target.IsEmpty)
            {
                int n = SafeFile.ReadAt((int)open.Handle.DangerousGetHandle(), target, fileOffset); // the lease keeps it open
                if (n == 0) return $"'{file.RelativePath}' ends at byte {fileOffset}, expected {file.Length} bytes (truncated?)";
                target = target[n..];
                fileOffset += n;
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"reading '{file.RelativePath}' at byte {fileOffset} failed: {e.Message}";
        }
        finally
        {
            open.Release();
        }
    }

    /// <summary>
    /// Null when every file still has its layout size, otherwise which file changed and how. Open files are checked on
    /// their descriptor (one fstat), closed ones by path; a file missing by path is left to fail the read that needs it.
    /// </summary>
    public string? CheckSizes()
    {
        for (int i = 0; i < _files.Length; i++)
        {
            var entry = _files[i];
            if (entry is null) continue;
            var file = Layout.Files[i];
            if (entry.Closed) return "the store is closed";
            var open = entry.Current;
            FileStamp? stamp;
            if (open is not null && open.TryAddReference())
            {
                try
                {
                    stamp = FileStamp.Read(open.Handle);
                }
                finally
                {
                    open.Release();
                }
            }
            else
            {
                stamp = FileStamp.Read(file.FullPath);
            }
            if (stamp is { } known && known.Size != file.Length) return $"'{file.RelativePath}' is now {known.Size} bytes, expected {file.Length}";
        }
        return null;
    }

    /// <summary>Files of this layout open in the pool now.</summary>
    public int OpenCount()
    {
        int count = 0;
        foreach (var entry in _files)
        {
            if (entry?.Current is not null) count++;
        }
        return count;
    }

    /// <summary>Bytes mapped now from this layout's files (page cache, not heap).</summary>
    public long MappedBytes()
    {
        long bytes = 0;
        foreach (var entry in _files)
        {
            if (entry?.Current is { Address: not 0 } open) bytes += open.Length;
        }
        return bytes;
    }

    public void Dispose()
    {
        foreach (var entry in _files)
        {
            if (entry is not null) _pool.Remove(entry);
        }
    }
}

/// <summary>A held descriptor of a pooled file: not closed by eviction until disposed.</summary>
public readonly struct FileLease : IDisposable
{
    private readonly OpenFile? _open;

    internal FileLease(OpenFile open) => _open = open;

    public SafeFileHandle Handle => _open?.Handle ?? throw new InvalidOperationException("no file leased");

    public void Dispose() => _open?.Release();
}
