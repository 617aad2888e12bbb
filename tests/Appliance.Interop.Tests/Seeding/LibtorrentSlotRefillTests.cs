using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>
/// With one upload slot and no choker round for an hour, three stock libtorrent clients (TCP) each finish: a peer is
/// unchoked the moment it is interested while the slot is free, and the slot a finished peer frees (it says not
/// interested, or leaves) goes to the next one at once. Before, the others waited for the next choker round.
/// </summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentSlotRefillTests
{
    private const string Leechers = """
        import sys, time, os
        import libtorrent as lt
        torrent, save, port, timeout, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        handles = []
        for i in range(count):
            s = lt.session({
                'listen_interfaces': '127.0.0.1:0',
                'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                'allow_multiple_connections_per_ip': True, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
                'out_enc_policy': 2, 'in_enc_policy': 2,
            })
            folder = os.path.join(save, str(i))
            os.makedirs(folder)
            h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': folder})
            h.connect_peer(('127.0.0.1', port))
            handles.append((s, h))
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = [h.status().is_seeding for s, h in handles]
            if all(done):
                print('all seeding', flush=True)
                sys.exit(0)
            for s, h in handles:
                if h.status().num_peers == 0 and not h.status().is_seeding:
                    h.connect_peer(('127.0.0.1', port))
            time.sleep(0.1)
        print('timeout', [h.status().progress for s, h in handles], flush=True)
        sys.exit(1)
        """;

    [Fact]
    public async Task Freed_upload_slot_goes_to_the_next_client_without_waiting_for_a_choker_round()
    {
        using var temp = new TempDirectory("slot-refill");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 32 * 1024);
        int port = Ports.FreeTcp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-dht", "--no-tracker", "--metrics-listen", "",
            "--state", temp.CreateSubdirectory("state"), "--upload-slots", "1", "--choke-interval", "3600",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        string script = Path.Combine(temp.Path, "leechers.py");
        await File.WriteAllTextAsync(script, Leechers);
        using var leechers = await ExternalProcess.RunAsync("/usr/bin/python3",
            [script, Path.Combine(content, "sample.torrent"), download, port.ToString(CultureInfo.InvariantCulture), "90", "3"],
            TimeSpan.FromSeconds(120));
        Assert.True(leechers.ExitCode == 0, leechers.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(SampleContent.SameTree(source, Path.Combine(download, i.ToString(CultureInfo.InvariantCulture), "sample"), out string difference), difference);
        }

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
    }
}
