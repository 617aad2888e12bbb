using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Tests.Support;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Sessions;

/// <summary>MSE/PE peers on the plaintext port: key exchange, SKEY lookup, RC4 or plaintext streams, refusals and floods.</summary>
public sealed class EncryptedSessionTests
{
    private static readonly SeedingOptions Unlimited = new() { UploadSlots = 0 };

    [Theory]
    [InlineData(EncryptionPolicy.Allow, CryptoMethods.Rc4, true, CryptoMethods.Rc4)]
    [InlineData(EncryptionPolicy.Allow, CryptoMethods.Rc4, false, CryptoMethods.Rc4)]
    [InlineData(EncryptionPolicy.Allow, CryptoMethods.Rc4 | CryptoMethods.Plaintext, true, CryptoMethods.Plaintext)]
    [InlineData(EncryptionPolicy.Prefer, CryptoMethods.Rc4 | CryptoMethods.Plaintext, true, CryptoMethods.Rc4)]
    [InlineData(EncryptionPolicy.Require, CryptoMethods.Plaintext, true, CryptoMethods.Plaintext)]
    public async Task Encrypted_peer_gets_the_exact_bytes_it_requests(EncryptionPolicy policy, CryptoMethods provide, bool segments, CryptoMethods expected)
    {
        await using var seeder = new TestSeeder(Unlimited with { Encryption = policy }, segments: segments);
        using var peer = await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, provide,
            FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true));
        Assert.Equal(expected, peer.Encryption);

        await seeder.DownloadEveryBlockAsync(peer);
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => expected == CryptoMethods.Rc4 ? seeder.Server.EncryptionCounters.Read(EncryptionCounter.HandshakesRc4) : seeder.Server.EncryptionCounters.Read(EncryptionCounter.HandshakesPlaintext)));
        // Counted once the send returned, which may be after the peer read the last byte.
        Assert.Equal(seeder.Data.Length, await Eventually.SettledAsync((long)seeder.Data.Length, () => seeder.Torrent.UploadedBytes));
    }

    [Fact]
    public async Task Handshake_may_follow_the_initial_payload_when_the_payload_is_empty()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, CryptoMethods.Rc4, []);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: false);
        await seeder.DownloadEveryBlockAsync(peer);
    }

    [Fact]
    public async Task Plaintext_handshake_is_refused_when_encryption_is_required()
    {
        await using var seeder = new TestSeeder(Unlimited with { Encryption = EncryptionPolicy.Require });
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);

        Assert.True(await peer.WaitClosedAsync());
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => seeder.Server.EncryptionCounters.Read(EncryptionCounter.PlaintextRefused)));
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.HandshakesAccepted));
    }

    [Fact]
    public async Task Plaintext_peer_is_served_when_encryption_is_allowed()
    {
        await using var seeder = new TestSeeder(Unlimited);
        using var peer = await FakePeer.ConnectAsync(seeder.EndPoint);
        await peer.SendHandshakeAsync(seeder.Metainfo.InfoHash, fast: true, extensions: true);
        await seeder.DownloadEveryBlockAsync(peer);
    }

    [Fact]
    public async Task Wrong_obfuscated_info_hash_is_dropped()
    {
        await using var seeder = new TestSeeder(Unlimited);
        await Assert.ThrowsAnyAsync<Exception>(() => FakePeer.ConnectEncryptedAsync(seeder.EndPoint, InfoHash.Compute("not ours"u8),
            CryptoMethods.Rc4, FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true)));
        await WaitForAsync(() => seeder.Server.EncryptionCounters.Read(EncryptionCounter.HandshakesFailed) == 1 && seeder.Server.SessionCount == 0);
    }

    [Fact]
    public async Task Truncated_handshakes_end_without_harm_and_free_their_slots()
    {
        await using var seeder = new TestSeeder(Unlimited with { HandshakeTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(200) });
        var initiator = new MseInitiator();
        var sockets = new List<Socket>();
        try
        {
            // Half a key and closed; a whole key and silence (the timeout closes it); a key and half of step 3, closed.
            foreach (int length in new[] { 50, MseKeyExchange.KeyLength, MseKeyExchange.KeyLength + 30 })
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(seeder.EndPoint);
                await socket.SendAsync(initiator.Step1(40).AsMemory(0, Math.Min(length, MseKeyExchange.KeyLength + 40)));
                if (length != MseKeyExchange.KeyLength) socket.Shutdown(SocketShutdown.Send);
                sockets.Add(socket);
            }
            await WaitForAsync(() => seeder.Server.SessionCount == 0);
            using var peer = await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, CryptoMethods.Rc4,
                FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true));
            await seeder.DownloadEveryBlockAsync(peer);
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    [Fact]
    public async Task Handshake_flood_from_one_address_is_throttled_and_a_good_client_is_served()
    {
        await using var seeder = new TestSeeder(Unlimited with
        {
            EncryptedHandshakeBurst = 4,
            EncryptedHandshakesPerSecondPerAddress = 0.1,
            MaxConnectionsPerIp = 1000,
        });
        var flood = new List<Socket>();
        try
        {
            for (int i = 0; i < 40; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.3"), 0));
                await socket.ConnectAsync(seeder.EndPoint);
                await socket.SendAsync(new MseInitiator().Step1(0));
                flood.Add(socket);
            }
            await WaitForAsync(() => seeder.Server.EncryptionCounters.Read(EncryptionCounter.HandshakesThrottled) >= 30);

            using var peer = await FakePeer.ConnectEncryptedAsync(seeder.EndPoint, seeder.Metainfo.InfoHash, CryptoMethods.Rc4,
                FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: true));
            await seeder.DownloadEveryBlockAsync(peer);
        }
        finally
        {
            foreach (var socket in flood) socket.Dispose();
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition()) await Task.Delay(20, cts.Token);
    }
}
