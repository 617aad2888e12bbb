using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Appliance.Logging;

/// <summary>Console logging on stderr (stdout stays for the magnet links and other output meant for scripts).</summary>
public static class Loggers
{
    public static ILoggerFactory Create(LogLevel minimum) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(minimum)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        })
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddFilter("Microsoft", LogLevel.Warning));
}
