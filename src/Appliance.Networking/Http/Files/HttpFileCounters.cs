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

/// <summary>What an <see cref="HttpFileServer"/> counts, one slot each in <see cref="HttpFileCounters"/>.</summary>
public enum HttpFileCounter
{
    /// <summary>Response body bytes the kernel accepted (file bytes; heads not counted).</summary>
    BodyBytesSent,
    ConnectionsAccepted,

    /// <summary>Level: connections open now.</summary>
    Connections,
    RefusedTotalLimit,
    RefusedAddressLimit,

    /// <summary>Times a body send found the socket buffer full and waited for room (clients slower than the server).</summary>
    SendsStalled,

    /// <summary>Files that ended before their size promised (truncated while served).</summary>
    FileErrors,
}

/// <summary>What an <see cref="HttpFileServer"/> did; <see cref="HttpFileMetrics"/> exports it. Interlocked writes, lock-free reads.</summary>
public sealed class HttpFileCounters : CounterSet<HttpFileCounter>
{
    public CounterSet<HttpStatusClass> Responses { get; } = new();
    public CounterSet<HttpFileTimeout> Timeouts { get; } = new();

    internal void Accepted()
    {
        Increment(HttpFileCounter.ConnectionsAccepted);
        Increment(HttpFileCounter.Connections);
    }

    internal void Closed() => Decrement(HttpFileCounter.Connections);
    internal void Refused(bool totalLimit) => Increment(totalLimit ? HttpFileCounter.RefusedTotalLimit : HttpFileCounter.RefusedAddressLimit);
    internal void BodySent(long bytes) => Add(HttpFileCounter.BodyBytesSent, bytes);
    internal void SendStalled() => Increment(HttpFileCounter.SendsStalled);
    internal void FileError() => Increment(HttpFileCounter.FileErrors);

    internal void Responded(int status) => Responses.Increment(status switch
    {
        < 300 => HttpStatusClass.Success,
        < 400 => HttpStatusClass.Redirection,
        < 500 => HttpStatusClass.ClientError,
        _ => HttpStatusClass.ServerError,
    });
}
