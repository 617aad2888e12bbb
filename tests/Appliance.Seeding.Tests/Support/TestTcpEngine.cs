namespace Appliance.Seeding.Tests.Support;

/// <summary>
/// The TCP engine the test seeders use when a test does not choose: the default, or the one named by
/// APPLIANCE_TEST_TCP_ENGINE (sockets or epoll), so every session test can be run over either engine.
/// </summary>
internal static class TestTcpEngine
{
    public static TcpEngine? FromEnvironment { get; } = Environment.GetEnvironmentVariable("APPLIANCE_TEST_TCP_ENGINE")?.ToLowerInvariant() switch
    {
        "epoll" => TcpEngine.Epoll,
        "sockets" => TcpEngine.Sockets,
        _ => null,
    };

    public static SeedingOptions Apply(SeedingOptions options) =>
        FromEnvironment is { } engine && options.TcpEngine == SeedingOptions.DefaultTcpEngine ? options with { TcpEngine = engine } : options;
}
