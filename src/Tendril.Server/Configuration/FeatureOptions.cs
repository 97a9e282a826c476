using Microsoft.Extensions.Configuration;

namespace Tendril.Server.Configuration;

/// <summary>
/// The options of one feature, declared in the feature's folder and bound from <c>Tendril:{Section}</c> beside the
/// core's (<see cref="TendrilOptions"/>). A feature reads them with <see cref="TendrilOptions.Feature{T}"/> (usually through
/// an extension property named after the section), at the moment of use: a reload replaces them with the rest.
/// </summary>
public interface IFeatureOptions
{
    /// <summary>Adds every problem found, each naming its key (<c>Tendril:Section:Key …</c>).</summary>
    void Validate(List<string> problems);

    /// <summary>Settings changed from <paramref name="previous"/> that only a restart applies (named for the reload report).</summary>
    IEnumerable<string> RestartRequired(IFeatureOptions previous) => [];

    /// <summary>Binds the options from their configuration section (a list-shaped section overrides this).</summary>
    void Bind(IConfigurationSection section) => section.Bind(this, binder => binder.ErrorOnUnknownConfiguration = true);
}

/// <summary>A feature's options type, as a feature list declares it (<see cref="Of{T}"/>): the section and how to make defaults.</summary>
public sealed class FeatureOptionsType
{
    private FeatureOptionsType(string section, Type type, Func<IFeatureOptions> create)
    {
        Section = section;
        Type = type;
        Create = create;
    }

    /// <summary>The section under <c>Tendril</c> (e.g. <c>Mam</c>).</summary>
    public string Section { get; }

    public Type Type { get; }

    /// <summary>A new instance with the defaults.</summary>
    public Func<IFeatureOptions> Create { get; }

    /// <summary>The options type <typeparamref name="T"/>, bound from the section named after it (<c>MamOptions</c>: <c>Tendril:Mam</c>).</summary>
    public static FeatureOptionsType Of<T>() where T : class, IFeatureOptions, new() => new(TendrilOptions.SectionOf(typeof(T)), typeof(T), static () => new T());
}

/// <summary>
/// Binds <see cref="TendrilOptions"/> and the features' options from configuration, and refuses what it does not know:
/// an unknown key is reported as <c>unknown setting Tendril:Domian (did you mean Tendril:Domain?)</c>.
/// </summary>
public static class TendrilOptionsBinder
{
    /// <summary>Binds the <c>Tendril</c> section of <paramref name="configuration"/>; throws <see cref="InvalidOperationException"/> naming every unknown or malformed key.</summary>
    public static TendrilOptions Bind(IConfiguration configuration, IEnumerable<FeatureOptionsType> features)
    {
        var section = configuration.GetSection(TendrilOptions.SectionName);
        var featureTypes = features.ToArray();
        var options = new TendrilOptions();
        var core = typeof(TendrilOptions).GetProperties().Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var bySection = new Dictionary<string, FeatureOptionsType>(StringComparer.OrdinalIgnoreCase);
        foreach (var f in featureTypes) bySection[f.Section] = f;
        var problems = new List<string>();
        foreach (var f in featureTypes) options.SetFeature(f.Type, f.Create());
        foreach (var child in section.GetChildren())
        {
            try
            {
                if (core.TryGetValue(child.Key, out var property))
                {
                    if (!CheckKeys(child, property.PropertyType, problems)) continue;
                    if (child.Get(property.PropertyType) is { } value) property.SetValue(options, value);
                }
                else if (bySection.TryGetValue(child.Key, out var feature))
                {
                    if (!CheckKeys(child, feature.Type, problems)) continue;
                    var instance = feature.Create();
                    instance.Bind(child);
                    options.SetFeature(feature.Type, instance);
                }
                else
                {
                    problems.Add(Unknown(child.Path, child.Key, core.Keys.Concat(bySection.Keys)));
                }
            }
            catch (InvalidOperationException e)
            {
                problems.Add($"{child.Path}: {e.InnerException?.Message ?? e.Message}");
            }
        }
        if (problems.Count > 0) throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", problems));
        return options;
    }

    private static string Unknown(string path, string key, IEnumerable<string> known)
    {
        var best = known.Select(k => (Key: k, Distance: Distance(key.ToLowerInvariant(), k.ToLowerInvariant()))).OrderBy(k => k.Distance).FirstOrDefault();
        var parent = path[..^key.Length];
        return best.Key is not null && best.Distance <= Math.Max(2, key.Length / 3)
            ? $"unknown setting {path} (did you mean {parent}{best.Key}?)"
            : $"unknown setting {path}";
    }

    /// <summary>Adds a problem for every key under <paramref name="section"/> that <paramref name="type"/> has no property for; true when there was none.</summary>
    private static bool CheckKeys(IConfigurationSection section, Type type, List<string> problems)
    {
        if (IsLeaf(type)) return true;
        var before = problems.Count;
        if (ElementOf(type) is { } element)
        {
            if (!IsLeaf(element))
            {
                foreach (var item in section.GetChildren()) CheckKeys(item, element, problems);
            }
            return problems.Count == before;
        }
        var properties = type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (properties.TryGetValue(child.Key, out var property)) CheckKeys(child, property.PropertyType, problems);
            else problems.Add(Unknown(child.Path, child.Key, properties.Keys));
        }
        return problems.Count == before;
    }

    /// <summary>
    /// Every settable key below <paramref name="prefix"/> of an options type, as configuration.md names them: a list's
    /// entries as <c>:N:</c>, a list of values as the list's own key.
    /// </summary>
    public static IEnumerable<string> Keys(string prefix, Type type)
    {
        if (IsLeaf(type))
        {
            yield return prefix;
            yield break;
        }
        if (ElementOf(type) is { } element)
        {
            if (IsLeaf(element))
            {
                yield return prefix;
                yield break;
            }
            type = element;
            prefix += ":N";
        }
        foreach (var property in type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Where(p => p.CanWrite && p.GetIndexParameters().Length == 0))
        {
            foreach (var key in Keys(prefix + ":" + property.Name, property.PropertyType)) yield return key;
        }
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || Nullable.GetUnderlyingType(type) is not null;

    /// <summary>The element type of a list-shaped option (List&lt;T&gt;, a class deriving from it, or an array).</summary>
    private static Type? ElementOf(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>)) return t.GetGenericArguments()[0];
        }
        return null;
    }

    /// <summary>Levenshtein distance, for "did you mean" (short keys only).</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
