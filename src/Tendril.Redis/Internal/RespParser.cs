using System.Buffers;
using System.Buffers.Text;

namespace Tendril.Redis.Internal;

/// <summary>Malformed RESP from the server: the connection cannot be trusted any more and is closed.</summary>
internal sealed class RespProtocolException : Exception
{
    public RespProtocolException() { }
    public RespProtocolException(string message) : base(message) { }
    public RespProtocolException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// RESP2 reply parser (https://redis.io/docs/latest/develop/reference/protocol-spec/). Consumes nothing on incomplete
/// input: the reader is advanced only past a complete reply, so the caller can mark the rest examined and wait for
/// more bytes. Malformed input throws <see cref="RespProtocolException"/>.
/// </summary>
internal static class RespParser
{
    /// <summary>Longest line (type byte to CRLF) of a simple string, error, integer or length header.</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Redis' own proto-max-bulk-len default.</summary>
    public const long MaxBulkBytes = 512L * 1024 * 1024;

    public const int MaxArrayLength = 16 * 1024 * 1024;

    public const int MaxDepth = 32;

    /// <summary>Parses one complete reply, advancing <paramref name="reader"/> past it; false (reader untouched) when incomplete.</summary>
    public static bool TryParse(ref SequenceReader<byte> reader, out RedisResult result)
    {
        var copy = reader;
        if (!TryParseValue(ref copy, 0, out result!)) return false;
        reader = copy;
        return true;
    }

    private static bool TryParseValue(ref SequenceReader<byte> reader, int depth, out RedisResult? result)
    {
        result = null;
        if (!reader.TryRead(out byte type)) return false;
        switch (type)
        {
            case (byte)'+':
                if (!TryReadLine(ref reader, out var simple)) return false;
                result = simple.SequenceEqual("OK"u8) ? RedisResult.Ok
                    : simple.SequenceEqual("QUEUED"u8) ? RedisResult.Queued
                    : RedisResult.SimpleString(simple.ToArray());
                return true;
            case (byte)'-':
                if (!TryReadLine(ref reader, out var error)) return false;
                result = RedisResult.Error(error.ToArray());
                return true;
            case (byte)':':
                if (!TryReadLine(ref reader, out var digits)) return false;
                result = RedisResult.Integer(ParseInteger(digits));
                return true;
            case (byte)'$':
                return TryParseBulk(ref reader, out result);
            case (byte)'*':
                return TryParseArray(ref reader, depth, out result);
            default:
                throw new RespProtocolException($"Unexpected RESP type byte 0x{type:X2}.");
        }
    }

    private static bool TryParseBulk(ref SequenceReader<byte> reader, out RedisResult? result)
    {
        result = null;
        if (!TryReadLine(ref reader, out var header)) return false;
        long length = ParseInteger(header);
        if (length == -1)
        {
            result = RedisResult.NullBulk;
            return true;
        }
        if (length < 0 || length > MaxBulkBytes) throw new RespProtocolException($"Bulk length {length} out of range.");
        if (reader.Remaining < length + 2) return false;
        // Every pub/sub push starts with "message": shared instead of allocated per message.
        if (length == 7 && reader.IsNext("message\r\n"u8, advancePast: true))
        {
            result = RedisResult.MessageBulk;
            return true;
        }
        var bytes = length == 0 ? [] : new byte[length];
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        if (!reader.IsNext("\r\n"u8, advancePast: true)) throw new RespProtocolException("Bulk string not terminated by CRLF.");
        result = RedisResult.Bulk(bytes);
        return true;
    }

    private static bool TryParseArray(ref SequenceReader<byte> reader, int depth, out RedisResult? result)
    {
        result = null;
        if (!TryReadLine(ref reader, out var header)) return false;
        long count = ParseInteger(header);
        if (count == -1)
        {
            result = RedisResult.NullArray;
            return true;
        }
        if (count < 0 || count > MaxArrayLength) throw new RespProtocolException($"Array length {count} out of range.");
        if (depth >= MaxDepth) throw new RespProtocolException("Arrays nested too deeply.");
        // Every element takes at least 3 bytes ("+\r\n"): do not allocate for elements that have not arrived.
        if (reader.Remaining < count * 3) return false;
        var items = count == 0 ? [] : new RedisResult[count];
        for (int i = 0; i < items.Length; i++)
        {
            if (!TryParseValue(ref reader, depth + 1, out var item)) return false;
            items[i] = item!;
        }
        result = RedisResult.Array(items);
        return true;
    }

    /// <summary>Reads up to CRLF (exclusive) and past it. A bare LF or CR inside the line is malformed.</summary>
    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySpan<byte> line)
    {
        if (!reader.TryReadTo(out line, (byte)'\n', advancePastDelimiter: true))
        {
            line = default;
            if (reader.Remaining > MaxLineBytes) throw new RespProtocolException("RESP line too long.");
            return false;
        }
        if (line.Length == 0 || line[^1] != (byte)'\r') throw new RespProtocolException("RESP line not terminated by CRLF.");
        line = line[..^1];
        if (line.Length > MaxLineBytes) throw new RespProtocolException("RESP line too long.");
        if (line.IndexOf((byte)'\r') >= 0) throw new RespProtocolException("Bare CR in a RESP line.");
        return true;
    }

    private static long ParseInteger(ReadOnlySpan<byte> digits)
    {
        // Utf8Parser accepts a leading '+' and nothing else odd for the 'D' format; RESP integers never carry '+'.
        if (digits.Length == 0 || digits[0] == (byte)'+'
            || !Utf8Parser.TryParse(digits, out long value, out int consumed, 'D') || consumed != digits.Length)
            throw new RespProtocolException("Malformed RESP integer.");
        return value;
    }
}
