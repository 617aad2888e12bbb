using System.Net;
using Appliance.Networking.Utp;
using Appliance.Seeding.Sessions;

namespace Appliance.Seeding.Transport;

/// <summary>Turns each established incoming uTP connection into a peer session of the server, under its connection limits.</summary>
internal sealed class UtpSessionAcceptor(SeedingServer server) : IUtpAcceptor
{
    public bool TryAccept(UtpConnection connection, IPEndPoint remote)
    {
        var transport = new UtpPeerTransport(connection, remote);
        connection.Observer = transport;
        return server.TryAccept(transport);
    }
}
