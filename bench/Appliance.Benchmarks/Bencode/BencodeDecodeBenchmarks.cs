using Appliance.Protocol.Bencode;
using Appliance.Protocol.Metainfo;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Bencode;

/// <summary>Decoding a large multi-file .torrent (thousands of files): the DOM, the zero-allocation reader, full metainfo validation.</summary>
[MemoryDiagnoser]
public class BencodeDecodeBenchmarks
{
    private byte[] _torrent = [];

    [Params(5_000)]
    public int Files { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        const int pieceLength = 256 * 1024;
        var files = new List<TorrentFile>(Files);
        long offset = 0;
        var random = new Random(42);
        for (int i = 0; i < Files; i++)
        {
            long length = random.Next(0, 4 * 1024 * 1024);
            files.Add(new TorrentFile([$"season-{i / 500:D2}", $"disc-{i / 50 % 10}", $"file-{i:D5}.bin"], length, offset));
            offset += length;
        }
        int pieces = (int)((offset + pieceLength - 1) / pieceLength);
        var hashes = new byte[pieces * 20];
        random.NextBytes(hashes);
        _torrent = MetainfoWriter.Encode(new MetainfoDraft("large", pieceLength, hashes, files, IsMultiFile: true)
        {
            AnnounceTiers = [["http://127.0.0.1:6969/announce"]],
        });
    }

    [Benchmark]
    public int DocumentParse() => BencodeDocument.Parse(_torrent).Root["info"u8]["files"u8].Count;

    /// <summary>Every token of the document through the forward-only reader: must be 0 B/op.</summary>
    [Benchmark]
    public int ReaderWalk()
    {
        var reader = new BencodeReader(_torrent, BencodeLimits.Default with { MaxTokens = int.MaxValue });
        int tokens = 0;
        while (reader.Read()) tokens++;
        return reader.IsComplete ? tokens : -1;
    }

    [Benchmark]
    public int MetainfoParse() => TorrentMetainfo.Parse(_torrent).Files.Count;
}
