using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Appliance.Networking.Http;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The admin API beside /metrics (same listener, loopback by default):
/// <c>GET /api/torrents</c> lists torrents with state and counters (<c>?infohash=HEX</c>: one torrent);
/// <c>POST /api/torrents</c> adds one, from the .torrent bytes in the body or <c>?file=NAME.torrent</c> already in the
/// torrents folder; <c>DELETE /api/torrents?infohash=HEX</c> stops seeding one and deletes its .torrent file (never
/// its content). Adding (hashing) and removing can outlast any request timeout, so both answer 202 at once with a
/// <c>Location</c> to poll, and the work goes on in the background.
/// The metrics listener is often opened to a Prometheus server elsewhere, so the API does not trust the listener:
/// with a token (<c>--admin-token-file</c>) every request must carry <c>Authorization: Bearer TOKEN</c>; without one
/// it answers loopback clients only, and only requests whose <c>Host</c> names this machine (a DNS-rebinding page
/// cannot). Cross-site browser requests (an <c>Origin</c> other than the Host) are refused, and a body must be sent as
/// <c>application/x-bittorrent</c>, a type no cross-site form can send. /metrics and the health endpoints stay open.
/// </summary>
public sealed class AdminApi(TorrentRegistry registry, ContentWatcher watcher, ILogger logger, string? token = null,
    System.Net.IPAddress? listenAddress = null)
{
    public const string TorrentsPath = "/api/torrents";
    public const string TorrentContentType = "application/x-bittorrent";

    /// <summary>
    /// Largest .torrent accepted in a POST body: a 100 GiB torrent with 512 KiB pieces has a 4 MB piece list. The body is
    /// read only after the caller passed <see cref="Admit"/>, and into a buffer that grows as its bytes arrive.
    /// </summary>
    public const int MaxTorrentBytes = 4 * 1024 * 1024;

    private const int MaxRememberedOutcomes = 1024;

    private readonly byte[]? _token = token is null ? null : System.Text.Encoding.UTF8.GetBytes(token);
    private readonly Networking.Logging.LogThrottle _refusalLog = new(TimeSpan.FromSeconds(10));
    // Adds and removals in progress, and how recent ones ended (refused, removed), for clients polling after a 202.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<InfoHash, AdminTorrent> _operations = new();

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

    /// <summary>
    /// What a browser on this machine could be made to send: without a token the Host must name this machine (a page
    /// that rebinds its own name to 127.0.0.1 still sends its name); with or without one, an Origin must be the Host's.
    /// A token defeats rebinding by itself: the page cannot know it.
    /// </summary>
    public static AdminAccess CheckBrowser(bool tokenRequired, string? host, string? origin, System.Net.IPAddress? listenAddress)
    {
        if (!tokenRequired && (host is null || !NamesThisMachine(host, listenAddress))) return AdminAccess.BadHost;
        if (origin is not null && (host is null || !string.Equals(origin, "http://" + host, StringComparison.OrdinalIgnoreCase))) return AdminAccess.CrossSite;
        return AdminAccess.Allowed;
    }

    private static bool NamesThisMachine(string host, System.Net.IPAddress? listenAddress)
    {
        string name = host;
        if (name.StartsWith('['))
        {
            int close = name.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) return false;
            name = name[1..close];
        }
        else if (name.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0)
        {
            name = name[..colon];
        }
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        if (!System.Net.IPAddress.TryParse(name, out var address)) return false;
        return System.Net.IPAddress.IsLoopback(address) || (listenAddress is not null && address.Equals(listenAddress));
    }

    private bool Admit(HttpRequest request, HttpResponse response)
    {
        var access = Authorize(_token, request.RemoteEndPoint.Address, request.GetHeader("Authorization"));
        if (access == AdminAccess.Allowed) access = CheckBrowser(_token is not null, request.GetHeader("Host"), request.GetHeader("Origin"), listenAddress);
        if (access == AdminAccess.Allowed && request.Method == "POST" && request.GetHeader("Content-Length") is { } length && length != "0"
            && !IsTorrentType(request.GetHeader("Content-Type")))
            access = AdminAccess.WrongContentType;
        if (access == AdminAccess.Allowed) return true;
        if (_refusalLog.TryEnter(out long suppressed)) AdminApiLog.Refused(logger, request.Method, request.RemoteEndPoint.ToString(), access, suppressed);
        switch (access)
        {
            case AdminAccess.NotLoopback:
                Error(response, 403, "the admin API answers loopback clients only; set --admin-token-file to use it from elsewhere");
                break;
            case AdminAccess.BadHost:
                Error(response, 403, "the Host header must name this machine (localhost or an IP address) unless --admin-token-file is set");
                break;
            case AdminAccess.CrossSite:
                Error(response, 403, "cross-site requests are refused");
                break;
            case AdminAccess.WrongContentType:
                Error(response, 415, "send the .torrent file with Content-Type: " + TorrentContentType);
                break;
            default:
                response.AddHeader("WWW-Authenticate", "Bearer realm=\"appliance\"");
                Error(response, 401, access == AdminAccess.NoToken ? "send Authorization: Bearer TOKEN (the token in --admin-token-file)" : "wrong token");
                break;
        }
        return false;
    }

    private static bool IsTorrentType(string? contentType) =>
        contentType is not null && contentType.Split(';')[0].Trim().Equals(TorrentContentType, StringComparison.OrdinalIgnoreCase);

    private ValueTask ListAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        if (request.Query.GetString("infohash") is { } hex)
        {
            if (!InfoHash.TryParse(hex, out var infoHash))
                Error(response, 400, "infohash must be 40 hex digits");
            else if (Find(infoHash) is { } one)
                Json(response, 200, one, AdminApiJson.Default.AdminTorrent);
            else
                Error(response, 404, $"{infoHash.ToHex()} is not known");
            return ValueTask.CompletedTask;
        }
        var seeded = registry.Snapshot();
        var refused = watcher.Refused();
        var items = new List<AdminTorrent>(seeded.Count + refused.Count);
        foreach (var torrent in seeded) items.Add(Describe(torrent));
        foreach (var (path, reason) in refused)
            items.Add(new AdminTorrent("", Path.GetFileNameWithoutExtension(path), "refused", 0, 0, 0, 0, 0, path, reason));
        foreach (var (infoHash, operation) in _operations)
        {
            if (operation.State == "loading" && !registry.TryGet(infoHash, out _)) items.Add(operation);
        }
        Json(response, 200, new AdminTorrentList(seeded.Count, refused.Count, items), AdminApiJson.Default.AdminTorrentList);
        return ValueTask.CompletedTask;
    }

    /// <summary>A torrent's state for a polling client: seeded, loading, removing, or how its add or removal ended.</summary>
    private AdminTorrent? Find(InfoHash infoHash)
    {
        _operations.TryGetValue(infoHash, out var operation);
        if (registry.TryGet(infoHash, out var torrent))
            return operation?.State == "removing" ? Describe(torrent) with { State = "removing" } : Describe(torrent);
        return operation;
    }

    private async ValueTask AddAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        string path;
        TorrentMetainfo? metainfo;
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
            try
            {
                metainfo = TorrentFolderLoader.ReadMetainfo(path);
            }
            catch (MetainfoException e)
            {
                Error(response, 422, "not a valid .torrent: " + e.Reason);
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Error(response, 422, $"cannot read {file}");
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
            if (!TorrentMetainfo.TryParse(request.Body, out metainfo, out string? reason))
            {
                Error(response, 422, "not a valid .torrent: " + reason);
                return;
            }
            path = Path.Combine(watcher.TorrentsFolder, metainfo!.InfoHash.ToHex() + ".torrent");
            if (!registry.TryGet(metainfo.InfoHash, out _))
            {
                try
                {
                    // Written beside the others, then renamed, so a rescan never sees half a file.
                    string temporary = Path.Combine(watcher.TorrentsFolder, "." + metainfo.InfoHash.ToHex() + ".torrent.partial");
                    await File.WriteAllBytesAsync(temporary, request.Body.ToArray(), cancellationToken).ConfigureAwait(false);
                    File.Move(temporary, path, overwrite: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    AdminApiLog.WriteFailed(logger, watcher.TorrentsFolder, e.Message);
                    Error(response, 507, "cannot write to the torrents folder (the log says why)");
                    return;
                }
            }
        }

        var infoHash = metainfo!.InfoHash;
        if (registry.TryGet(infoHash, out var existing))
        {
            Json(response, 200, Describe(existing), AdminApiJson.Default.AdminTorrent);
            return;
        }
        var loading = new AdminTorrent(infoHash.ToHex(), metainfo.Name, "loading", metainfo.TotalLength, metainfo.PieceCount, 0, 0, 0, path, null);
        if (_operations.TryGetValue(infoHash, out var running) && running.State == "loading")
        {
            Accepted(response, infoHash, running);
            return;
        }
        Remember(infoHash, loading);
        string remote = request.RemoteEndPoint.ToString();
        _ = Task.Run(() => LoadInBackgroundAsync(infoHash, path, remote), CancellationToken.None);
        Accepted(response, infoHash, loading);
    }

    private async Task LoadInBackgroundAsync(InfoHash infoHash, string path, string remote)
    {
        try
        {
            var result = await watcher.LoadAsync(path, watcher.Stopping).ConfigureAwait(false);
            if (result.Torrent is { } torrent)
            {
                _operations.TryRemove(infoHash, out _);
                AdminApiLog.Added(logger, torrent.InfoHash, torrent.Name, remote);
                return;
            }
            // The .torrent stays in the folder: it is picked up once its content arrives or changes.
            var meta = result.Metainfo;
            Remember(infoHash, new AdminTorrent(infoHash.ToHex(), meta?.Name ?? Path.GetFileName(path), "refused",
                meta?.TotalLength ?? 0, meta?.PieceCount ?? 0, 0, 0, 0, path, result.PublicReason));
        }
        catch (OperationCanceledException)
        {
            _operations.TryRemove(infoHash, out _);
        }
        catch (Exception e)
        {
            AdminApiLog.BackgroundFailed(logger, infoHash, e);
            Remember(infoHash, new AdminTorrent(infoHash.ToHex(), Path.GetFileName(path), "refused", 0, 0, 0, 0, 0, path, "internal error (the log says why)"));
        }
    }

    private ValueTask RemoveAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        if (request.Query.GetString("infohash") is not { } hex || !InfoHash.TryParse(hex, out var infoHash))
        {
            Error(response, 400, "infohash must be the 40 hex digits of a seeded torrent");
            return ValueTask.CompletedTask;
        }
        if (!registry.TryGet(infoHash, out var torrent))
        {
            Error(response, 404, $"{infoHash.ToHex()} is not seeded");
            return ValueTask.CompletedTask;
        }
        var removing = Describe(torrent) with { State = "removing" };
        Remember(infoHash, removing);
        string remote = request.RemoteEndPoint.ToString();
        _ = Task.Run(() => RemoveInBackgroundAsync(infoHash, remote), CancellationToken.None);
        Accepted(response, infoHash, removing);
        return ValueTask.CompletedTask;
    }

    private async Task RemoveInBackgroundAsync(InfoHash infoHash, string remote)
    {
        try
        {
            bool? deleted = await watcher.RemoveAsync(infoHash, watcher.Stopping).ConfigureAwait(false);
            if (deleted is null)
            {
                _operations.TryRemove(infoHash, out _);
                return;
            }
            AdminApiLog.Removed(logger, infoHash, remote);
            if (_operations.TryGetValue(infoHash, out var removing))
            {
                Remember(infoHash, removing with
                {
                    State = "removed",
                    Reason = deleted.Value ? "its .torrent file was deleted" : "its .torrent file could not be deleted; it is skipped until it changes",
                });
            }
        }
        catch (OperationCanceledException)
        {
            _operations.TryRemove(infoHash, out _);
        }
        catch (Exception e)
        {
            AdminApiLog.BackgroundFailed(logger, infoHash, e);
            _operations.TryRemove(infoHash, out _);
        }
    }

    private void Remember(InfoHash infoHash, AdminTorrent state)
    {
        // Outcomes are kept for polling clients; past the cap, finished ones go (work in progress always stays).
        if (_operations.Count >= MaxRememberedOutcomes)
        {
            foreach (var (key, value) in _operations)
            {
                if (value.State is "refused" or "removed") _operations.TryRemove(key, out _);
            }
        }
        _operations[infoHash] = state;
    }

    private static void Accepted(HttpResponse response, InfoHash infoHash, AdminTorrent state)
    {
        response.AddHeader("Location", TorrentsPath + "?infohash=" + infoHash.ToHex());
        Json(response, 202, state, AdminApiJson.Default.AdminTorrent);
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
    BadHost,
    CrossSite,
    WrongContentType,
}

internal static partial class AdminApiLog
{
    [LoggerMessage(6203, LogLevel.Warning, "Admin API: refused {Method} from {Remote}: {Access} ({Suppressed} more not logged)")]
    public static partial void Refused(ILogger logger, string method, string remote, AdminAccess access, long suppressed);

    [LoggerMessage(6204, LogLevel.Warning, "Admin API: cannot write to {Folder}: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string folder, string reason);

    [LoggerMessage(6205, LogLevel.Error, "Admin API: background work on {InfoHash} failed")]
    public static partial void BackgroundFailed(ILogger logger, InfoHash infoHash, Exception exception);

    [LoggerMessage(6201, LogLevel.Information, "Admin API: added {InfoHash} {Name} (from {Remote})")]
    public static partial void Added(ILogger logger, InfoHash infoHash, string name, string remote);

    [LoggerMessage(6202, LogLevel.Information, "Admin API: removed {InfoHash} (from {Remote})")]
    public static partial void Removed(ILogger logger, InfoHash infoHash, string remote);
}
