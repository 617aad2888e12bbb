using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Utp;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>
/// Hostile uTP datagrams (random mutations, a SYN flood, forged acks with huge windows, acks of data never sent) sent
/// to <c>appliance serve</c> while python3-libtorrent downloads over uTP only: the download completes and verifies,
/// and the uTP connections the appliance holds stay bounded.
/// </summary>
[Trait("Category", "Interop")]
public sealed class UtpHostileTests
{
    [Fact]
    public async Task Good_client_is_served_through_mutations_syn_floods_and_forged_acks()
    {
        using var temp = new TempDirectory("utp-hostile");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 8);
        TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 64 * 1024);
        int port = Ports.FreeTcp();
        int metricsPort = Ports.FreeTcp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-dht", "--no-tracker",
            "--metrics-listen", $"127.0.0.1:{metricsPort}", "--state", temp.CreateSubdirectory("state"),
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("utp listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        using var stop = new CancellationTokenSource();
        var target = new IPEndPoint(IPAddress.Loopback, port);
        var attack = Task.Run(() => Attack(target, stop.Token));

        string download = temp.CreateSubdirectory("download");
        using var leecher = await Libtorrent.LeechAsync(temp.Path, Path.Combine(content, "sample.torrent"), download, Libtorrent.UtpOnly(port, TimeSpan.FromSeconds(120)));
        await stop.CancelAsync();
        long sent = await attack;

        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);
        Assert.True(sent > 10_000, $"only {sent} hostile datagrams were sent");
        // Half-open connections are capped (64 by default) and the good client holds one or two.
        Assert.InRange(Gauge(metrics, "appliance_utp_connections"), 0, 64 + 4);
        Assert.True(Gauge(metrics, "appliance_utp_connections_refused_total{reason=\"half_open\"}") > 0, metrics);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }

    private static long Attack(IPEndPoint target, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var random = new Random(29);
        var valid = new byte[UtpHeader.Length + 100];
        long sent = 0;
        while (!stop.IsCancellationRequested)
        {
            for (int i = 0; i < 100; i++)
            {
                int kind = random.Next(4);
                var type = kind switch { 0 => UtpPacketType.Syn, 1 => UtpPacketType.State, 2 => UtpPacketType.Data, _ => UtpPacketType.Fin };
                ushort id = (ushort)random.Next(0x10000);
                // Huge windows and acks of data never sent; the id is random, so some land on half-open connections.
                new UtpHeader(type, id, (uint)random.Next(), (uint)random.Next(), uint.MaxValue, (ushort)random.Next(0x10000), (ushort)random.Next(0x10000))
                    .WriteTo(valid);
                random.NextBytes(valid.AsSpan(UtpHeader.Length));
                var datagram = random.Next(3) == 0 ? Mutations.Mutate(valid, random) : valid;
                try
                {
                    socket.SendTo(datagram, target);
                    sent++;
                }
                catch (SocketException)
                {
                }
            }
            Thread.Sleep(1);
        }
        return sent;
    }

    private static double Gauge(string metrics, string series)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"{series} not exported:\n{metrics}");
    }
}
