namespace Appliance.Networking.Http;

/// <summary>Bounds of the small HTTP/1.1 server. Every request is limited in head size, header count, body size and time.</summary>
public sealed class HttpServerOptions
{
    /// <summary>Request line plus headers, including the blank line that ends them.</summary>
    public int MaxRequestHeadBytes { get; init; } = 8 * 1024;

    public int MaxHeaderCount { get; init; } = 64;

    /// <summary>Largest request body accepted (Content-Length) by routes that set no limit of their own; larger requests get 413.</summary>
    public int MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    public int MaxConnections { get; init; } = 512;

    /// <summary>Connections one client address may hold at once (0: no cap); more are closed at accept.</summary>
    public int MaxConnectionsPerAddress { get; init; }

    /// <summary>
    /// Connections beyond <see cref="MaxConnections"/> kept for routes marked <see cref="HttpRouteOptions.Reserved"/>:
    /// one request each, so a health check is answered while ordinary clients hold every other slot.
    /// </summary>
    public int ReservedConnections { get; init; }

    /// <summary>Requests served on one keep-alive connection before it is closed.</summary>
    public int MaxRequestsPerConnection { get; init; } = 1000;

    /// <summary>Time allowed to receive one whole request (head and body), and to wait idle between keep-alive requests.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public bool KeepAlive { get; init; } = true;
}
