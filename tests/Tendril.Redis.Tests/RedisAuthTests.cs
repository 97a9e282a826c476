using Tendril.Tests.Support;

namespace Tendril.Redis.Tests;

/// <summary>AUTH against a redis-server with requirepass and an ACL user.</summary>
public sealed class RedisAuthTests : IDisposable
{
    private const string Password = "s3cret pass";
    private readonly RedisServer _redis = RedisServer.StartWith("--requirepass", Password, "--user", "alice", "on", ">alice-pw", "~app:*", "&*", "+@all");

    public void Dispose() => _redis.Dispose();

    [Fact]
    public async Task The_right_password_authenticates_both_connections_and_survives_a_restart()
    {
        await using var client = new RedisClient(new RedisClientOptions
        {
            EndPoint = _redis.EndPoint,
            Password = Password,
            ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
        });
        await client.ConnectAsync().Within();
        await client.ExecuteAsync("SET", "k", "v").Within();
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sub = await client.SubscribeAsync("c", m => { got.TrySetResult(System.Text.Encoding.UTF8.GetString(m.Span)); return ValueTask.CompletedTask; }).Within();

        var reconnected = Waits.Next(h => client.Reconnected += h);
        _redis.Kill();
        _redis.Start();
        await reconnected.Within(); // re-AUTHenticated both connections
        Assert.Equal(1, await client.PublishAsync("c", "m"u8.ToArray()).Within());
        Assert.Equal("m", await got.Task.Within());
    }

    [Fact]
    public async Task No_password_or_a_wrong_one_fails_to_connect()
    {
        await using var anonymous = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint });
        var noAuth = await Assert.ThrowsAsync<RedisConnectionException>(() => anonymous.ConnectAsync().Within());
        Assert.Contains("NOAUTH", noAuth.Message, StringComparison.Ordinal);

        await using var wrong = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint, Password = "nope" });
        var denied = await Assert.ThrowsAsync<RedisConnectionException>(() => wrong.ConnectAsync().Within());
        Assert.IsType<RedisServerException>(denied.InnerException);
        Assert.Contains("WRONGPASS", denied.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task User_colon_password_authenticates_as_an_acl_user()
    {
        await using var client = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint, Password = "alice:alice-pw" });
        await client.ConnectAsync().Within();
        Assert.Equal("alice", (await client.ExecuteAsync("ACL", "WHOAMI").Within()).AsString());
        await client.ExecuteAsync("SET", "app:x", 1).Within();
        // The ACL applies: alice may not touch other keys.
        var denied = await Assert.ThrowsAsync<RedisServerException>(() => client.ExecuteAsync("SET", "other", 1).Within());
        Assert.StartsWith("NOPERM", denied.Message, StringComparison.Ordinal);
    }
}
