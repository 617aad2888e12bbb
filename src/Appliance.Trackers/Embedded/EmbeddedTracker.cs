using System.Net;
using Appliance.Networking.Http.Inline;
using Appliance.Protocol.Metainfo;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// The tracker built into the appliance: HTTP <c>/announce</c> and <c>/scrape</c> and UDP BEP 15 on the same port number,
/// over one <see cref="SwarmStore"/>. By default it tracks only the torrents it is told to <see cref="Allow"/>.
/// </summary>
public sealed class EmbeddedTracker : IAsyncDisposable
{
    private readonly SwarmStore _store;
    private readonly TrackerCounters _counters;
    private readonly ILogger _logger;
    private readonly InlineHttpServer _http;
    private readonly UdpTrackerServer _udp;
    private readonly IPEndPoint _endPoint;
    private readonly TimeProvider _time;
    private ITimer? _sweeper;

    public EmbeddedTracker(IPEndPoint endPoint, SwarmStoreOptions options, TrackerCounters counters, ILogger? logger = null,
        TimeProvider? time = null)
    {
        _endPoint = endPoint;
        _time = time ?? TimeProvider.System;
        _store = new SwarmStore(options, _time);
        _counters = counters;
        _logger = logger ?? NullLogger.Instance;
        _http = new InlineHttpServer("tracker", endPoint, new HttpTrackerEndpoint(_store, counters), new InlineHttpServerOptions(), _logger, _time);
        _udp = new UdpTrackerServer(_store, new ConnectionIdIssuer(_time), counters, _logger);
    }

    public SwarmStore Store => _store;

    public IPEndPoint HttpEndPoint => _http.LocalEndPoint;

    public IPEndPoint UdpEndPoint => _udp.LocalEndPoint;

    public void Allow(InfoHash hash) => _store.Allow(hash);

    public void Disallow(InfoHash hash) => _store.Disallow(hash);

    public void RegisterSelf(InfoHash hash, IPEndPoint self) => _store.RegisterSelf(hash, PeerAddress.FromEndPoint(self));

    /// <summary>
    /// Binds HTTP (TCP) and UDP on the same port; with port 0, the UDP socket takes the port TCP got. UDP runs on
    /// <paramref name="udpWorkers"/> sockets sharing the port (SO_REUSEPORT), a receive thread each; one by default: on
    /// the 2-core benchmark one thread gave more announces per CPU-second than two, see perf-reports.
    /// </summary>
    public void Start(int udpWorkers = 1)
    {
        _http.Start();
        var udpEndPoint = new IPEndPoint(_endPoint.Address, _http.LocalEndPoint.Port);
        try
        {
            _udp.Start(udpEndPoint, udpWorkers);
        }
        catch
        {
            _http.StopAsync().GetAwaiter().GetResult();
            throw;
        }
        _sweeper = _time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
        TrackerLog.EmbeddedListening(_logger, _http.LocalEndPoint, _store.Options.Open);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sweeper is not null) await _sweeper.DisposeAsync().ConfigureAwait(false);
        await _http.StopAsync(cancellationToken).ConfigureAwait(false);
        await _udp.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _http.DisposeAsync().ConfigureAwait(false);
        await _udp.DisposeAsync().ConfigureAwait(false);
    }

    public void Sweep()
    {
        var (swarms, peers) = _store.Sweep();
        _counters.Set(TrackerCounter.EmbeddedSwarms, swarms);
        _counters.Set(TrackerCounter.EmbeddedPeers, peers);
    }
}
