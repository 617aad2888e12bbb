using System.Diagnostics;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Layout;
using Appliance.Storage.Mapping;
using Appliance.Storage.Pool;
using Appliance.Storage.Reading;
using Appliance.Storage.Resume;
using Appliance.Storage.Verification;

namespace Appliance.Storage;

public enum StorageKind
{
    Mapped,
    Pread,
}

/// <summary>
/// The outcome of opening a torrent's data: a store ready to seed, or the reason it is refused.
/// <see cref="FromResume"/> is true when a valid resume file was used (possibly with some pieces re-hashed).
/// </summary>
public sealed record StorageOpenResult(PieceStore? Store, string? RefusedReason, bool FromResume, int PiecesHashed, TimeSpan Elapsed)
{
    /// <summary>Things worth a warning that did not stop the open (an unusable resume file, a missing empty file).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The refusal came from a passing condition (out of file descriptors or memory): worth retrying unchanged.</summary>
    public bool Transient { get; init; }

    /// <summary>
    /// The verification to record in the state folder, null when nothing was hashed (nothing changed). The opener never
    /// writes it: the caller saves it (<see cref="ResumeFile.Save"/>) or queues it (<see cref="ResumeWriter"/>), after
    /// the torrent serves. Set after a refusal too: it records which pieces were good, so a fix re-hashes only the rest.
    /// </summary>
    public ResumeState? ResumeToSave { get; init; }
}

/// <summary>
/// Opens a torrent's content for seeding: checks every file is there with the right size, verifies pieces
/// (only those fast resume cannot vouch for), and returns a store with the resume state to record. All-or-nothing: a torrent
/// with any missing, wrongly sized or corrupt data is refused with the reason, never partly seeded.
/// </summary>
public static class StorageOpener
{
    /// <summary>How many problems a refusal lists before "and N more".</summary>
    private const int MaxListedProblems = 5;

    public static async Task<StorageOpenResult> OpenAsync(TorrentMetainfo metainfo, string contentFolder, string stateFolder,
        StorageKind kind, IProgress<double>? progress, CancellationToken ct, FilePool? pool = null)
    {
        var clock = Stopwatch.StartNew();
        var warnings = new List<string>();
        StorageOpenResult Refuse(string reason, bool fromResume = false, int hashed = 0) =>
            new(null, reason, fromResume, hashed, clock.Elapsed) { Warnings = warnings };

        FileLayout layout;
        try
        {
            layout = FileLayout.ForTorrent(metainfo, contentFolder);
        }
        catch (MetainfoException e)
        {
            return Refuse(e.Reason);
        }

        // Stamps are taken before hashing: a file modified while we hash gets a newer mtime than the one
        // recorded, so the next start re-hashes it.
        var stamps = new FileStamp[layout.Files.Count];
        var problems = new List<string>();
        for (int i = 0; i < layout.Files.Count; i++)
        {
            var file = layout.Files[i];
            if (file.IsPad) continue; // zeros, on no disk: nothing to stamp
            // Content reached through a symlink that leaves the content folder is refused without a word on what is there.
            // One look per file (open by path, its real path, its stamp) serves both checks.
            var found = SafeFile.StatBeneath(file.FullPath, contentFolder, out var seen);
            if (found == SafeFile.Found.Outside)
            {
                problems.Add($"'{file.RelativePath}' resolves outside the content folder (a symbolic link?)");
                continue;
            }
            FileStamp? stamp = found == SafeFile.Found.RegularFile ? seen : null;
            if (stamp is null)
            {
                if (file.Length == 0)
                {
                    // Nothing to serve from an empty file; some clients never create them.
                    warnings.Add($"empty file '{file.RelativePath}' is missing");
                    continue;
                }
                problems.Add($"missing file '{file.RelativePath}' (expected {file.Length} bytes)");
            }
            else if (stamp.Value.Size != file.Length)
            {
                string how = stamp.Value.Size < file.Length ? "short" : "long";
                problems.Add($"file '{file.RelativePath}' is too {how}: {stamp.Value.Size} bytes, expected {file.Length}");
            }
            else
            {
                stamps[i] = stamp.Value;
            }
        }
        if (problems.Count > 0) return Refuse(Summarize(problems));

        var resume = ResumeFile.Load(stateFolder, metainfo, out string? resumeProblem);
        if (resumeProblem is not null) warnings.Add(resumeProblem + "; verifying every piece");
        List<int>? toHash = null; // null = all
        if (resume is not null)
        {
            var pending = new bool[layout.PieceCount];
            for (int piece = 0; piece < layout.PieceCount; piece++) pending[piece] = !resume.IsVerified(piece);
            for (int i = 0; i < layout.Files.Count; i++)
            {
                if (stamps[i] == resume.Files[i]) continue;
                var (first, count) = layout.PiecesOfFile(i);
                for (int piece = first; piece < first + count; piece++) pending[piece] = true;
            }
            toHash = [];
            for (int piece = 0; piece < pending.Length; piece++)
            {
                if (pending[piece]) toHash.Add(piece);
            }
        }
        bool fromResume = resume is not null;

        // Nothing is opened here: hashing and, later, peers open files through the pool when they read them.
        var files = FileHandles.Open(layout, contentFolder, pool, map: kind == StorageKind.Mapped);

        bool handedOver = false;
        try
        {
            var hashed = await PieceHasher.HashAsync(files, toHash, progress, ct, v2Shape: metainfo.HasV2 ? V2Shape(metainfo) : null).ConfigureAwait(false);
            int hashedCount = toHash?.Count ?? layout.PieceCount;
            byte[] verified = resume is not null ? (byte[])resume.Verified.Clone() : ResumeState.NewBitfield(layout.PieceCount);
            var bad = new List<int>();
            foreach (int piece in toHash ?? Enumerable.Range(0, layout.PieceCount))
            {
                if (!hashed.ReadErrors.ContainsKey(piece) && Matches(metainfo, hashed, piece))
                {
                    ResumeState.SetVerified(verified, piece);
                }
                else
                {
                    verified[piece >> 3] &= (byte)~(0x80 >> (piece & 7));
                    bad.Add(piece);
                }
            }

            // Nothing hashed means nothing changed: no write, which matters with thousands of torrents.
            var toSave = hashedCount > 0 || resume is null
                ? new ResumeState(metainfo.InfoHash, metainfo.PieceLength, metainfo.PieceCount, verified, stamps)
                : null;

            if (bad.Count > 0)
            {
                bad.Sort();
                int first = bad[0];
                string where = string.Join(", ", layout.FilesOfPiece(first).Take(3).Select(f => $"'{f}'"));
                string why = hashed.ReadErrors.TryGetValue(first, out string? readError) ? readError : "does not match its hash";
                return Refuse($"piece {first} (in {where}) {why}; {bad.Count} of {layout.PieceCount} pieces bad", fromResume, hashedCount) with { ResumeToSave = toSave };
            }

            PieceStore store = kind switch
            {
                StorageKind.Mapped => MappedPieceStore.Open(metainfo, files),
                StorageKind.Pread => new PreadPieceStore(metainfo, files),
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
            handedOver = true;
            return new StorageOpenResult(store, null, fromResume, hashedCount, clock.Elapsed) { Warnings = warnings, ResumeToSave = toSave };
        }
        finally
        {
            if (!handedOver) files.Dispose();
        }
    }

    private static Func<int, (int, long)?> V2Shape(TorrentMetainfo metainfo) => piece =>
        metainfo.TryGetV2Piece(piece, out int dataLength, out long width, out _) ? (dataLength, width) : null;

    /// <summary>A piece is good when it matches every hash the torrent has for it: SHA-1 (v1) and its merkle subtree (v2).</summary>
    private static bool Matches(TorrentMetainfo metainfo, PieceHasher.Result hashed, int piece)
    {
        if (metainfo.HasV1 && !hashed.Digest(piece).SequenceEqual(metainfo.PieceHash(piece))) return false;
        if (metainfo.HasV2 && metainfo.TryGetV2Piece(piece, out _, out _, out var expected) && !hashed.DigestV2(piece).SequenceEqual(expected)) return false;
        return true;
    }

    private static string Summarize(List<string> problems) =>
        problems.Count <= MaxListedProblems
            ? string.Join("; ", problems)
            : string.Join("; ", problems.Take(MaxListedProblems)) + $"; and {problems.Count - MaxListedProblems} more";
}
