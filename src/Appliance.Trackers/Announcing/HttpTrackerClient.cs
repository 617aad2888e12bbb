using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Trackers.Announcing;

/// <summary>HTTP(S) announces and scrapes (BEP 3, 23, 7, 48) with bounded redirects, time and response size.</summary>
public sealed class HttpTrackerClient : IDisposable
{
    // One client per address family: a pooled connection must never carry the other family's announce.
    private readonly HttpClient _v4;
    private readonly HttpClient _v6;
    private readonly AnnouncerOptions _options;
    private readonly TrackerResolver _resolver;
    private long _resets;

    public HttpTrackerClient(AnnouncerOptions options, TrackerResolver? resolver = null)
    {
        _options = options;
        _resolver = resolver ?? new TrackerResolver(options);
        _v4 = CreateClient(AddressFamily.InterNetwork);
        _v6 = CreateClient(AddressFamily.InterNetworkV6);
    }

    private HttpClient CreateClient(AddressFamily family)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = Math.Max(1, _options.MaxHttpRedirects),
            ConnectTimeout = _options.HttpTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            // One connection per concurrent request to a tracker, kept alive and reused for the next announces.
            MaxConnectionsPerServer = Math.Max(1, _options.MaxConcurrentPerTracker),
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
            UseCookies = false,
            UseProxy = false,
            MaxResponseHeadersLength = 64,
            // The URL (so the Host header and TLS name) stays the tracker's name; the connection goes to its address in this family.
            ConnectCallback = (context, cancellationToken) => ConnectAsync(context.DnsEndPoint, family, cancellationToken),
        };
        var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(ClientIdentity.UserAgent);
        return client;
    }

    private async ValueTask<Stream> ConnectAsync(DnsEndPoint target, AddressFamily family, CancellationToken cancellationToken)
    {
        var addresses = await _resolver.ResolveAsync(target.Host, family, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0) throw new TrackerException($"{target.Host} has no {FamilyName(family)} address");
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, target.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    internal static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    /// <summary>Requests retried because the tracker reset the connection.</summary>
    public long Resets => Interlocked.Read(ref _resets);

    /// <summary>Announces over the tracker's IPv4 address if it has one, else its IPv6 one.</summary>
    public async Task<AnnounceResponse> AnnounceAsync(string announceUrl, AnnounceRequest request, CancellationToken cancellationToken) =>
        await AnnounceAsync(announceUrl, await PreferredFamilyAsync(announceUrl, cancellationToken).ConfigureAwait(false), request, cancellationToken).ConfigureAwait(false);

    public async Task<AnnounceResponse> AnnounceAsync(string announceUrl, AddressFamily family, AnnounceRequest request, CancellationToken cancellationToken)
    {
        var body = await GetAsync(ClientFor(family), HttpAnnounceQuery.Build(announceUrl, request), cancellationToken).ConfigureAwait(false);
        if (!HttpTrackerResponse.TryParseAnnounce(body, out var response, out string error)) throw new TrackerException(error);
        return response!;
    }

    public async Task<Dictionary<InfoHash, ScrapeCounts>> ScrapeAsync(string announceUrl, IReadOnlyList<InfoHash> hashes, CancellationToken cancellationToken) =>
        await ScrapeAsync(announceUrl, await PreferredFamilyAsync(announceUrl, cancellationToken).ConfigureAwait(false), hashes, cancellationToken).ConfigureAwait(false);

    public async Task<Dictionary<InfoHash, ScrapeCounts>> ScrapeAsync(string announceUrl, AddressFamily family, IReadOnlyList<InfoHash> hashes,
        CancellationToken cancellationToken)
    {
        string scrapeUrl = HttpAnnounceQuery.ScrapeUrl(announceUrl) ?? throw new TrackerException("tracker has no scrape URL (BEP 48)");
        var body = await GetAsync(ClientFor(family), HttpAnnounceQuery.BuildScrape(scrapeUrl, hashes), cancellationToken).ConfigureAwait(false);
        var counts = new Dictionary<InfoHash, ScrapeCounts>();
        if (!HttpTrackerResponse.TryParseScrape(body, counts, out string? failure, out string error)) throw new TrackerException(error);
        if (failure is not null) throw new TrackerException("scrape refused: " + failure);
        return counts;
    }

    private HttpClient ClientFor(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? _v6 : _v4;

    private async Task<AddressFamily> PreferredFamilyAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) throw new TrackerException("bad tracker URL");
        var addresses = await _resolver.ResolveAsync(uri.Host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0) throw new TrackerException($"{uri.Host} has no address");
        return addresses.Any(a => TrackerResolver.FamilyOf(a) == AddressFamily.InterNetwork) ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
    }

    private async Task<ReadOnlyMemory<byte>> GetAsync(HttpClient client, string url, CancellationToken cancellationToken)
    {
        // opentracker closes every connection after its answer, without saying so, and under load resets some before we
        // read the answer (a few percent of loopback announces here): a reset or refused connection is retried at once, up to
        // four times.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await GetOnceAsync(client, url, cancellationToken).ConfigureAwait(false);
            }
            catch (TrackerException e) when (attempt < 5 && e.InnerException is HttpRequestException { InnerException: IOException or System.Net.Sockets.SocketException })
            {
                Interlocked.Increment(ref _resets);
            }
        }
    }

    private async Task<ReadOnlyMemory<byte>> GetOnceAsync(HttpClient client, string url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HttpTimeout);
        try
        {
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength > _options.MaxHttpResponseBytes)
                throw new TrackerException($"response of {response.Content.Headers.ContentLength} bytes exceeds the {_options.MaxHttpResponseBytes}-byte limit");
            var body = await ReadBoundedAsync(response.Content, timeout.Token).ConfigureAwait(false);
            if ((int)response.StatusCode is >= 300 and < 400)
                throw new TrackerException($"HTTP {(int)response.StatusCode}: too many redirects (more than {_options.MaxHttpRedirects}) or a redirect loop");
            if (!response.IsSuccessStatusCode)
            {
                // Some trackers send their failure reason with a 4xx status.
                if (HttpTrackerResponse.TryParseAnnounce(body, out var parsed, out _) && parsed!.FailureReason is { } reason)
                    throw new TrackerException($"HTTP {(int)response.StatusCode}: {reason}");
                throw new TrackerException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            return body;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TrackerException($"no answer within {_options.HttpTimeout.TotalSeconds:0.#} s", timedOut: true);
        }
        catch (HttpRequestException e)
        {
            throw new TrackerException("HTTP error: " + e.Message, e);
        }
        catch (UriFormatException e)
        {
            throw new TrackerException("bad tracker URL: " + e.Message, e);
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > _options.MaxHttpResponseBytes)
                throw new TrackerException($"response exceeds the {_options.MaxHttpResponseBytes}-byte limit");
            buffer.Write(chunk, 0, n);
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    public void Dispose()
    {
        _v4.Dispose();
        _v6.Dispose();
    }
}
