using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tendril.Server.Configuration;
using Tendril.Server.Features.ExternalServices;
using Tendril.Server.Features.Mam;
using Tendril.Server.Hosting;

namespace Tendril.Server.Tests.Operations;

/// <summary>Binding the core's and the features' options from configuration, and docs/configuration.md kept complete.</summary>
public sealed class OptionsBinderTests
{
    private static readonly IReadOnlyList<FeatureOptionsType> Features = new ServiceCollection().AddTendrilFeatures().FeatureOptionsTypes();

    private static TendrilOptions Bind(params (string Key, string Value)[] values) =>
        TendrilOptionsBinder.Bind(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build(), Features);

    [Fact]
    public void Core_and_feature_sections_bind_to_their_options()
    {
        var options = Bind(("Tendril:Domain", "example.org"), ("Tendril:C2s:Port", "5300"), ("Tendril:Mam:MaxPageSize", "99"),
            ("Tendril:ExternalServices:0:Type", "turn"), ("Tendril:ExternalServices:0:Host", "turn.example.org"), ("Tendril:ExternalServices:0:Port", "3478"));
        Assert.Equal("example.org", options.Domain);
        Assert.Equal(5300, options.C2s.Port);
        Assert.Equal(5222 + 1, options.C2s.DirectTlsPort); // unset keys keep their defaults
        Assert.Equal(99, options.Mam.MaxPageSize);
        Assert.True(options.Mam.Enabled);
        var service = Assert.Single(options.ExternalServices);
        Assert.Equal(("turn", "turn.example.org", 3478), (service.Type, service.Host, service.Port));
        Assert.Contains("Mam", options.Sections().Keys);
        options.Validate();
    }

    [Theory]
    [InlineData("Tendril:Domian", "unknown setting Tendril:Domian (did you mean Tendril:Domain?)")]
    [InlineData("Tendril:Mma:Enabled", "unknown setting Tendril:Mma (did you mean Tendril:Mam?)")]
    [InlineData("Tendril:C2s:Prot", "unknown setting Tendril:C2s:Prot")]
    [InlineData("Tendril:Mam:Enabeld", "unknown setting Tendril:Mam:Enabeld")]
    [InlineData("Tendril:Frobnicate", "unknown setting Tendril:Frobnicate")]
    public void An_unknown_key_is_named(string key, string expected)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind((key, "1")));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_value_names_its_key()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Tendril:Mam:MaxPageSize", "many")));
        Assert.Contains("Tendril:Mam", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_feature_validates_its_own_options()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Tendril:Mam:MaxPageSize", "0")).Validate());
        Assert.Contains("Tendril:Mam:MaxPageSize", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_built_in_code_get_a_features_defaults()
    {
        var options = new TendrilOptions();
        Assert.Same(options.Mam, options.Feature<MamOptions>());
        Assert.Equal(new MamOptions().MaxPageSize, options.Mam.MaxPageSize);
        Assert.Empty(options.ExternalServices);
    }

    /// <summary>Every settable key of the core's and the features' options is documented (the docs cannot drift from the code).</summary>
    [Fact]
    public void Every_key_is_in_docs_configuration_md()
    {
        var docs = File.ReadAllText(Tendril.Tests.Support.RepositoryPaths.Of("docs", "configuration.md"));
        var keys = typeof(TendrilOptions).GetProperties().Where(p => p.CanWrite).SelectMany(p => TendrilOptionsBinder.Keys("Tendril:" + p.Name, p.PropertyType)).ToList();
        foreach (var feature in Features)
        {
            Assert.True(typeof(IFeatureOptions).IsAssignableFrom(feature.Type));
            keys.AddRange(TendrilOptionsBinder.Keys("Tendril:" + feature.Section, feature.Type));
        }
        Assert.Contains("Tendril:ExternalServices:N:Host", keys); // the walk reaches list entries
        var missing = keys.Where(k => !docs.Contains('`' + k + '`', StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "Not in docs/configuration.md: " + string.Join(", ", missing));
    }
}
