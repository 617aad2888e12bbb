using Appliance.Configuration;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>The composition root of <c>appliance serve</c>: builds every component from the options, in start order.</summary>
public static class Composition
{
    public static ApplianceHost Compose(ServeOptions options, ILoggerFactory loggers, TextWriter output)
    {
        var host = new ApplianceHost(options, loggers.CreateLogger<ApplianceHost>());
        _ = output;
        return host;
    }
}
