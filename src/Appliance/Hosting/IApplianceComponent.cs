namespace Appliance.Hosting;

/// <summary>
/// One running part of <c>appliance serve</c> (seeder, embedded tracker, DHT node, metrics endpoint...).
/// Started in composition order, stopped in reverse, each stop bounded by the shutdown deadline.
/// </summary>
public interface IApplianceComponent
{
    string Name { get; }

    Task StartAsync(CancellationToken cancellationToken);

    Task StopAsync(CancellationToken cancellationToken);
}
