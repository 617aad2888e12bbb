using System.Buffers;
using System.Text;

namespace Appliance.Networking.Http;

/// <summary>
/// The response a handler fills: status, content type, extra headers, and a body written to <see cref="Body"/>
/// (an <see cref="IBufferWriter{T}"/>) or <see cref="BodyStream"/>. The server adds Content-Length and Connection.
/// </summary>
public sealed class HttpResponse
{
    private readonly ArrayBufferWriter<byte> _body = new(4096);
    private readonly List<KeyValuePair<string, string>> _headers = [];
    private BufferWriterStream? _stream;

    public int StatusCode { get; set; } = 200;

    public string ContentType { get; set; } = "text/plain; charset=utf-8";

    public IBufferWriter<byte> Body => _body;

    /// <summary>A write-only stream over <see cref="Body"/> for serializers that want a Stream.</summary>
    public Stream BodyStream => _stream ??= new BufferWriterStream(_body);

    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    internal ReadOnlyMemory<byte> WrittenBody => _body.WrittenMemory;

    internal int BodyCapacity => _body.Capacity;

    public void AddHeader(string name, string value)
    {
        if (name.AsSpan().IndexOfAny('\r', '\n') >= 0 || value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            throw new ArgumentException("header names and values cannot contain CR or LF");
        _headers.Add(new(name, value));
    }

    public void Write(ReadOnlySpan<byte> bytes) => _body.Write(bytes);

    public void Write(string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        int n = Encoding.UTF8.GetBytes(text, _body.GetSpan(max));
        _body.Advance(n);
    }

    /// <summary>Clears status, headers and body (used between keep-alive requests and when a handler fails mid-way).</summary>
    internal void Reset()
    {
        StatusCode = 200;
        ContentType = "text/plain; charset=utf-8";
        _headers.Clear();
        _body.ResetWrittenCount();
    }

    private sealed class BufferWriterStream(IBufferWriter<byte> writer) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => writer.Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => writer.Write(buffer);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            writer.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            writer.Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }
    }
}
