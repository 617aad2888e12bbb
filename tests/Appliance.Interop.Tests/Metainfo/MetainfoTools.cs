using System.Text.RegularExpressions;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Metainfo;

/// <summary>Runs the Debian torrent tools the metainfo interop tests compare against.</summary>
internal static partial class MetainfoTools
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<ExternalProcess> RunOkAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var process = await ExternalProcess.RunAsync(program, arguments, Timeout, workingDirectory);
        Assert.True(process.ExitCode == 0, $"{program} exited with {process.ExitCode}\n{process.AllOutput}");
        return process;
    }

    /// <summary>Runs an inline script with Debian's python3 (the one python3-libtorrent is built for).</summary>
    public static Task<ExternalProcess> PythonAsync(string script, params string[] arguments) =>
        RunOkAsync("/usr/bin/python3", ["-c", script, .. arguments]);

    /// <summary>libtorrent's own reading of a .torrent: its v1 info-hash, then one "size path" line per file.</summary>
    public static async Task<(string InfoHash, List<string> Files)> LibtorrentViewAsync(string torrentPath)
    {
        const string script = """
            import sys, libtorrent as lt
            ti = lt.torrent_info(sys.argv[1])
            print(str(ti.info_hashes().v1))
            fs = ti.files()
            for i in range(fs.num_files()):
                print(fs.file_size(i), fs.file_path(i).replace('\\', '/'))
            """;
        var process = await PythonAsync(script, torrentPath);
        var lines = process.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return (lines[0], lines.Skip(1).ToList());
    }

    /// <summary>transmission-show's "Hash:" line.</summary>
    public static async Task<string> TransmissionHashAsync(string torrentPath)
    {
        var process = await RunOkAsync("transmission-show", [torrentPath]);
        var match = HashLine().Match(process.StandardOutput);
        Assert.True(match.Success, process.AllOutput);
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"Hash(?: v1)?:\s*([0-9a-f]{40})")]
    private static partial Regex HashLine();
}
