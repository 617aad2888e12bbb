using Microsoft.Win32.SafeHandles;

namespace Appliance.Networking.Http.Files;

/// <summary>The files an <see cref="HttpFileServer"/> may serve, by the relative path a request names. Thread-safe.</summary>
public interface IHttpFileSource
{
    /// <summary>
    /// Finds the file at <paramref name="path"/> ("name/dir/file", decoded, no leading '/'). On
    /// <see cref="HttpFileLookup.Found"/> the file holds a reference on its handle until <see cref="HttpFile.Release"/>,
    /// so it stays open for the response even if the source drops it meanwhile.
    /// </summary>
    HttpFileLookup TryOpen(ReadOnlySpan<char> path, out HttpFile file);

    /// <summary>The file could not deliver the bytes its size promised (it shrank under us): the source stops trusting it.</summary>
    void Failed(in HttpFile file, string reason);
}

public enum HttpFileLookup : byte
{
    Found,
    NotFound,

    /// <summary>Known but not servable now (its content faulted): 503.</summary>
    Unavailable,
}

/// <summary>One file opened for a response: an open handle (none for an empty file), its size and modification time.</summary>
public readonly struct HttpFile
{
    private HttpFile(SafeFileHandle? handle, long length, long modifiedNanoseconds, object? owner)
    {
        Handle = handle;
        Length = length;
        ModifiedNanoseconds = modifiedNanoseconds;
        Owner = owner;
    }

    public SafeFileHandle? Handle { get; }
    public long Length { get; }

    /// <summary>Modification time in nanoseconds since the Unix epoch (ETag and Last-Modified).</summary>
    public long ModifiedNanoseconds { get; }

    /// <summary>What the source needs to find the file again in <see cref="IHttpFileSource.Failed"/>.</summary>
    public object? Owner { get; }

    /// <summary>
    /// A file served from <paramref name="handle"/>, which gains a reference (released by <see cref="Release"/>).
    /// False when the handle was closed already.
    /// </summary>
    public static bool TryOpen(SafeFileHandle handle, long length, long modifiedNanoseconds, object? owner, out HttpFile file)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        file = added ? new HttpFile(handle, length, modifiedNanoseconds, owner) : default;
        return added;
    }

    /// <summary>An empty file: nothing to open, nothing to send.</summary>
    public static HttpFile Empty(long modifiedNanoseconds, object? owner) => new(null, 0, modifiedNanoseconds, owner);

    public void Release() => Handle?.DangerousRelease();
}
