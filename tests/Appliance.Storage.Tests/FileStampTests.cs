using Appliance.Storage.Files;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

public sealed class FileStampTests
{
    [Fact]
    public void Stamp_has_the_size_and_the_modification_time_in_nanoseconds()
    {
        using var temp = new TempDirectory();
        string path = SampleContent.WriteFile(temp.Combine("f.bin"), 12_345);
        var time = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1234567);
        File.SetLastWriteTimeUtc(path, time);
        var stamp = FileStamp.Read(path);
        Assert.NotNull(stamp);
        Assert.Equal(12_345, stamp.Value.Size);
        Assert.Equal((time - DateTime.UnixEpoch).Ticks * 100, stamp.Value.MtimeNanoseconds);
    }

    [Fact]
    public async Task Stamp_keeps_nanoseconds_that_DateTime_cannot_hold()
    {
        using var temp = new TempDirectory();
        string path = SampleContent.WriteFile(temp.Combine("f.bin"), 10);
        using var touch = await ExternalProcess.RunAsync("touch", ["-m", "-d", "2024-01-02 03:04:05.123456789 UTC", path], TimeSpan.FromSeconds(10));
        Assert.Equal(0, touch.ExitCode);
        long expected = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000 + 123_456_789;
        Assert.Equal(expected, FileStamp.Read(path)!.Value.MtimeNanoseconds);
    }

    [Fact]
    public void Missing_files_and_folders_have_no_stamp()
    {
        using var temp = new TempDirectory();
        Assert.Null(FileStamp.Read(temp.Combine("none")));
        Assert.Null(FileStamp.Read(temp.Combine("none", "deeper")));
        Assert.Null(FileStamp.Read(temp.Path));
    }

    [Fact]
    public void Rewriting_a_file_changes_its_stamp()
    {
        using var temp = new TempDirectory();
        string path = SampleContent.WriteFile(temp.Combine("f.bin"), 100);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
        var before = FileStamp.Read(path);
        File.WriteAllBytes(path, new byte[100]);
        Assert.NotEqual(before, FileStamp.Read(path));
    }
}
