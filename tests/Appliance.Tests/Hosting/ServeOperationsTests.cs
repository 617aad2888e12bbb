using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Appliance.Metrics;
using Appliance.Networking.Http.Files;
using Appliance.Seeding;
using Appliance.Tests.Metrics;
using Appliance.TestKit;

namespace Appliance.Tests.Hosting;

/// <summary>
/// <c>appliance serve</c> run as an operator would: metrics of every component, the admin API, torrents and
/// content added and removed at runtime, and a graceful SIGTERM that leaves resume state behind.
/// </summary>
public sealed class ServeOperationsTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp = new("ops-serve");
    private readonly string _content;
    private readonly string _torrents;
    private readonly string _state;

    public ServeOperationsTests()
    {
        _content = _temp.CreateSubdirectory("content");
        _torrents = _temp.CreateSubdirectory("torrents");
        _state = _temp.Combine("state");
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Metrics_cover_the_catalogue_of_seeding_trackers_torrents_and_process()
    {
        var torrent = AddTorrent("alpha", 200_000);
        // The DHT node is on (loopback, no bootstrap: it only waits to be contacted) so its metrics are exported too.
        using var serve = Start(out var client, withDht: true, "--per-torrent-metrics", "3", "--web-seed-listen", $"127.0.0.1:{Ports.FreeTcp()}",
            "--file-pool", "32");
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);
        string text = await client.GetStringAsync("/metrics");

        var exported = text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet(StringComparer.Ordinal);
        var missing = Catalogue.Names.Except(exported).ToList();
        Assert.True(missing.Count == 0, "not exported: " + string.Join(", ", missing));
        Assert.Contains("appliance_torrents{state=\"seeding\"} 1", text, StringComparison.Ordinal);
        Assert.Contains($"appliance_torrent_uploaded_bytes_total{{infohash=\"{torrent.InfoHash.ToHex()}\",name=\"alpha\"}} 0", text, StringComparison.Ordinal);
        Assert.Contains("appliance_verification_progress_ratio 1", text, StringComparison.Ordinal);
        Assert.Contains("appliance_hash_rejects_total{reason=\"unknown_root\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("appliance_peers_by_info_hash{info_hash=\"v2\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("appliance_file_pool_capacity 32", text, StringComparison.Ordinal);
        await StopAsync(serve);
    }

    /// <summary>
    /// Every series of a scrape with every component on, as type, name and labels (values dropped), must equal
    /// tests/Appliance.Tests/Metrics/exported-series.txt: the dashboard and the alert rules query these, so a renamed
    /// metric, label or label value fails here. After an intended change, regenerate with APPLIANCE_UPDATE_SNAPSHOT=1.
    /// </summary>
    [Fact]
    public async Task Exported_series_names_and_labels_match_the_snapshot()
    {
        AddTorrent("alpha", 200_000);
        using var serve = Start(out var client, withDht: true, "--per-torrent-metrics", "3", "--web-seed-listen", $"127.0.0.1:{Ports.FreeTcp()}");
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);
        string text = await client.GetStringAsync("/metrics");
        await StopAsync(serve);

        var actual = ExportedSeries.Of(text);
        string snapshot = RepositoryRoot.Combine("tests", "Appliance.Tests", "Metrics", "exported-series.txt");
        if (Environment.GetEnvironmentVariable("APPLIANCE_UPDATE_SNAPSHOT") == "1") await File.WriteAllLinesAsync(snapshot, actual);
        var expected = await File.ReadAllLinesAsync(snapshot);
        var missing = expected.Except(actual).ToList();
        var added = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && added.Count == 0,
            $"no longer exported:\n{string.Join('\n', missing)}\nnew:\n{string.Join('\n', added)}");
    }

    [Fact]
    public async Task Per_torrent_series_are_off_by_default()
    {
        AddTorrent("alpha", 50_000);
        using var serve = Start(out var client);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);
        string text = await client.GetStringAsync("/metrics");
        Assert.DoesNotContain(SeedingMetrics.TorrentUploadedBytes + "{", text, StringComparison.Ordinal);
        Assert.DoesNotContain("infohash=", text, StringComparison.Ordinal);
        await StopAsync(serve);
    }

    [Fact]
    public async Task Admin_api_lists_adds_and_removes_torrents()
    {
        var alpha = AddTorrent("alpha", 100_000);
        using var serve = Start(out var client);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);

        using (var list = JsonDocument.Parse(await client.GetStringAsync("/api/torrents")))
        {
            Assert.Equal(1, list.RootElement.GetProperty("seeding").GetInt32());
            var item = list.RootElement.GetProperty("torrents")[0];
            Assert.Equal(alpha.InfoHash.ToHex(), item.GetProperty("infoHash").GetString());
            Assert.Equal("seeding", item.GetProperty("state").GetString());
            Assert.Equal(100_000, item.GetProperty("sizeBytes").GetInt64());
            Assert.Equal(0, item.GetProperty("uploadedBytes").GetInt64());
        }

        // Add by body: the content is already in place, the .torrent is not in the folder.
        string beta = SampleContent.WriteFile(Path.Combine(_content, "beta"), 70_000, seed: 11);
        var (betaBytes, betaInfo) = TestTorrents.Create(beta);
        using var body = new ByteArrayContent(betaBytes);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-bittorrent");
        using (var added = await client.PostAsync("/api/torrents", body))
        {
            // Accepted at once; the hashing goes on in the background and the client polls the Location.
            string json = await added.Content.ReadAsStringAsync();
            Assert.True(added.StatusCode == HttpStatusCode.Accepted, json);
            Assert.Equal("/api/torrents?infohash=" + betaInfo.InfoHash.ToHex(), added.Headers.Location?.OriginalString);
            await WaitUntilAsync(async () => await StateAsync(client, betaInfo.InfoHash.ToHex()) == "seeding", "beta seeding");
        }
        Assert.True(File.Exists(Path.Combine(_torrents, betaInfo.InfoHash.ToHex() + ".torrent")));
        await serve.WaitForLineAsync(l => l.StartsWith("seeding " + betaInfo.InfoHash.ToHex(), StringComparison.Ordinal), Patience);

        // Not a torrent, not sent as one, a path outside the folder, an unknown hash.
        using (var bad = await client.PostAsync("/api/torrents", Torrent("d4:spam4:eggse"u8.ToArray())))
            Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        using (var untyped = await client.PostAsync("/api/torrents", new ByteArrayContent(betaBytes)))
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, untyped.StatusCode);
        using (var escape = await client.PostAsync("/api/torrents?file=..%2Fx.torrent", new ByteArrayContent([])))
            Assert.Equal(HttpStatusCode.BadRequest, escape.StatusCode);
        using (var unknown = await client.DeleteAsync("/api/torrents?infohash=" + new string('a', 40)))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using (var removed = await client.DeleteAsync("/api/torrents?infohash=" + alpha.InfoHash.ToHex()))
        {
            string json = await removed.Content.ReadAsStringAsync();
            Assert.True(removed.StatusCode == HttpStatusCode.Accepted, json);
            await WaitUntilAsync(async () => await StateAsync(client, alpha.InfoHash.ToHex()) == "removed", "alpha removed");
        }
        Assert.False(File.Exists(Path.Combine(_torrents, "alpha.torrent")));
        Assert.True(File.Exists(Path.Combine(_content, "alpha")), "content must never be deleted");
        using (var list = JsonDocument.Parse(await client.GetStringAsync("/api/torrents")))
        {
            var hashes = list.RootElement.GetProperty("torrents").EnumerateArray().Select(t => t.GetProperty("infoHash").GetString()).ToList();
            Assert.Equal([betaInfo.InfoHash.ToHex()], hashes);
        }
        await StopAsync(serve);
    }

    [Fact]
    public async Task Torrents_and_content_added_or_removed_at_runtime_are_picked_up_without_restart()
    {
        using var serve = Start(out var client);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);

        // A .torrent whose content is not there yet: refused, then seeded once the content arrives.
        string gammaSource = SampleContent.WriteFile(_temp.Combine("staging", "gamma"), 90_000, seed: 5);
        var gamma = TestTorrents.Write(gammaSource, Path.Combine(_torrents, "gamma.torrent"));
        await WaitUntilAsync(async () => (await StatesAsync(client)).GetValueOrDefault(gamma.InfoHash.ToHex()) == "refused"
            || (await StatesAsync(client)).ContainsKey("gamma"), "gamma listed as refused");
        File.Move(gammaSource, Path.Combine(_content, "gamma"));
        await serve.WaitForLineAsync(l => l.StartsWith("seeding " + gamma.InfoHash.ToHex(), StringComparison.Ordinal), Patience);

        // Removing the .torrent stops seeding it.
        File.Delete(Path.Combine(_torrents, "gamma.torrent"));
        await WaitUntilAsync(async () => !(await StatesAsync(client)).ContainsKey(gamma.InfoHash.ToHex()), "gamma unloaded after its .torrent was deleted");

        // Removing the content of a seeded torrent stops seeding it too.
        var delta = AddTorrent("delta", 40_000);
        await serve.WaitForLineAsync(l => l.StartsWith("seeding " + delta.InfoHash.ToHex(), StringComparison.Ordinal), Patience);
        File.Delete(Path.Combine(_content, "delta"));
        await WaitUntilAsync(async () => (await StatesAsync(client)).GetValueOrDefault(delta.InfoHash.ToHex()) != "seeding", "delta unloaded after its content was deleted");
        await StopAsync(serve);
    }

    [Fact]
    public async Task Web_seed_serves_the_files_of_torrents_as_they_come_and_go()
    {
        AddTorrent("alpha", 120_000);
        int webSeedPort = Ports.FreeTcp();
        using var serve = Start(out var client, "--web-seed-listen", $"127.0.0.1:{webSeedPort}");
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);
        await serve.WaitForLineAsync(l => l == $"web seed listening on 127.0.0.1:{webSeedPort} http://127.0.0.1:{webSeedPort}/", Patience);
        using var http = await RawHttpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, webSeedPort));

        var alpha = await http.GetAsync("/alpha", "Range: bytes=100-199");
        Assert.Equal(206, alpha.Status);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_content, "alpha")).AsSpan(100, 100).ToArray(), alpha.Body);
        Assert.Equal(404, (await http.GetAsync("/beta")).Status);

        var beta = AddTorrent("beta", 60_000);
        await serve.WaitForLineAsync(l => l.StartsWith("seeding " + beta.InfoHash.ToHex(), StringComparison.Ordinal), Patience);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_content, "beta")), (await http.GetAsync("/beta")).Body);

        File.Delete(Path.Combine(_torrents, "alpha.torrent"));
        await WaitUntilAsync(async () => (await http.GetAsync("/alpha")).Status == 404, "alpha no longer served");

        string metrics = await client.GetStringAsync("/metrics");
        Assert.True(MetricsExporterTests.Sample(metrics, HttpFileMetrics.WebSeedSentBytes) >= 100 + 60_000);
        Assert.Equal(1, MetricsExporterTests.Sample(metrics, HttpFileMetrics.WebSeedConnections));
        Assert.True(MetricsExporterTests.Sample(metrics, HttpFileMetrics.WebSeedRequests + "{status=\"2xx\"}") >= 2);
        Assert.True(MetricsExporterTests.Sample(metrics, HttpFileMetrics.WebSeedRequests + "{status=\"4xx\"}") >= 2);
        await StopAsync(serve);
    }

    [Fact]
    public async Task Sigterm_exits_0_and_leaves_resume_state_behind()
    {
        var alpha = AddTorrent("alpha", 300_000);
        using var serve = Start(out var client);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);
        await StopAsync(serve);
        Assert.Contains("Stopping", serve.StandardError, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_state, alpha.InfoHash.ToHex() + ".resume")),
            "no resume file in the state folder: " + string.Join(", ", Directory.Exists(_state) ? Directory.GetFiles(_state) : []));
    }

    [Fact]
    public async Task With_an_admin_token_the_api_answers_only_requests_that_carry_it()
    {
        var alpha = AddTorrent("alpha", 50_000);
        string tokenFile = _temp.Combine("admin-token");
        File.WriteAllText(tokenFile, "s3cret-token-for-the-test\n");
        using var serve = Start(out var client, "--admin-token-file", tokenFile);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);

        using (var missing = await client.GetAsync("/api/torrents"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Equal("Bearer", Assert.Single(missing.Headers.WwwAuthenticate).Scheme);
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Delete, "/api/torrents?infohash=" + alpha.InfoHash.ToHex()))
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-token-for-the-tesT");
            using var answer = await client.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-token-for-the-test");
        // The refused DELETE removed nothing.
        Assert.Equal("seeding", (await StatesAsync(client))[alpha.InfoHash.ToHex()]);
        Assert.Contains("Admin API: refused GET", serve.AllOutput, StringComparison.Ordinal);
        await StopAsync(serve);
    }

    private Appliance.Protocol.Metainfo.TorrentMetainfo AddTorrent(string name, int size)
    {
        string data = SampleContent.WriteFile(Path.Combine(_content, name), size, seed: name.Length);
        return TestTorrents.Write(data, Path.Combine(_torrents, name + ".torrent"));
    }

    private ExternalProcess Start(out HttpClient client, params string[] extra) => Start(out client, withDht: false, extra);

    private ExternalProcess Start(out HttpClient client, bool withDht, params string[] extra)
    {
        int metricsPort = Ports.FreeTcp();
        client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(10) };
        string[] dht = withDht ? [] : ["--no-dht"];
        return ApplianceBinary.Start(ServeProcessTests.ServeArguments(_content, metricsPort, ["--torrents", _torrents, "--state", _state, .. dht, .. extra]));
    }

    private static async Task StopAsync(ExternalProcess serve)
    {
        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(serve.ExitCode == 0, serve.AllOutput);
    }

    [Fact]
    public async Task A_tracker_passkey_appears_neither_in_the_seeding_line_nor_in_the_log()
    {
        const string Passkey = "0123456789abcdef0123456789abcdef";
        string data = SampleContent.WriteFile(Path.Combine(_content, "private"), 20_000, seed: 12);
        var metainfo = TestTorrents.Write(data, Path.Combine(_torrents, "private.torrent"),
            trackers: [$"http://127.0.0.1:{Ports.FreeTcp()}/{Passkey}/announce", $"http://127.0.0.1:{Ports.FreeTcp()}/announce"]);
        using var serve = Start(out var client);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);
        string line = await serve.WaitForLineAsync(l => l.StartsWith("seeding " + metainfo.InfoHash.ToHex(), StringComparison.Ordinal), Patience);
        Assert.Contains("%2Fannounce", line, StringComparison.Ordinal); // the tracker without a secret is still offered
        await StopAsync(serve);
        Assert.DoesNotContain(Passkey, serve.AllOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_api_refuses_rebinding_hosts_and_cross_site_requests()
    {
        var alpha = AddTorrent("alpha", 50_000);
        using var serve = Start(out var client);
        await ServeProcessTests.WaitReadyAsync(client, serve, Patience);

        using (var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/torrents"))
        {
            rebound.Headers.Host = "attacker.example:" + client.BaseAddress!.Port;
            using var answer = await client.SendAsync(rebound);
            Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        }
        using (var crossSite = new HttpRequestMessage(HttpMethod.Delete, "/api/torrents?infohash=" + alpha.InfoHash.ToHex()))
        {
            crossSite.Headers.Add("Origin", "http://attacker.example");
            using var answer = await client.SendAsync(crossSite);
            Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        }
        using (var sameSite = new HttpRequestMessage(HttpMethod.Get, "/api/torrents"))
        {
            sameSite.Headers.Add("Origin", "http://" + client.BaseAddress!.Authority);
            using var answer = await client.SendAsync(sameSite);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }
        Assert.Equal("seeding", await StateAsync(client, alpha.InfoHash.ToHex()));
        await StopAsync(serve);
    }

    private static ByteArrayContent Torrent(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-bittorrent");
        return content;
    }

    /// <summary>One torrent's state from the admin API, or null when it is not known.</summary>
    private static async Task<string?> StateAsync(HttpClient client, string infoHash)
    {
        using var answer = await client.GetAsync("/api/torrents?infohash=" + infoHash);
        if (answer.StatusCode == HttpStatusCode.NotFound) return null;
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("state").GetString();
    }

    /// <summary>Info-hash (or, for refused entries without one, name) to state, from the admin API.</summary>
    private static async Task<Dictionary<string, string>> StatesAsync(HttpClient client)
    {
        using var list = JsonDocument.Parse(await client.GetStringAsync("/api/torrents"));
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in list.RootElement.GetProperty("torrents").EnumerateArray())
        {
            string key = t.GetProperty("infoHash").GetString() is { Length: > 0 } hex ? hex : t.GetProperty("name").GetString()!;
            states[key] = t.GetProperty("state").GetString()!;
        }
        return states;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (!await condition())
        {
            if (deadline.IsCancellationRequested) throw new TimeoutException($"timed out waiting until {what}");
            await Task.Delay(200);
        }
    }
}
