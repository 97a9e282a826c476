using Tendril.Server.Configuration;

namespace Tendril.Server.Features.VCard
{
    /// <summary>vCards (XEP-0054): bound from <c>Tendril:VCard</c>.</summary>
    public sealed class VCardOptions : IFeatureOptions
    {
        /// <summary>The largest vCard (XEP-0054) an account may store, in bytes of XML; larger sets get not-acceptable.</summary>
        public int MaxBytes { get; set; } = 128 * 1024;

        public void Validate(List<string> problems)
        {
            if (MaxBytes < 1024) problems.Add("Tendril:VCard:MaxBytes must be at least 1024");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:VCard</c> options as a property of the server's options.</summary>
    public static class VCardOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.VCard.VCardOptions VCard => options.Feature<Tendril.Server.Features.VCard.VCardOptions>();
        }
    }
}
