using Appliance.Configuration;
using Appliance.Hosting;
using Appliance.Storage.Resume;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.Hosting;

public sealed class SeedingComponentTests
{
    [Fact]
    public async Task A_stop_writes_the_resume_files_still_pending_before_it_unloads_the_torrents()
    {
        using var temp = new TempDirectory("seeding-stop");
        string content = temp.CreateSubdirectory("content");
        string state = temp.Combine("state");
        var torrents = Enumerable.Range(0, 3).Select(i =>
        {
            string data = SampleContent.WriteFile(Path.Combine(content, $"file{i}.bin"), 30_000 + i, seed: i + 1);
            return TestTorrents.Write(data, Path.Combine(content, $"t{i}.torrent"), pieceLength: 16 * 1024);
        }).ToList();
        var options = new ServeOptions { Content = content, State = state, Listen = "127.0.0.1:0" };
        var seeding = SeedingComponent.Create(options, NullLoggerFactory.Instance, TextWriter.Null);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await seeding.StartAsync(deadline.Token);
        var held = seeding.ResumeWriter.HoldForLoad(); // another load still running: nothing is written before the stop

        await seeding.LoadLibraryAsync(deadline.Token);
        Assert.Equal(3, seeding.Registry.Count);
        Assert.Equal(3, seeding.ResumeWriter.PendingCount);
        await seeding.DrainAsync(deadline.Token);
        await seeding.StopAsync(deadline.Token);

        Assert.All(torrents, t => Assert.True(File.Exists(ResumeFile.PathFor(state, t.InfoHash)), t.Name));
        Assert.Equal(0, seeding.Registry.Count);
        held.Dispose();
    }
}
