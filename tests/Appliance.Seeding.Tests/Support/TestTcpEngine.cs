using System.Runtime.CompilerServices;

namespace Appliance.Seeding.Tests.Support;

/// <summary>
/// The TCP engine the test seeders use when a test does not choose: the default, or the one named by
/// APPLIANCE_TEST_TCP_ENGINE (sockets or epoll), so every session test can be run over either engine. A test that
/// chooses one (<see cref="Chosen"/>) keeps it whatever the environment says.
/// </summary>
internal static class TestTcpEngine
{
    private static readonly ConditionalWeakTable<SeedingOptions, object> s_chosen = [];

    public static TcpEngine? FromEnvironment { get; } = Environment.GetEnvironmentVariable("APPLIANCE_TEST_TCP_ENGINE")?.ToLowerInvariant() switch
    {
        "epoll" => TcpEngine.Epoll,
        "sockets" => TcpEngine.Sockets,
        _ => null,
    };

    /// <summary>Marks <paramref name="options"/> as naming its engine on purpose (the environment does not replace it).</summary>
    public static SeedingOptions Chosen(SeedingOptions options)
    {
        s_chosen.AddOrUpdate(options, options);
        return options;
    }

    public static SeedingOptions Apply(SeedingOptions options) =>
        FromEnvironment is { } engine && !s_chosen.TryGetValue(options, out _) ? options with { TcpEngine = engine } : options;
}
