using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.Storage.Pool;
using Appliance.TestKit;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding.Tests.Torrents;

public sealed class SeedingStorageOpenerTests
{
    private const int OpenFailedEvent = 3102;

    [Fact]
    public async Task Disposed_openers_leave_no_handler_on_the_pool_they_shared()
    {
        using var temp = new TempDirectory("storage-opener");
        string content = temp.CreateSubdirectory("content");
        string root = Path.Combine(content, "data");
        for (int i = 0; i < 8; i++) SampleContent.WriteFile(Path.Combine(root, $"f{i}.bin"), 20_000, seed: i + 1);
        var metainfo = TestTorrents.Create(root, pieceLength: 16 * 1024).Metainfo;
        var pool = new FilePool(2);

        // Openers come and go on one pool (a host started and stopped in the same process, on the shared pool).
        var gone = new OpenFailureLog();
        for (int i = 0; i < 100; i++)
        {
            using var opener = new SeedingStorageOpener(temp.CreateSubdirectory($"state{i}"), StorageKind.Mapped, gone, pool: pool);
        }
        var log = new OpenFailureLog();
        using var live = new SeedingStorageOpener(temp.CreateSubdirectory("state"), StorageKind.Mapped, log, pool: pool);
        var opening = await live.OpenAsync(metainfo, content, CancellationToken.None);
        using var store = opening.Store!;
        // Verification read every file through the pool of 2, so the first is closed: deleted, it cannot be reopened.
        File.Delete(Path.Combine(root, "f0.bin"));

        Assert.False(store.TryReadBlock(0, 0, new byte[16 * 1024]));

        Assert.Equal(1, log.Count);
        Assert.Equal(0, gone.Count);
    }

    /// <summary>Counts the opener's "cannot open" warnings.</summary>
    private sealed class OpenFailureLog : ILogger
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == OpenFailedEvent) Interlocked.Increment(ref _count);
        }
    }
}
