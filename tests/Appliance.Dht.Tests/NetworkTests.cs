using System.Net;
using Appliance.Dht.Node;
using Appliance.Dht.Routing;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Dht.Tests;

/// <summary>Real DHT nodes on distinct loopback addresses (127.0.0.x), talking over UDP.</summary>
[CollectionDefinition(nameof(NetworkCollection), DisableParallelization = true)]
public sealed class NetworkCollection;

/// <summary>
/// Networks of real nodes on 127.0.0.x. They run alone: beside this project's CPU-bound mutation tests, on a machine
/// with a core taken, lookups here were seen to stall for the whole test bound (1-2 runs in 6; the cause is not found
/// yet, see the closing note of the session that added this), so the collection keeps them apart.
/// </summary>
[Collection(nameof(NetworkCollection))]
public class NetworkTests
{
    private static DhtNodeOptions Options(int host, IReadOnlyList<CompactPeer> bootstrap, string? stateFile = null) => new()
    {
        EndPoint = new IPEndPoint(IPAddress.Parse($"127.0.0.{host}"), 0),
        Bootstrap = bootstrap,
        QueryTimeout = TimeSpan.FromSeconds(3),
        LookupTimeout = TimeSpan.FromSeconds(15),
        StateFile = stateFile,
    };

    private static async Task<List<DhtNode>> StartNetworkAsync(int count, CancellationToken cancellationToken)
    {
        var nodes = new List<DhtNode> { DhtNode.Start(Options(10, [])) };
        var first = nodes[0].LocalAddress;
        for (int i = 1; i < count; i++) nodes.Add(DhtNode.Start(Options(10 + i, [first])));
        // Joining one after another lets each later node learn the earlier ones.
        foreach (var node in nodes.Skip(1)) await node.BootstrapAsync(cancellationToken);
        // A second round, as a refresh would do, fills the tables of early joiners.
        foreach (var node in nodes) await node.Engine.FindNodeAsync(node.Engine.Id, cancellationToken);
        return nodes;
    }

    [Fact]
    public async Task Lookups_in_a_network_of_24_nodes_converge_on_the_true_K_closest()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var nodes = await StartNetworkAsync(24, timeout.Token);
        try
        {
            var ids = nodes.Select(n => n.Engine.Id).ToList();
            for (int round = 0; round < 5; round++)
            {
                var target = NodeId.Random();
                var asker = nodes[(round * 7 + 3) % nodes.Count];
                var result = await asker.Engine.FindNodeAsync(target, timeout.Token);
                var truth = ids.Where(id => id != asker.Engine.Id).OrderBy(id => id.Xor(target)).Take(RoutingTable.K).ToList();
                var got = result.Closest.Select(c => c.Id).ToList();
                if (!truth.SequenceEqual(got))
                {
                    var missing = truth.Except(got).ToList();
                    var lines = missing.Select(m => $"{m} known by {nodes.Count(n => n.Engine.WithTable(t => t.AllNodes().Any(x => x.Id == m)))} nodes; queries {result.QueriesSent}");
                    Assert.Fail(string.Join("\n", lines));
                }
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_announce_by_one_node_is_found_by_another()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var nodes = await StartNetworkAsync(20, timeout.Token);
        try
        {
            var infoHash = NodeId.Random();
            var announced = await nodes[5].Engine.AnnounceAsync(infoHash, 51413, impliedPort: false, timeout.Token);
            Assert.True(announced.Acknowledged >= RoutingTable.K / 2, $"only {announced.Acknowledged} nodes accepted the announce");
            var found = await nodes[17].Engine.GetPeersAsync(infoHash, timeout.Token);
            Assert.Contains(new CompactPeer(nodes[5].LocalAddress.Address, 51413), found.Peers);
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_restarted_node_rejoins_from_its_state_file_without_bootstrap()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var folder = new TempDirectory();
        string stateFile = Path.Combine(folder.Path, "dht.state");
        var nodes = await StartNetworkAsync(8, timeout.Token);
        try
        {
            var first = nodes[0].LocalAddress;
            var joiner = DhtNode.Start(Options(40, [first], stateFile));
            await joiner.BootstrapAsync(timeout.Token);
            var id = joiner.Engine.Id;
            Assert.True(joiner.Engine.TableSize >= 5);
            await joiner.DisposeAsync();

            var restarted = DhtNode.Start(Options(40, [], stateFile));
            await using (restarted)
            {
                Assert.Equal(id, restarted.Engine.Id);
                Assert.True(restarted.Remembered.Count >= 5);
                Assert.Equal(0, restarted.Engine.TableSize);
                await restarted.BootstrapAsync(timeout.Token);
                Assert.True(restarted.Engine.TableSize >= 5);
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }
}

/// <summary>The replies to one received batch of queries leave together, with one sendmmsg.</summary>
public sealed class ReplyBatchingTests
{
    [Fact]
    public async Task Replies_to_a_burst_of_queries_leave_in_a_few_batched_sends_not_one_per_reply()
    {
        const int Queries = 32;
        await using var node = DhtNode.Start(new DhtNodeOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) });
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        client.ReceiveTimeout = 30_000;
        var id = NodeId.Random().ToArray();
        var buffer = new byte[1500];

        // Hold the engine while the burst arrives, so the queries queue up in the socket and are received together.
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var hold = Task.Run(() => node.Engine.WithTable(_ => { holding.Set(); release.Wait(TimeSpan.FromSeconds(30)); return 0; }));
        Assert.True(holding.Wait(TimeSpan.FromSeconds(30)));
        long before = node.Endpoint.SendCalls;
        for (int i = 0; i < Queries; i++)
        {
            int length = KrpcWriter.WriteFindNode(buffer, [(byte)i, 0], id, NodeId.Random().ToArray(), default);
            client.SendTo(buffer.AsSpan(0, length), node.LocalEndPoint);
        }
        release.Set();
        await hold;

        var answered = new HashSet<int>();
        while (answered.Count < Queries)
        {
            int received = client.Receive(buffer); // 30 s bound: a lost reply fails the test, it does not hang it
            if (KrpcParser.Parse(buffer.AsSpan(0, received), out var message) == KrpcParseStatus.Ok && message.Type == KrpcMessageType.Response)
                answered.Add(message.TransactionId[0]);
        }
        long sends = node.Endpoint.SendCalls - before;
        // One send per received batch: the first query may be taken alone before the engine was free, the rest together
        // (each batch also carries the verification ping to this unknown querier). One send per reply would be 32 or more.
        Assert.True(sends <= 4, $"{sends} sends for {Queries} replies");
    }
}
