using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;

namespace Tendril.Server.Tests.Mam;

/// <summary>
/// Issue 18: during a PostgreSQL outage the sender's archive listed every message to an offline contact, although the
/// server had answered most of them with internal-server-error — a client syncing its archive showed them as sent. A
/// message the server bounces to its sender is archived on neither side; what was accepted is archived on both.
/// </summary>
public sealed class MamBounceTests : ImTestBase
{
    private volatile bool _offlineDown;

    protected override void Configure(Configuration.TendrilOptions options) => options.Mam.MaxPageSize = 1000;

    protected override Task<TestServer> StartServerAsync() =>
        TestServer.StartAsync(Configure, wrapStorage: inner => new SwitchedStorage(inner, this));

    /// <summary>The real storage, with offline stores refused as an unreachable database refuses them, while the switch is on.</summary>
    private sealed class SwitchedStorage(IStorage inner, MamBounceTests test) : PassThroughStorage(inner)
    {
        private readonly SwitchedOffline _offline = new(inner.Offline, test);
        public override IOfflineStore Offline => _offline;
    }

    private sealed class SwitchedOffline(IOfflineStore inner, MamBounceTests test) : IOfflineStore
    {
        public ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default) =>
            test._offlineDown ? throw new StorageException("PostgreSQL store offline message failed: connection refused (injected)") : inner.StoreAsync(domain, username, stanza, storedAt, maxPerUser, cancellationToken);
        public ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default) => inner.CountAsync(domain, username, cancellationToken);
        public ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default) => inner.ListAsync(domain, username, max, cancellationToken);
        public ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default) => inner.DeleteAsync(domain, username, ids, cancellationToken);
    }

    [Fact]
    public async Task A_message_bounced_because_offline_storage_failed_is_archived_on_neither_side()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        // nurse stays offline: her messages go to offline storage.
        await juliet.SendAsync("<message to='nurse@localhost' type='chat' id='n1'><body>n1</body></message>");
        Assert.Empty(await DrainAsync(juliet)); // n1 handled (stored) before the switch
        _offlineDown = true;
        await juliet.SendAsync("<message to='nurse@localhost' type='chat' id='n2'><body>n2</body></message>");
        var refused = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "n2");
        AssertError(refused, "internal-server-error", "wait");
        Assert.Null(refused.Element("stanza-id", "urn:xmpp:sid:0")); // not in nurse's archive: not stamped by her
        // Live delivery does not need the store: archived as ever.
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='r1'><body>r1</body></message>");
        await romeo.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "r1");
        _offlineDown = false;
        await juliet.SendAsync("<message to='nurse@localhost' type='chat' id='n3'><body>n3</body></message>");
        // No such account: service-unavailable (RFC 6121 §8.5.1), not archived as sent either.
        await juliet.SendAsync("<message to='nobody@localhost' type='chat' id='x1'><body>x1</body></message>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "x1"), "service-unavailable", "cancel");

        Assert.Equal(["n1", "r1", "n3"], await MamArchiveWriterTests.ArchivedBodiesAsync(juliet));
        Assert.Equal(["r1"], await MamArchiveWriterTests.ArchivedBodiesAsync(romeo));
        await using var nurse = await LoginAsync("nurse");
        var offline = (await DrainAsync(nurse)).Where(e => e.Name == "message").Select(e => e.GetAttribute("id")).ToList();
        Assert.Equal(["n1", "n3"], offline);
        Assert.Equal(["n1", "n3"], await MamArchiveWriterTests.ArchivedBodiesAsync(nurse));
    }

    [Fact]
    public async Task The_error_for_a_message_to_a_missing_account_carries_no_stanza_id_in_its_name()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<message to='nobody@localhost' type='chat' id='x1'><body>x1</body></message>");
        var bounced = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "x1");
        AssertError(bounced, "service-unavailable", "cancel");
        // XEP-0359 §3: only the entity that archived a stanza stamps it; nobody archived this one.
        Assert.Null(bounced.Element("stanza-id", "urn:xmpp:sid:0"));
    }
}
