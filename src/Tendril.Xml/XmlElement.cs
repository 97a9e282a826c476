using System.Text;

namespace Tendril.Xml;

/// <summary>
/// A namespace-aware XML element: the unit a stream carries (one per top-level stanza).
/// Names are resolved: <see cref="Name"/> is the local name and <see cref="Namespace"/> the namespace URI;
/// prefixes are not kept (the writer re-declares namespaces as needed).
/// </summary>
/// <remarks>
/// An element is mutable while a handler builds or stamps it; once handed to the router for delivery
/// it must be treated as immutable, because several connections may serialize it concurrently.
/// </remarks>
public sealed class XmlElement : XmlNode
{
    private List<XmlAttribute>? _attributes;
    private List<XmlNode>? _children;

    public XmlElement(string name, string ns = "")
    {
        Name = name;
        Namespace = ns;
    }

    public string Name { get; }

    public string Namespace { get; set; }

    public IReadOnlyList<XmlAttribute> Attributes => (IReadOnlyList<XmlAttribute>?)_attributes ?? [];

    public IReadOnlyList<XmlNode> Children => (IReadOnlyList<XmlNode>?)_children ?? [];

    public bool HasChildren => _children is { Count: > 0 };

    public bool Is(string name, string ns) => Name == name && Namespace == ns;

    // ---- attributes -------------------------------------------------------------------------

    public string? GetAttribute(string name, string ns = "")
    {
        var attrs = _attributes;
        if (attrs is null) return null;
        for (var i = 0; i < attrs.Count; i++)
        {
            var a = attrs[i];
            if (a.Name == name && a.Namespace == ns) return a.Value;
        }
        return null;
    }

    /// <summary>Sets (replaces) an attribute; a null value removes it.</summary>
    public XmlElement SetAttribute(string name, string? value, string ns = "")
    {
        var attrs = _attributes;
        if (attrs is not null)
        {
            for (var i = 0; i < attrs.Count; i++)
            {
                if (attrs[i].Name == name && attrs[i].Namespace == ns)
                {
                    if (value is null) attrs.RemoveAt(i);
                    else attrs[i] = new XmlAttribute(name, value, ns);
                    return this;
                }
            }
        }
        if (value is null) return this;
        (_attributes ??= new List<XmlAttribute>(4)).Add(new XmlAttribute(name, value, ns));
        return this;
    }

    /// <summary>Appends an attribute without checking for duplicates (used by the parser, which checks itself).</summary>
    public void AddAttributeUnchecked(XmlAttribute attribute) => (_attributes ??= new List<XmlAttribute>(4)).Add(attribute);

    public XmlElement RemoveAttribute(string name, string ns = "") => SetAttribute(name, null, ns);

    public int AttributeCount => _attributes?.Count ?? 0;

    // ---- children ---------------------------------------------------------------------------

    public XmlElement Add(XmlNode child)
    {
        (_children ??= new List<XmlNode>(2)).Add(child);
        return this;
    }

    public XmlElement Add(string text) => Add(new XmlText(text));

    /// <summary>Adds a child element and returns the child (for building nested content).</summary>
    public XmlElement AddElement(string name, string? ns = null)
    {
        var child = new XmlElement(name, ns ?? Namespace);
        Add(child);
        return child;
    }

    public bool Remove(XmlNode child) => _children?.Remove(child) ?? false;

    public void RemoveChildren() => _children?.Clear();

    /// <summary>First child element with this name and namespace (namespace null: any), or null.</summary>
    public XmlElement? Element(string name, string? ns = null)
    {
        var children = _children;
        if (children is null) return null;
        for (var i = 0; i < children.Count; i++)
        {
            if (children[i] is XmlElement e && e.Name == name && (ns is null || e.Namespace == ns)) return e;
        }
        return null;
    }

    /// <summary>First child element of any name, or null.</summary>
    public XmlElement? FirstElement()
    {
        var children = _children;
        if (children is null) return null;
        for (var i = 0; i < children.Count; i++)
        {
            if (children[i] is XmlElement e) return e;
        }
        return null;
    }

    public int ElementCount
    {
        get
        {
            var n = 0;
            var children = _children;
            if (children is null) return 0;
            for (var i = 0; i < children.Count; i++) if (children[i] is XmlElement) n++;
            return n;
        }
    }

    /// <summary>Child elements, optionally filtered by name/namespace. Allocation-free enumeration.</summary>
    public ElementEnumerable Elements(string? name = null, string? ns = null) => new(_children, name, ns);

    /// <summary>Concatenated character data of direct text children.</summary>
    public string Text
    {
        get
        {
            var children = _children;
            if (children is null) return string.Empty;
            string? single = null;
            StringBuilder? sb = null;
            for (var i = 0; i < children.Count; i++)
            {
                if (children[i] is not XmlText t) continue;
                if (single is null) single = t.Value;
                else (sb ??= new StringBuilder(single)).Append(t.Value);
            }
            return sb?.ToString() ?? single ?? string.Empty;
        }
    }

    /// <summary>Replaces all children with a single text node.</summary>
    public XmlElement SetText(string text)
    {
        _children?.Clear();
        return Add(new XmlText(text));
    }

    /// <summary>Deep copy: attributes and children are copied; text nodes are shared (immutable).</summary>
    public XmlElement Clone()
    {
        var copy = new XmlElement(Name, Namespace);
        if (_attributes is not null) copy._attributes = new List<XmlAttribute>(_attributes);
        if (_children is not null)
        {
            copy._children = new List<XmlNode>(_children.Count);
            foreach (var c in _children) copy._children.Add(c is XmlElement e ? e.Clone() : c);
        }
        return copy;
    }

    /// <summary>Shallow copy: attributes copied, children shared. Cheap when only attributes (to/from) change.</summary>
    public XmlElement CloneShallow()
    {
        var copy = new XmlElement(Name, Namespace);
        if (_attributes is not null) copy._attributes = new List<XmlAttribute>(_attributes);
        if (_children is not null) copy._children = new List<XmlNode>(_children);
        return copy;
    }

    /// <summary>Serialized form (for logs and tests; the hot path writes through <see cref="XmlWriter"/>).</summary>
    public override string ToString() => XmlWriter.ToXmlString(this);

    /// <summary>
    /// About how many bytes this element takes serialized (names, attributes, namespace declarations, text; escaping
    /// and non-ASCII characters are not counted exactly). For budgets such as a connection's output queue: no
    /// allocation, one walk of the tree.
    /// </summary>
    public long EstimateSize() => EstimateSize(this, parentNs: null);

    private static long EstimateSize(XmlElement e, string? parentNs)
    {
        long size = 2 * e.Name.Length + 5; // <name ...></name>
        if (!ReferenceEquals(e.Namespace, parentNs) && e.Namespace != parentNs) size += e.Namespace.Length + 9; // xmlns='…'
        if (e._attributes is { } attrs)
        {
            for (var i = 0; i < attrs.Count; i++) size += attrs[i].Name.Length + attrs[i].Value.Length + 4;
        }
        if (e._children is { } children)
        {
            for (var i = 0; i < children.Count; i++)
            {
                size += children[i] switch
                {
                    XmlElement child => EstimateSize(child, e.Namespace),
                    XmlText text => text.Value.Length,
                    _ => 0,
                };
            }
        }
        return size;
    }

    public struct ElementEnumerable(List<XmlNode>? children, string? name, string? ns)
    {
        private int _index = -1;

        public readonly ElementEnumerable GetEnumerator() => this;

        public XmlElement Current { get; private set; } = null!;

        public bool MoveNext()
        {
            if (children is null) return false;
            while (++_index < children.Count)
            {
                if (children[_index] is XmlElement e && (name is null || e.Name == name) && (ns is null || e.Namespace == ns))
                {
                    Current = e;
                    return true;
                }
            }
            return false;
        }
    }
}
