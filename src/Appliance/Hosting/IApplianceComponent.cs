namespace Appliance.Hosting;

/// <summary>
/// One running part of <c>appliance serve</c> (seeder, embedded tracker, DHT node, metrics endpoint...).
/// Started in composition order. A stop comes in two phases, each in reverse order and within one shutdown deadline:
/// every component drains, then every component stops.
/// </summary>
public interface IApplianceComponent
{
    string Name { get; }

    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Finishes work that runs over other components while they all still run: the seeder's peer sessions drain
    /// (queued blocks still go out) while the uTP listeners that carry some of them are still open.
    /// </summary>
    Task DrainAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task StopAsync(CancellationToken cancellationToken);
}
