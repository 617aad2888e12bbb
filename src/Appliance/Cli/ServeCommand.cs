using System.Runtime.InteropServices;
using Appliance.Configuration;
using Appliance.Hosting;
using Appliance.Logging;
using Microsoft.Extensions.Logging;

namespace Appliance.Cli;

/// <summary><c>appliance serve</c>: seed every torrent of a folder until SIGINT/SIGTERM.</summary>
public static class ServeCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var commandLine = CommandLine.Parse(args, ServeFlags.All);
        if (commandLine.HelpRequested)
        {
            output.Write(CommandLine.FormatHelp(ServeFlags.Usage, ServeFlags.All));
            return 0;
        }
        if (commandLine.Positionals.Count > 0) throw new UsageException($"unexpected argument '{commandLine.Positionals[0]}'");
        ServeOptions options = ServeConfiguration.Build(commandLine.Settings);

        using var loggers = Loggers.Create(Enum.Parse<LogLevel>(options.LogLevel, ignoreCase: true));
        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var host = Composition.Compose(options, loggers, output);
        return await host.RunAsync(stop.Token).ConfigureAwait(false);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // we exit on our own, after the graceful shutdown
            stop.Cancel();
        }
    }
}
