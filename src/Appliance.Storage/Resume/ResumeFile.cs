using Appliance.Protocol.Metainfo;

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
            var info = new FileInfo(path);
            if (!info.Exists) return null;
            if (info.Length > ResumeState.MaxBytes) { problem = $"resume file {path} is {info.Length} bytes, over the limit"; return null; }
            data = File.ReadAllBytes(path);
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
        Directory.CreateDirectory(stateFolder);
        string path = PathFor(stateFolder, state.InfoHash);
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(state.Encode());
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
