using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Configuration;
using Appliance.Tests.Metrics;
using Appliance.TestKit;

namespace Appliance.Tests.Deploy;

public partial class DeployFileTests
{
    private static readonly string Dashboard = RepositoryRoot.Combine("deploy", "grafana", "appliance.json");
    private static readonly string PrometheusConfig = RepositoryRoot.Combine("deploy", "prometheus", "prometheus.yml");
    private static readonly string AlertRules = RepositoryRoot.Combine("deploy", "prometheus", "appliance-alerts.yml");

    [Fact]
    public void Dashboard_is_valid_json_with_panels_that_query_prometheus()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var expressions = DashboardExpressions(document.RootElement).ToList();
        Assert.True(expressions.Count >= 15, $"only {expressions.Count} queries in the dashboard");
        Assert.Equal("appliance-seeding", document.RootElement.GetProperty("uid").GetString());
    }

    [Fact]
    public void Every_metric_the_dashboard_queries_is_in_the_catalogue()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var documented = Catalogue.Documented();
        var unknown = DashboardExpressions(document.RootElement).SelectMany(MetricsIn).Where(m => !Catalogue.Knows(m, documented)).Distinct().ToList();
        Assert.Empty(unknown);
    }

    [Fact]
    public void Dashboard_covers_throughput_peers_latency_trackers_dht_and_errors()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Dashboard));
        string all = string.Join('\n', DashboardExpressions(document.RootElement));
        foreach (var needed in new[] { "appliance_uploaded_bytes_total", "appliance_peers_connected", "appliance_block_serve_seconds_total",
                     "appliance_tracker_announces_total", "appliance_dht_nodes", "appliance_requests_rejected_total", "appliance_torrents{" })
        {
            Assert.Contains(needed, all, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_metric_the_alert_rules_query_is_in_the_catalogue()
    {
        var documented = Catalogue.Documented();
        var expressions = RuleExpressions().ToList();
        Assert.True(expressions.Count >= 5);
        var unknown = expressions.SelectMany(MetricsIn).Where(m => !Catalogue.Knows(m, documented)).Distinct().ToList();
        Assert.Empty(unknown);
        string all = string.Join('\n', expressions);
        foreach (var needed in new[] { "appliance_peers_connected", "appliance_tracker_announces_total", "state=\"faulted\"", "appliance_process_allocated_bytes_total" })
        {
            Assert.Contains(needed, all, StringComparison.Ordinal);
        }
    }

    [Fact]
    [Trait("Category", "Interop")]
    public async Task Promtool_accepts_the_alert_rules()
    {
        using var promtool = await ExternalProcess.RunAsync("promtool", ["check", "rules", AlertRules], TimeSpan.FromSeconds(30));
        Assert.True(promtool.ExitCode == 0, promtool.AllOutput);
    }

    [Fact]
    [Trait("Category", "Interop")]
    public async Task Promtool_accepts_the_scrape_config()
    {
        using var promtool = await ExternalProcess.RunAsync("promtool", ["check", "config", PrometheusConfig], TimeSpan.FromSeconds(30));
        Assert.True(promtool.ExitCode == 0, promtool.AllOutput);
    }

    [Fact]
    public void Systemd_unit_is_hardened_and_stops_with_sigterm()
    {
        string unit = File.ReadAllText(RepositoryRoot.Combine("deploy", "systemd", "appliance.service"));
        foreach (var line in new[] { "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/appliance", "DynamicUser=yes",
                     "LimitNOFILE=1048576", "KillSignal=SIGTERM", "ExecStart=/usr/local/bin/appliance serve --config /etc/appliance/appliance.json" })
        {
            Assert.Contains(line, unit, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Sample_config_binds_to_the_serve_options_without_unknown_keys()
    {
        using var temp = new TempDirectory("ops-config");
        string content = temp.CreateSubdirectory("content");
        string text = File.ReadAllText(RepositoryRoot.Combine("deploy", "appliance.json"))
            .Replace("\"/srv/torrents\"", Quoted(content), StringComparison.Ordinal)
            .Replace("\"/var/lib/appliance\"", Quoted(temp.Combine("state")), StringComparison.Ordinal);
        string file = temp.Combine("appliance.json");
        File.WriteAllText(file, text);
        var options = ServeConfiguration.Build(new Dictionary<string, string?> { ["Config"] = file }, new Dictionary<string, string?>());
        Assert.Equal(content, options.Content);
        Assert.Equal("127.0.0.1:9469", options.MetricsListen);
        Assert.Equal(0, options.PerTorrentMetrics);
    }

    private static IEnumerable<string> DashboardExpressions(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String) yield return property.Value.GetString()!;
                foreach (var inner in DashboardExpressions(property.Value)) yield return inner;
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
                foreach (var inner in DashboardExpressions(item)) yield return inner;
        }
    }

    private static IEnumerable<string> RuleExpressions()
    {
        // The rules file is small YAML: expressions are either 'expr: ...' or an 'expr: |' block.
        var lines = File.ReadAllLines(AlertRules);
        for (int i = 0; i < lines.Length; i++)
        {
            string trimmed = lines[i].Trim();
            if (!trimmed.StartsWith("expr:", StringComparison.Ordinal)) continue;
            string rest = trimmed[5..].Trim();
            if (rest != "|")
            {
                yield return rest;
                continue;
            }
            int indent = lines[i].IndexOf('e', StringComparison.Ordinal);
            var block = new List<string>();
            for (i++; i < lines.Length && (lines[i].Length - lines[i].TrimStart().Length > indent || lines[i].Trim().Length == 0); i++)
                block.Add(lines[i].Trim());
            i--;
            yield return string.Join(' ', block);
        }
    }

    private static string Quoted(string path) => "\"" + path.Replace("\\", "\\\\", StringComparison.Ordinal) + "\"";

    private static IEnumerable<string> MetricsIn(string expression) => MetricToken().Matches(expression).Select(m => m.Value);

    [GeneratedRegex(@"(?<![A-Za-z0-9_])appliance_[a-z0-9_]+")]
    private static partial Regex MetricToken();
}
