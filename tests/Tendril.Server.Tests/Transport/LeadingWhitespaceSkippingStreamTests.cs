using System.Text;
using Tendril.Server.Transport;

namespace Tendril.Server.Tests.Transport;

/// <summary>The clear-text layer under STARTTLS drops whitespace before the ClientHello, on the sync and async paths alike.</summary>
public sealed class LeadingWhitespaceSkippingStreamTests
{
    private static byte[] Bytes(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void Sync_reads_skip_leading_whitespace_then_pass_through()
    {
        using var stream = new LeadingWhitespaceSkippingStream(new MemoryStream(Bytes("\r\n \t\u0016\u0003 \nrest")));
        var buffer = new byte[64];
        var n = stream.Read(buffer, 0, buffer.Length);
        Assert.Equal("\u0016\u0003 \nrest", Encoding.ASCII.GetString(buffer, 0, n)); // whitespace after the first byte is data
    }

    [Fact]
    public async Task Async_reads_skip_whitespace_split_over_reads()
    {
        // One byte per read: the first reads are all whitespace and must not end the stream.
        await using var stream = new LeadingWhitespaceSkippingStream(new OneByteStream(Bytes("\n\n\u0016x")));
        var buffer = new byte[8];
        Assert.Equal(1, await stream.ReadAsync(buffer));
        Assert.Equal(0x16, buffer[0]);
        Assert.Equal(1, await stream.ReadAsync(buffer));
        Assert.Equal((byte)'x', buffer[0]);
        Assert.Equal(0, await stream.ReadAsync(buffer));
    }

    private sealed class OneByteStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }
}
