using System.Runtime.InteropServices;
using Appliance.Storage.Mapping;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>
/// What the seeder's read-ahead asks of a store: whether a block is in the page cache, and to start reading it. The
/// content is written next to the test binaries (a disk: a tmpfs /tmp keeps its pages whatever we advise).
/// </summary>
public sealed partial class ResidencyTests
{
    private const int Block = 16 * 1024;
    private const int PieceLength = 256 * 1024;

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // how files the process may not write are probed (mincore would call every page resident)
    public async Task A_block_dropped_from_the_page_cache_is_not_resident_until_advised_and_read_in(bool probeByRead)
    {
        Pool.OpenFile.ProbeByRead = probeByRead;
        try
        {
            await DropAdviseAndReadInAsync();
        }
        finally
        {
            Pool.OpenFile.ProbeByRead = false;
        }
    }

    private static async Task DropAdviseAndReadInAsync()
    {
        using var temp = new TempDirectory("residency", AppContext.BaseDirectory);
        string file = SampleContent.WriteFile(temp.Combine("content", "data.bin"), 4 * 1024 * 1024, seed: 5);
        var metainfo = TestTorrents.Create(file, PieceLength).Metainfo;
        var opened = await StorageOpener.OpenAsync(metainfo, temp.Combine("content"), temp.CreateSubdirectory("state"), StorageKind.Mapped, null, CancellationToken.None);
        using var store = Assert.IsType<MappedPieceStore>(opened.Store);
        Assert.True(store.ChecksResidency); // opened cold: nothing known about its pages
        Assert.True(store.IsResident(3, 0, Block)); // just written and verified

        DropFromPageCache(file);
        Assert.False(store.IsResident(3, 0, Block), "the test needs a file system that drops clean pages (not tmpfs)");
        store.AdviseWillNeed(3, 0, 4 * Block);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!store.IsResident(3, 0, 4 * Block))
        {
            Assert.True(DateTime.UtcNow < deadline, "advised block never became resident");
            await Task.Delay(10);
        }
        Assert.False(store.IsFaulted);
    }

    [Fact]
    public async Task Advising_a_range_larger_than_the_kernels_read_ahead_window_reads_all_of_it()
    {
        // One POSIX_FADV_WILLNEED reads at most max(read_ahead_kb, max_sectors_kb) (128 KiB by default, 8 MiB on the CI
        // machine's disk): a 32 MiB piece advised in one call would leave most of it on disk.
        const int bigPiece = 32 * 1024 * 1024;
        using var temp = new TempDirectory("residency", AppContext.BaseDirectory);
        string file = SampleContent.WriteFile(temp.Combine("content", "data.bin"), bigPiece, seed: 7);
        var metainfo = TestTorrents.Create(file, bigPiece).Metainfo;
        var opened = await StorageOpener.OpenAsync(metainfo, temp.Combine("content"), temp.CreateSubdirectory("state"), StorageKind.Mapped, null, CancellationToken.None);
        using var store = Assert.IsType<MappedPieceStore>(opened.Store);

        DropFromPageCache(file);
        Assert.False(store.IsResident(0, bigPiece - Block, Block), "the test needs a file system that drops clean pages (not tmpfs)");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (int wait = 0; !store.IsResident(0, 0, bigPiece); wait++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the end of the advised range was never read in");
            // Read-ahead is best effort (the kernel may skip some of it), so the advice is repeated now and then; advice
            // that only ever reaches the first window never brings the end in, however often it is given.
            if (wait % 50 == 0) store.AdviseWillNeed(0, 0, bigPiece);
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_store_stops_checking_after_a_run_of_cached_blocks_and_checks_again_once_marked_cold()
    {
        using var temp = new TempDirectory("residency", AppContext.BaseDirectory);
        string file = SampleContent.WriteFile(temp.Combine("content", "data.bin"), 1024 * 1024, seed: 6);
        var metainfo = TestTorrents.Create(file, PieceLength).Metainfo;
        var opened = await StorageOpener.OpenAsync(metainfo, temp.Combine("content"), temp.CreateSubdirectory("state"), StorageKind.Mapped, null, CancellationToken.None);
        using var store = Assert.IsType<MappedPieceStore>(opened.Store);
        for (int i = 0; i < MappedPieceStore.WarmAfterResidentChecks; i++) Assert.True(store.IsResident(0, 0, Block));
        Assert.False(store.ChecksResidency);

        DropFromPageCache(file);
        Assert.True(store.IsResident(1, 0, Block)); // believed warm: not checked
        store.MarkCold();
        Assert.True(store.ChecksResidency);
        Assert.False(store.IsResident(1, 0, Block));
    }

    [Fact]
    public async Task The_pread_store_reports_every_block_resident()
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(StorageKind.Pread);
        store.MarkCold();
        Assert.True(store.IsResident(0, 0, Block));
    }

    private static void DropFromPageCache(string path)
    {
        using var handle = File.OpenHandle(path);
        Assert.Equal(0, posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, 4 /* POSIX_FADV_DONTNEED */));
    }

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);
}
