using Appliance.Protocol.Metainfo;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>The standard multi-file sample on disk with its torrent, and helpers to read it back.</summary>
internal sealed class StorageFixture : IDisposable
{
    private readonly TempDirectory _temp = new("storage-tests");

    public StorageFixture(int pieceLength = 16 * 1024, int scale = 1)
    {
        ContentFolder = _temp.CreateSubdirectory("content");
        StateFolder = _temp.Combine("state");
        TorrentRoot = SampleContent.WriteMultiFile(ContentFolder, "sample", scale: scale);
        Metainfo = TestTorrents.Create(TorrentRoot, pieceLength).Metainfo;
    }

    public string ContentFolder { get; }
    public string StateFolder { get; }
    public string TorrentRoot { get; }
    public TorrentMetainfo Metainfo { get; }

    public string PathOf(string relative) => Path.Combine(TorrentRoot, relative);

    /// <summary>All files concatenated in torrent order: what every read must match.</summary>
    public byte[] Concatenated() =>
        Metainfo.Files.SelectMany(f => File.ReadAllBytes(Path.Combine([TorrentRoot, .. f.PathSegments]))).ToArray();

    /// <summary>Opens and, as the seeder's resume writer would later, saves the resume state the open returned.</summary>
    public async Task<StorageOpenResult> OpenAsync(StorageKind kind, IProgress<double>? progress = null, Pool.FilePool? pool = null)
    {
        var result = await OpenWithoutSavingAsync(kind, progress, pool);
        try
        {
            if (result.ResumeToSave is { } state) Resume.ResumeFile.Save(StateFolder, state);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // as the writer: a state that cannot be saved only means hashing again next time
        }
        return result;
    }

    /// <summary>Opens only: the resume state is returned, not written.</summary>
    public Task<StorageOpenResult> OpenWithoutSavingAsync(StorageKind kind, IProgress<double>? progress = null, Pool.FilePool? pool = null) =>
        StorageOpener.OpenAsync(Metainfo, ContentFolder, StateFolder, kind, progress, new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token, pool);

    public async Task<PieceStore> OpenStoreAsync(StorageKind kind, Pool.FilePool? pool = null)
    {
        var result = await OpenAsync(kind, pool: pool);
        Assert.True(result.Store is not null, result.RefusedReason);
        return result.Store!;
    }

    public void Dispose() => _temp.Dispose();
}
