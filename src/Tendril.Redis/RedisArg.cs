using System.Text;

namespace Tendril.Redis;

/// <summary>One command argument: a UTF-8 string, an integer or raw bytes; sent as a RESP bulk string.</summary>
public readonly struct RedisArg
{
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _number;
    private readonly ArgKind _kind;

    private RedisArg(string text) { ArgumentNullException.ThrowIfNull(text); _text = text; _kind = ArgKind.Text; }
    private RedisArg(long number) { _number = number; _kind = ArgKind.Number; }
    private RedisArg(ReadOnlyMemory<byte> bytes) { _bytes = bytes; _kind = ArgKind.Bytes; }

    public static implicit operator RedisArg(string value) => new(value);
    public static implicit operator RedisArg(long value) => new(value);
    public static implicit operator RedisArg(int value) => new((long)value);
    public static implicit operator RedisArg(ReadOnlyMemory<byte> value) => new(value);
    public static implicit operator RedisArg(byte[] value) => new(new ReadOnlyMemory<byte>(value ?? throw new ArgumentNullException(nameof(value))));

    public static RedisArg FromString(string value) => new(value);
    public static RedisArg FromInt64(long value) => new(value);
    public static RedisArg FromBytes(ReadOnlyMemory<byte> value) => new(value);

    internal ArgKind Kind => _kind;
    internal string Text => _text ?? "";
    internal long Number => _number;
    internal ReadOnlyMemory<byte> Bytes => _bytes;

    public override string ToString() => _kind switch
    {
        ArgKind.Number => _number.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ArgKind.Bytes => Encoding.UTF8.GetString(_bytes.Span),
        _ => Text,
    };

    internal enum ArgKind : byte { Text, Number, Bytes }
}
