namespace Tendril.Protocol;

/// <summary>
/// An XMPP address (RFC 7622): <c>[localpart@]domainpart[/resourcepart]</c>, validated and normalized
/// (localpart: UsernameCaseMapped; domainpart: IDNA to Unicode, lower case, NFC; resourcepart: OpaqueString, NFC).
/// Immutable; equality is by normalized parts.
/// </summary>
public sealed class Jid : IEquatable<Jid>
{
    private Jid(string? local, string domain, string? resource) => throw new NotImplementedException();

    public string? Local { get; }
    public string Domain { get; }
    public string? Resource { get; }

    public bool IsBare => Resource is null;
    public bool IsFull => Resource is not null;
    /// <summary>A domain-only JID (a server or component).</summary>
    public bool IsDomain => Local is null && Resource is null;

    public Jid Bare => throw new NotImplementedException();

    public static Jid Parse(string text) => throw new NotImplementedException();
    public static bool TryParse(string? text, out Jid? jid) => throw new NotImplementedException();
    /// <summary>Builds a JID from parts, validating and normalizing each; throws <see cref="FormatException"/>.</summary>
    public static Jid Create(string? local, string domain, string? resource = null) => throw new NotImplementedException();
    public Jid WithResource(string? resource) => throw new NotImplementedException();

    /// <summary>True when <paramref name="resource"/> is a valid resourcepart (used for client-requested resources).</summary>
    public static bool IsValidResource(string resource) => throw new NotImplementedException();

    public bool Equals(Jid? other) => throw new NotImplementedException();
    public override bool Equals(object? obj) => obj is Jid j && Equals(j);
    public override int GetHashCode() => throw new NotImplementedException();
    public override string ToString() => throw new NotImplementedException();
    public static bool operator ==(Jid? a, Jid? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(Jid? a, Jid? b) => !(a == b);
}
