using System.Net;
using Appliance.Networking.Http;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
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
    private readonly HttpServer _http;
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
        var routes = new HttpRouteTable()
            .MapGet("/announce", HandleAnnounce)
            .MapGet("/scrape", HandleScrape);
        _http = new HttpServer("tracker", endPoint, routes, new HttpServerOptions { MaxRequestBodyBytes = 0, MaxConnections = 4096 }, _logger);
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

    private ValueTask HandleAnnounce(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = "text/plain";
        if (!HttpAnnounceQuery.TryParse(request.RawQuery, out var announce, out string error))
        {
            _counters.Increment(TrackerCounter.EmbeddedHttpRejected);
            HttpTrackerResponse.WriteFailure(response.Body, error);
            return ValueTask.CompletedTask;
        }
        var peer = PeerAddress.From(request.RemoteEndPoint.Address, announce!.Port);
        int maxPeers = _store.Options.MaxNumWant;
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(maxPeers * 24);
        try
        {
            var v4Space = buffer.AsSpan(0, maxPeers * 6);
            var v6Space = buffer.AsSpan(maxPeers * 6, maxPeers * 18);
            var answer = _store.Announce(announce.InfoHash, peer, announce.Left == 0, announce.Event, announce.NumWant, v4Space, v6Space);
            if (answer.Status != AnnounceStatus.Ok)
            {
                _counters.Increment(TrackerCounter.EmbeddedHttpRejected);
                HttpTrackerResponse.WriteFailure(response.Body, answer.Status switch
                {
                    AnnounceStatus.NotTracked => "torrent not tracked here",
                    AnnounceStatus.RateLimited => "too many announces from your address, retry later",
                    _ => "tracker is full",
                });
                return ValueTask.CompletedTask;
            }
            _counters.Increment(TrackerCounter.EmbeddedHttpAnnounces);
            int interval = (int)_store.Options.Interval.TotalSeconds, minInterval = (int)_store.Options.MinInterval.TotalSeconds;
            if (announce.Compact)
            {
                HttpTrackerResponse.WriteAnnounce(response.Body, interval, minInterval, answer.Complete, answer.Incomplete,
                    v4Space[..answer.V4Bytes], v6Space[..answer.V6Bytes]);
            }
            else
            {
                var peers = new List<(IPEndPoint, ReadOnlyMemory<byte>)>();
                for (int i = 0; i < answer.V4Bytes; i += 6) peers.Add((CompactPeerCodec.ReadV4(v4Space.Slice(i, 6)), default));
                for (int i = 0; i < answer.V6Bytes; i += 18) peers.Add((CompactPeerCodec.ReadV6(v6Space.Slice(i, 18)), default));
                HttpTrackerResponse.WriteAnnounceDictionaryPeers(response.Body, interval, minInterval, answer.Complete, answer.Incomplete, peers, includePeerId: false);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        return ValueTask.CompletedTask;
    }

    private ValueTask HandleScrape(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = "text/plain";
        var hashes = new List<InfoHash>();
        if (!HttpAnnounceQuery.TryParseScrape(request.RawQuery, hashes, out string error) || hashes.Count == 0)
        {
            _counters.Increment(TrackerCounter.EmbeddedHttpRejected);
            HttpTrackerResponse.WriteFailure(response.Body, hashes.Count == 0 && error.Length == 0 ? "info_hash required" : error);
            return ValueTask.CompletedTask;
        }
        _counters.Increment(TrackerCounter.EmbeddedHttpScrapes);
        var files = hashes.Distinct().Where(_store.IsTracked).Order().Select(h => (h, _store.Scrape(h))).ToList();
        HttpTrackerResponse.WriteScrape(response.Body, files);
        return ValueTask.CompletedTask;
    }
}
