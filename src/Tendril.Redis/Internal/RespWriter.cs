using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Tendril.Redis.Internal;

/// <summary>Writes commands as RESP arrays of bulk strings into a buffer writer.</summary>
internal static class RespWriter
{
    public static void WriteCommand(IBufferWriter<byte> output, string command, ReadOnlySpan<RedisArg> args)
    {
        WriteHeader(output, (byte)'*', args.Length + 1);
        WriteText(output, command);
        foreach (ref readonly var arg in args) WriteArg(output, in arg);
    }

    public static void WriteCommand(IBufferWriter<byte> output, string command, string arg)
    {
        WriteHeader(output, (byte)'*', 2);
        WriteText(output, command);
        WriteText(output, arg);
    }

    private static void WriteArg(IBufferWriter<byte> output, in RedisArg arg)
    {
        switch (arg.Kind)
        {
            case RedisArg.ArgKind.Number:
                Span<byte> digits = stackalloc byte[20];
                Utf8Formatter.TryFormat(arg.Number, digits, out int written);
                WriteBulk(output, digits[..written]);
                break;
            case RedisArg.ArgKind.Bytes:
                WriteBulk(output, arg.Bytes.Span);
                break;
            default:
                WriteText(output, arg.Text);
                break;
        }
    }

    private static void WriteText(IBufferWriter<byte> output, string text)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        WriteHeader(output, (byte)'$', length);
        var span = output.GetSpan(length + 2);
        int written = Encoding.UTF8.GetBytes(text, span);
        span[written] = (byte)'\r';
        span[written + 1] = (byte)'\n';
        output.Advance(written + 2);
    }

    private static void WriteBulk(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        WriteHeader(output, (byte)'$', value.Length);
        if (value.Length <= 4096)
        {
            var span = output.GetSpan(value.Length + 2);
            value.CopyTo(span);
            span[value.Length] = (byte)'\r';
            span[value.Length + 1] = (byte)'\n';
            output.Advance(value.Length + 2);
            return;
        }
        output.Write(value);
        output.Write("\r\n"u8);
    }

    private static void WriteHeader(IBufferWriter<byte> output, byte type, int length)
    {
        var span = output.GetSpan(16);
        span[0] = type;
        Utf8Formatter.TryFormat(length, span[1..], out int written);
        span[1 + written] = (byte)'\r';
        span[2 + written] = (byte)'\n';
        output.Advance(written + 3);
    }
}
