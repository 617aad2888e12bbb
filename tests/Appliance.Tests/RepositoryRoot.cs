using System.Runtime.CompilerServices;

namespace Appliance.Tests;

/// <summary>The checkout these tests were built from (deploy/ and docs/ files are tested in place).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find([CallerFilePath] string source = "")
    {
        foreach (var start in new[] { System.IO.Path.GetDirectoryName(source), AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = start is null ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Appliance.sln"))) return dir.FullName;
            }
        }
        throw new InvalidOperationException("Appliance.sln not found above the test sources or the working directory");
    }
}
