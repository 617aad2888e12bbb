using System.Globalization;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Creation;

namespace Appliance.Cli;

/// <summary><c>appliance create PATH -o FILE.torrent</c>: a deterministic .torrent (mktorrent's info-hash for the same content and piece length).</summary>
public static class CreateCommand
{
    public const string Usage = "Usage: appliance create PATH -o FILE.torrent [options]";

    public static IReadOnlyList<FlagSpec> Flags { get; } =
    [
        new("--output", "Output", "where to write the .torrent (also -o)", "FILE"),
        new("--piece-length", "PieceLength", "piece length in bytes, a power of two from 16K to 64M (suffix K or M allowed); default by size", "BYTES"),
        new("--tracker", "Tracker", "announce URL; repeat for more tiers, commas for URLs in one tier", "URL", Repeatable: true),
        new("--web-seed", "WebSeed", "BEP 19 web seed URL (url-list), repeatable; `serve --web-seed-listen` prints ours", "URL", Repeatable: true),
        new("--private", "Private", "set the private flag (BEP 27)", FixedValue: "true"),
        new("--comment", "Comment", "a comment stored in the torrent", "TEXT"),
        new("--created-by", "CreatedBy", $"the 'created by' field (default 'appliance {Program.Version}')", "TEXT"),
        new("--date", "Date", "store the creation date (left out by default, so output is reproducible)", FixedValue: "true"),
        new("--format", "Format", "v1 (default; mktorrent's info-hash), hybrid or v2 (BEP 52; as libtorrent's creator makes them)", "v1|hybrid|v2"),
        new("--announce-host", "AnnounceHost", "with no --tracker, the magnet link names the embedded tracker of `serve` on this host (default 127.0.0.1:6969)", "HOST[:PORT]"),
    ];

    private static string EmbeddedTrackerUrl(string? announceHost)
    {
        string text = string.IsNullOrEmpty(announceHost) ? "127.0.0.1" : announceHost;
        int port = Configuration.ServeOptions.DefaultTrackerPort;
        int colon = text.LastIndexOf(':');
        if (colon > 0 && text.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
                throw new UsageException($"--announce-host: '{text}' has no valid port");
            text = text[..colon];
        }
        if (text.Contains(':', StringComparison.Ordinal) && !text.StartsWith('[')) text = "[" + text + "]";
        return string.Create(CultureInfo.InvariantCulture, $"http://{text}:{port}/announce");
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var commandLine = CommandLine.Parse(args.Select(a => a == "-o" ? "--output" : a).ToList(), Flags);
        if (commandLine.HelpRequested)
        {
            output.Write(CommandLine.FormatHelp(Usage, Flags));
            return 0;
        }
        if (commandLine.Positionals.Count != 1) throw new UsageException("expected exactly one PATH (a file or folder)");
        var settings = commandLine.Settings;
        if (!settings.TryGetValue("Output", out string? target) || string.IsNullOrEmpty(target)) throw new UsageException("missing -o FILE.torrent");
        string source = commandLine.Positionals[0];

        var options = new CreateOptions
        {
            PieceLength = settings.TryGetValue("PieceLength", out string? pieceLength) ? ParsePieceLength(pieceLength!) : null,
            AnnounceTiers = settings.Where(s => s.Key.StartsWith("Tracker:", StringComparison.OrdinalIgnoreCase))
                .OrderBy(s => int.Parse(s.Key.AsSpan("Tracker:".Length), CultureInfo.InvariantCulture))
                .Select(s => (IReadOnlyList<string>)s.Value!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Where(tier => tier.Count > 0)
                .ToList(),
            WebSeeds = settings.Where(s => s.Key.StartsWith("WebSeed:", StringComparison.OrdinalIgnoreCase))
                .OrderBy(s => int.Parse(s.Key.AsSpan("WebSeed:".Length), CultureInfo.InvariantCulture))
                .Select(s => WebSeedUrl(s.Value!))
                .ToList(),
            IsPrivate = settings.ContainsKey("Private"),
            Comment = settings.GetValueOrDefault("Comment"),
            CreatedBy = settings.GetValueOrDefault("CreatedBy") ?? $"appliance {Program.Version}",
            CreationDate = settings.ContainsKey("Date") ? DateTimeOffset.UtcNow : null,
            Format = settings.GetValueOrDefault("Format") switch
            {
                null or "v1" => TorrentFormat.V1,
                "hybrid" => TorrentFormat.Hybrid,
                "v2" => TorrentFormat.V2,
                var other => throw new UsageException($"--format '{other}' is not v1, hybrid or v2"),
            },
        };

        using var progress = Console.IsErrorRedirected ? null : new TerminalProgressBar(error);
        byte[] torrent;
        TorrentMetainfo metainfo;
        try
        {
            (torrent, metainfo) = await TorrentCreator.CreateAsync(source, options, progress, CancellationToken.None, exclude: target).ConfigureAwait(false);
            progress?.Finish();
            File.WriteAllBytes(target, torrent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or MetainfoException)
        {
            progress?.Finish();
            error.WriteLine($"appliance create: {(e is MetainfoException m ? m.Reason : e.Message)}");
            return 1;
        }
        error.WriteLine($"wrote {target}: {metainfo.Files.Count(f => !f.IsPad)} file(s), {metainfo.TotalLength} bytes, {metainfo.PieceCount} pieces of {metainfo.PieceLength}");
        output.WriteLine($"info-hash: {metainfo.InfoHash.ToHex()}");
        if (metainfo.InfoHashV2 is { } v2) output.WriteLine($"info-hash v2: {Convert.ToHexStringLower(v2)}");
        // A torrent without trackers is meant for `serve` with its embedded tracker on: the magnet link says where that is.
        IEnumerable<string> embedded = metainfo.AnnounceTiers.Count > 0 ? [] : [EmbeddedTrackerUrl(settings.GetValueOrDefault("AnnounceHost"))];
        output.WriteLine($"magnet: {metainfo.MagnetLink(embedded)}");
        return 0;
    }

    private static string WebSeedUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https" or "ftp"))
            throw new UsageException($"--web-seed '{text}' is not an http://, https:// or ftp:// URL");
        return text;
    }

    private static int ParsePieceLength(string text)
    {
        long multiplier = 1;
        string digits = text.Trim();
        if (digits.EndsWith('K') || digits.EndsWith('k')) { multiplier = 1024; digits = digits[..^1]; }
        else if (digits.EndsWith('M') || digits.EndsWith('m')) { multiplier = 1024 * 1024; digits = digits[..^1]; }
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value > int.MaxValue / multiplier)
            throw new UsageException($"--piece-length '{text}' is not a number of bytes");
        long bytes = value * multiplier;
        if (bytes < TorrentMetainfo.MinPieceLength || bytes > TorrentMetainfo.MaxPieceLength || !System.Numerics.BitOperations.IsPow2(bytes))
            throw new UsageException($"--piece-length {bytes} is not a power of two from {TorrentMetainfo.MinPieceLength} to {TorrentMetainfo.MaxPieceLength}");
        return (int)bytes;
    }

    /// <summary>A one-line bar redrawn in place on a terminal's stderr.</summary>
    private sealed class TerminalProgressBar(TextWriter error) : IProgress<double>, IDisposable
    {
        private const int Width = 40;
        private readonly Lock _gate = new();
        private int _drawn = -1;
        private bool _finished;

        public void Report(double value)
        {
            lock (_gate)
            {
                int percent = (int)(Math.Clamp(value, 0, 1) * 100);
                if (_finished || percent == _drawn) return;
                _drawn = percent;
                int filled = percent * Width / 100;
                error.Write($"\rhashing [{new string('#', filled)}{new string(' ', Width - filled)}] {percent,3}%");
                error.Flush();
            }
        }

        public void Finish()
        {
            lock (_gate)
            {
                if (_finished) return;
                _finished = true;
                if (_drawn >= 0) error.WriteLine();
            }
        }

        public void Dispose() => Finish();
    }
}
