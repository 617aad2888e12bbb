namespace Appliance.TestKit;

/// <summary>
/// Starts the real <c>appliance</c> program. By default the framework-dependent build next to the tests
/// (dotnet appliance.dll); with APPLIANCE_BIN set (CI sets it to dist/appliance), the Native AOT binary.
/// </summary>
public static class ApplianceBinary
{
    public static ExternalProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        string? native = Environment.GetEnvironmentVariable("APPLIANCE_BIN");
        if (!string.IsNullOrEmpty(native)) return ExternalProcess.Start(native, arguments, environment: environment);
        string dll = Path.Combine(AppContext.BaseDirectory, "appliance.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException("appliance.dll is not beside the tests; reference src/Appliance from this test project", dll);
        return ExternalProcess.Start("dotnet", [dll, .. arguments], environment: environment);
    }

    /// <summary>Runs the program to completion (for create/info and other one-shot commands).</summary>
    public static async Task<ExternalProcess> RunAsync(IEnumerable<string> arguments, TimeSpan timeout)
    {
        var process = Start(arguments);
        await process.WaitForExitAsync(timeout).ConfigureAwait(false);
        return process;
    }
}
