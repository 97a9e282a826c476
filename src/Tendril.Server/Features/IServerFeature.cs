namespace Tendril.Server.Features;

/// <summary>
/// A server feature (one XEP, or one RFC area): a class that declares what it advertises and which stanzas it
/// handles, in <see cref="Register"/>. The core calls nothing else on it, so adding a feature is adding a class and
/// registering it with <c>services.AddServerFeature&lt;T&gt;()</c> — the core is not edited (Prosody's module shape).
/// </summary>
public interface IServerFeature
{
    void Register(FeatureRegistry registry);
}
