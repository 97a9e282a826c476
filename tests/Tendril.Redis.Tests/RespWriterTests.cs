using System.Buffers;
using System.Text;
using Tendril.Redis.Internal;

namespace Tendril.Redis.Tests;

public class RespWriterTests
{
    [Fact]
    public void Commands_are_arrays_of_bulk_strings()
    {
        var output = new ArrayBufferWriter<byte>();
        RespWriter.WriteCommand(output, "SET", ["clé", 42L, -7, new byte[] { 0, 13, 10, 255 }, (ReadOnlyMemory<byte>)"xy"u8.ToArray(), ""]);
        var expected = "*7\r\n$3\r\nSET\r\n$4\r\ncl\u00c3\u00a9\r\n$2\r\n42\r\n$2\r\n-7\r\n$4\r\n\0\r\n\u00ff\r\n$2\r\nxy\r\n$0\r\n\r\n";
        Assert.Equal(Encoding.Latin1.GetBytes(expected), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Large_arguments_are_written_whole()
    {
        var payload = new byte[200_000];
        new Random(3).NextBytes(payload);
        var output = new ArrayBufferWriter<byte>(16);
        RespWriter.WriteCommand(output, "SET", ["k", payload]);
        var header = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n"u8.ToArray();
        Assert.Equal(header, output.WrittenSpan[..header.Length].ToArray());
        Assert.Equal(payload, output.WrittenSpan.Slice(header.Length, payload.Length).ToArray());
        Assert.Equal("\r\n"u8.ToArray(), output.WrittenSpan[^2..].ToArray());
    }

    [Fact]
    public void Endpoints_are_parsed()
    {
        Assert.Equal("127.0.0.1:6380", EndPointParser.Parse("127.0.0.1:6380").ToString());
        Assert.Equal("[::1]:7000", EndPointParser.Parse("[::1]:7000").ToString());
        Assert.Equal("[::1]:6379", EndPointParser.Parse("::1").ToString());
        Assert.Equal("Unspecified/redis.example:6379", EndPointParser.Parse("redis.example").ToString());
        Assert.Equal("/run/redis.sock", EndPointParser.Parse("/run/redis.sock").ToString());
        Assert.Throws<ArgumentException>(() => EndPointParser.Parse("host:99999"));
        Assert.Throws<ArgumentException>(() => EndPointParser.Parse(":6379"));
    }

    [Fact]
    public void Invalid_options_are_refused_up_front()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RedisClient(new RedisClientOptions { CommandTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RedisClient(new RedisClientOptions { Database = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RedisClient(new RedisClientOptions { ReconnectMinDelay = TimeSpan.FromSeconds(2), ReconnectMaxDelay = TimeSpan.FromSeconds(1) }));
        Assert.Throws<ArgumentException>(() => new RedisClient(new RedisClientOptions { ClientName = "has space" }));
        Assert.Throws<ArgumentException>(() => new RedisClient(new RedisClientOptions { EndPoint = "" }));
        Assert.DoesNotContain("hunter2", new RedisClientOptions { Password = "hunter2" }.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Script_sha1_matches_redis()
    {
        // SHA1("return 1") as SCRIPT LOAD reports it.
        Assert.Equal("e0e1f9fabfc9d4800c877a703b823ac0578ff8db", new RedisScript("return 1").Sha1Hex);
    }
}
