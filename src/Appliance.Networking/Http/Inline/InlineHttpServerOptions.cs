namespace Appliance.Networking.Http.Inline;

/// <summary>Bounds of an <see cref="InlineHttpServer"/>: connections, request heads, and how long each phase may last.</summary>
public sealed class InlineHttpServerOptions
{
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Connections one address may hold at once (0: no cap); more are closed at accept.</summary>
    public int MaxConnectionsPerAddress { get; init; }

    /// <summary>Request line plus headers, including the blank line that ends them (larger heads get 431).</summary>
    public int MaxRequestHeadBytes { get; init; } = 8 * 1024;

    public int MaxHeaderCount { get; init; } = 64;

    /// <summary>Content-Type of every 200 answer.</summary>
    public string ContentType { get; init; } = "text/plain";

    /// <summary>Longest wait for the first byte of a request, on a new or a kept-alive connection.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest time from the first byte of a request to the end of its head (a slow-loris client is closed).</summary>
    public TimeSpan HeadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest time answers may wait for the client to take them (a client that stops reading is closed).</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often deadlines are checked; a timeout fires up to this much late.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxConnectionsPerAddress);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequestHeadBytes, 256);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderCount, 1);
        if (ContentType.AsSpan().ContainsAnyExceptInRange((char)0x20, (char)0x7E)) throw new ArgumentException("Content-Type must be printable ASCII");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(IdleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HeadTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SendTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SweepInterval, TimeSpan.Zero);
    }
}
