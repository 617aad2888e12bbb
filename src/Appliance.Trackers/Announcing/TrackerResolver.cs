using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// Tracker host names to addresses, shared by the HTTP and UDP clients and the announcer: one lookup per host in flight,
/// the answer kept for <see cref="AnnouncerOptions.DnsLifetime"/>, so thousands of torrents on one tracker cost one query.
/// Which families a host has decides which of our families announce to it (an A record only: IPv4 announces only).
/// </summary>
public sealed class TrackerResolver
{
    // A failed lookup is asked again this soon; until then every announce to the host fails at once with its reason.
    private static readonly TimeSpan FailureLifetime = TimeSpan.FromSeconds(30);
    private const int PruneAbove = 4096;

    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;
    private readonly ConcurrentDictionary<string, Lookup> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public TrackerResolver(AnnouncerOptions options, TimeProvider? time = null)
    {
        _resolve = options.Resolve ?? ((host, cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken));
        _time = time ?? TimeProvider.System;
        _lifetime = options.DnsLifetime;
    }

    /// <summary>The host's addresses in <paramref name="family"/> (none when it has no record of that family).</summary>
    public async ValueTask<IPAddress[]> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken)
    {
        var all = await ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        return Array.FindAll(all, a => FamilyOf(a) == family);
    }

    /// <summary>Every address of the host (a literal is its own answer); a failed lookup throws <see cref="TrackerException"/>.</summary>
    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        string name = host.Trim('[', ']');
        if (IPAddress.TryParse(name, out var literal)) return [literal.IsIPv4MappedToIPv6 ? literal.MapToIPv4() : literal];
        var lookup = _hosts.AddOrUpdate(name, Start, (n, old) => old.IsStale(_time, _lifetime) ? Start(n) : old);
        if (_hosts.Count > PruneAbove) Prune();
        try
        {
            return await lookup.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new TrackerException($"cannot resolve {name}: {e.SocketErrorCode}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not TrackerException)
        {
            throw new TrackerException($"cannot resolve {name}: {e.Message}", e);
        }
    }

    /// <summary>An IPv4-mapped IPv6 address is IPv4 on the wire.</summary>
    public static AddressFamily FamilyOf(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6 ? AddressFamily.InterNetwork : address.AddressFamily;

    // Not cancelled by the caller who started it: other announces share the lookup.
    private Lookup Start(string host) => new(_resolve(host, CancellationToken.None), _time.GetTimestamp());

    private void Prune()
    {
        foreach (var (host, lookup) in _hosts)
        {
            if (lookup.IsStale(_time, _lifetime)) _hosts.TryRemove(new KeyValuePair<string, Lookup>(host, lookup));
        }
    }

    private sealed record Lookup(Task<IPAddress[]> Task, long StartedAt)
    {
        public bool IsStale(TimeProvider time, TimeSpan lifetime) => Task.IsCompleted
            && time.GetElapsedTime(StartedAt) >= (Task.IsCompletedSuccessfully ? lifetime : FailureLifetime);
    }
}
