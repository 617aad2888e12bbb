namespace Appliance.Hosting;

/// <summary>
/// The start-up load of the torrents folder, as its own step after the peer, uTP, DHT, tracker and web seed listeners:
/// a first start verifies every torrent and can take a while, and meanwhile a peer's handshake for a torrent still
/// loading is held on any transport rather than refused. Everything that follows torrents (announcer, DHT, tracker)
/// is already listening to the registry, so each torrent reaches them as it loads.
/// </summary>
public sealed class LibraryComponent(SeedingComponent seeding) : IApplianceComponent
{
    public string Name => "library";

    public Task StartAsync(CancellationToken cancellationToken) => seeding.LoadLibraryAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
