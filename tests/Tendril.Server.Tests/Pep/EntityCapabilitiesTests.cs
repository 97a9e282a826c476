using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.Disco;
using Tendril.Server.Features.Pep;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Pep;

/// <summary>The XEP-0115 §5.1 verification string against the XEP's own examples (§5.2, §5.3) and its §5.4 ill-formed cases.</summary>
public sealed class EntityCapabilitiesTests
{
    private const string X = "jabber:x:data";

    private static XmlElement SimpleExample()
    {
        var q = new XmlElement("query", Ns.DiscoInfo);
        q.AddElement("identity").SetAttribute("category", "client").SetAttribute("name", "Exodus 0.9.1").SetAttribute("type", "pc");
        foreach (var f in new[] { "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc" })
            q.AddElement("feature").SetAttribute("var", f);
        return q;
    }

    private static XmlElement ComplexExample()
    {
        var q = new XmlElement("query", Ns.DiscoInfo);
        q.AddElement("identity").SetAttribute("lang", "en", XmlNamespaces.Xml).SetAttribute("category", "client").SetAttribute("name", "Psi 0.11").SetAttribute("type", "pc");
        q.AddElement("identity").SetAttribute("lang", "el", XmlNamespaces.Xml).SetAttribute("category", "client").SetAttribute("name", "Ψ 0.11").SetAttribute("type", "pc");
        foreach (var f in new[] { "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc" })
            q.AddElement("feature").SetAttribute("var", f);
        var x = q.AddElement("x", X).SetAttribute("type", "result");
        void Field(string var, string? type, params string[] values)
        {
            var field = x.AddElement("field", X).SetAttribute("var", var);
            if (type is not null) field.SetAttribute("type", type);
            foreach (var v in values) field.AddElement("value", X).Add(v);
        }
        // Out of order on purpose: the algorithm sorts.
        Field("os_version", null, "10.5.1");
        Field("FORM_TYPE", "hidden", "urn:xmpp:dataforms:softwareinfo");
        Field("ip_version", null, "ipv6", "ipv4");
        Field("os", null, "Mac");
        Field("software", null, "Psi");
        Field("software_version", null, "0.11");
        return q;
    }

    [Fact]
    public void Simple_example_of_section_5_2() =>
        Assert.Equal("QgayPKawpkPSDYmwT/WM94uAlu0=", EntityCapsHash.ComputeVer(SimpleExample(), "sha-1"));

    [Fact]
    public void Complex_example_of_section_5_3_with_languages_and_a_form() =>
        Assert.Equal("q07IKJEyjvHSyhy//CH0CxmKi8w=", EntityCapsHash.ComputeVer(ComplexExample(), "sha-1"));

    [Fact]
    public void Other_hash_functions_and_unknown_ones()
    {
        var sha256 = EntityCapsHash.ComputeVer(SimpleExample(), "sha-256");
        Assert.Equal(44, sha256!.Length); // base64 of 32 bytes
        Assert.NotEqual(EntityCapsHash.ComputeVer(SimpleExample(), "sha-1"), sha256);
        Assert.Null(EntityCapsHash.ComputeVer(SimpleExample(), "whirlpool"));
    }

    [Fact]
    public void Ill_formed_answers_have_no_ver()
    {
        var duplicateFeature = SimpleExample();
        duplicateFeature.AddElement("feature").SetAttribute("var", "http://jabber.org/protocol/muc");
        Assert.Null(EntityCapsHash.ComputeVer(duplicateFeature, "sha-1"));

        var duplicateIdentity = SimpleExample();
        duplicateIdentity.AddElement("identity").SetAttribute("category", "client").SetAttribute("name", "Exodus 0.9.1").SetAttribute("type", "pc");
        Assert.Null(EntityCapsHash.ComputeVer(duplicateIdentity, "sha-1"));

        var visibleFormType = ComplexExample();
        visibleFormType.Element("x", X)!.Els("field", X).First(f => f.GetAttribute("var") == "FORM_TYPE").RemoveAttribute("type");
        Assert.Null(EntityCapsHash.ComputeVer(visibleFormType, "sha-1"));

        var twoForms = ComplexExample();
        twoForms.Add(ComplexExample().Element("x", X)!);
        Assert.Null(EntityCapsHash.ComputeVer(twoForms, "sha-1"));
    }
}
