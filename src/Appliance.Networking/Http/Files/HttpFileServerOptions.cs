namespace Appliance.Networking.Http.Files;

/// <summary>Bounds of an <see cref="HttpFileServer"/>: connections, request heads, and how long each phase may last.</summary>
public sealed class HttpFileServerOptions
{
    public int MaxConnections { get; init; } = 1024;

    /// <summary>Connections one address (IPv6: one /64) may hold at once; more are closed at accept.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 16;

    /// <summary>Request line plus headers, including the blank line that ends them (larger heads get 431).</summary>
    public int MaxRequestHeadBytes { get; init; } = 8 * 1024;

    public int MaxHeaderCount { get; init; } = 64;

    /// <summary>Longest wait for the first byte of a request, on a new or a kept-alive connection.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest time from the first byte of a request to the end of its head (a slow-loris client is closed).</summary>
    public TimeSpan HeadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest time a response may go without the client taking any of its bytes (a client that stops reading is closed).</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often deadlines are checked; a timeout fires up to this much late.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxConnectionsPerAddress);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequestHeadBytes, 256);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(IdleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HeadTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SendTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SweepInterval, TimeSpan.Zero);
    }
}
