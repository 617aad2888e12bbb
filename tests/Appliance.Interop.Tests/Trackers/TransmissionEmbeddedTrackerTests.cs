using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Trackers;

/// <summary>
/// transmission-cli finds <c>appliance serve</c> only through the embedded tracker and downloads every byte. transmission
/// ignores peers on 127.0.0.0/8, so it runs in a network namespace of its own, linked to us by a veth pair.
/// </summary>
[Trait("Category", "Interop")]
public sealed class TransmissionEmbeddedTrackerTests
{
    [Fact]
    public async Task Transmission_in_a_namespace_downloads_every_byte_via_the_embedded_tracker()
    {
        using var temp = new TempDirectory("transmission-interop");
        using var ns = await NetworkNamespace.CreateAsync();
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        int peerPort = Ports.FreeTcp();
        int trackerPort = Ports.FreeTcpAndUdp();
        string torrent = Path.Combine(content, "sample.torrent");
        TestTorrents.Write(source, torrent, pieceLength: 32 * 1024, trackers: [$"http://{ns.HostAddress}:{trackerPort}/announce"]);

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"{ns.HostAddress}:{peerPort}", "--no-dht", "--metrics-listen", "",
            "--tracker-listen", $"{ns.HostAddress}:{trackerPort}", "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("tracker listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        // No DHT, LPD, PEX or port mapping: the tracker is the only way to find the appliance.
        string config = temp.CreateSubdirectory("transmission");
        await File.WriteAllTextAsync(Path.Combine(config, "settings.json"), """
            { "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "port-forwarding-enabled": false,
              "utp-enabled": false, "rename-partial-files": true, "blocklist-enabled": false }
            """);
        string download = temp.CreateSubdirectory("download");
        using var transmission = ns.Start("transmission-cli", [
            "-g", config, "-w", download, "-p", Ports.FreeTcp().ToString(CultureInfo.InvariantCulture), "-M", "-B", "-ep", torrent,
        ]);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        string difference = "";
        while (!deadline.IsCancellationRequested && !transmission.HasExited)
        {
            if (SampleContent.SameTree(source, Path.Combine(download, "sample"), out difference)) break;
            await Task.Delay(500);
        }
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out difference),
            difference + "\n--- transmission ---\n" + transmission.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);

        transmission.Kill();
        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
