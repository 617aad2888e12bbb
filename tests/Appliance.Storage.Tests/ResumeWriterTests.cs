using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Resume;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>Resume files written after the open, on one background thread: held back by loads, flushed at a stop, forgotten on unload.</summary>
public sealed class ResumeWriterTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly StorageFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task Opening_returns_the_verification_to_record_and_writes_no_resume_file()
    {
        var result = await _fixture.OpenWithoutSavingAsync(StorageKind.Pread);
        using var store = result.Store!;

        Assert.NotNull(result.ResumeToSave);
        Assert.Equal(_fixture.Metainfo.PieceCount, Enumerable.Range(0, _fixture.Metainfo.PieceCount).Count(result.ResumeToSave.IsVerified));
        Assert.False(File.Exists(ResumeFile.PathFor(_fixture.StateFolder, _fixture.Metainfo.InfoHash)), "the open wrote the resume file itself");
    }

    [Fact]
    public async Task Writes_wait_while_a_load_is_in_progress_and_follow_once_it_ends()
    {
        using var writer = new ResumeWriter(_fixture.StateFolder, Timeout.InfiniteTimeSpan);
        var hold = writer.HoldForLoad();
        var states = Enumerable.Range(0, 20).Select(StateOf).ToArray();
        foreach (var state in states) writer.Enqueue(state);

        await Task.Delay(300); // the writer would have written a few by now
        Assert.Equal(20, writer.PendingCount);
        Assert.False(Directory.Exists(_fixture.StateFolder) && Directory.EnumerateFiles(_fixture.StateFolder).Any(), "written during the load");

        hold.Dispose();
        await WaitUntilAsync(() => writer.PendingCount == 0);
        Assert.All(states, s => Assert.True(File.Exists(ResumeFile.PathFor(_fixture.StateFolder, s.InfoHash))));
        Assert.Equal(20, writer.Written);
        Assert.Empty(Directory.GetFiles(_fixture.StateFolder, "*.tmp"));
    }

    [Fact]
    public async Task A_write_held_back_longer_than_the_deferral_is_done_during_the_load()
    {
        using var writer = new ResumeWriter(_fixture.StateFolder, TimeSpan.FromMilliseconds(200));
        using var hold = writer.HoldForLoad();
        var state = StateOf(1);

        writer.Enqueue(state);

        await WaitUntilAsync(() => File.Exists(ResumeFile.PathFor(_fixture.StateFolder, state.InfoHash)));
    }

    [Fact]
    public async Task A_flush_writes_what_a_load_holds_back()
    {
        using var writer = new ResumeWriter(_fixture.StateFolder, Timeout.InfiniteTimeSpan);
        using var hold = writer.HoldForLoad();
        var states = Enumerable.Range(0, 50).Select(StateOf).ToArray();
        foreach (var state in states) writer.Enqueue(state);

        using var deadline = new CancellationTokenSource(Patience);
        int unwritten = await writer.FlushAsync(deadline.Token);

        Assert.Equal(0, unwritten);
        Assert.Equal(0, writer.PendingCount);
        Assert.All(states, s => Assert.True(File.Exists(ResumeFile.PathFor(_fixture.StateFolder, s.InfoHash))));
    }

    [Fact]
    public async Task A_flush_that_cannot_finish_in_time_says_how_many_were_not_written()
    {
        string blocked = Path.Combine(Path.GetDirectoryName(_fixture.StateFolder)!, "not-a-folder");
        File.WriteAllText(blocked, "a file where the state folder should be");
        using var writer = new ResumeWriter(blocked, Timeout.InfiniteTimeSpan);
        using var stuck = new ManualResetEventSlim();
        writer.WriteFailed += (_, _) => stuck.Wait(Patience); // the writer's thread stalls on its first write, as on a hung disk
        for (int i = 0; i < 5; i++) writer.Enqueue(StateOf(i));

        using (var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            Assert.Equal(5, await writer.FlushAsync(deadline.Token)); // the one under way counts until it is done
        }
        stuck.Set();
        Assert.Equal(0, await writer.FlushAsync(new CancellationTokenSource(Patience).Token));
        Assert.Equal(5, writer.Failures);
    }

    [Fact]
    public async Task A_flush_of_a_stopped_writer_returns_at_once_with_what_was_dropped()
    {
        var writer = new ResumeWriter(_fixture.StateFolder, Timeout.InfiniteTimeSpan);
        var hold = writer.HoldForLoad();
        for (int i = 0; i < 5; i++) writer.Enqueue(StateOf(i));
        writer.Dispose(); // as a crash would: nothing pending is written

        using var deadline = new CancellationTokenSource(Patience);
        Assert.Equal(5, await writer.FlushAsync(deadline.Token));
        Assert.False(deadline.IsCancellationRequested);
        Assert.False(Directory.Exists(_fixture.StateFolder));
        hold.Dispose();
    }

    [Fact]
    public async Task A_forgotten_torrent_is_not_written()
    {
        using var writer = new ResumeWriter(_fixture.StateFolder, Timeout.InfiniteTimeSpan);
        var hold = writer.HoldForLoad();
        var (kept, removed) = (StateOf(1), StateOf(2));
        writer.Enqueue(removed);
        writer.Enqueue(kept);

        Assert.True(writer.Forget(removed.InfoHash));
        hold.Dispose();
        await writer.FlushAsync(new CancellationTokenSource(Patience).Token);

        Assert.True(File.Exists(ResumeFile.PathFor(_fixture.StateFolder, kept.InfoHash)));
        Assert.False(File.Exists(ResumeFile.PathFor(_fixture.StateFolder, removed.InfoHash)));
        Assert.Equal(1, writer.Written);
    }

    [Fact]
    public async Task A_newer_verification_replaces_the_one_still_waiting()
    {
        var opened = await _fixture.OpenWithoutSavingAsync(StorageKind.Pread);
        opened.Store!.Dispose();
        var good = opened.ResumeToSave!;
        var nothingVerified = good with { Verified = ResumeState.NewBitfield(good.PieceCount) };
        using var writer = new ResumeWriter(_fixture.StateFolder, Timeout.InfiniteTimeSpan);
        using (writer.HoldForLoad())
        {
            writer.Enqueue(nothingVerified);
            writer.Enqueue(good);
            Assert.Equal(1, writer.PendingCount);
        }
        await writer.FlushAsync(new CancellationTokenSource(Patience).Token);

        Assert.Equal(1, writer.Written);
        var reopened = await _fixture.OpenWithoutSavingAsync(StorageKind.Pread);
        reopened.Store!.Dispose();
        Assert.True(reopened.FromResume);
        Assert.Equal(0, reopened.PiecesHashed);
    }

    [Fact]
    public async Task A_failed_write_is_reported_and_the_next_ones_still_go_out()
    {
        string blocked = Path.Combine(Path.GetDirectoryName(_fixture.StateFolder)!, "not-a-folder");
        File.WriteAllText(blocked, "a file where the state folder should be");
        using var writer = new ResumeWriter(blocked, Timeout.InfiniteTimeSpan);
        var failures = new List<string>();
        writer.WriteFailed += (path, _) => { lock (failures) failures.Add(path); };

        writer.Enqueue(StateOf(1));
        writer.Enqueue(StateOf(2));
        await writer.FlushAsync(new CancellationTokenSource(Patience).Token);

        Assert.Equal(2, writer.Failures);
        Assert.Equal(2, failures.Count);
        Assert.Equal(0, writer.PendingCount);
    }

    private ResumeState StateOf(int i)
    {
        var hash = new byte[InfoHash.Length];
        BitConverter.TryWriteBytes(hash, i + 1);
        var stamps = _fixture.Metainfo.Files.Select(_ => new FileStamp(1, 2)).ToArray();
        return new ResumeState(new InfoHash(hash), _fixture.Metainfo.PieceLength, _fixture.Metainfo.PieceCount,
            ResumeState.NewBitfield(_fixture.Metainfo.PieceCount), stamps);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(20);
        }
    }
}
