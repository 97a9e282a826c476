using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>
/// The XEP-0004 data form operations the server needs — read a submitted form, write a form or result — used by every
/// feature that sends or reads one (pubsub, MAM, push, HTTP upload and contact addresses in disco#info, XEP-0128), so
/// no feature writes <c>jabber:x:data</c> by hand.
/// </summary>
public static class DataForm
{
    public const string Namespace = "jabber:x:data";

    /// <summary>A field of a form being built.</summary>
    public sealed record Field(string Var, string Type, IReadOnlyList<string> Values, string? Label = null, IReadOnlyList<string>? Options = null);

    /// <summary>
    /// Builds &lt;x xmlns='jabber:x:data' type=TYPE&gt;: the optional title and instructions first (XEP-0004 §3.1 order),
    /// then a hidden FORM_TYPE and the fields (field types and labels only where the form type carries them).
    /// </summary>
    public static XmlElement Build(string type, string formType, IEnumerable<Field> fields, string? title = null, string? instructions = null)
    {
        var x = new XmlElement("x", Namespace).SetAttribute("type", type);
        if (title is not null) x.AddElement("title").Add(title);
        if (instructions is not null) x.AddElement("instructions").Add(instructions);
        var ft = x.AddElement("field").SetAttribute("var", "FORM_TYPE").SetAttribute("type", "hidden");
        ft.AddElement("value").Add(formType);
        foreach (var f in fields)
        {
            var e = x.AddElement("field").SetAttribute("var", f.Var);
            if (type != "result" && type != "submit") e.SetAttribute("type", f.Type);
            if (f.Label is not null && type == "form") e.SetAttribute("label", f.Label);
            foreach (var v in f.Values) e.AddElement("value").Add(v);
            if (f.Options is not null && type == "form")
            {
                foreach (var o in f.Options) e.AddElement("option").AddElement("value").Add(o);
            }
        }
        return x;
    }

    /// <summary>
    /// Reads a form of type submit (or result): FORM_TYPE and the fields' values. Returns null when the element is not
    /// a data form, has another type, or names another FORM_TYPE than <paramref name="expectedFormType"/>.
    /// </summary>
    public static Dictionary<string, IReadOnlyList<string>>? ReadSubmit(XmlElement? x, string expectedFormType)
    {
        if (x is null || !x.Is("x", PubSubNs.DataForms)) return null;
        var type = x.GetAttribute("type");
        if (type is not ("submit" or "result")) return null;
        var fields = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var field in x.Elements("field", PubSubNs.DataForms))
        {
            var var = field.GetAttribute("var");
            if (var is null) continue;
            var values = new List<string>();
            foreach (var v in field.Elements("value", PubSubNs.DataForms)) values.Add(v.Text);
            fields[var] = values;
        }
        if (!fields.TryGetValue("FORM_TYPE", out var ft) || ft.Count != 1 || ft[0] != expectedFormType) return null;
        fields.Remove("FORM_TYPE");
        return fields;
    }

    /// <summary>XEP-0004 boolean: "1"/"true" or "0"/"false"; null when neither.</summary>
    public static bool? ParseBool(string? value) => value switch
    {
        "1" or "true" => true,
        "0" or "false" => false,
        _ => null,
    };

    /// <summary>The data form (from a submitted iq) child of <paramref name="parent"/>, if any.</summary>
    public static XmlElement? Find(XmlElement? parent) => parent?.Element("x", PubSubNs.DataForms);
}
