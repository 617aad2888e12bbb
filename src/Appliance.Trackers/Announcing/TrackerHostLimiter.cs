using System.Collections.Concurrent;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// At most N requests (announces and scrapes, HTTP and UDP) in flight to one tracker host at a time, so thousands of
/// torrents due together queue here instead of storming the tracker.
/// </summary>
internal sealed class TrackerHostLimiter(int perHost)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public async ValueTask<Lease> AcquireAsync(string url, CancellationToken cancellationToken)
    {
        string host = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : url;
        var gate = _hosts.GetOrAdd(host, _ => new SemaphoreSlim(perHost, perHost));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Lease(gate);
    }

    public readonly struct Lease(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
