using Appliance.Storage.Layout;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Storage.Files;

/// <summary>Read-only handles to a layout's non-empty files (null for zero-length and pad ones), for positional reads.</summary>
public sealed class FileHandles : IDisposable
{
    private readonly SafeFileHandle?[] _handles;

    private FileHandles(FileLayout layout, SafeFileHandle?[] handles)
    {
        Layout = layout;
        _handles = handles;
    }

    public FileLayout Layout { get; }

    public SafeFileHandle? this[int fileIndex] => _handles[fileIndex];

    /// <summary>
    /// Opens every non-empty file; throws IOException naming the file that cannot be opened. Only regular files are
    /// opened, and with <paramref name="beneath"/> only those that resolve inside that folder.
    /// </summary>
    public static FileHandles Open(FileLayout layout, string? beneath = null)
    {
        var handles = new SafeFileHandle?[layout.Files.Count];
        try
        {
            for (int i = 0; i < handles.Length; i++)
            {
                var file = layout.Files[i];
                if (file.Length == 0 || file.IsPad) continue;
                try
                {
                    // Others may rewrite or delete the file under us; we notice through reads, never through locks.
                    handles[i] = SafeFile.OpenRegular(file.FullPath, beneath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new IOException($"cannot open '{file.RelativePath}': {e.Message}", e);
                }
            }
        }
        catch
        {
            foreach (var handle in handles) handle?.Dispose();
            throw;
        }
        return new FileHandles(layout, handles);
    }

    /// <summary>
    /// Positional read of a torrent byte range into <paramref name="destination"/>. Returns null on success,
    /// otherwise why it failed (a file shorter than the layout says, an I/O error). Allocates nothing on success.
    /// </summary>
    public string? Read(long offset, Span<byte> destination)
    {
        Span<FileSpan> spans = stackalloc FileSpan[16];
        long done = 0;
        while (done < destination.Length)
        {
            int count = Layout.MapRange(offset + done, destination.Length - done, spans, out long covered);
            for (int s = 0; s < count; s++)
            {
                var span = spans[s];
                var target = destination.Slice((int)done, span.Length);
                string? error = ReadExactly(span.FileIndex, span.FileOffset, target);
                if (error is not null) return error;
                done += span.Length;
            }
            if (covered == 0) return "internal: empty mapping";
        }
        return null;
    }

    private string? ReadExactly(int fileIndex, long fileOffset, Span<byte> target)
    {
        var handle = _handles[fileIndex];
        var file = Layout.Files[fileIndex];
        if (file.IsPad)
        {
            target.Clear(); // BEP 47: a pad file's bytes are zeros
            return null;
        }
        if (handle is null) return $"'{file.RelativePath}' is not open";
        try
        {
            while (!target.IsEmpty)
            {
                int n = RandomAccess.Read(handle, target, fileOffset);
                if (n == 0) return $"'{file.RelativePath}' ends at byte {fileOffset}, expected {file.Length} bytes (truncated?)";
                target = target[n..];
                fileOffset += n;
            }
            return null;
        }
        catch (ObjectDisposedException)
        {
            return "the store is closed";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"reading '{file.RelativePath}' at byte {fileOffset} failed: {e.Message}";
        }
    }

    /// <summary>Null when every open file still has its layout size, otherwise which file changed and how.</summary>
    public string? CheckSizes()
    {
        for (int i = 0; i < _handles.Length; i++)
        {
            var handle = _handles[i];
            if (handle is null) continue;
            var file = Layout.Files[i];
            try
            {
                long size = RandomAccess.GetLength(handle);
                if (size != file.Length) return $"'{file.RelativePath}' is now {size} bytes, expected {file.Length}";
            }
            catch (ObjectDisposedException)
            {
                return "the store is closed";
            }
            catch (IOException e)
            {
                return $"cannot check '{file.RelativePath}': {e.Message}";
            }
        }
        return null;
    }

    public void Dispose()
    {
        foreach (var handle in _handles) handle?.Dispose();
    }
}
