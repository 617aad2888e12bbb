using System.Text;
using Microsoft.Extensions.Logging;

namespace Appliance.Logging;

/// <summary>
/// Writes each record as one <see cref="LogLine"/> to a text writer (stderr), one write per line under a lock. Levels
/// and category filters are the factory's; this logger writes whatever reaches it.
/// </summary>
public sealed class StderrLoggerProvider(TextWriter output, bool colour) : ILoggerProvider
{
    private readonly bool _colour = colour;
    private readonly Lock _gate = new();
    private readonly StringBuilder _line = new(256);

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    public void Dispose() { }

    private void Write(string line)
    {
        try { output.Write(line); }
        catch (IOException) { } // stderr closed or broken: the record is lost, the service goes on
    }

    private sealed class LineLogger(StderrLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.None) return;
            string? message = formatter(state, exception);
            if (message is null && exception is null) return;
            string line;
            lock (provider._gate)
            {
                LogLine.Append(provider._line.Clear(), DateTime.UtcNow, logLevel, category, eventId.Id, message, exception, provider._colour);
                line = provider._line.ToString();
            }
            provider.Write(line);
        }
    }
}
