using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;

namespace Appliance.Storage.Resume;

/// <summary>Where a torrent's resume state lives (STATE/&lt;info-hash hex&gt;.resume) and how it is read and replaced.</summary>
public static class ResumeFile
{
    public static string PathFor(string stateFolder, InfoHash infoHash) => Path.Combine(stateFolder, infoHash.ToHex() + ".resume");

    /// <summary>Loads the state; null with no reason when there is none, null with a reason when it is unusable.</summary>
    public static ResumeState? Load(string stateFolder, TorrentMetainfo metainfo, out string? problem)
    {
        problem = null;
        string path = PathFor(stateFolder, metainfo.InfoHash);
        byte[] data;
        try
        {
            data = SafeFile.ReadAll(path, ResumeState.MaxBytes);
        }
        catch (IOException e) when (SafeFile.IsMissing(e))
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot read resume file {path}: {e.Message}";
            return null;
        }
        if (ResumeState.TryDecode(data, metainfo, out var state, out string? reason)) return state;
        problem = $"ignoring resume file {path}: {reason}";
        return null;
    }

    /// <summary>
    /// Writes atomically: a temporary file in the same folder, renamed over the old one. Not fsynced: a first start
    /// writes one per torrent and an fsync each was a third of the time to load 10,000 of them. After a crash a file the
    /// kernel had not yet written reads as empty or short, fails to decode and is ignored (the torrent is hashed again);
    /// it can never claim a piece that was not verified.
    /// </summary>
    public static void Save(string stateFolder, ResumeState state)
    {
        string path = PathFor(stateFolder, state.InfoHash);
        string temporary = $"{path}.{TemporaryPrefix}.{Interlocked.Increment(ref s_written)}.tmp";
        byte[] data = state.Encode();
        try
        {
            SafeFile.WriteNew(temporary, data);
        }
        catch (IOException e) when (SafeFile.IsMissing(e))
        {
            // The folder is created on the first write that finds it missing, not checked before every write.
            Directory.CreateDirectory(stateFolder);
            SafeFile.WriteNew(temporary, data);
        }
        try
        {
            SafeFile.Replace(temporary, path);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Names temporary files apart from any other writer's: this process's id and a random tag drawn once (two containers
    /// sharing a state folder can both be pid 1), then a counter; no random draw per write.
    /// </summary>
    private static readonly string TemporaryPrefix = $"{Environment.ProcessId}.{Guid.NewGuid():N}";
    private static long s_written;
}
