using System.Globalization;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Creation;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Metainfo;

/// <summary><c>create --format hybrid|v2</c> writes what python3-libtorrent's create_torrent writes for the same files and piece length.</summary>
[Trait("Category", "Interop")]
public sealed class CreateV2Tests
{
    // libtorrent always stores the creation date; it is printed so our torrent can carry the same one.
    private const string Creator = """
        import sys, os, libtorrent as lt
        src, out, mode, piece = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        fs = lt.file_storage()
        lt.add_files(fs, src)
        t = lt.create_torrent(fs, piece, flags={'hybrid': 0, 'v2': lt.create_torrent.v2_only}[mode])
        lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(src)))
        t.set_creator('appliance-test')
        d = t.generate()
        open(out, 'wb').write(lt.bencode(d))
        ti = lt.torrent_info(out)
        print(d[b'creation date'], ti.info_hashes().v1 if mode == 'hybrid' else '-', ti.info_hashes().v2)
        """;

    private static string WriteContent(string root, bool singleFile)
    {
        if (singleFile) return SampleContent.WriteFile(Path.Combine(root, "single.bin"), 200_003);
        string folder = SampleContent.WriteMultiFile(root, "sample");
        // Names that sort differently by whole path and by path component, and an executable (attribute 'x').
        SampleContent.WriteFile(Path.Combine(folder, "nested.txt"), 5_000, seed: 9);
        string tool = Path.Combine(folder, "nested", "run.sh");
        SampleContent.WriteFile(tool, 40_000, seed: 4);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tool, File.GetUnixFileMode(tool) | UnixFileMode.UserExecute);
        return folder;
    }

    [Theory]
    [InlineData("hybrid", false, 32 * 1024)]
    [InlineData("hybrid", true, 32 * 1024)]
    [InlineData("v2", false, 16 * 1024)]
    [InlineData("v2", true, 64 * 1024)]
    [InlineData("hybrid", false, 1024 * 1024)]
    public async Task Output_is_byte_identical_to_libtorrents_creator(string format, bool singleFile, int pieceLength)
    {
        using var temp = new TempDirectory("create-v2");
        string source = WriteContent(temp.CreateSubdirectory("content"), singleFile);
        string theirs = Path.Combine(temp.Path, "libtorrent.torrent");
        var created = await MetainfoTools.PythonAsync(Creator, source, theirs, format, pieceLength.ToString(CultureInfo.InvariantCulture));
        long date = long.Parse(created.StandardOutput.Split(' ')[0], CultureInfo.InvariantCulture);

        var (ours, metainfo) = await TorrentCreator.CreateAsync(source, new CreateOptions
        {
            PieceLength = pieceLength,
            Format = format == "hybrid" ? TorrentFormat.Hybrid : TorrentFormat.V2,
            CreatedBy = "appliance-test",
            CreationDate = DateTimeOffset.FromUnixTimeSeconds(date),
        }, null, CancellationToken.None);

        Assert.Equal(await File.ReadAllBytesAsync(theirs), ours);
        Assert.Equal(format == "hybrid" ? TorrentFormat.Hybrid : TorrentFormat.V2, metainfo.Format);
    }

    [Fact]
    public async Task Create_command_prints_both_info_hashes_of_a_hybrid_as_libtorrent_computes_them()
    {
        using var temp = new TempDirectory("create-v2-cli");
        string source = WriteContent(temp.CreateSubdirectory("content"), singleFile: false);
        var created = await MetainfoTools.PythonAsync(Creator, source, Path.Combine(temp.Path, "lt.torrent"), "hybrid", "32768");
        string[] fields = created.StandardOutput.Trim().Split(' ');

        string ours = Path.Combine(temp.Path, "ours.torrent");
        using var create = await ApplianceBinary.RunAsync(["create", source, "-o", ours, "--format", "hybrid", "--piece-length", "32K"], TimeSpan.FromSeconds(60));
        Assert.True(create.ExitCode == 0, create.AllOutput);
        Assert.Contains($"info-hash: {fields[1]}\n", create.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"info-hash v2: {fields[2]}\n", create.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"xt=urn:btmh:1220{fields[2]}", create.StandardOutput, StringComparison.Ordinal);
    }
}
