using Appliance.Cli;
using Appliance.Configuration;
using Appliance.TestKit;

namespace Appliance.Tests.Configuration;

public sealed class ServeConfigurationTests : IDisposable
{
    private readonly TempDirectory _temp = new("ops-cfg");
    private readonly string _content;

    public ServeConfigurationTests() => _content = _temp.CreateSubdirectory("content");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Defaults_apply_when_no_layer_sets_an_option()
    {
        var options = Build(["--content", _content]);
        Assert.Equal("127.0.0.1:9469", options.MetricsListen);
        Assert.Equal(0, options.PerTorrentMetrics);
        Assert.Equal("Information", options.LogLevel);
        Assert.Equal(10, options.ShutdownDeadlineSeconds);
        Assert.Equal(Path.Combine(_content, ".appliance"), options.GetStateFolder());
    }

    [Fact]
    public void File_overrides_defaults()
    {
        string file = WriteConfig("""{ "Content": "CONTENT", "UploadSlots": 4, "MetricsListen": "127.0.0.1:9000" }""");
        var options = Build(["--config", file]);
        Assert.Equal(4, options.UploadSlots);
        Assert.Equal("127.0.0.1:9000", options.MetricsListen);
        Assert.Equal(file, options.Config);
    }

    [Fact]
    public void Environment_overrides_the_file()
    {
        string file = WriteConfig("""{ "Content": "CONTENT", "UploadSlots": 4, "LogLevel": "Debug" }""");
        var options = Build(["--config", file], new() { ["APPLIANCE_UploadSlots"] = "8", ["UNRELATED"] = "x" });
        Assert.Equal(8, options.UploadSlots);
        Assert.Equal("Debug", options.LogLevel);
    }

    [Fact]
    public void Flags_override_environment_and_file()
    {
        string file = WriteConfig("""{ "Content": "CONTENT", "UploadSlots": 4, "PerTorrentMetrics": 5 }""");
        var options = Build(["--config", file, "--upload-slots", "32"], new() { ["APPLIANCE_UploadSlots"] = "8", ["APPLIANCE_PerTorrentMetrics"] = "7" });
        Assert.Equal(32, options.UploadSlots);
        Assert.Equal(7, options.PerTorrentMetrics);
    }

    [Fact]
    public void Config_file_can_come_from_the_environment()
    {
        string file = WriteConfig("""{ "Content": "CONTENT", "ChokeIntervalSeconds": 3 }""");
        var options = Build([], new() { ["APPLIANCE_CONFIG"] = file });
        Assert.Equal(3, options.ChokeIntervalSeconds);
    }

    [Fact]
    public void Environment_keys_are_case_insensitive_and_nest_with_double_underscore()
    {
        var options = Build(["--content", _content], new() { ["APPLIANCE_METRICSLISTEN"] = "", ["APPLIANCE_DhtBootstrap__0"] = "127.0.0.1:1" });
        Assert.Equal("", options.MetricsListen);
        Assert.Null(options.GetMetricsEndPoint());
        Assert.Equal(["127.0.0.1:1"], options.DhtBootstrap);
    }

    [Fact]
    public void Environment_variables_that_name_no_option_are_ignored()
    {
        // APPLIANCE_BIN is how CI points the tests at the Native AOT binary; the child serve inherits it.
        var options = Build(["--content", _content], new() { ["APPLIANCE_BIN"] = "/usr/local/bin/appliance", ["APPLIANCE_UploadSlots"] = "3" });
        Assert.Equal(3, options.UploadSlots);
    }

    [Fact]
    public void Repeated_flags_build_a_list()
    {
        var options = Build(["--content", _content, "--dht-bootstrap", "127.0.0.1:1", "--dht-bootstrap", "127.0.0.1:2"]);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2"], options.DhtBootstrap);
    }

    [Fact]
    public void The_web_seed_is_off_by_default_and_set_by_flag_or_environment()
    {
        Assert.Null(Build(["--content", _content]).GetWebSeedEndPoint());
        var options = Build(["--content", _content, "--web-seed-listen", "127.0.0.1:8080", "--web-seed-max-connections-per-ip", "4"]);
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 8080), options.GetWebSeedEndPoint());
        Assert.Equal(4, options.WebSeedMaxConnectionsPerIp);
        Assert.Equal(1024, options.WebSeedMaxConnections);
        var fromEnvironment = ServeConfiguration.Build(new Dictionary<string, string?> { ["Content"] = _content },
            new Dictionary<string, string?> { ["APPLIANCE_WEBSEEDLISTEN"] = "[::]:8081", ["APPLIANCE_WEBSEEDSENDTIMEOUTSECONDS"] = "5" });
        Assert.Equal(8081, fromEnvironment.GetWebSeedEndPoint()!.Port);
        Assert.Equal(5, fromEnvironment.WebSeedSendTimeoutSeconds);
    }

    [Fact]
    public void Utp_is_on_by_default_and_no_utp_turns_it_off()
    {
        Assert.True(Build(["--content", _content]).Utp);
        Assert.False(Build(["--content", _content, "--no-utp"]).Utp);
    }

    [Fact]
    public void The_tcp_engine_defaults_to_the_seeding_default_and_is_set_by_flag_or_environment()
    {
        var defaults = Build(["--content", _content]);
        Assert.Equal(Seeding.SeedingOptions.DefaultTcpEngine == Seeding.TcpEngine.Epoll ? "epoll" : "sockets", defaults.TcpEngine);
        Assert.Equal(0, defaults.EpollLoops);
        var flagged = Build(["--content", _content, "--tcp-engine", "epoll", "--epoll-loops", "3"]);
        Assert.Equal("epoll", flagged.TcpEngine);
        Assert.Equal(3, flagged.EpollLoops);
        Assert.Equal("sockets", Build(["--content", _content], new() { ["APPLIANCE_TcpEngine"] = "sockets" }).TcpEngine);
    }

    [Fact]
    public void Unknown_key_in_the_file_fails_naming_the_key()
    {
        string file = WriteConfig("""{ "Content": "CONTENT", "UploadSlotz": 4 }""");
        var error = Assert.Throws<OptionsException>(() => Build(["--config", file]));
        Assert.Contains("UploadSlotz", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_number_fails_naming_the_key()
    {
        var error = Assert.Throws<OptionsException>(() => Build(["--content", _content], new() { ["APPLIANCE_MaxConnections"] = "lots" }));
        Assert.Contains("MaxConnections", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--metrics-listen", "localhost", "MetricsListen")]
    [InlineData("--metrics-listen", "127.0.0.1", "MetricsListen")]
    [InlineData("--per-torrent-metrics", "-1", "PerTorrentMetrics")]
    [InlineData("--log-level", "Loud", "LogLevel")]
    [InlineData("--shutdown-deadline", "0", "ShutdownDeadlineSeconds")]
    [InlineData("--storage", "tape", "Storage")]
    [InlineData("--tcp-engine", "io_uring", "TcpEngine")]
    [InlineData("--epoll-loops", "-1", "EpollLoops")]
    [InlineData("--file-pool", "-1", "FilePool")]
    [InlineData("--max-request-length", "1000000", "MaxRequestLength")]
    [InlineData("--web-seed-listen", "localhost:80", "WebSeedListen")]
    [InlineData("--web-seed-max-connections", "0", "WebSeedMaxConnections")]
    [InlineData("--web-seed-max-connections-per-ip", "-1", "WebSeedMaxConnectionsPerIp")]
    public void Invalid_value_fails_naming_the_key(string flag, string value, string key)
    {
        var error = Assert.Throws<OptionsException>(() => Build(["--content", _content, flag, value]));
        Assert.StartsWith(key, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("two words but long enough")]
    [InlineData("")]
    public void A_weak_or_malformed_admin_token_fails_naming_the_key(string token)
    {
        string file = _temp.Combine("token");
        File.WriteAllText(file, token + "\n");
        var error = Assert.Throws<OptionsException>(() => Build(["--content", _content, "--admin-token-file", file]));
        Assert.StartsWith("AdminTokenFile", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Length > 0 ? token : "\0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_admin_token_file_fails_naming_the_key()
    {
        var error = Assert.Throws<OptionsException>(() => Build(["--content", _content, "--admin-token-file", _temp.Combine("absent")]));
        Assert.StartsWith("AdminTokenFile", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_admin_token_is_the_file_text_without_its_newline()
    {
        string file = _temp.Combine("token");
        File.WriteAllText(file, "  0123456789abcdef-secret\n");
        Assert.Equal("0123456789abcdef-secret", Build(["--content", _content, "--admin-token-file", file]).ReadAdminToken());
        Assert.Null(Build(["--content", _content]).ReadAdminToken());
    }

    [Fact]
    public void Missing_content_folder_fails_naming_the_key()
    {
        var error = Assert.Throws<OptionsException>(() => Build(["--content", _temp.Combine("absent")]));
        Assert.StartsWith("Content", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<OptionsException>(() => Build([]));
        Assert.StartsWith("Content", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_json_fails_naming_the_file()
    {
        string file = WriteConfig("""{ "Content": "CONTENT", """);
        var error = Assert.Throws<OptionsException>(() => Build(["--config", file]));
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_config_file_fails_naming_it()
    {
        var error = Assert.Throws<OptionsException>(() => Build(["--config", _temp.Combine("nope.json")]));
        Assert.Contains("nope.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_flag_sets_a_key_of_the_options()
    {
        var keys = typeof(ServeOptions).GetProperties().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        Assert.All(ServeFlags.All, f => Assert.Contains(f.Key, keys));
    }

    [Fact]
    public async Task Serve_help_lists_the_metrics_options()
    {
        using var output = new StringWriter();
        int code = await ServeCommand.RunAsync(["--help"], output, TextWriter.Null);
        Assert.Equal(0, code);
        Assert.Contains("--metrics-listen", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("--per-torrent-metrics", output.ToString(), StringComparison.Ordinal);
    }

    private ServeOptions Build(string[] args, Dictionary<string, string?>? environment = null) =>
        ServeConfiguration.Build(CommandLine.Parse(args, ServeFlags.All).Settings, environment ?? []);

    private string WriteConfig(string json)
    {
        string file = _temp.Combine($"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, json.Replace("CONTENT", _content.Replace("\\", "\\\\", StringComparison.Ordinal), StringComparison.Ordinal));
        return file;
    }
}
