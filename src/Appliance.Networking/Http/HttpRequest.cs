using System.Net;

namespace Appliance.Networking.Http;

/// <summary>One parsed request. Path and query are kept exactly as received (not percent-decoded): binary query values such as info-hashes need the raw form.</summary>
public sealed class HttpRequest
{
    internal HttpRequest(string method, string path, string rawQuery, IReadOnlyList<KeyValuePair<string, string>> headers,
        ReadOnlyMemory<byte> body, IPEndPoint remoteEndPoint)
    {
        Method = method;
        Path = path;
        RawQuery = rawQuery;
        Headers = headers;
        Body = body;
        RemoteEndPoint = remoteEndPoint;
    }

    public string Method { get; }

    /// <summary>The target before '?', e.g. "/announce".</summary>
    public string Path { get; }

    /// <summary>The target after '?', without it; empty when absent.</summary>
    public string RawQuery { get; }

    public QueryString Query => new(RawQuery);

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>Empty while admission runs: the body is read only after the route has accepted the head.</summary>
    public ReadOnlyMemory<byte> Body { get; internal set; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The first header with this name (case-insensitive), or null.</summary>
    public string? GetHeader(string name)
    {
        foreach (var (key, value) in Headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase)) return value;
        }
        return null;
    }
}
