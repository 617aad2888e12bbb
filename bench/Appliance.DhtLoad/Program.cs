using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Dht;
using Appliance.Dht.Node;
using Appliance.Protocol.Krpc;

namespace Appliance.DhtLoad;

/// <summary>
/// DHT query load over loopback: a get_peers/find_node mix from a few client sockets, each keeping a window of
/// queries in flight, counting answers. By default it runs its own node in this process (per-source rate
/// limit raised, since all load comes from 127.0.0.1) so it can also report bytes allocated per answered query;
/// with --target it loads any node (an appliance's per-source limit will then refuse most of it). With --sources N
/// the load comes from N distinct loopback addresses at --rate queries per second each, as a node on the real DHT
/// sees it (<see cref="SpreadSourceLoad"/>). Bounded by
/// --seconds and --max-queries. Loopback only: the target must be a 127.0.0.0/8 address.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        int seconds = 10, clients = 2, window = 64, tableSize = 300, sources = 0, warmup = 5, pid = 0;
        double rate = 10;
        long maxQueries = 5_000_000;
        IPEndPoint? target = null;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--seconds": seconds = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--clients": clients = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--window": window = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--table": tableSize = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--max-queries": maxQueries = long.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--target": target = IPEndPoint.Parse(value); i++; break;
                case "--sources": sources = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--rate": rate = double.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--warmup": warmup = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--pid": pid = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                default:
                    Console.Error.WriteLine("usage: Appliance.DhtLoad [--seconds 10] [--clients 2] [--window 64] [--table 300] [--max-queries N] [--target 127.0.0.1:PORT]\n" +
                        "       Appliance.DhtLoad --target 127.0.0.1:PORT --sources 16000 [--rate 10] [--warmup 5] [--seconds 10] [--pid NODE_PID]");
                    return 2;
            }
        }
        if (target is not null && target.Address.GetAddressBytes()[0] != 127)
        {
            Console.Error.WriteLine("the target must be a loopback address");
            return 2;
        }
        if (sources > 0)
        {
            if (target is null)
            {
                Console.Error.WriteLine("--sources loads a running node: give its --target");
                return 2;
            }
            return SpreadSourceLoad.Run(target, sources, rate, warmup, seconds, pid);
        }

        DhtNode? node = null;
        if (target is null)
        {
            node = DhtNode.Start(new DhtNodeOptions
            {
                EndPoint = new IPEndPoint(IPAddress.Loopback, 0),
                PacketsPerSecondPerSource = 1e12,
                BurstPerSource = 1e12,
            });
            // A realistic table; the fake nodes live on unused loopback addresses, so nothing leaves the machine.
            for (int i = 1; i <= tableSize; i++)
            {
                var address = new CompactPeer(0x7F010000u + (uint)i, 6881);
                node.Engine.WithTable(t => t.AddVerified(NodeId.Random(), address));
            }
            target = node.LocalEndPoint;
        }

        var targets = new byte[1024][];
        for (int i = 0; i < targets.Length; i++) targets[i] = NodeId.Random().ToArray();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var workers = new LoadClient[clients];
        for (int i = 0; i < clients; i++) workers[i] = new LoadClient(target, targets, window, maxQueries / clients);

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long answeredBefore = node?.Engine.Counters.Read(DhtCounter.ResponsesSent) ?? 0;
        var clock = Stopwatch.StartNew();
        var threads = workers.Select(w => new Thread(() => w.Run(stop.Token)) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        clock.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        long sent = workers.Sum(w => w.Sent), answered = workers.Sum(w => w.Answered);
        double elapsed = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"target {target} clients {clients} window {window} seconds {elapsed:F1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"queries sent {sent} answered {answered} ({answered / elapsed:F0}/s) unanswered {sent - answered} (includes the window still in flight at the stop)"));
        if (node is not null)
        {
            long served = node.Engine.Counters.Read(DhtCounter.ResponsesSent) - answeredBefore;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"node answered {served}; process allocated {allocated} bytes = {(served > 0 ? allocated / (double)served : 0):F2} B per answered query (node and load clients together)"));
            await node.DisposeAsync();
        }
        return answered > 0 ? 0 : 1;
    }

    /// <summary>One socket keeping <c>window</c> queries in flight; re-sends on a short timeout so losses do not stall it.</summary>
    private sealed class LoadClient(IPEndPoint target, byte[][] targets, int window, long maxQueries)
    {
        private readonly byte[] _id = NodeId.Random().ToArray();
        public long Sent;
        public long Answered;

        public void Run(CancellationToken stop)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            socket.ReceiveTimeout = 200;
            var to = target.Serialize();
            var from = new SocketAddress(AddressFamily.InterNetwork);
            var send = new byte[256];
            var receive = new byte[2048];
            Span<byte> tid = stackalloc byte[2];
            ushort next = 0;
            for (int i = 0; i < window; i++) SendOne(socket, to, send, tid, ref next);
            while (!stop.IsCancellationRequested && Sent < maxQueries)
            {
                int length;
                try
                {
                    length = socket.ReceiveFrom(receive, SocketFlags.None, from);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    // Losses under overload: refill the window.
                    for (int i = 0; i < window / 4 + 1; i++) SendOne(socket, to, send, tid, ref next);
                    continue;
                }
                if (KrpcParser.Parse(receive.AsSpan(0, length), out var message) == KrpcParseStatus.Ok && message.Type == KrpcMessageType.Response)
                {
                    Answered++;
                    SendOne(socket, to, send, tid, ref next);
                }
            }
        }

        private void SendOne(Socket socket, SocketAddress to, byte[] buffer, Span<byte> tid, ref ushort next)
        {
            BinaryPrimitives.WriteUInt16BigEndian(tid, next++);
            var key = targets[next % targets.Length];
            int length = (next & 1) == 0
                ? KrpcWriter.WriteGetPeers(buffer, tid, _id, key, "LD\x00\x01"u8)
                : KrpcWriter.WriteFindNode(buffer, tid, _id, key, "LD\x00\x01"u8);
            socket.SendTo(buffer.AsSpan(0, length), SocketFlags.None, to);
            Sent++;
        }
    }
}
