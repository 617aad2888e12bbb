using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>python3-libtorrent downloads a multi-file torrent from <c>appliance serve</c> by connecting straight to its port.</summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentDownloadTests
{
    // Inline libtorrent leecher: adds the torrent, connects to our port only, waits for seeding, prints the outcome.
    // uTP is off because we speak TCP only (libtorrent would try uTP first and fall back slowly). With libtorrent's
    // default encryption policy it opens with an encrypted handshake offering both methods and gets plaintext after it.
    private const string Leecher = """
        import sys, time
        import libtorrent as lt
        torrent, save, port, timeout, host, level = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
        # level 0: libtorrent's default policy; 1 (plaintext after an obfuscated handshake) or 2 (RC4): encryption forced.
        forced = {'out_enc_policy': 0, 'in_enc_policy': 0, 'allowed_enc_level': level, 'prefer_rc4': level == 2} if level else {}
        s = lt.session({**forced,
            'listen_interfaces': ('[::1]:0' if ':' in host else '127.0.0.1:0'),
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
            'allow_multiple_connections_per_ip': True, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
            'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification,
        })
        h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
        h.connect_peer((host, port))
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            if st.num_peers == 0:
                h.connect_peer((host, port))
            for a in s.pop_alerts():
                print('alert', a.message(), flush=True)
            time.sleep(0.1)
        st = h.status()
        print('timeout', st.state, st.progress, st.num_peers, flush=True)
        sys.exit(1)
        """;

    [Theory]
    [InlineData("mmap", "127.0.0.1")]
    [InlineData("pread", "127.0.0.1")]
    [InlineData("mmap", "::1")]
    public Task Libtorrent_downloads_every_byte_of_a_multi_file_torrent(string storage, string client) =>
        DownloadAsync(storage, client, encryptionLevel: 0, []);

    [Theory]
    [InlineData(2, "allow")]
    [InlineData(2, "require")]
    [InlineData(1, "allow")]
    [InlineData(1, "require")]
    public Task Libtorrent_with_encryption_forced_downloads_every_byte(int level, string policy) =>
        DownloadAsync("mmap", "127.0.0.1", level, ["--encryption", policy]);

    private static async Task DownloadAsync(string storage, string client, int encryptionLevel, string[] extra)
    {
        using var temp = new TempDirectory("seeding-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 3);
        TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 32 * 1024);
        int port = Ports.FreeTcp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", client == "::1" ? $"[::]:{port}" : $"127.0.0.1:{port}", "--no-dht", "--no-tracker", "--metrics-listen", "",
            "--storage", storage, "--upload-slots", "unlimited", .. extra,
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("seeding ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        string script = Path.Combine(temp.Path, "leecher.py");
        await File.WriteAllTextAsync(script, Leecher);
        using var leecher = await ExternalProcess.RunAsync("/usr/bin/python3",
            [script, Path.Combine(content, "sample.torrent"), download, port.ToString(CultureInfo.InvariantCulture), "60", client,
                encryptionLevel.ToString(CultureInfo.InvariantCulture)],
            TimeSpan.FromSeconds(90));
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
