using Appliance.Protocol.Encryption;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Sessions;

/// <summary>At start-up torrents are still being verified while we already listen: a peer that dials then waits, it is not refused.</summary>
public sealed class HeldHandshakeTests
{
    private static readonly SeedingOptions Unlimited = new() { UploadSlots = 0 };

    /// <summary>A seeder whose one torrent is parsed but still loading (as during the first start's verification).</summary>
    private static TestSeeder LoadingSeeder(SeedingOptions options)
    {
        var seeder = new TestSeeder(options);
        Assert.True(seeder.Registry.TryRemove(seeder.Metainfo.InfoHash, out _));
        seeder.Registry.BeginLoading(seeder.Metainfo);
        return seeder;
    }

    private static void FinishLoading(TestSeeder seeder, bool loaded)
    {
        if (loaded) Assert.True(seeder.Registry.TryAdd(seeder.Torrent));
        seeder.Registry.EndLoading(seeder.Metainfo);
    }

    [Fact]
    public async Task Handshake_for_a_torrent_still_loading_is_held_and_answered_once_it_has_loaded()
    {
        await using var seeder = LoadingSeeder(Unlimited);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        Assert.Equal(1, await Eventually.SettledAsync(1, () => seeder.Server.HeldHandshakes));

        FinishLoading(seeder, loaded: true);

        await seeder.DownloadEveryBlockAsync(peer);
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HandshakesHeld));
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HandshakesAccepted));
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.HandshakesUnknownTorrent));
        Assert.Equal(0, await Eventually.SettledAsync(0, () => seeder.Server.HeldHandshakes));
    }

    [Fact]
    public async Task Encrypted_handshake_for_a_torrent_still_loading_is_held_and_answered_once_it_has_loaded()
    {
        await using var seeder = LoadingSeeder(Unlimited);
        using var peer = await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, CryptoMethods.Rc4,
            FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true));
        Assert.Equal(1, await Eventually.SettledAsync(1, () => seeder.Server.HeldHandshakes));

        FinishLoading(seeder, loaded: true);

        await seeder.DownloadEveryBlockAsync(peer);
    }

    [Fact]
    public async Task Handshake_held_for_a_torrent_that_failed_to_load_is_refused()
    {
        await using var seeder = LoadingSeeder(Unlimited);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        Assert.Equal(1, await Eventually.SettledAsync(1, () => seeder.Server.HeldHandshakes));

        FinishLoading(seeder, loaded: false);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Counters.Read(SeedingCounter.HandshakesUnknownTorrent)));
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.HandshakesAccepted));
    }

    [Fact]
    public async Task Handshake_held_past_the_handshake_timeout_is_closed_and_counted_once()
    {
        await using var seeder = LoadingSeeder(Unlimited with { HandshakeTimeout = TimeSpan.FromSeconds(1) });
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Counters.Read(SeedingCounter.HandshakesTimedOut)));
        Assert.Equal(0, await Eventually.SettledAsync(0, () => seeder.Server.HeldHandshakes));
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HandshakesHeld));
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.HandshakesUnknownTorrent));
    }

    [Fact]
    public async Task Handshakes_beyond_the_hold_limit_are_refused_while_the_held_one_is_answered()
    {
        await using var seeder = LoadingSeeder(Unlimited with { MaxHeldHandshakes = 1 });
        using var held = await FakePeer.ConnectAsync(seeder.EndPoint);
        await held.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        Assert.Equal(1, await Eventually.SettledAsync(1, () => seeder.Server.HeldHandshakes));

        using var refused = await FakePeer.ConnectAsync(seeder.EndPoint);
        await refused.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        Assert.True(await refused.WaitClosedAsync());
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.HandshakesUnknownTorrent));

        FinishLoading(seeder, loaded: true);
        await seeder.DownloadEveryBlockAsync(held);
    }
}
