using System.Globalization;
using Appliance.Protocol.Metainfo;

namespace Appliance.Cli;

/// <summary><c>appliance info FILE.torrent</c>: what a torrent holds; a torrent we would refuse to seed exits 1 with the reason.</summary>
public static class InfoCommand
{
    public const string Usage = "Usage: appliance info FILE.torrent";

    public static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var commandLine = CommandLine.Parse(args, []);
        if (commandLine.HelpRequested)
        {
            output.Write(CommandLine.FormatHelp(Usage, []));
            return Task.FromResult(0);
        }
        if (commandLine.Positionals.Count != 1) throw new UsageException("expected exactly one FILE.torrent");
        string path = commandLine.Positionals[0];
        TorrentMetainfo metainfo;
        try
        {
            metainfo = TorrentMetainfo.Load(path);
        }
        catch (MetainfoException e)
        {
            error.WriteLine($"appliance info: {path}: {e.Reason}");
            return Task.FromResult(1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"appliance info: {path}: {e.Message}");
            return Task.FromResult(1);
        }
        output.Write(Describe(metainfo));
        return Task.FromResult(0);
    }

    public static string Describe(TorrentMetainfo metainfo)
    {
        var text = new System.Text.StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"name:          {metainfo.Name}");
        text.AppendLine(c, $"format:        {metainfo.Format switch { TorrentFormat.V2 => "v2 (BEP 52)", TorrentFormat.Hybrid => "hybrid (v1 + v2)", _ => "v1" }}");
        text.AppendLine(c, $"info-hash:     {metainfo.InfoHash.ToHex()}{(metainfo.Format == TorrentFormat.V2 ? " (v2, truncated)" : "")}");
        if (metainfo.InfoHashV2 is { } v2) text.AppendLine(c, $"info-hash v2:  {Convert.ToHexStringLower(v2)}");
        long padding = metainfo.Files.Where(f => f.IsPad).Sum(f => f.Length);
        long payload = metainfo.TotalLength - padding;
        text.AppendLine(c, $"size:          {payload} bytes ({HumanSize(payload)}){(padding > 0 ? $", plus {padding} bytes of pad files" : "")}");
        int last = metainfo.PieceSize(metainfo.PieceCount - 1);
        text.AppendLine(c, $"pieces:        {metainfo.PieceCount} of {metainfo.PieceLength} bytes ({HumanSize(metainfo.PieceLength)}), last {last}");
        text.AppendLine(c, $"private:       {(metainfo.IsPrivate ? "yes" : "no")}");
        if (metainfo.Comment is not null) text.AppendLine(c, $"comment:       {metainfo.Comment}");
        if (metainfo.CreatedBy is not null) text.AppendLine(c, $"created by:    {metainfo.CreatedBy}");
        if (metainfo.CreationDate is { } date)
            text.AppendLine(c, $"creation date: {DateTimeOffset.FromUnixTimeSeconds(date).ToString("u", c)}");
        if (metainfo.AnnounceTiers.Count == 0)
        {
            text.AppendLine("trackers:      none");
        }
        else
        {
            text.AppendLine("trackers:");
            for (int tier = 0; tier < metainfo.AnnounceTiers.Count; tier++)
                text.AppendLine(c, $"  tier {tier + 1}: {string.Join(' ', metainfo.AnnounceTiers[tier])}");
        }
        if (metainfo.WebSeeds.Count > 0)
        {
            text.AppendLine("web seeds:");
            foreach (var url in metainfo.WebSeeds) text.AppendLine(c, $"  {url}");
        }
        var files = metainfo.Files.Where(f => !f.IsPad).ToList();
        text.AppendLine(c, $"files:         {files.Count}{(metainfo.IsMultiFile ? "" : " (single-file torrent)")}");
        int width = files.Max(f => f.Length).ToString(c).Length;
        foreach (var file in files)
            text.AppendLine(c, $"  {file.Length.ToString(c).PadLeft(width)}  {file.Path}{Attributes(file.Attributes)}");
        text.AppendLine(c, $"magnet:        {metainfo.MagnetLink()}");
        return text.ToString();
    }

    private static string Attributes(TorrentFileAttributes attributes) =>
        (attributes & (TorrentFileAttributes.Executable | TorrentFileAttributes.Hidden)) switch
        {
            TorrentFileAttributes.Executable => "  [executable]",
            TorrentFileAttributes.Hidden => "  [hidden]",
            TorrentFileAttributes.None => "",
            _ => "  [executable, hidden]",
        };

    private static string HumanSize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {units[unit]}");
    }
}
