using System.Globalization;
using System.Net;

namespace Appliance.LoadGen;

/// <summary>Command line of the load generator; every run is bounded by <see cref="DurationSeconds"/>.</summary>
public sealed class LoadOptions
{
    public const int BlockLength = 16 * 1024;

    public string TorrentPath { get; private set; } = "";
    public IPEndPoint Target { get; private set; } = new(IPAddress.Loopback, 6881);
    public int Peers { get; private set; } = 8;
    public int Pipeline { get; private set; } = 32;
    public double DurationSeconds { get; private set; } = 10;
    public double WarmupSeconds { get; private set; } = 2;
    public int SeederPid { get; private set; }
    public string? MetricsUrl { get; private set; }
    public string AllocatedMetric { get; private set; } = "appliance_process_allocated_bytes_total";
    public string? JsonPath { get; private set; }
    public string Label { get; private set; } = "seeder";
    public int IdleConnections { get; private set; }
    // Connections per source address (127.0.0.x); 0 = let the kernel pick (all from 127.0.0.1).
    public int PerSourceAddress { get; private set; } = 50;
    public int ReceiveBufferBytes { get; private set; } = 256 * 1024;
    public int SocketReceiveBufferBytes { get; private set; }
    public int ConnectConcurrency { get; private set; } = 128;
    public double ConnectTimeoutSeconds { get; private set; } = 30;
    public VerifyMode Verify { get; private set; } = VerifyMode.Sha1;
    // The torrent's content (single file), hashed once before the run: every block is then compared, never hashed.
    public string? ReferenceFile { get; private set; }
    // CRC-32C of every block, written before the run by --make-digests: every block is checked, the content never read.
    public string? ReferenceDigests { get; private set; }
    // Write the digest table of --reference-file's content to this path, then exit (no connection is made).
    public string? MakeDigests { get; private set; }
    // Complete mode: every peer downloads the whole torrent once and leaves; DurationSeconds bounds the run.
    public bool Complete { get; private set; }

    /// <summary>Connect with an MSE/PE handshake and RC4 streams (what a client with encryption forced does).</summary>
    public bool Rc4 { get; private set; }

    /// <summary>Measure the handshake rate instead of downloading (see <see cref="HandshakeLoad"/>).</summary>
    public bool Handshakes { get; private set; }

    /// <summary>TCP, or uTP (BEP 29) to the seeder's peer port (UDP), each peer from a UDP port of its own.</summary>
    public TransportKind Transport { get; private set; } = TransportKind.Tcp;

    /// <summary>Which info-hash of a hybrid torrent the handshakes carry.</summary>
    public JoinKind Join { get; private set; } = JoinKind.V1;

    public const string Usage = """
        usage: loadgen --torrent FILE --target HOST:PORT [--peers N] [--pipeline Q] [--duration S] [--warmup S]
                       [--seeder-pid PID] [--metrics URL] [--alloc-metric NAME] [--json OUT] [--label NAME]
                       [--per-ip N] [--recv-buffer BYTES] [--so-rcvbuf BYTES] [--connect-concurrency N]
                       [--verify sha1|reference] [--reference-file PATH | --reference-digests PATH] [--complete] [--rc4]
                       [--join v1|v2] [--transport tcp|utp]
               loadgen --make-digests OUT --torrent FILE --reference-file PATH
               loadgen --handshakes --torrent FILE --target HOST:PORT [--peers N] [--rc4] [--join v1|v2] [--per-ip N] [--duration S] [--seeder-pid PID]
               loadgen --idle N --torrent FILE --target HOST:PORT [--duration S] [--seeder-pid PID] [--json OUT]

          --peers N            peer connections (default 8)
          --pipeline Q         16 KiB requests kept outstanding per peer (default 32)
          --duration S         measured seconds (default 10); idle mode: seconds to hold the connections
          --warmup S           seconds of load before measuring (default 2)
          --seeder-pid PID     read the seeder's CPU time (and RSS) from /proc/PID
          --metrics URL        Prometheus endpoint of the seeder, scraped for an allocated-bytes counter
          --alloc-metric NAME  that counter's name (default appliance_process_allocated_bytes_total)
          --per-ip N           connections per source address 127.0.0.x (default 50; 0 = kernel default)
          --recv-buffer BYTES  user-space receive buffer per peer (default 262144)
          --so-rcvbuf BYTES    SO_RCVBUF per socket (default 0 = kernel autotuning)
          --verify MODE        sha1 (default): hash every received piece; reference: hash a piece the first time
                               it arrives, then compare later copies byte for byte with the verified bytes
          --reference-file PATH  the torrent's content (a single-file torrent's file): read and hashed once before
                               connecting, then every block is compared with it (implies --verify reference; the
                               lightest client, for thousands of peers; at most 1 GiB)
          --reference-digests PATH  a CRC-32C per 16 KiB block written by --make-digests: every received block is
                               checked against it (the crc32 instruction, several GB/s per core); the content is not
                               read during the run and the table takes 4 bytes per block, so it suits torrents of any
                               size and cold-cache runs (a client reading the content would warm the seeder's page cache)
          --make-digests OUT   read --reference-file once, check every piece's SHA-1, write its block digests to OUT
                               and exit
          --complete           each peer downloads the whole torrent once, verified, then disconnects; the run
                               ends when all are done (or after --duration); reports wall time and the median
                               and slowest peer's completion time (fairness), with the seeder's default choker
          --rc4                MSE/PE handshake offering RC4 only, then RC4 both ways (encrypted seeding)
          --join v1|v2         handshake with the v1 info-hash (default) or, for a hybrid torrent, the v2 one (BEP 52:
                               SHA-256 cut to 20 bytes, v2 reserved bit set); pieces are verified with the v1 SHA-1
                               hashes either way (a hybrid's pieces include its pad files' zeros)
          --transport tcp|utp  tcp (default), or utp: each peer dials the seeder's peer port over uTP (BEP 29) from a
                               UDP port of its own, then the same peer wire (load and complete modes; --so-rcvbuf is TCP only)
          --idle N             open N handshaked, silent connections and report the seeder's RSS growth
          --handshakes         handshake rate: --peers workers each connect, handshake (MSE/PE first with --rc4), wait
                               for the seeder's handshake, close and repeat, a new source address every --per-ip
                               connections; reports handshakes per second and per seeder CPU-second

        exit status: 0 done; 1 bad arguments, torrent, content or digests; 3 --complete with peers unfinished; 4 a piece
        or block failed verification (load and complete modes; the JSON is written first)
        """;

    public static LoadOptions Parse(string[] args)
    {
        var o = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var flag = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value");
            int Int(int min, int max)
            {
                var text = Value();
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
                    throw new ArgumentException($"{flag}: '{text}' is not an integer in [{min}, {max}]");
                return v;
            }
            T Choice<T>(params (string Name, T Value)[] choices)
            {
                var text = Value();
                foreach (var (name, value) in choices)
                    if (name == text) return value;
                throw new ArgumentException($"{flag}: '{text}' is not {string.Join(" or ", choices.Select(c => c.Name))}");
            }
            double Seconds(double min, double max)
            {
                var text = Value();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
                    throw new ArgumentException($"{flag}: '{text}' is not a number of seconds in [{min}, {max}]");
                return v;
            }
            switch (flag)
            {
                case "--torrent": o.TorrentPath = Value(); break;
                case "--target":
                    var t = Value();
                    if (!IPEndPoint.TryParse(t, out var ep) || ep.Port == 0) throw new ArgumentException($"--target: '{t}' is not HOST:PORT");
                    o.Target = ep;
                    break;
                case "--peers": o.Peers = Int(1, 20_000); break;
                case "--pipeline": o.Pipeline = Int(1, 2_000); break;
                case "--duration": o.DurationSeconds = Seconds(0.1, 3600); break;
                case "--warmup": o.WarmupSeconds = Seconds(0, 600); break;
                case "--seeder-pid": o.SeederPid = Int(1, int.MaxValue); break;
                case "--metrics": o.MetricsUrl = Value(); break;
                case "--alloc-metric": o.AllocatedMetric = Value(); break;
                case "--json": o.JsonPath = Value(); break;
                case "--label": o.Label = Value(); break;
                case "--idle": o.IdleConnections = Int(1, 60_000); break;
                case "--per-ip": o.PerSourceAddress = Int(0, 60_000); break;
                case "--recv-buffer": o.ReceiveBufferBytes = Int(64 * 1024, 64 * 1024 * 1024); break;
                case "--so-rcvbuf": o.SocketReceiveBufferBytes = Int(0, 256 * 1024 * 1024); break;
                case "--connect-concurrency": o.ConnectConcurrency = Int(1, 10_000); break;
                case "--reference-file": o.ReferenceFile = Value(); o.Verify = VerifyMode.Reference; break;
                case "--reference-digests": o.ReferenceDigests = Value(); o.Verify = VerifyMode.Digests; break;
                case "--make-digests": o.MakeDigests = Value(); break;
                case "--verify": o.Verify = Choice(("sha1", VerifyMode.Sha1), ("reference", VerifyMode.Reference)); break;
                case "--transport": o.Transport = Choice(("tcp", TransportKind.Tcp), ("utp", TransportKind.Utp)); break;
                case "--join": o.Join = Choice(("v1", JoinKind.V1), ("v2", JoinKind.V2)); break;
                case "--complete": o.Complete = true; break;
                case "--rc4": o.Rc4 = true; break;
                case "--handshakes": o.Handshakes = true; break;
                case "--connect-timeout": o.ConnectTimeoutSeconds = Seconds(1, 600); break;
                default: throw new ArgumentException($"unknown flag {flag}");
            }
        }
        if (o.TorrentPath.Length == 0) throw new ArgumentException("--torrent is required");
        if (o.MakeDigests is not null && o.ReferenceFile is null) throw new ArgumentException("--make-digests needs --reference-file (the content to digest)");
        if (o.ReferenceDigests is not null && (o.ReferenceFile is not null || o.Verify != VerifyMode.Digests))
            throw new ArgumentException("--reference-digests is a verification mode of its own: drop --reference-file and --verify");
        // uTP peers each own a UDP port with two threads: fine for the swarms measured (up to a few hundred), not for
        // ten thousand idle connections or a stream of short-lived ones.
        if (o.Transport == TransportKind.Utp && (o.IdleConnections > 0 || o.Handshakes))
            throw new ArgumentException("--transport utp is for the load and complete modes, not --idle or --handshakes");
        return o;
    }

    // Connection i binds 127.0.a.b so that seeders with a per-IP limit accept every connection.
    public IPAddress? SourceAddress(int connection)
    {
        if (PerSourceAddress == 0) return null;
        var slot = connection / PerSourceAddress;
        return new IPAddress(new byte[] { 127, 0, (byte)(slot / 250), (byte)(1 + slot % 250) });
    }
}

/// <summary>How a received piece is checked; each checks every byte of every piece.</summary>
public enum VerifyMode
{
    /// <summary>SHA-1 of every received piece.</summary>
    Sha1,

    /// <summary>SHA-1 of a piece's first receipt in the run; byte comparison with those verified bytes afterwards.</summary>
    Reference,

    /// <summary>CRC-32C of every block against a table made from the content before the run (--reference-digests).</summary>
    Digests,
}

/// <summary>The info-hash a connection joins with: a hybrid torrent (BEP 52) is one swarm reached by either.</summary>
public enum JoinKind
{
    /// <summary>The SHA-1 info-hash.</summary>
    V1,

    /// <summary>The SHA-256 info-hash cut to 20 bytes, with the v2 reserved bit.</summary>
    V2,
}
