using System.Globalization;
using System.Net;
using Appliance.Dht;
using Appliance.Dht.Node;
using Appliance.Logging;
using Appliance.Protocol.Krpc;
using Microsoft.Extensions.Logging;

namespace Appliance.Cli;

/// <summary>
/// <c>appliance dht get-peers INFOHASH --dht-bootstrap HOST:PORT</c>: runs a temporary DHT node, looks the
/// info-hash up and prints one <c>IP:PORT</c> line per peer found (exit 1 when none is found in time).
/// </summary>
public static class DhtCommand
{
    public const string Usage = "usage: appliance dht get-peers INFOHASH --dht-bootstrap HOST:PORT [--dht-port P] [--timeout SECONDS]";

    private static readonly IReadOnlyList<FlagSpec> Flags =
    [
        new("--dht-bootstrap", "DhtBootstrap", "node to join through, repeatable (default: public routers)", "HOST:PORT", Repeatable: true),
        new("--dht-port", "DhtPort", "UDP port of the temporary node (default: any free port)", "PORT"),
        new("--timeout", "Timeout", "give up after this many seconds (default 30)", "SECONDS"),
        new("--log-level", "LogLevel", "Trace, Debug, Information, Warning, Error (default Warning)", "LEVEL"),
    ];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var commandLine = CommandLine.Parse(args, Flags);
        if (commandLine.HelpRequested)
        {
            output.Write(CommandLine.FormatHelp(Usage, Flags));
            return 0;
        }
        if (commandLine.Positionals.Count != 2 || commandLine.Positionals[0] != "get-peers")
            throw new UsageException("expected 'get-peers INFOHASH'");
        string hex = commandLine.Positionals[1];
        if (hex.Length != 40 || !hex.All(Uri.IsHexDigit)) throw new UsageException($"'{hex}' is not a 40-digit hex info-hash");
        var infoHash = NodeId.Parse(hex);

        var settings = commandLine.Settings;
        var bootstrapEntries = settings.Where(s => s.Key.StartsWith("DhtBootstrap:", StringComparison.OrdinalIgnoreCase))
            .OrderBy(s => int.Parse(s.Key.AsSpan(s.Key.IndexOf(':') + 1), CultureInfo.InvariantCulture)).Select(s => s.Value ?? "").ToList();
        if (BootstrapList.IsNone(bootstrapEntries)) throw new UsageException("a lookup needs a bootstrap node");
        int port = ParseInt(settings, "DhtPort", 0, 0, ushort.MaxValue);
        int timeoutSeconds = ParseInt(settings, "Timeout", 30, 1, 3600);
        var level = settings.TryGetValue("LogLevel", out var l) && l is not null ? Enum.Parse<LogLevel>(l, ignoreCase: true) : LogLevel.Warning;

        IReadOnlyList<(string, int)> hosts;
        try
        {
            hosts = BootstrapList.Parse(bootstrapEntries);
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message);
        }
        using var loggers = Loggers.Create(level);
        var logger = loggers.CreateLogger("Appliance.Dht");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var bootstrap = await BootstrapList.ResolveAsync(hosts, logger, deadline.Token).ConfigureAwait(false);
        if (bootstrap.Count == 0)
        {
            error.WriteLine("appliance dht: no bootstrap node could be resolved");
            return 1;
        }
        await using var node = DhtNode.Start(new DhtNodeOptions { EndPoint = new IPEndPoint(IPAddress.Any, port), Bootstrap = bootstrap }, logger);
        var found = new HashSet<CompactPeer>();
        try
        {
            await node.BootstrapAsync(deadline.Token).ConfigureAwait(false);
            // The swarm may announce after we started: ask again until something is found or time is up.
            while (found.Count == 0 && !deadline.IsCancellationRequested)
            {
                var result = await node.Engine.GetPeersAsync(infoHash, deadline.Token).ConfigureAwait(false);
                found.UnionWith(result.Peers);
                if (found.Count == 0) await Task.Delay(TimeSpan.FromSeconds(1), deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
        }
        foreach (var peer in found) output.WriteLine(peer.ToString());
        output.Flush();
        if (found.Count > 0) return 0;
        error.WriteLine($"appliance dht: no peers found for {hex} within {timeoutSeconds} s ({node.Engine.TableSize} nodes known)");
        return 1;
    }

    private static int ParseInt(IReadOnlyDictionary<string, string?> settings, string key, int fallback, int min, int max)
    {
        if (!settings.TryGetValue(key, out var text) || text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new UsageException($"{key} must be a number from {min} to {max}");
        return value;
    }
}
