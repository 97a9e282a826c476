namespace Tendril.Xml;

/// <summary>A node of a parsed or built XML fragment: an element or a run of character data.</summary>
public abstract class XmlNode
{
    private protected XmlNode() { }
}

/// <summary>Character data (already unescaped).</summary>
public sealed class XmlText(string value) : XmlNode
{
    public string Value { get; } = value;

    public override string ToString() => Value;
}

/// <summary>
/// An attribute. <see cref="Name"/> is the local name; <see cref="Namespace"/> is empty for
/// unqualified attributes and <see cref="XmlNamespaces.Xml"/> for <c>xml:lang</c> and friends.
/// Namespace declarations (<c>xmlns</c>, <c>xmlns:p</c>) are never attributes: the parser resolves them.
/// </summary>
public readonly record struct XmlAttribute(string Name, string Value, string Namespace = "");

public static class XmlNamespaces
{
    public const string Xml = "http://www.w3.org/XML/1998/namespace";
    public const string Xmlns = "http://www.w3.org/2000/xmlns/";
}
