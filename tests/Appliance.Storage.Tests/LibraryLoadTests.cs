using Appliance.Storage.Files;
using Appliance.Storage.Resume;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

/// <summary>The cheaper load path (fewer system calls per torrent) keeps the guarantees of the one it replaced.</summary>
public sealed class LibraryLoadTests
{
    [Fact]
    public async Task Resume_state_is_saved_when_the_state_folder_was_removed_after_an_earlier_save()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        string path = ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash);
        Assert.True(File.Exists(path));

        Directory.Delete(fixture.StateFolder, recursive: true);
        var result = await fixture.OpenAsync(StorageKind.Pread); // hashes again: nothing to resume from
        using var store = result.Store;
        Assert.Null(result.RefusedReason);
        Assert.True(File.Exists(path));
        Assert.Empty(result.Warnings);
        Assert.Empty(Directory.GetFiles(fixture.StateFolder, "*.tmp"));
    }

    [Fact]
    public async Task A_resume_file_locked_by_another_program_is_still_read()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        string path = ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash);

        // FileShare.None takes an exclusive flock; the appliance takes no advisory lock, so it reads on regardless.
        using (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None))
        {
            var result = await fixture.OpenAsync(StorageKind.Pread);
            using var store = result.Store;
            Assert.True(result.FromResume, string.Join("; ", result.Warnings));
            Assert.Equal(0, result.PiecesHashed);
        }
    }

    [Fact]
    public void Resume_writes_of_many_torrents_leave_no_temporary_files()
    {
        using var temp = new TempDirectory("resume-writes");
        string state = temp.Combine("state");
        using var fixture = new StorageFixture();
        var stamps = fixture.Metainfo.Files.Select(_ => new FileStamp(1, 2)).ToArray();
        Parallel.For(0, 200, i =>
        {
            var hash = new byte[20];
            BitConverter.TryWriteBytes(hash, i);
            var state1 = new ResumeState(new Protocol.Metainfo.InfoHash(hash), fixture.Metainfo.PieceLength, fixture.Metainfo.PieceCount,
                ResumeState.NewBitfield(fixture.Metainfo.PieceCount), stamps);
            ResumeFile.Save(state, state1);
            ResumeFile.Save(state, state1); // replaces the first
        });
        Assert.Equal(200, Directory.GetFiles(state, "*.resume").Length);
        Assert.Empty(Directory.GetFiles(state, "*.tmp"));
    }

    [Fact]
    public void Escape_check_follows_the_content_root_when_its_symlink_is_repointed()
    {
        using var temp = new TempDirectory("root-moves");
        string first = temp.CreateSubdirectory("first");
        string second = temp.CreateSubdirectory("second");
        File.WriteAllText(Path.Combine(first, "a"), "a");
        File.WriteAllText(Path.Combine(second, "b"), "b");
        File.CreateSymbolicLink(Path.Combine(second, "back"), Path.Combine(first, "a"));
        string root = temp.Combine("content");
        File.CreateSymbolicLink(root, first);

        Assert.Equal(SafeFile.Found.RegularFile, SafeFile.StatBeneath(Path.Combine(root, "a"), root, out var stamp));
        Assert.Equal(1, stamp.Size);

        // The root now leads elsewhere: what it held before is outside it, what it holds now is inside.
        File.Delete(root);
        File.CreateSymbolicLink(root, second);
        Assert.Equal(SafeFile.Found.RegularFile, SafeFile.StatBeneath(Path.Combine(root, "b"), root, out _));
        Assert.Equal(SafeFile.Found.Outside, SafeFile.StatBeneath(Path.Combine(root, "back"), root, out _));
        Assert.Contains("outside", Assert.Throws<IOException>(() => SafeFile.OpenRegular(Path.Combine(root, "back"), root)).Message, StringComparison.Ordinal);
        using (SafeFile.OpenRegular(Path.Combine(root, "b"), root)) { }
    }

    [Fact]
    public async Task Only_regular_files_inside_the_root_have_a_stamp()
    {
        using var temp = new TempDirectory("stat-beneath");
        string root = temp.CreateSubdirectory("root");
        File.WriteAllBytes(Path.Combine(root, "file"), new byte[7]);
        Directory.CreateDirectory(Path.Combine(root, "folder"));
        File.CreateSymbolicLink(Path.Combine(root, "dangling"), Path.Combine(root, "nothing"));
        File.WriteAllText(temp.Combine("secret"), "s");
        File.CreateSymbolicLink(Path.Combine(root, "escape"), temp.Combine("secret"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [Path.Combine(root, "pipe")])) await mkfifo.WaitForExitAsync();

        Assert.Equal(SafeFile.Found.RegularFile, SafeFile.StatBeneath(Path.Combine(root, "file"), root, out var stamp));
        Assert.Equal(FileStamp.Read(Path.Combine(root, "file")), stamp);
        Assert.Equal(SafeFile.Found.Missing, SafeFile.StatBeneath(Path.Combine(root, "folder"), root, out _));
        Assert.Equal(SafeFile.Found.Missing, SafeFile.StatBeneath(Path.Combine(root, "dangling"), root, out _));
        Assert.Equal(SafeFile.Found.Missing, SafeFile.StatBeneath(Path.Combine(root, "absent"), root, out _));
        Assert.Equal(SafeFile.Found.Missing, SafeFile.StatBeneath(Path.Combine(root, "pipe"), root, out _)); // never blocks
        Assert.Equal(SafeFile.Found.Outside, SafeFile.StatBeneath(Path.Combine(root, "escape"), root, out _));
    }
}
