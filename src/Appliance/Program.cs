using Appliance.Cli;
using Appliance.Configuration;

namespace Appliance;

public static class Program
{
    public const string Version = Protocol.Identity.ClientIdentity.Version;

    public static async Task<int> Main(string[] args)
    {
        var output = Console.Out;
        var error = Console.Error;
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            output.Write(Help);
            return args.Length == 0 ? 2 : 0;
        }
        string command = args[0];
        var rest = args.AsSpan(1).ToArray();
        try
        {
            return command switch
            {
                "serve" => await ServeCommand.RunAsync(rest, output, error).ConfigureAwait(false),
                "create" => await CreateCommand.RunAsync(rest, output, error).ConfigureAwait(false),
                "info" => await InfoCommand.RunAsync(rest, output, error).ConfigureAwait(false),
                "dht" => await DhtCommand.RunAsync(rest, output, error).ConfigureAwait(false),
                "version" or "--version" => PrintVersion(output),
                _ => throw new UsageException($"unknown command '{command}'"),
            };
        }
        catch (UsageException e)
        {
            error.WriteLine($"appliance {command}: {e.Message} (see 'appliance {command} --help')");
            return 2;
        }
        catch (OptionsException e)
        {
            error.WriteLine($"appliance {command}: {e.Message}");
            return 2;
        }
    }

    private static int PrintVersion(TextWriter output)
    {
        output.WriteLine($"appliance {Version}");
        return 0;
    }

    private const string Help = """
        appliance: a BitTorrent seeding appliance

        Commands:
          serve     seed every torrent in a folder (peer wire, embedded tracker, DHT, metrics)
          create    make a .torrent from a file or folder
          info      show what a .torrent holds
          dht       query the DHT from a temporary node (dht get-peers INFOHASH --dht-bootstrap HOST:PORT)
          version   print the version

        'appliance COMMAND --help' shows a command's options.

        """;
}
