using Appliance.Cli;
using Microsoft.Extensions.Configuration;

namespace Appliance.Configuration;

/// <summary>
/// Builds <see cref="ServeOptions"/> from its layers, highest first: flags, environment (APPLIANCE_*),
/// the JSON config file, defaults. Binding is source-generated (AOT-safe); an unknown or malformed key
/// fails start-up with the key named.
/// </summary>
public static class ServeConfiguration
{
    public const string EnvironmentPrefix = "APPLIANCE_";

    private static readonly HashSet<string> OptionNames =
        typeof(ServeOptions).GetProperties().Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public static ServeOptions Build(IReadOnlyDictionary<string, string?> flagSettings, IDictionary<string, string?>? environment = null)
    {
        environment ??= ReadEnvironment();
        string? file = Lookup(flagSettings, "Config") ?? Lookup(environment, EnvironmentPrefix + "CONFIG");

        var builder = new ConfigurationBuilder();
        if (file is not null)
        {
            if (!File.Exists(file)) throw new OptionsException($"config file '{file}' does not exist");
            builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }
        // Only variables naming an option: APPLIANCE_* is a shared namespace (APPLIANCE_BIN points the tests at the binary).
        builder.AddInMemoryCollection(environment
            .Where(e => e.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            .Select(e => KeyValuePair.Create(e.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), e.Value))
            .Where(e => OptionNames.Contains(e.Key.Split(':')[0])));
        builder.AddInMemoryCollection(flagSettings);

        IConfigurationRoot configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new OptionsException($"config file '{file}' is not valid JSON: {e.InnerException?.Message ?? e.Message}");
        }

        if (configuration["UploadSlots"] is { } slots && slots.Equals("unlimited", StringComparison.OrdinalIgnoreCase))
            configuration["UploadSlots"] = "0";

        var options = new ServeOptions();
        try
        {
            configuration.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new OptionsException("configuration: " + e.Message);
        }
        if (file is not null) options.Config = file;
        Validate(options);
        return options;
    }

    public static void Validate(ServeOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.Content)) throw new OptionsException("Content: the content folder is required (--content DIR)");
        if (!Directory.Exists(o.Content)) throw new OptionsException($"Content: folder '{o.Content}' does not exist");
        if (o.Torrents is not null && !Directory.Exists(o.Torrents)) throw new OptionsException($"Torrents: folder '{o.Torrents}' does not exist");
        _ = o.GetListenEndPoint();
        if (o.Tracker) _ = o.GetTrackerEndPoint();
        _ = o.GetMetricsEndPoint();
        _ = o.GetWebSeedEndPoint();
        _ = o.ReadAdminToken();
        Require(o.MaxConnections > 0, "MaxConnections", "must be positive");
        Require(o.MaxConnectionsPerIp > 0, "MaxConnectionsPerIp", "must be positive");
        Require(o.UploadSlots >= 0, "UploadSlots", "must be a number of slots or 'unlimited'");
        Require(o.UploadRateLimit >= 0, "UploadRateLimit", "must be 0 (none) or bytes per second");
        Require(o.MaxRequestLength is >= 16 * 1024 and <= 128 * 1024, "MaxRequestLength", "must be between 16384 and 131072");
        Require(o.MaxOutstandingRequests is > 0 and <= 10_000, "MaxOutstandingRequests", "must be between 1 and 10000");
        Require(o.MaxMessageLength >= o.MaxRequestLength + 13, "MaxMessageLength", "must hold at least one block message");
        Require(o.ChokeIntervalSeconds > 0, "ChokeIntervalSeconds", "must be positive");
        Require(o.Storage is "mmap" or "pread", "Storage", "must be 'mmap' or 'pread'");
        Require(o.FilePool >= 0, "FilePool", "must be 0 (from the limits) or a number of files");
        Require(o.ReadAhead is >= 0 and <= 1024, "ReadAhead", "must be 0 (off) to 1024 reader threads");
        Require(o.PageReleaseIntervalMs >= 0, "PageReleaseIntervalMs", "must be 0 (never) or a number of milliseconds");
        Require(o.Encryption is "allow" or "prefer" or "require", "Encryption", "must be 'allow', 'prefer' or 'require'");
        Require(o.TcpEngine is "sockets" or "epoll", "TcpEngine", "must be 'sockets' or 'epoll'");
        Require(o.EpollLoops is >= 0 and <= 1024, "EpollLoops", "must be 0 (one per processor) to 1024 loop threads");
        Require(o.DhtPort is null or (> 0 and < 65536), "DhtPort", "must be a port number");
        Require(o.MaxConcurrentAnnounces > 0, "MaxConcurrentAnnounces", "must be positive");
        Require(o.TrackerRateLimit >= 0, "TrackerRateLimit", "must be 0 (no limit) or announces per second");
        Require(o.TrackerUdpWorkers is > 0 and <= 64, "TrackerUdpWorkers", "must be 1 to 64");
        Require(o.WebSeedMaxConnections > 0, "WebSeedMaxConnections", "must be positive");
        Require(o.WebSeedMaxConnectionsPerIp > 0, "WebSeedMaxConnectionsPerIp", "must be positive");
        Require(o.WebSeedIdleTimeoutSeconds > 0, "WebSeedIdleTimeoutSeconds", "must be positive");
        Require(o.WebSeedSendTimeoutSeconds > 0, "WebSeedSendTimeoutSeconds", "must be positive");
        Require(o.PerTorrentMetrics >= 0, "PerTorrentMetrics", "must be 0 (off) or a count");
        Require(o.ShutdownDeadlineSeconds > 0, "ShutdownDeadlineSeconds", "must be positive");
        Require(Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(o.LogLevel, ignoreCase: true, out _), "LogLevel", "must be Trace, Debug, Information, Warning, Error or Critical");
    }

    private static void Require(bool condition, string key, string message)
    {
        if (!condition) throw new OptionsException($"{key}: {message}");
    }

    private static string? Lookup(IEnumerable<KeyValuePair<string, string?>> pairs, string key) =>
        pairs.FirstOrDefault(p => string.Equals(p.Key, key, StringComparison.OrdinalIgnoreCase)).Value;

    private static Dictionary<string, string?> ReadEnvironment()
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            result[(string)entry.Key] = entry.Value as string;
        return result;
    }
}
