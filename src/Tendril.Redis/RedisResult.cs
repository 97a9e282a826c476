using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Tendril.Redis;

/// <summary>The RESP2 reply types.</summary>
public enum RedisResultKind
{
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
}

/// <summary>One RESP2 reply, immutable. Null bulk strings and null arrays have <see cref="IsNull"/> set.</summary>
public sealed class RedisResult
{
    internal static readonly RedisResult NullBulk = new(RedisResultKind.BulkString, null, 0, null);
    internal static readonly RedisResult NullArray = new(RedisResultKind.Array, null, 0, null);
    internal static readonly RedisResult EmptyArray = new(RedisResultKind.Array, null, 0, []);
    internal static readonly RedisResult EmptyBulk = new(RedisResultKind.BulkString, [], 0, null);
    internal static readonly RedisResult Ok = new(RedisResultKind.SimpleString, "OK"u8.ToArray(), 0, null);
    internal static readonly RedisResult MessageBulk = new(RedisResultKind.BulkString, "message"u8.ToArray(), 0, null);
    internal static readonly RedisResult Queued = new(RedisResultKind.SimpleString, "QUEUED"u8.ToArray(), 0, null);
    private static readonly RedisResult[] SmallIntegers = CreateSmallIntegers();

    private readonly byte[]? _bytes;
    private readonly long _integer;
    private readonly RedisResult[]? _items;

    private RedisResult(RedisResultKind kind, byte[]? bytes, long integer, RedisResult[]? items)
    {
        Kind = kind;
        _bytes = bytes;
        _integer = integer;
        _items = items;
    }

    public RedisResultKind Kind { get; }

    /// <summary>A null bulk string (<c>$-1</c>) or null array (<c>*-1</c>).</summary>
    public bool IsNull => Kind switch
    {
        RedisResultKind.BulkString => _bytes is null,
        RedisResultKind.Array => _items is null,
        _ => false,
    };

    /// <summary>The elements of an array reply; empty for a null array or any other kind.</summary>
    public IReadOnlyList<RedisResult> Items => _items ?? [];

    internal RedisResult[] ItemsArray => _items ?? [];

    /// <summary>Text of a simple string, error or bulk string (UTF-8), an integer's digits; null for nulls and arrays.</summary>
    public string? AsString() => Kind switch
    {
        RedisResultKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        RedisResultKind.Array => null,
        _ => _bytes is null ? null : Encoding.UTF8.GetString(_bytes),
    };

    /// <summary>An integer reply, or a string reply holding a base-10 integer.</summary>
    /// <exception cref="InvalidCastException">The reply is no integer.</exception>
    public long AsInt64()
    {
        if (Kind == RedisResultKind.Integer) return _integer;
        if (_bytes is not null && Kind != RedisResultKind.Error
            && Utf8Parser.TryParse(_bytes, out long value, out int consumed) && consumed == _bytes.Length)
            return value;
        throw new InvalidCastException($"A {Kind} reply{(IsNull ? " (null)" : "")} is not an integer.");
    }

    /// <summary>The bytes of a string or error reply; empty for nulls, integers and arrays.</summary>
    public ReadOnlyMemory<byte> AsBytes() => _bytes;

    public override string ToString() => Kind switch
    {
        RedisResultKind.Array => IsNull ? "(nil array)" : $"[{string.Join(", ", Items)}]",
        _ when IsNull => "(nil)",
        RedisResultKind.Error => "(error) " + AsString(),
        _ => AsString() ?? "",
    };

    internal static RedisResult SimpleString(byte[] bytes) => new(RedisResultKind.SimpleString, bytes, 0, null);

    internal static RedisResult Error(byte[] bytes) => new(RedisResultKind.Error, bytes, 0, null);

    internal static RedisResult Error(string message) => new(RedisResultKind.Error, Encoding.UTF8.GetBytes(message), 0, null);

    internal static RedisResult Bulk(byte[] bytes) => bytes.Length == 0 ? EmptyBulk : new(RedisResultKind.BulkString, bytes, 0, null);

    internal static RedisResult Array(RedisResult[] items) => items.Length == 0 ? EmptyArray : new(RedisResultKind.Array, null, 0, items);

    internal static RedisResult Integer(long value) =>
        (ulong)(value + 1) < (ulong)SmallIntegers.Length ? SmallIntegers[value + 1] : new(RedisResultKind.Integer, null, value, null);

    private static RedisResult[] CreateSmallIntegers()
    {
        var cache = new RedisResult[258];
        for (int i = 0; i < cache.Length; i++) cache[i] = new RedisResult(RedisResultKind.Integer, null, i - 1, null);
        return cache;
    }
}
