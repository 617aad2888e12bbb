using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// At most N requests (announces and scrapes, HTTP and UDP) in flight to one tracker host over one address family at a
/// time, so thousands of torrents due together queue here instead of storming the tracker; and at most M in flight over
/// all hosts (sockets). The families count apart: each reaches its own address of the tracker over its own connections.
/// The host's slot is taken first, so torrents waiting for a slow tracker hold nothing that others need.
/// </summary>
internal sealed class TrackerHostLimiter(int perHost, int total)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _total = new(total, total);

    public async ValueTask<Lease> AcquireAsync(string url, AddressFamily family, CancellationToken cancellationToken)
    {
        // A tracker is its host and port: HTTP and UDP on one port (as opentracker serves them) share the slots.
        string host = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Authority : url;
        if (family == AddressFamily.InterNetworkV6) host = "v6 " + host;
        var gate = _hosts.GetOrAdd(host, _ => new SemaphoreSlim(perHost, perHost));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _total.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            gate.Release();
            throw;
        }
        return new Lease(gate, _total);
    }

    public readonly struct Lease(SemaphoreSlim gate, SemaphoreSlim total) : IDisposable
    {
        public void Dispose()
        {
            total.Release();
            gate.Release();
        }
    }
}
