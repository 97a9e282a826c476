using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>The XEP-0115 §5.1 verification string ("ver") of a disco#info answer: for checking clients' caps and for the server's own.</summary>
public static class EntityCapsHash
{
    /// <summary>True when <paramref name="name"/> is a hash function this server computes.</summary>
    public static bool IsSupported(string? name) => HashFunction(name) is not null;

    /// <summary>The hash functions of §5.1 step 8 that are supported (IANA names); sha-1 is mandatory (§8.4).</summary>
    private static Func<byte[], byte[]>? HashFunction(string? name) => name switch
    {
        "sha-1" => SHA1.HashData,
        "sha-256" => SHA256.HashData,
        "sha-384" => SHA384.HashData,
        "sha-512" => SHA512.HashData,
        "md5" => MD5.HashData,
        _ => null,
    };

    /// <summary>
    /// The verification string of a disco#info &lt;query/&gt; (XEP-0115 §5.1), or null when the hash function is not
    /// supported or the answer is ill-formed (§5.4 steps 3.3–3.5: a repeated identity, feature or FORM_TYPE, or a
    /// FORM_TYPE that is not hidden). Sorting is ordinal ("i;octet").
    /// </summary>
    public static string? ComputeVer(XmlElement query, string hashName)
    {
        if (HashFunction(hashName) is not { } hash) return null;
        var identities = new List<(string Category, string Type, string Lang, string Name)>();
        foreach (var i in query.Elements("identity", Ns.DiscoInfo))
        {
            identities.Add((i.GetAttribute("category") ?? "", i.GetAttribute("type") ?? "", i.GetAttribute("lang", XmlNamespaces.Xml) ?? "", i.GetAttribute("name") ?? ""));
        }
        if (identities.Distinct().Count() != identities.Count) return null;
        identities.Sort((a, b) =>
        {
            var c = string.CompareOrdinal(a.Category, b.Category);
            if (c == 0) c = string.CompareOrdinal(a.Type, b.Type);
            if (c == 0) c = string.CompareOrdinal(a.Lang, b.Lang);
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        var features = new List<string>();
        foreach (var f in query.Elements("feature", Ns.DiscoInfo)) features.Add(f.GetAttribute("var") ?? "");
        if (features.Distinct(StringComparer.Ordinal).Count() != features.Count) return null;
        features.Sort(string.CompareOrdinal);
        var forms = new List<(string FormType, XmlElement Form)>();
        foreach (var x in query.Elements("x", DataForm.Namespace))
        {
            XmlElement? formType = null;
            foreach (var field in x.Elements("field", DataForm.Namespace))
            {
                if (field.GetAttribute("var") == "FORM_TYPE") formType = field;
            }
            if (formType is null) continue; // a form without FORM_TYPE is not part of the hash
            if (formType.GetAttribute("type") != "hidden") return null;
            forms.Add((formType.Element("value", DataForm.Namespace)?.Text ?? "", x));
        }
        if (forms.Select(f => f.FormType).Distinct(StringComparer.Ordinal).Count() != forms.Count) return null;
        forms.Sort((a, b) => string.CompareOrdinal(a.FormType, b.FormType));

        var s = new StringBuilder();
        foreach (var (category, type, lang, name) in identities) s.Append(category).Append('/').Append(type).Append('/').Append(lang).Append('/').Append(name).Append('<');
        foreach (var f in features) s.Append(f).Append('<');
        foreach (var (formType, form) in forms)
        {
            s.Append(formType).Append('<');
            var fields = new List<(string Var, List<string> Values)>();
            foreach (var field in form.Elements("field", DataForm.Namespace))
            {
                var var = field.GetAttribute("var") ?? "";
                if (var == "FORM_TYPE") continue;
                var values = new List<string>();
                foreach (var v in field.Elements("value", DataForm.Namespace)) values.Add(v.Text);
                values.Sort(string.CompareOrdinal);
                fields.Add((var, values));
            }
            fields.Sort((a, b) => string.CompareOrdinal(a.Var, b.Var));
            foreach (var (var, values) in fields)
            {
                s.Append(var).Append('<');
                foreach (var v in values) s.Append(v).Append('<');
            }
        }
        return Convert.ToBase64String(hash(Encoding.UTF8.GetBytes(s.ToString())));
    }
}
