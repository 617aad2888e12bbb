using System.Net.Sockets;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>
/// Entry point of this assembly when a test starts it as a child process (<c>dotnet exec Appliance.Storage.Tests.dll SCENARIO</c>),
/// so a scenario that could crash a process (SIGBUS) cannot take the test host down with it.
/// </summary>
public static class ChildProcess
{
    public const string TruncateThenSend = "truncate-then-send";
    public const string ReopenTruncateThenSend = "reopen-truncate-then-send";

    public static async Task<int> Main(string[] args)
    {
        if (args is [TruncateThenSend]) return await TruncateThenSendAsync();
        if (args is [ReopenTruncateThenSend]) return await ReopenTruncateThenSendAsync();
        await Console.Error.WriteLineAsync("usage: Appliance.Storage.Tests.dll truncate-then-send|reopen-truncate-then-send");
        return 2;
    }

    public static Task<ExternalProcess> RunAsync(string scenario, TimeSpan timeout) =>
        ExternalProcess.RunAsync("dotnet", ["exec", typeof(ChildProcess).Assembly.Location, scenario], timeout);

    /// <summary>
    /// With a pool of one file: maps the last file, evicts it by reading another, reopens (maps again) it for a send,
    /// truncates it, then sends the pinned segments over loopback TCP. Prints one line per outcome; exit code 0 when it survived.
    /// </summary>
    private static async Task<int> ReopenTruncateThenSendAsync()
    {
        using var fixture = new StorageFixture();
        var pool = new Pool.FilePool(1);
        var opened = await fixture.OpenAsync(StorageKind.Mapped, pool: pool);
        using var store = opened.Store!;
        int last = fixture.Metainfo.PieceCount - 1;
        int length = fixture.Metainfo.PieceSize(last);
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        var pins = new System.Buffers.MemoryHandle[PieceStore.MaxSegmentsPerBlock];
        if (!store.TryGetSegments(last, 0, length, segments, out _)) return 3;
        long misses = pool.Misses;
        if (!store.TryReadBlock(0, 0, new byte[100])) return 4; // the first file: evicts the last
        if (!store.TryPinSegments(last, 0, length, segments, pins, out int count) || count != 1) return 5;
        Console.WriteLine($"reopened: {pool.Misses - misses == 2 && pool.Evictions >= 2}");

        using (var stream = new FileStream(fixture.PathOf("z-last.bin"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) stream.SetLength(0);
        Console.WriteLine("truncated");

        using var pair = await PieceStoreTests.SocketPairAsync();
        try
        {
            unsafe
            {
                pair.Sender.Send(new ReadOnlySpan<byte>(pins[0].Pointer, segments[0].Length));
            }
            Console.WriteLine("send: succeeded");
        }
        catch (SocketException e)
        {
            Console.WriteLine($"send: {e.SocketErrorCode}");
            store.Fault($"sending a block failed: {e.SocketErrorCode}");
        }
        pins[0].Dispose();
        Console.WriteLine($"faulted: {store.FaultReason}");
        Console.WriteLine("survived");
        return 0;
    }

    /// <summary>
    /// Maps the sample, takes segments of a block, truncates the file under the mapping, then sends the segments
    /// over loopback TCP, synchronously and asynchronously. Prints one line per outcome; exit code 0 when it survived.
    /// </summary>
    private static async Task<int> TruncateThenSendAsync()
    {
        using var fixture = new StorageFixture();
        var opened = await fixture.OpenAsync(StorageKind.Mapped);
        using var store = opened.Store!;
        int last = fixture.Metainfo.PieceCount - 1;
        var segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
        if (!store.TryGetSegments(last, 0, fixture.Metainfo.PieceSize(last), segments, out int count)) return 3;

        using (var stream = new FileStream(fixture.PathOf("z-last.bin"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) stream.SetLength(0);
        Console.WriteLine("truncated");

        using var pair = await PieceStoreTests.SocketPairAsync();
        try
        {
            using var pin = segments[0].Memory.Pin();
            unsafe
            {
                pair.Sender.Send(new ReadOnlySpan<byte>(pin.Pointer, segments[0].Length));
            }
            Console.WriteLine("sync send: succeeded");
        }
        catch (SocketException e)
        {
            Console.WriteLine($"sync send: {e.SocketErrorCode}");
            store.Fault($"sending a block failed: {e.SocketErrorCode}");
        }
        try
        {
            await pair.Sender.SendAsync(segments[0].Memory, SocketFlags.None);
            Console.WriteLine("async send: succeeded");
        }
        catch (SocketException e)
        {
            Console.WriteLine($"async send: {e.SocketErrorCode}");
        }
        Console.WriteLine($"faulted: {store.FaultReason}");
        Console.WriteLine($"segments after fault: {store.TryGetSegments(0, 0, 100, segments, out _)}");
        Console.WriteLine("survived");
        return 0;
    }
}
