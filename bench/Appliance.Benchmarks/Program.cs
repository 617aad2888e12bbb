using BenchmarkDotNet.Running;

namespace Appliance.Benchmarks;

public static class Program
{
    // Benchmarks live in one folder per area (Bencode/, Storage/, PeerWire/, Dht/...); the switcher finds them all.
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
