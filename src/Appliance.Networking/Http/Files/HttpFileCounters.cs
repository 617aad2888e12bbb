using Appliance.Metrics.Counters;

namespace Appliance.Networking.Http.Files;

/// <summary>Responses by status class (2xx..5xx; 1xx is never sent).</summary>
public enum HttpStatusClass : byte
{
    Success,
    Redirection,
    ClientError,
    ServerError,
}

/// <summary>Why the server closed a connection on its own.</summary>
public enum HttpFileTimeout : byte
{
    /// <summary>No request arrived within the idle timeout.</summary>
    Idle,

    /// <summary>A request head did not complete in time.</summary>
    Head,

    /// <summary>The client stopped taking response bytes.</summary>
    Send,
}

/// <summary>What an <see cref="HttpFileServer"/> did, as plain counters the metrics exporter reads. Interlocked writes, lock-free reads.</summary>
public sealed class HttpFileCounters
{
    private long _bodyBytesSent;
    private long _connectionsAccepted;
    private long _connections;
    private long _refusedTotalLimit;
    private long _refusedAddressLimit;
    private long _sendsStalled;
    private long _fileErrors;

    public ReasonCounters<HttpStatusClass> Responses { get; } = new();
    public ReasonCounters<HttpFileTimeout> Timeouts { get; } = new();

    /// <summary>Response body bytes the kernel accepted (file bytes; heads not counted).</summary>
    public long BodyBytesSent => Volatile.Read(ref _bodyBytesSent);
    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    /// <summary>Connections open now.</summary>
    public long Connections => Volatile.Read(ref _connections);
    public long RefusedTotalLimit => Volatile.Read(ref _refusedTotalLimit);
    public long RefusedAddressLimit => Volatile.Read(ref _refusedAddressLimit);

    /// <summary>Times a body send found the socket buffer full and waited for room (clients slower than the server).</summary>
    public long SendsStalled => Volatile.Read(ref _sendsStalled);

    /// <summary>Files that ended before their size promised (truncated while served).</summary>
    public long FileErrors => Volatile.Read(ref _fileErrors);

    internal void Accepted()
    {
        Interlocked.Increment(ref _connectionsAccepted);
        Interlocked.Increment(ref _connections);
    }

    internal void Closed() => Interlocked.Decrement(ref _connections);
    internal void Refused(bool totalLimit) => Interlocked.Increment(ref totalLimit ? ref _refusedTotalLimit : ref _refusedAddressLimit);
    internal void BodySent(long bytes) => Interlocked.Add(ref _bodyBytesSent, bytes);
    internal void SendStalled() => Interlocked.Increment(ref _sendsStalled);
    internal void FileError() => Interlocked.Increment(ref _fileErrors);

    internal void Responded(int status) => Responses.Increment(status switch
    {
        < 300 => HttpStatusClass.Success,
        < 400 => HttpStatusClass.Redirection,
        < 500 => HttpStatusClass.ClientError,
        _ => HttpStatusClass.ServerError,
    });
}
