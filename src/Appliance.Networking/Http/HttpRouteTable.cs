namespace Appliance.Networking.Http;

/// <summary>Handles one request by filling the response. Exceptions become a 500 and are logged.</summary>
public delegate ValueTask HttpHandler(HttpRequest request, HttpResponse response, CancellationToken cancellationToken);

/// <summary>Exact path + method to handler. Unknown paths get 404, known paths with another method 405.</summary>
public sealed class HttpRouteTable
{
    private readonly Dictionary<string, Dictionary<string, HttpHandler>> _routes = new(StringComparer.Ordinal);

    public HttpRouteTable Map(string method, string path, HttpHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (string.IsNullOrEmpty(path) || path[0] != '/') throw new ArgumentException($"route path '{path}' must start with '/'", nameof(path));
        if (!_routes.TryGetValue(path, out var byMethod)) _routes[path] = byMethod = new(StringComparer.Ordinal);
        byMethod[method.ToUpperInvariant()] = handler;
        return this;
    }

    public HttpRouteTable MapGet(string path, HttpHandler handler) => Map("GET", path, handler);

    public HttpRouteTable MapPost(string path, HttpHandler handler) => Map("POST", path, handler);

    internal RouteMatch Find(string method, string path, out HttpHandler? handler)
    {
        handler = null;
        if (!_routes.TryGetValue(path, out var byMethod)) return RouteMatch.NoPath;
        if (byMethod.TryGetValue(method, out handler)) return RouteMatch.Found;
        // HEAD is answered by the GET handler with the body left out.
        if (method == "HEAD" && byMethod.TryGetValue("GET", out handler)) return RouteMatch.Found;
        return RouteMatch.WrongMethod;
    }

    internal string AllowedMethods(string path) =>
        _routes.TryGetValue(path, out var byMethod) ? string.Join(", ", byMethod.Keys.Order(StringComparer.Ordinal)) : "";
}

internal enum RouteMatch
{
    Found,
    NoPath,
    WrongMethod,
}
