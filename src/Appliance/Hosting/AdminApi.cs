using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Appliance.Networking.Http;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The admin API beside /metrics (same listener, loopback by default):
/// <c>GET /api/torrents</c> lists torrents with state and counters; <c>POST /api/torrents</c> adds one, from the
/// .torrent bytes in the body or <c>?file=NAME.torrent</c> already in the torrents folder; <c>DELETE
/// /api/torrents?infohash=HEX</c> stops seeding one and deletes its .torrent file (never its content).
/// The metrics listener is often opened to a Prometheus server elsewhere, so the API does not trust the listener:
/// with a token (<c>--admin-token-file</c>) every request must carry <c>Authorization: Bearer TOKEN</c>; without one
/// it answers loopback clients only. /metrics and the health endpoints stay open either way.
/// </summary>
public sealed class AdminApi(TorrentRegistry registry, ContentWatcher watcher, ILogger logger, string? token = null)
{
    public const string TorrentsPath = "/api/torrents";

    private readonly byte[]? _token = token is null ? null : System.Text.Encoding.UTF8.GetBytes(token);

    /// <summary>
    /// Largest .torrent accepted in a POST body: a 100 GiB torrent with 512 KiB pieces has a 4 MB piece list. The body is
    /// read only after the caller passed <see cref="Admit"/>, and into a buffer that grows as its bytes arrive.
    /// </summary>
    public const int MaxTorrentBytes = 4 * 1024 * 1024;

    public void Map(HttpRouteTable routes)
    {
        var guarded = new HttpRouteOptions { Admit = Admit, MaxBodyBytes = 0 };
        routes.MapGet(TorrentsPath, ListAsync, guarded)
            .MapPost(TorrentsPath, AddAsync, new HttpRouteOptions { Admit = Admit, MaxBodyBytes = MaxTorrentBytes })
            .Map("DELETE", TorrentsPath, RemoveAsync, guarded);
    }

    /// <summary>Who may call the API: the pure decision, from the caller's address and its Authorization header.</summary>
    public static AdminAccess Authorize(byte[]? token, System.Net.IPAddress remote, string? authorization)
    {
        if (token is null)
            return System.Net.IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote) ? AdminAccess.Allowed : AdminAccess.NotLoopback;
        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return AdminAccess.NoToken;
        // Fixed-time comparison, so the answer's timing says nothing about how much of a guess was right.
        var offered = System.Text.Encoding.UTF8.GetBytes(authorization.AsSpan(Scheme.Length).Trim().ToString());
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(offered, token) ? AdminAccess.Allowed : AdminAccess.WrongToken;
    }

    private bool Admit(HttpRequest request, HttpResponse response)
    {
        var access = Authorize(_token, request.RemoteEndPoint.Address, request.GetHeader("Authorization"));
        if (access == AdminAccess.Allowed) return true;
        AdminApiLog.Refused(logger, request.Method, request.RemoteEndPoint.ToString(), access);
        if (access == AdminAccess.NotLoopback)
        {
            Error(response, 403, "the admin API answers loopback clients only; set --admin-token-file to use it from elsewhere");
        }
        else
        {
            response.AddHeader("WWW-Authenticate", "Bearer realm=\"appliance\"");
            Error(response, 401, access == AdminAccess.NoToken ? "send Authorization: Bearer TOKEN (the token in --admin-token-file)" : "wrong token");
        }
        return false;
    }

    private ValueTask ListAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        var seeded = registry.Snapshot();
        var refused = watcher.Refused();
        var items = new List<AdminTorrent>(seeded.Count + refused.Count);
        foreach (var torrent in seeded) items.Add(Describe(torrent));
        foreach (var (path, reason) in refused)
            items.Add(new AdminTorrent("", Path.GetFileNameWithoutExtension(path), "refused", 0, 0, 0, 0, 0, path, reason));
        Json(response, 200, new AdminTorrentList(seeded.Count, refused.Count, items), AdminApiJson.Default.AdminTorrentList);
        return ValueTask.CompletedTask;
    }

    private async ValueTask AddAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        string path;
        if (request.Query.GetString("file") is { } file)
        {
            if (file.Length == 0 || file.IndexOfAny(['/', '\\']) >= 0 || file is "." or ".." || !file.EndsWith(".torrent", StringComparison.Ordinal))
            {
                Error(response, 400, "file must be the name of a .torrent file in the torrents folder (no path)");
                return;
            }
            path = Path.Combine(watcher.TorrentsFolder, file);
            if (!File.Exists(path))
            {
                Error(response, 404, $"no {file} in the torrents folder");
                return;
            }
        }
        else
        {
            if (request.Body.IsEmpty)
            {
                Error(response, 400, "send the .torrent file as the request body, or ?file=NAME.torrent");
                return;
            }
            if (!TorrentMetainfo.TryParse(request.Body, out var metainfo, out string? reason))
            {
                Error(response, 422, "not a valid .torrent: " + reason);
                return;
            }
            path = Path.Combine(watcher.TorrentsFolder, metainfo!.InfoHash.ToHex() + ".torrent");
            if (registry.TryGet(metainfo.InfoHash, out var existing))
            {
                Json(response, 200, Describe(existing), AdminApiJson.Default.AdminTorrent);
                return;
            }
            try
            {
                // Written beside the others, then renamed, so a rescan never sees half a file.
                string temporary = Path.Combine(watcher.TorrentsFolder, "." + metainfo.InfoHash.ToHex() + ".torrent.partial");
                await File.WriteAllBytesAsync(temporary, request.Body.ToArray(), cancellationToken).ConfigureAwait(false);
                File.Move(temporary, path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Error(response, 507, "cannot write to the torrents folder: " + e.Message);
                return;
            }
        }

        var result = await watcher.LoadAsync(path, cancellationToken).ConfigureAwait(false);
        if (result.Torrent is { } torrent)
        {
            AdminApiLog.Added(logger, torrent.InfoHash, torrent.Name, request.RemoteEndPoint.ToString());
            Json(response, 201, Describe(torrent), AdminApiJson.Default.AdminTorrent);
            return;
        }
        // The .torrent stays in the folder: it is picked up once its content arrives or changes.
        var meta = result.Metainfo;
        Json(response, 422, new AdminTorrent(meta?.InfoHash.ToHex() ?? "", meta?.Name ?? Path.GetFileName(path), "refused",
            meta?.TotalLength ?? 0, meta?.PieceCount ?? 0, 0, 0, 0, path, result.RefusedReason), AdminApiJson.Default.AdminTorrent);
    }

    private async ValueTask RemoveAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        if (request.Query.GetString("infohash") is not { } hex || !InfoHash.TryParse(hex, out var infoHash))
        {
            Error(response, 400, "infohash must be the 40 hex digits of a seeded torrent");
            return;
        }
        bool? deleted = await watcher.RemoveAsync(infoHash, cancellationToken).ConfigureAwait(false);
        if (deleted is null)
        {
            Error(response, 404, $"{infoHash.ToHex()} is not seeded");
            return;
        }
        AdminApiLog.Removed(logger, infoHash, request.RemoteEndPoint.ToString());
        Json(response, 200, new AdminRemoved(infoHash.ToHex(), deleted.Value), AdminApiJson.Default.AdminRemoved);
    }

    private static AdminTorrent Describe(SeededTorrent torrent) => new(
        torrent.InfoHash.ToHex(), torrent.Name, torrent.Store.IsFaulted ? "faulted" : "seeding",
        torrent.Metainfo.TotalLength, torrent.Metainfo.PieceCount, torrent.UploadedBytes, torrent.BlocksServed, torrent.Peers,
        torrent.TorrentPath, torrent.Store.FaultReason);

    private static void Error(HttpResponse response, int status, string message) =>
        Json(response, status, new AdminError(message), AdminApiJson.Default.AdminError);

    private static void Json<T>(HttpResponse response, int status, T value, JsonTypeInfo<T> type)
    {
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        using var writer = new Utf8JsonWriter(response.Body, new JsonWriterOptions { Indented = true });
        JsonSerializer.Serialize(writer, value, type);
    }
}

/// <summary>The outcome of <see cref="AdminApi.Authorize"/>.</summary>
public enum AdminAccess
{
    Allowed,
    NotLoopback,
    NoToken,
    WrongToken,
}

internal static partial class AdminApiLog
{
    [LoggerMessage(6203, LogLevel.Warning, "Admin API: refused {Method} from {Remote}: {Access}")]
    public static partial void Refused(ILogger logger, string method, string remote, AdminAccess access);

    [LoggerMessage(6201, LogLevel.Information, "Admin API: added {InfoHash} {Name} (from {Remote})")]
    public static partial void Added(ILogger logger, InfoHash infoHash, string name, string remote);

    [LoggerMessage(6202, LogLevel.Information, "Admin API: removed {InfoHash} (from {Remote})")]
    public static partial void Removed(ILogger logger, InfoHash infoHash, string remote);
}
