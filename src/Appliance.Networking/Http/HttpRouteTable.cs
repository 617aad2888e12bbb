namespace Appliance.Networking.Http;

/// <summary>Handles one request by filling the response. Exceptions become a 500 and are logged.</summary>
public delegate ValueTask HttpHandler(HttpRequest request, HttpResponse response, CancellationToken cancellationToken);

/// <summary>Checks a request from its head alone (its body is not read yet). False refuses it with the response it filled.</summary>
public delegate bool HttpAdmission(HttpRequest head, HttpResponse response);

/// <summary>What a route accepts, decided from the request head before any body byte is read.</summary>
public sealed class HttpRouteOptions
{
    public static readonly HttpRouteOptions Default = new();

    /// <summary>Largest body the route reads; null takes the server's <see cref="HttpServerOptions.MaxRequestBodyBytes"/>.</summary>
    public int? MaxBodyBytes { get; init; }

    /// <summary>Runs before the body is read, so a refused caller never makes the server hold its body.</summary>
    public HttpAdmission? Admit { get; init; }

    /// <summary>Also served on the connections held in reserve once every ordinary one is taken (health, metrics).</summary>
    public bool Reserved { get; init; }
}

/// <summary>Exact path + method to handler. Unknown paths get 404, known paths with another method 405.</summary>
public sealed class HttpRouteTable
{
    private readonly Dictionary<string, Dictionary<string, HttpRoute>> _routes = new(StringComparer.Ordinal);

    public HttpRouteTable Map(string method, string path, HttpHandler handler, HttpRouteOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (string.IsNullOrEmpty(path) || path[0] != '/') throw new ArgumentException($"route path '{path}' must start with '/'", nameof(path));
        if (!_routes.TryGetValue(path, out var byMethod)) _routes[path] = byMethod = new(StringComparer.Ordinal);
        byMethod[method.ToUpperInvariant()] = new HttpRoute(handler, options ?? HttpRouteOptions.Default);
        return this;
    }

    public HttpRouteTable MapGet(string path, HttpHandler handler, HttpRouteOptions? options = null) => Map("GET", path, handler, options);

    public HttpRouteTable MapPost(string path, HttpHandler handler, HttpRouteOptions? options = null) => Map("POST", path, handler, options);

    internal RouteMatch Find(string method, string path, out HttpRoute? route)
    {
        route = null;
        if (!_routes.TryGetValue(path, out var byMethod)) return RouteMatch.NoPath;
        if (byMethod.TryGetValue(method, out route)) return RouteMatch.Found;
        // HEAD is answered by the GET handler with the body left out.
        if (method == "HEAD" && byMethod.TryGetValue("GET", out route)) return RouteMatch.Found;
        return RouteMatch.WrongMethod;
    }

    internal string AllowedMethods(string path) =>
        _routes.TryGetValue(path, out var byMethod) ? string.Join(", ", byMethod.Keys.Order(StringComparer.Ordinal)) : "";
}

internal sealed record HttpRoute(HttpHandler Handler, HttpRouteOptions Options);

internal enum RouteMatch
{
    Found,
    NoPath,
    WrongMethod,
}
