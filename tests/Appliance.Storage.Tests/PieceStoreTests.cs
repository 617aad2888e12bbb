using System.Net;
using System.Net.Sockets;
using Appliance.Storage.Files;
using Appliance.Storage.Layout;
using Appliance.Storage.Mapping;
using Appliance.Storage.Pool;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

public sealed class PieceStoreTests
{
    private const int Block = 16 * 1024;

    public static TheoryData<StorageKind> Kinds => [StorageKind.Mapped, StorageKind.Pread];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Block_reads_across_file_boundaries_equal_the_concatenated_files(StorageKind kind)
    {
        using var fixture = new StorageFixture(pieceLength: 32 * 1024);
        using var store = await fixture.OpenStoreAsync(kind);
        byte[] expected = fixture.Concatenated();
        var actual = new byte[expected.Length];
        for (int piece = 0; piece < fixture.Metainfo.PieceCount; piece++)
        {
            int size = fixture.Metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += Block)
            {
                int length = Math.Min(Block, size - begin);
                long offset = (long)piece * fixture.Metainfo.PieceLength + begin;
                Assert.True(store.TryReadBlock(piece, begin, actual.AsSpan((int)offset, length)));
            }
        }
        Assert.Equal(expected, actual);
        Assert.False(store.IsFaulted);
    }

    [Fact]
    public async Task Mapped_segments_equal_the_concatenated_files_including_blocks_that_cross_files()
    {
        using var fixture = new StorageFixture(pieceLength: 32 * 1024);
        using var store = await fixture.OpenStoreAsync(StorageKind.Mapped);
        Assert.True(store.SupportsSegments);
        byte[] expected = fixture.Concatenated();
        // Odd offsets and lengths so blocks straddle the file boundaries at 100003, 101003, 171004.
        AssertSegmentsMatch(store, expected, blockLength: 12_345);
        AssertSegmentsMatch(store, expected, blockLength: Block);
    }

    [Fact]
    public async Task Files_larger_than_one_window_are_served_through_several_windows()
    {
        using var fixture = new StorageFixture(pieceLength: 32 * 1024);
        // 8 KiB windows: every 16 KiB block at an odd offset crosses a window boundary.
        var files = FileHandles.Open(FileLayout.ForTorrent(fixture.Metainfo, fixture.ContentFolder), pool: new FilePool(16, windowShift: 13), map: true);
        var store = MappedPieceStore.Open(fixture.Metainfo, files);
        using (store)
        {
            AssertSegmentsMatch(store, fixture.Concatenated(), blockLength: 10_001);
            var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
            Assert.True(store.TryGetSegments(0, 4096, Block, segments, out int count));
            Assert.Equal(3, count);
        }
        await Task.CompletedTask;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Out_of_range_requests_are_refused_without_faulting_the_store(StorageKind kind)
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(kind);
        int last = fixture.Metainfo.PieceCount - 1;
        int lastSize = fixture.Metainfo.PieceSize(last);
        var buffer = new byte[Block];
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        (int Piece, int Begin, int Length)[] bad =
        [
            (-1, 0, Block), (last + 1, 0, Block), (0, -1, Block), (0, fixture.Metainfo.PieceLength - 100, 200),
            (last, lastSize, 1), (last, lastSize - 10, 11), (0, 0, 0),
        ];
        foreach (var (piece, begin, length) in bad)
        {
            Assert.False(store.TryReadBlock(piece, begin, buffer.AsSpan(0, length)), $"read {piece}/{begin}/{length}");
            Assert.False(store.TryGetSegments(piece, begin, length, segments, out _), $"segments {piece}/{begin}/{length}");
        }
        Assert.True(store.TryReadBlock(last, 0, buffer.AsSpan(0, lastSize)));
        Assert.False(store.IsFaulted);
    }

    [Fact]
    public async Task Block_across_more_files_than_segments_is_refused_as_segments_but_served_by_TryReadBlock()
    {
        using var temp = new TestKit.TempDirectory();
        string root = temp.CreateSubdirectory("content/tiny");
        for (int i = 0; i < 40; i++) TestKit.SampleContent.WriteFile(Path.Combine(root, $"f{i:D2}.txt"), 500, seed: i);
        var metainfo = TestKit.TestTorrents.Create(root, 16 * 1024).Metainfo;
        var result = await StorageOpener.OpenAsync(metainfo, temp.Combine("content"), temp.Combine("state"), StorageKind.Mapped, null, CancellationToken.None);
        using var store = result.Store!;
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        Assert.True(store.TryGetSegments(0, 0, 16 * 500, segments, out int count));
        Assert.Equal(16, count);
        Assert.False(store.TryGetSegments(0, 0, 17 * 500, segments, out _));
        Assert.False(store.IsFaulted);
        var block = new byte[Block];
        Assert.True(store.TryReadBlock(0, 0, block));
        Assert.Equal(File.ReadAllBytes(Path.Combine(root, "f05.txt")), block[2500..3000]);
    }

    [Fact]
    public async Task Pread_store_gives_no_segments()
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(StorageKind.Pread);
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        Assert.False(store.SupportsSegments);
        Assert.False(store.TryGetSegments(0, 0, Block, segments, out _));
        Assert.Equal(0, store.MappedBytes);
    }

    [Fact]
    public async Task Mapped_and_pread_stores_give_identical_bytes()
    {
        using var fixture = new StorageFixture(pieceLength: 64 * 1024);
        using var mapped = await fixture.OpenStoreAsync(StorageKind.Mapped);
        using var pread = await fixture.OpenStoreAsync(StorageKind.Pread);
        var fromPread = new byte[Block];
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        for (int piece = 0; piece < fixture.Metainfo.PieceCount; piece++)
        {
            int size = fixture.Metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += Block)
            {
                int length = Math.Min(Block, size - begin);
                Assert.True(pread.TryReadBlock(piece, begin, fromPread.AsSpan(0, length)));
                Assert.True(mapped.TryGetSegments(piece, begin, length, segments, out int count));
                Assert.Equal(fromPread.AsSpan(0, length).ToArray(), Join(segments.AsSpan(0, count)));
            }
        }
    }

    [Fact]
    public async Task Mapped_bytes_count_the_files_mapped_now()
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(StorageKind.Mapped);
        AssertSegmentsMatch(store, fixture.Concatenated(), blockLength: Block);
        Assert.Equal(fixture.Metainfo.TotalLength, store.MappedBytes);
    }

    [Fact]
    public async Task TryGetSegments_allocates_nothing()
    {
        using var fixture = new StorageFixture(pieceLength: 32 * 1024);
        using var store = await fixture.OpenStoreAsync(StorageKind.Mapped);
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        int pieces = fixture.Metainfo.PieceCount - 1;
        for (int i = 0; i < 100; i++) store.TryGetSegments(i % pieces, 7, Block, segments, out _);
        int total = 0;
        long allocated = ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                Assert.True(store.TryGetSegments(i % pieces, (i * 4099) % Block, Block, segments, out int count));
                total += count;
            }
        });
        Assert.True(total >= 10_000);
        Assert.Equal(0, allocated);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task TryReadBlock_allocates_nothing(StorageKind kind)
    {
        using var fixture = new StorageFixture(pieceLength: 32 * 1024);
        using var store = await fixture.OpenStoreAsync(kind);
        var buffer = new byte[Block];
        int pieces = fixture.Metainfo.PieceCount - 1;
        for (int i = 0; i < 100; i++) store.TryReadBlock(i % pieces, 0, buffer);
        Assert.Equal(0, ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 2_000; i++) Assert.True(store.TryReadBlock(i % pieces, (i * 4099) % Block, buffer));
        }));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Truncated_file_makes_block_reads_fail_and_faults_the_store(StorageKind kind)
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(kind);
        using (var stream = new FileStream(fixture.PathOf("z-last.bin"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            stream.SetLength(1000);
        int last = fixture.Metainfo.PieceCount - 1;
        var buffer = new byte[fixture.Metainfo.PieceSize(last)];
        Assert.False(store.TryReadBlock(last, 0, buffer));
        Assert.True(store.IsFaulted);
        Assert.Contains("z-last.bin", store.FaultReason, StringComparison.Ordinal);
        // Once faulted, nothing more is served, even ranges that are still readable.
        Assert.False(store.TryReadBlock(0, 0, buffer.AsSpan(0, 100)));
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        Assert.False(store.TryGetSegments(0, 0, 100, segments, out _));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CheckFiles_notices_a_truncated_file_before_any_read(StorageKind kind)
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(kind);
        Assert.Null(store.CheckFiles());
        using (var stream = new FileStream(fixture.PathOf("nested/b.bin"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            stream.SetLength(10);
        Assert.Equal("'nested/b.bin' is now 10 bytes, expected 1000", store.CheckFiles());
        Assert.True(store.IsFaulted);
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        Assert.False(store.TryGetSegments(0, 0, 100, segments, out _));
    }

    [Fact]
    public async Task First_fault_reason_is_kept()
    {
        using var fixture = new StorageFixture();
        using var store = await fixture.OpenStoreAsync(StorageKind.Mapped);
        store.Fault("send failed: EFAULT");
        store.Fault("another");
        Assert.Equal("send failed: EFAULT", store.FaultReason);
    }

    [Fact]
    public async Task A_pinned_segment_stays_mapped_after_the_store_is_disposed_until_the_last_pin_is_released()
    {
        using var fixture = new StorageFixture();
        var store = await fixture.OpenStoreAsync(StorageKind.Mapped);
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        Assert.True(store.TryGetSegments(1, 0, Block, segments, out int count));
        Assert.Equal(1, count);
        byte[] expected = fixture.Concatenated().AsSpan(fixture.Metainfo.PieceLength, Block).ToArray();
        using (var pair = await SocketPairAsync())
        {
            var (sender, receiver) = (pair.Sender, pair.Receiver);
            var pin = segments[0].Memory.Pin();
            store.Dispose();
            Assert.False(store.TryGetSegments(1, 0, Block, segments, out _));
            // The kernel reads the pages through the still-pinned mapping (SendAsync pins once more, which is allowed
            // while the first pin keeps the pages mapped).
            int sent = await sender.SendAsync(segments[0].Memory, SocketFlags.None);
            pin.Dispose();
            Assert.Equal(Block, sent);
            Assert.Equal(expected, await ReceiveAsync(receiver, Block));
            // Last pin released: the files are unmapped and the segment can no longer be pinned.
            Assert.Throws<ObjectDisposedException>(() => segments[0].Memory.Pin());
        }
    }

    [Fact]
    public async Task Disposing_while_other_threads_read_and_pin_never_crashes()
    {
        using var fixture = new StorageFixture();
        var store = await fixture.OpenStoreAsync(StorageKind.Mapped);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        int pieces = fixture.Metainfo.PieceCount - 1;
        var readers = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
        {
            var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
            var buffer = new byte[Block];
            for (int i = 0; i < 200_000 && !stop.IsCancellationRequested; i++)
            {
                if (store.TryGetSegments(i % pieces, 0, Block, segments, out int count))
                {
                    try
                    {
                        using var pin = segments[count - 1].Memory.Pin();
                    }
                    catch (ObjectDisposedException)
                    {
                        return; // unmapped between TryGetSegments and Pin: the documented outcome
                    }
                }
                else if (!store.TryReadBlock(i % pieces, 0, buffer))
                {
                    return;
                }
            }
        })).ToArray();
        await Task.Delay(50);
        store.Dispose();
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(store.TryGetSegments(0, 0, Block, new BlockSegment[PieceStore.MaxSegmentsPerBlock], out _));
    }

    private static void AssertSegmentsMatch(PieceStore store, byte[] expected, int blockLength)
    {
        var metainfo = store.Metainfo;
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        for (int piece = 0; piece < metainfo.PieceCount; piece++)
        {
            int size = metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += blockLength)
            {
                int length = Math.Min(blockLength, size - begin);
                Assert.True(store.TryGetSegments(piece, begin, length, segments, out int count), $"piece {piece} begin {begin}");
                long offset = (long)piece * metainfo.PieceLength + begin;
                Assert.Equal(expected.AsSpan((int)offset, length).ToArray(), Join(segments.AsSpan(0, count)));
            }
        }
    }

    // Tests may look at mapped bytes: the files are intact here (the product itself never does).
    private static byte[] Join(ReadOnlySpan<BlockSegment> segments)
    {
        var bytes = new List<byte>();
        foreach (var segment in segments) bytes.AddRange(segment.Memory.ToArray());
        return [.. bytes];
    }

    internal static async Task<SocketPair> SocketPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.ConnectAsync(listener.LocalEndPoint!, cts.Token);
        var server = await listener.AcceptAsync(cts.Token);
        return new SocketPair(client, server);
    }

    internal static async Task<byte[]> ReceiveAsync(Socket socket, int length)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[length];
        int received = 0;
        while (received < length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, cts.Token);
            if (n == 0) break;
            received += n;
        }
        return buffer[..received];
    }

    internal sealed record SocketPair(Socket Sender, Socket Receiver) : IDisposable
    {
        public void Dispose()
        {
            Sender.Dispose();
            Receiver.Dispose();
        }
    }
}
