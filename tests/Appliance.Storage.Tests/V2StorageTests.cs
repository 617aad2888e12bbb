using Appliance.Protocol.Metainfo;
using Appliance.Storage.Creation;
using Appliance.Storage.Resume;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>Opening v2 and hybrid torrents: merkle verification on first load, fast resume after, pad files never on disk.</summary>
public sealed class V2StorageTests
{
    private static async Task<(TempDirectory Temp, string Content, TorrentMetainfo Metainfo)> CreateAsync(TorrentFormat format)
    {
        var temp = new TempDirectory("v2-storage");
        string content = temp.CreateSubdirectory("content");
        string folder = SampleContent.WriteMultiFile(content, "sample");
        var (_, metainfo) = await TorrentCreator.CreateAsync(folder, new CreateOptions { PieceLength = 32 * 1024, Format = format }, null, CancellationToken.None);
        return (temp, content, metainfo);
    }

    [Theory]
    [InlineData(TorrentFormat.V2)]
    [InlineData(TorrentFormat.Hybrid)]
    public async Task Content_is_verified_against_the_merkle_roots_then_resumed_without_hashing(TorrentFormat format)
    {
        var (temp, content, metainfo) = await CreateAsync(format);
        using var _ = temp;
        string state = temp.CreateSubdirectory("state");
        var first = await StorageOpener.OpenAsync(metainfo, content, state, StorageKind.Mapped, null, CancellationToken.None);
        Assert.True(first.Store is not null, first.RefusedReason);
        first.Store!.Dispose();
        Assert.Equal(metainfo.PieceCount, first.PiecesHashed);
        ResumeFile.Save(state, first.ResumeToSave!);

        var second = await StorageOpener.OpenAsync(metainfo, content, state, StorageKind.Mapped, null, CancellationToken.None);
        Assert.True(second.Store is not null, second.RefusedReason);
        second.Store!.Dispose();
        Assert.True(second.FromResume);
        Assert.Equal(0, second.PiecesHashed);
        Assert.False(Directory.Exists(Path.Combine(content, "sample", ".pad")), "a pad file reached the disk");
    }

    [Fact]
    public async Task V2_content_that_does_not_match_its_merkle_tree_is_refused()
    {
        var (temp, content, metainfo) = await CreateAsync(TorrentFormat.V2);
        using var _ = temp;
        string path = Path.Combine(content, "sample", "z-last.bin");
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[100_000] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);

        var opened = await StorageOpener.OpenAsync(metainfo, content, temp.CreateSubdirectory("state"), StorageKind.Pread, null, CancellationToken.None);
        Assert.Null(opened.Store);
        Assert.Contains("z-last.bin", opened.RefusedReason, StringComparison.Ordinal);
        Assert.Contains("does not match its hash", opened.RefusedReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Small_file_is_checked_against_its_pieces_root()
    {
        // nested/b.bin is 1,000 bytes: no piece layer, its root is the whole check.
        var (temp, content, metainfo) = await CreateAsync(TorrentFormat.V2);
        using var _ = temp;
        string path = Path.Combine(content, "sample", "nested", "b.bin");
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[999] ^= 1;
        await File.WriteAllBytesAsync(path, bytes);
        var opened = await StorageOpener.OpenAsync(metainfo, content, temp.CreateSubdirectory("state"), StorageKind.Pread, null, CancellationToken.None);
        Assert.Null(opened.Store);
        Assert.Contains("b.bin", opened.RefusedReason, StringComparison.Ordinal);
    }
}
