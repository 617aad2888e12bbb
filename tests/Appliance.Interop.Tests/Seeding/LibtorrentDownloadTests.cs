using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>python3-libtorrent downloads a multi-file torrent from <c>appliance serve</c> by connecting straight to its port.</summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentDownloadTests
{
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
        // Over TCP. Level 0 is libtorrent's default encryption policy: it opens with an encrypted handshake offering both
        // methods and gets plaintext after it; 1 (plaintext after an obfuscated handshake) or 2 (RC4) force encryption.
        using var leecher = await Libtorrent.LeechAsync(temp.Path, Path.Combine(content, "sample.torrent"), download, new Libtorrent.LeecherOptions
        {
            PeerHost = client,
            PeerPort = port,
            ListenHost = client,
            Encryption = encryptionLevel switch { 1 => Libtorrent.Encryption.ForcedPlaintext, 2 => Libtorrent.Encryption.ForcedRc4, _ => Libtorrent.Encryption.Default },
            Alerts = Libtorrent.Alerts.Peer,
        });
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
