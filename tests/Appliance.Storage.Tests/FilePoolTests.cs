using System.Buffers;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Layout;
using Appliance.Storage.Pool;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>Counts this process's descriptors, so tests that do must not run beside others opening files.</summary>
[CollectionDefinition(nameof(DescriptorCollection), DisableParallelization = true)]
public sealed class DescriptorCollection;

/// <summary>Files are opened and mapped when a read needs them, through one bounded pool, and closed least recently used first.</summary>
[Collection(nameof(DescriptorCollection))]
public sealed class FilePoolTests
{
    private const int Block = 16 * 1024;

    public static TheoryData<StorageKind> Kinds => [StorageKind.Mapped, StorageKind.Pread];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Two_thousand_files_are_served_with_a_pool_of_16_and_open_descriptors_stay_bounded_by_it(StorageKind kind)
    {
        using var many = ManyFiles.Write(2_000, 5_000);
        var pool = new FilePool(16);
        int before = OpenDescriptors();
        var result = await StorageOpener.OpenAsync(many.Metainfo, many.Content, many.State, kind, null, CancellationToken.None, pool);
        using var store = result.Store ?? throw new Xunit.Sdk.XunitException(result.RefusedReason);
        int most = Math.Max(before, OpenDescriptors());
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        var pins = new MemoryHandle[PieceStore.MaxSegmentsPerBlock];
        var block = new byte[Block];
        for (int piece = 0; piece < many.Metainfo.PieceCount; piece++)
        {
            int size = many.Metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += Block)
            {
                int length = Math.Min(Block, size - begin);
                var expected = many.Data.AsSpan(piece * many.Metainfo.PieceLength + begin, length);
                if (kind == StorageKind.Mapped)
                {
                    Assert.True(store.TryPinSegments(piece, begin, length, segments, pins, out int count));
                    Assert.True(expected.SequenceEqual(Join(segments.AsSpan(0, count))), $"block {piece}/{begin}");
                    for (int i = 0; i < count; i++) pins[i].Dispose();
                }
                Assert.True(store.TryReadBlock(piece, begin, block.AsSpan(0, length)));
                Assert.True(expected.SequenceEqual(block.AsSpan(0, length)), $"block {piece}/{begin}");
                if (begin == 0 && piece % 16 == 0) most = Math.Max(most, OpenDescriptors());
            }
        }
        Assert.False(store.IsFaulted);
        Assert.True(pool.OpenCount <= pool.Capacity, $"{pool.OpenCount} open");
        // 2,000 files read, never more than the cap open at once (plus a few the runtime opens meanwhile).
        Assert.True(most - before <= pool.Capacity + 8, $"{most - before} descriptors opened beyond the {before} at start");
        Assert.True(pool.Evictions >= 2_000 - pool.Capacity, $"{pool.Evictions} evictions");
        Assert.True(pool.Hits > 0);
        store.Dispose();
        Assert.Equal(0, pool.OpenCount);
        Assert.True(OpenDescriptors() - before <= 8);
    }

    [Fact]
    public async Task Reads_racing_eviction_from_several_threads_never_fail_and_a_pinned_mapping_outlives_its_eviction()
    {
        using var many = ManyFiles.Write(64, 20_000);
        var pool = new FilePool(2);
        var result = await StorageOpener.OpenAsync(many.Metainfo, many.Content, many.State, StorageKind.Mapped, null, CancellationToken.None, pool);
        using var store = result.Store!;
        int blocks = (int)(many.Data.Length / Block);
        var readers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
            var pins = new MemoryHandle[PieceStore.MaxSegmentsPerBlock];
            var buffer = new byte[Block];
            var random = new Random(t);
            for (int i = 0; i < 3_000; i++)
            {
                int n = random.Next(blocks);
                int piece = n * Block / many.Metainfo.PieceLength, begin = n * Block % many.Metainfo.PieceLength;
                var expected = many.Data.AsSpan(n * Block, Block);
                if (random.Next(2) == 0)
                {
                    Assert.True(store.TryPinSegments(piece, begin, Block, segments, pins, out int count), $"pin {piece}/{begin}");
                    // Other threads evict these files meanwhile; the pins keep the pages mapped until released.
                    Thread.Yield();
                    Assert.True(expected.SequenceEqual(Join(segments.AsSpan(0, count))), $"segments {piece}/{begin}");
                    for (int s = 0; s < count; s++) pins[s].Dispose();
                }
                else
                {
                    Assert.True(store.TryReadBlock(piece, begin, buffer), $"read {piece}/{begin}");
                    Assert.True(expected.SequenceEqual(buffer), $"read {piece}/{begin}");
                }
            }
        })).ToArray();
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.False(store.IsFaulted);
        Assert.True(pool.Evictions > 0);

        // A block pinned for a send, then its file evicted by reads of others: the send still reads the pages.
        var held = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        var heldPins = new MemoryHandle[PieceStore.MaxSegmentsPerBlock];
        Assert.True(store.TryPinSegments(0, 0, Block, held, heldPins, out int heldCount));
        long evictions = pool.Evictions;
        var other = new byte[Block];
        for (int n = blocks - 1; n > blocks - 8; n--) Assert.True(store.TryReadBlock(n * Block / many.Metainfo.PieceLength, n * Block % many.Metainfo.PieceLength, other));
        Assert.True(pool.Evictions > evictions);
        using (var pair = await PieceStoreTests.SocketPairAsync())
        {
            int sent = 0;
            for (int s = 0; s < heldCount; s++) sent += await pair.Sender.SendAsync(held[s].Memory, SocketFlags.None);
            Assert.Equal(Block, sent);
            Assert.Equal(many.Data.AsSpan(0, Block).ToArray(), await PieceStoreTests.ReceiveAsync(pair.Receiver, Block));
        }
        for (int s = 0; s < heldCount; s++) heldPins[s].Dispose();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task A_file_deleted_while_closed_fails_only_the_reads_that_need_it(StorageKind kind)
    {
        using var many = ManyFiles.Write(8, 20_000);
        var pool = new FilePool(2);
        var failures = new List<string>();
        pool.OpenFailed += (path, _) => { lock (failures) failures.Add(path); };
        var result = await StorageOpener.OpenAsync(many.Metainfo, many.Content, many.State, kind, null, CancellationToken.None, pool);
        using var store = result.Store!;
        // Verification read every file, so file 0 was evicted long ago: it is closed when deleted.
        Assert.Null(((FilePieceStore)store).Files.Entry(0)!.Current);
        File.Delete(many.PathOf(0));
        var buffer = new byte[Block];
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        var pins = new MemoryHandle[PieceStore.MaxSegmentsPerBlock];
        Assert.False(store.TryReadBlock(0, 0, buffer));
        Assert.False(store.TryPinSegments(0, 0, Block, segments, pins, out int none));
        Assert.Equal(0, none);
        Assert.False(store.IsFaulted);
        Assert.True(pool.OpenFailures >= 1);
        Assert.Contains(many.PathOf(0), failures);
        // Every other file still serves.
        int last = many.Metainfo.PieceCount - 1;
        Assert.True(store.TryReadBlock(last, 0, buffer.AsSpan(0, Math.Min(Block, many.Metainfo.PieceSize(last)))));
        Assert.True(store.TryReadBlock(2, 0, buffer));
        Assert.True(many.Data.AsSpan(2 * many.Metainfo.PieceLength, Block).SequenceEqual(buffer));
    }

    [Fact]
    public async Task The_files_of_a_disposed_store_leave_the_pool_and_are_not_reopened()
    {
        using var many = ManyFiles.Write(8, 20_000);
        var pool = new FilePool(4);
        var result = await StorageOpener.OpenAsync(many.Metainfo, many.Content, many.State, StorageKind.Mapped, null, CancellationToken.None, pool);
        var store = result.Store!;
        Assert.Equal(4, pool.OpenCount);
        store.Dispose();
        Assert.Equal(0, pool.OpenCount);
        Assert.False(store.TryReadBlock(0, 0, new byte[Block]));
        Assert.Equal(0, pool.OpenCount);
    }

    [Fact]
    public void Default_capacity_is_a_quarter_of_the_smaller_limit_and_at_most_a_few_hundred_files()
    {
        int capacity = FilePool.DefaultCapacity();
        long maxMapCount = long.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim());
        Assert.InRange(capacity, 16, Math.Min(maxMapCount / 4 + 16, 512));
        Assert.Equal(256, FilePool.CapacityFor(descriptors: 1024, mappings: 65530));
        Assert.Equal(512, FilePool.CapacityFor(descriptors: 20000, mappings: 65530));
        Assert.Equal(512, FilePool.CapacityFor(descriptors: 1_048_576, mappings: 262_144));
        Assert.Equal(16, FilePool.CapacityFor(descriptors: 40, mappings: 65530));
    }

    [Fact]
    public async Task Served_chunks_idle_for_a_whole_pass_leave_the_resident_set_and_fault_back_on_the_next_send()
    {
        using var many = ManyFiles.Write(4, 2 * 1024 * 1024);
        var pool = new FilePool(16);
        using var store = await OpenMappedAsync(many, pool);

        ReadEveryBlockThroughTheMapping(store, many);
        Assert.True(MappedResidentBytes(many.Content) >= 6 * 1024 * 1024, "the 8 MiB served are resident");

        // Touched since the last pass: kept. Untouched for the whole next interval: released.
        Assert.Equal(0, pool.ReleaseIdlePages());
        Assert.True(MappedResidentBytes(many.Content) >= 6 * 1024 * 1024);
        Assert.Equal(8L * 1024 * 1024, pool.ReleaseIdlePages());
        long released = MappedResidentBytes(many.Content);
        Assert.True(released <= 512 * 1024, $"{released} bytes still resident after the release");
        Assert.Equal(8L * 1024 * 1024, pool.ReleasedBytes);
        Assert.Equal(0, pool.ReleaseIdlePages()); // nothing mapped in since: nothing to do

        ReadEveryBlockThroughTheMapping(store, many); // every block still right: the pages fault back from the page cache
        Assert.True(MappedResidentBytes(many.Content) >= 6 * 1024 * 1024);
        Assert.False(store.IsFaulted);
    }

    [Fact]
    public async Task Chunks_in_steady_use_stay_mapped_through_release_passes()
    {
        using var many = ManyFiles.Write(4, 2 * 1024 * 1024);
        var pool = new FilePool(16);
        using var store = await OpenMappedAsync(many, pool);
        for (int pass = 0; pass < 4; pass++)
        {
            ReadEveryBlockThroughTheMapping(store, many);
            Assert.Equal(0, pool.ReleaseIdlePages());
        }
        Assert.True(MappedResidentBytes(many.Content) >= 6 * 1024 * 1024);
    }

    private static async Task<PieceStore> OpenMappedAsync(ManyFiles many, FilePool pool)
    {
        var result = await StorageOpener.OpenAsync(many.Metainfo, many.Content, many.State, StorageKind.Mapped, null, CancellationToken.None, pool);
        return result.Store ?? throw new Xunit.Sdk.XunitException(result.RefusedReason);
    }

    private static void ReadEveryBlockThroughTheMapping(PieceStore store, ManyFiles many)
    {
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        var pins = new MemoryHandle[PieceStore.MaxSegmentsPerBlock];
        for (int piece = 0; piece < many.Metainfo.PieceCount; piece++)
        {
            int size = many.Metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += Block)
            {
                int length = Math.Min(Block, size - begin);
                Assert.True(store.TryPinSegments(piece, begin, length, segments, pins, out int count));
                Assert.True(many.Data.AsSpan(piece * many.Metainfo.PieceLength + begin, length).SequenceEqual(Join(segments.AsSpan(0, count))));
                for (int i = 0; i < count; i++) pins[i].Dispose();
            }
        }
    }

    /// <summary>Resident bytes of this process's mappings of files under <paramref name="folder"/> (/proc/self/smaps).</summary>
    private static long MappedResidentBytes(string folder)
    {
        long total = 0;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-', StringComparison.Ordinal) && !line.EndsWith(" kB", StringComparison.Ordinal))
            {
                inside = line.Contains(folder, StringComparison.Ordinal);
            }
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                total += long.Parse(line.AsSpan(4, line.Length - 4 - 3).Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        return total;
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private static byte[] Join(ReadOnlySpan<BlockSegment> segments)
    {
        var bytes = new List<byte>();
        foreach (var segment in segments) bytes.AddRange(segment.Memory.ToArray());
        return [.. bytes];
    }

    /// <summary>COUNT files of SIZE bytes in one torrent, its state folder, and all the bytes in torrent order.</summary>
    private sealed class ManyFiles : IDisposable
    {
        private readonly TempDirectory _temp = new("file-pool");

        private ManyFiles() { }

        public string Content { get; private set; } = null!;
        public string State { get; private set; } = null!;
        public TorrentMetainfo Metainfo { get; private set; } = null!;
        public byte[] Data { get; private set; } = null!;
        private FileLayout Layout { get; set; } = null!;

        public string PathOf(int fileIndex) => Layout.Files[fileIndex].FullPath;

        public static ManyFiles Write(int count, int size)
        {
            var many = new ManyFiles();
            many.Content = many._temp.CreateSubdirectory("content");
            many.State = many._temp.Combine("state");
            string root = Path.Combine(many.Content, "many");
            for (int i = 0; i < count; i++) SampleContent.WriteFile(Path.Combine(root, $"{i / 100:D2}", $"f{i:D5}.bin"), size, seed: i);
            many.Metainfo = TestTorrents.Create(root, 16 * 1024).Metainfo;
            many.Layout = FileLayout.ForTorrent(many.Metainfo, many.Content);
            many.Data = [.. many.Layout.Files.SelectMany(f => File.ReadAllBytes(f.FullPath))];
            return many;
        }

        public void Dispose() => _temp.Dispose();
    }
}
