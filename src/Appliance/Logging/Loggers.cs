using Microsoft.Extensions.Logging;

namespace Appliance.Logging;

/// <summary>Console logging on stderr (stdout stays for the magnet links and other output meant for scripts).</summary>
public static class Loggers
{
    /// <summary>
    /// Put together by hand rather than with <c>LoggerFactory.Create</c>: that builds a service provider, which under
    /// Native AOT constructs the console logger's options types at run time, about 2 MB of start-up garbage.
    /// </summary>
    public static ILoggerFactory Create(LogLevel minimum) => Create(minimum, Console.Error, colour: !Console.IsErrorRedirected);

    public static ILoggerFactory Create(LogLevel minimum, TextWriter output, bool colour)
    {
        var filters = new LoggerFilterOptions { MinLevel = minimum };
        filters.Rules.Add(new LoggerFilterRule(providerName: null, categoryName: "Microsoft", LogLevel.Warning, filter: null));
        return new LoggerFactory([new StderrLoggerProvider(output, colour)], filters);
    }
}
