using System.Text;

namespace Tendril.Xml;

/// <summary>
/// Maps UTF-8 byte sequences to shared string instances so that common names, namespaces and attribute
/// values of XMPP traffic are not allocated per stanza.
/// </summary>
/// <remarks>
/// <see cref="Shared"/> is built once and never modified (safe to read from any thread). Each parser adds a
/// small, bounded, direct-mapped <see cref="Cache"/> on top for names the static table does not know (custom
/// extension elements seen repeatedly on one stream); a miss there only costs the string that would have been
/// allocated anyway, and the cache cannot grow, so a peer cannot inflate it.
/// </remarks>
internal sealed class NameTable
{
    private readonly Entry?[] _buckets;
    private readonly int _mask;

    private sealed class Entry(byte[] utf8, string value, Entry? next)
    {
        public readonly byte[] Utf8 = utf8;
        public readonly string Value = value;
        public readonly Entry? Next = next;
    }

    private NameTable(IEnumerable<string> values)
    {
        var size = 512;
        _buckets = new Entry?[size];
        _mask = size - 1;
        foreach (var v in values)
        {
            var bytes = Encoding.UTF8.GetBytes(v);
            if (Lookup(bytes) is not null) continue;
            var b = Hash(bytes) & _mask;
            _buckets[b] = new Entry(bytes, v, _buckets[b]);
        }
    }

    public static NameTable Shared { get; } = new(KnownStrings.All);

    public static int Hash(ReadOnlySpan<byte> utf8)
    {
        var h = new HashCode();
        h.AddBytes(utf8);
        return h.ToHashCode();
    }

    public string? Lookup(ReadOnlySpan<byte> utf8) => Lookup(utf8, Hash(utf8));

    public string? Lookup(ReadOnlySpan<byte> utf8, int hash)
    {
        for (var e = _buckets[hash & _mask]; e is not null; e = e.Next)
        {
            if (utf8.SequenceEqual(e.Utf8)) return e.Value;
        }
        return null;
    }

    /// <summary>Per-parser direct-mapped cache in front of <see cref="Shared"/>.</summary>
    internal sealed class Cache
    {
        private const int Size = 128;
        private const int MaxCachedLength = 64;
        // Allocated on the first miss: most streams only ever use names of the static table (a heap walk of 3,000
        // idle sessions found every cache empty), and 128 slots are 1 KiB per connection.
        private Entry?[]? _slots;

        /// <summary>Returns a string for <paramref name="utf8"/> (valid UTF-8), shared when possible.</summary>
        public string Get(ReadOnlySpan<byte> utf8)
        {
            if (utf8.IsEmpty) return string.Empty;
            var hash = Hash(utf8);
            var known = Shared.Lookup(utf8, hash);
            if (known is not null) return known;
            if (utf8.Length > MaxCachedLength) return Encoding.UTF8.GetString(utf8);
            var slots = _slots ??= new Entry?[Size];
            var slot = (int)((uint)hash % Size);
            var e = slots[slot];
            if (e is not null && utf8.SequenceEqual(e.Utf8)) return e.Value;
            var s = Encoding.UTF8.GetString(utf8);
            slots[slot] = new Entry(utf8.ToArray(), s, null);
            return s;
        }

        /// <summary>Like <see cref="Get"/> but only consults the static table (for attribute values: ids would thrash the cache).</summary>
        public static string GetValue(ReadOnlySpan<byte> utf8)
        {
            if (utf8.IsEmpty) return string.Empty;
            if (utf8.Length <= 48)
            {
                var known = Shared.Lookup(utf8);
                if (known is not null) return known;
            }
            return Encoding.UTF8.GetString(utf8);
        }

        /// <summary>Returns a shared instance for a string built from characters, when one is known.</summary>
        public static string GetValue(ReadOnlySpan<char> chars)
        {
            if (chars.IsEmpty) return string.Empty;
            if (chars.Length <= 48 && Ascii.IsValid(chars))
            {
                Span<byte> tmp = stackalloc byte[48];
                var n = Encoding.ASCII.GetBytes(chars, tmp);
                var known = Shared.Lookup(tmp[..n]);
                if (known is not null) return known;
            }
            return new string(chars);
        }
    }
}

/// <summary>Names, namespaces and values that occur in most XMPP traffic.</summary>
internal static class KnownStrings
{
    public static readonly string[] All =
    [
        // prefixes
        "stream", "xml", "db", "xmlns",
        // namespaces
        XmlNamespaces.Xml, XmlNamespaces.Xmlns,
        "jabber:client", "jabber:server", "jabber:component:accept", "jabber:server:dialback",
        "http://etherx.jabber.org/streams", "urn:ietf:params:xml:ns:xmpp-streams", "urn:ietf:params:xml:ns:xmpp-stanzas",
        "urn:ietf:params:xml:ns:xmpp-tls", "urn:ietf:params:xml:ns:xmpp-sasl", "urn:ietf:params:xml:ns:xmpp-bind",
        "urn:ietf:params:xml:ns:xmpp-session", "urn:ietf:params:xml:ns:xmpp-framing", "http://jabber.org/protocol/httpbind",
        "urn:xmpp:xbosh", "jabber:iq:roster", "jabber:iq:version", "jabber:iq:private", "jabber:iq:register", "jabber:iq:last",
        "jabber:iq:privacy", "jabber:x:data", "jabber:x:oob", "jabber:x:conference", "vcard-temp", "vcard-temp:x:update",
        "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/chatstates", "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
        "http://jabber.org/protocol/muc#admin", "http://jabber.org/protocol/muc#owner", "http://jabber.org/protocol/pubsub",
        "http://jabber.org/protocol/pubsub#event", "http://jabber.org/protocol/pubsub#owner", "http://jabber.org/protocol/nick",
        "http://jabber.org/protocol/xhtml-im", "http://www.w3.org/1999/xhtml", "http://jabber.org/protocol/address",
        "http://jabber.org/features/iq-register", "http://jabber.org/protocol/rsm", "http://jabber.org/protocol/commands",
        "urn:xmpp:delay", "urn:xmpp:ping", "urn:xmpp:receipts", "urn:xmpp:sm:3", "urn:xmpp:carbons:2", "urn:xmpp:mam:2",
        "urn:xmpp:sid:0", "urn:xmpp:time", "urn:xmpp:forward:0", "urn:xmpp:chat-markers:0", "urn:xmpp:hints", "urn:xmpp:bob",
        "urn:xmpp:blocking", "urn:xmpp:csi:0", "urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata", "urn:xmpp:features:rosterver",
        "urn:xmpp:features:pre-approval", "urn:xmpp:message-correct:0", "urn:xmpp:reply:0", "urn:xmpp:reactions:0",
        "urn:xmpp:eme:0", "urn:xmpp:omemo:2", "eu.siacs.conversations.axolotl", "urn:xmpp:http:upload:0", "urn:xmpp:jingle:1",
        "urn:xmpp:mucsub:0", "urn:xmpp:push:0", "urn:xmpp:idle:1", "urn:xmpp:bookmarks:1", "urn:xmpp:mix:core:1",
        // element names
        "features", "message", "presence", "iq", "body", "subject", "thread", "error", "query", "item", "items", "x", "c",
        "show", "status", "priority", "active", "composing", "paused", "inactive", "gone", "delay", "bind", "session",
        "resource", "jid", "starttls", "proceed", "required", "optional", "auth", "mechanisms", "mechanism", "success",
        "failure", "challenge", "response", "abort", "text", "identity", "feature", "group", "request", "received",
        "markable", "displayed", "acknowledged", "origin-id", "stanza-id", "r", "a", "enable", "enabled", "resume",
        "resumed", "failed", "ping", "vCard", "pubsub", "event", "publish", "retract", "nick", "html", "result",
        "forwarded", "sent", "private", "no-store", "no-copy", "store", "fin", "set", "first", "last", "count", "max",
        "field", "value", "option", "instructions", "title", "reported", "photo", "open", "close", "ver", "sm", "csi",
        "blocklist", "block", "unblock", "replace", "reply", "reactions", "reaction", "encrypted", "header", "key", "payload",
        "slot", "put", "get", "url", "desc", "invite", "decline", "reason", "password", "history", "destroy", "actor",
        // stanza error conditions
        "bad-request", "conflict", "feature-not-implemented", "forbidden", "internal-server-error", "item-not-found",
        "jid-malformed", "not-acceptable", "not-allowed", "not-authorized", "policy-violation", "recipient-unavailable",
        "redirect", "registration-required", "remote-server-not-found", "remote-server-timeout", "resource-constraint",
        "service-unavailable", "subscription-required", "undefined-condition", "unexpected-request",
        // attribute names
        "to", "from", "id", "type", "lang", "version", "node", "hash", "name", "subscription", "ask", "category", "var",
        "stamp", "by", "code", "seconds", "xmlns", "h", "previd", "location", "label", "role", "affiliation", "media",
        "xml:lang", "mime-type", "size", "filename", "sid", "rid", "wait", "hold", "ack", "secure", "xmpp:version", "approved",
        // attribute values
        "chat", "groupchat", "normal", "headline", "get", "result", "unavailable", "subscribe", "subscribed", "unsubscribe",
        "unsubscribed", "probe", "available", "away", "xa", "dnd", "1.0", "en", "de", "fr", "true", "false", "both", "none",
        "sha-1", "client", "pc", "phone", "web", "bot", "cancel", "modify", "continue", "remove", "PLAIN", "SCRAM-SHA-1",
        "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "EXTERNAL", "ANONYMOUS", "submit", "form", "hidden",
        "text-single", "list-single", "boolean", "FORM_TYPE", "1", "0", "member", "moderator", "participant", "visitor",
        "owner", "admin", "outcast", "urn:xmpp:dataforms:softwareinfo",
    ];
}
