using System.Net;
using System.Net.Sockets;
using Appliance.Configuration;
using Appliance.Dht;
using Appliance.Dht.Announcing;
using Appliance.Dht.Node;
using Appliance.Protocol.Krpc;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The DHT node beside the seeder (UDP, --dht-port, default the listen port). Joins through --dht-bootstrap (or
/// the state folder's routing table), announces every torrent of the registry with our listen port, and lists
/// us as a peer of our own torrents to anyone who asks it. Prints <c>dht listening on &lt;addr&gt;</c> once bound.
/// When the peer port listens on IPv6 a second node serves IPv6 on the same port number (BEP 32: a routing table per
/// family), printing <c>dht6 listening on &lt;addr&gt;</c>; it has its own counters (not exported) and state file.
/// </summary>
public sealed class DhtComponent : IApplianceComponent
{
    /// <summary>Announces in flight at once, so thousands of torrents never storm the network.</summary>
    private const int MaxConcurrentAnnounces = 4;
    private static readonly TimeSpan SchedulerTick = TimeSpan.FromSeconds(1);

    private readonly ServeOptions _options;
    private readonly SeedingComponent _seeding;
    private readonly TextWriter _output;
    private readonly ILogger _logger;
    private readonly AnnounceSchedule _schedule = new(TimeProvider.System);
    private readonly Lock _scheduleGate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly IReadOnlyList<(string Host, int Port)> _bootstrapHosts;
    private DhtNode? _node;
    private DhtNode? _node6;
    private Task? _background;
    private int _inFlight;

    private DhtComponent(ServeOptions options, SeedingComponent seeding, TextWriter output, ILogger logger, IReadOnlyList<(string, int)> bootstrapHosts)
    {
        _options = options;
        _seeding = seeding;
        _output = output;
        _logger = logger;
        _bootstrapHosts = bootstrapHosts;
    }

    public string Name => "dht";

    public DhtCounters Counters { get; } = new();

    /// <summary>The IPv6 node's counters (zero while there is no IPv6 node).</summary>
    public DhtCounters Counters6 { get; } = new();

    public DhtNode? Node => _node;

    /// <summary>The IPv6 node, when the peer port listens on IPv6.</summary>
    public DhtNode? Node6 => _node6;

    public static DhtComponent? Create(ServeOptions options, SeedingComponent seeding, ILoggerFactory loggers, TextWriter output)
    {
        if (!options.Dht) return null;
        IReadOnlyList<(string, int)> hosts;
        try
        {
            hosts = BootstrapList.Parse(options.DhtBootstrap);
        }
        catch (FormatException e)
        {
            throw new OptionsException(e.Message);
        }
        return new DhtComponent(options, seeding, output, loggers.CreateLogger("Appliance.Dht"), hosts);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var listen = _options.GetListenEndPoint();
        var address = listen.Address.AddressFamily == AddressFamily.InterNetwork ? listen.Address : IPAddress.Any;
        var nodeOptions = new DhtNodeOptions
        {
            EndPoint = new IPEndPoint(address, _options.GetDhtPort()),
            StateFile = Path.Combine(_options.GetStateFolder(), "dht.state"),
        };
        _node = DhtNode.Start(nodeOptions, _logger, TimeProvider.System, Counters);
        if (listen.AddressFamily == AddressFamily.InterNetworkV6 && !listen.Address.IsIPv4MappedToIPv6)
        {
            _node6 = DhtNode.Start(new DhtNodeOptions
            {
                EndPoint = new IPEndPoint(listen.Address, _node.LocalEndPoint.Port),
                StateFile = Path.Combine(_options.GetStateFolder(), "dht6.state"),
            }, _logger, TimeProvider.System, Counters6);
            _node.Engine.Sibling = _node6.Engine;
            _node6.Engine.Sibling = _node.Engine;
        }
        lock (_output)
        {
            _output.WriteLine($"dht listening on {_node.LocalEndPoint} {_node.Engine.Id}");
            if (_node6 is not null) _output.WriteLine($"dht6 listening on {_node6.LocalEndPoint} {_node6.Engine.Id}");
            _output.Flush();
        }
        _seeding.Registry.Added += OnAdded;
        _seeding.Registry.Removed += OnRemoved;
        foreach (var torrent in _seeding.Registry.Snapshot()) OnAdded(torrent);
        _background = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var node = _node!;
        try
        {
            var bootstrap = await BootstrapList.ResolveAsync(_bootstrapHosts, _logger, cancellationToken).ConfigureAwait(false);
            // Each node takes the routers of its own family.
            var joined = _node6 is { } node6 ? node6.Engine.BootstrapAsync(bootstrap, node6.Remembered, cancellationToken) : Task.CompletedTask;
            await node.Engine.BootstrapAsync(bootstrap, node.Remembered, cancellationToken).ConfigureAwait(false);
            await joined.ConfigureAwait(false);
            using var timer = new PeriodicTimer(SchedulerTick);
            do
            {
                List<NodeId> due;
                lock (_scheduleGate) due = _schedule.TakeDue(MaxConcurrentAnnounces - Volatile.Read(ref _inFlight));
                foreach (var infoHash in due) _ = AnnounceAsync(node, _node6, infoHash, cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task AnnounceAsync(DhtNode node, DhtNode? node6, NodeId infoHash, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            AddSelf(infoHash);
            var announce6 = node6?.Engine.AnnounceAsync(infoHash, PeerPort(), impliedPort: false, cancellationToken);
            await node.Engine.AnnounceAsync(infoHash, PeerPort(), impliedPort: false, cancellationToken).ConfigureAwait(false);
            if (announce6 is not null) await announce6.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            lock (_scheduleGate) _schedule.Completed(infoHash);
        }
    }

    private int PeerPort() => _seeding.AdvertisedEndPoint?.Port ?? _options.GetListenEndPoint().Port;

    /// <summary>Our peer-wire address when it is a concrete IPv4 address (a wildcard listen address is not one).</summary>
    private CompactPeer? SelfPeer()
    {
        var advertised = _seeding.AdvertisedEndPoint ?? _options.GetListenEndPoint();
        if (advertised.AddressFamily == AddressFamily.InterNetwork && !advertised.Address.Equals(IPAddress.Any))
            return CompactPeer.FromEndPoint(advertised);
        return _node?.Engine.ExternalAddress is { } external ? new CompactPeer(external.Address, (ushort)PeerPort()) : null;
    }

    // A hybrid torrent is announced under both its hashes (BEP 52): v1 and v2 clients look for it by different ones.
    private void OnAdded(SeededTorrent torrent)
    {
        foreach (var hash in torrent.Metainfo.SwarmHashes)
        {
            var infoHash = ToNodeId(hash);
            AddSelf(infoHash);
            lock (_scheduleGate) _schedule.Add(infoHash);
        }
    }

    /// <summary>Lists us for the torrent in each node: our IPv4 address in the IPv4 node, our IPv6 one in the IPv6 node.</summary>
    private void AddSelf(NodeId infoHash)
    {
        if (SelfPeer() is { } self) _node?.Engine.AddLocalPeer(infoHash, self);
        if (_node6 is not null && _seeding.AdvertisedEndPoints.FirstOrDefault(e => e.AddressFamily == AddressFamily.InterNetworkV6 && !e.Address.Equals(IPAddress.IPv6Any)) is { } v6)
            _node6.Engine.AddLocalPeer(infoHash, CompactPeer.FromEndPoint(v6));
    }

    private void OnRemoved(SeededTorrent torrent)
    {
        foreach (var hash in torrent.Metainfo.SwarmHashes)
        {
            lock (_scheduleGate) _schedule.Remove(ToNodeId(hash));
        }
    }

    private static NodeId ToNodeId(InfoHash hash)
    {
        Span<byte> bytes = stackalloc byte[NodeId.Length];
        hash.CopyTo(bytes);
        return new NodeId(bytes);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _seeding.Registry.Added -= OnAdded;
        _seeding.Registry.Removed -= OnRemoved;
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_background is not null) await _background.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_node is not null) await _node.DisposeAsync().ConfigureAwait(false);
        if (_node6 is not null) await _node6.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
