using System.Text.Json.Serialization;

namespace Appliance.Hosting;

/// <summary>One torrent as the admin API shows it.</summary>
public sealed record AdminTorrent(
    string InfoHash,
    string Name,
    string State,
    long SizeBytes,
    int Pieces,
    long UploadedBytes,
    long BlocksServed,
    int Peers,
    string? TorrentPath,
    string? Reason);

public sealed record AdminTorrentList(int Seeding, int Refused, IReadOnlyList<AdminTorrent> Torrents);

public sealed record AdminError(string Error);

public sealed record AdminRemoved(string InfoHash, bool TorrentFileDeleted);

/// <summary>Source-generated JSON for the admin API (AOT-safe: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AdminTorrentList))]
[JsonSerializable(typeof(AdminTorrent))]
[JsonSerializable(typeof(AdminError))]
[JsonSerializable(typeof(AdminRemoved))]
public sealed partial class AdminApiJson : JsonSerializerContext;
