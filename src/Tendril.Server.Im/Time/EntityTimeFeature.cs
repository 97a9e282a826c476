using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Features.Time;

/// <summary>
/// Entity Time (XEP-0202): the server answers <c>&lt;time xmlns='urn:xmpp:time'/&gt;</c> addressed to it with its UTC
/// time and offset (§4). Times of users' clients are the clients' to answer (the router delivers full-JID iqs).
/// </summary>
public sealed class EntityTimeFeature : IServerFeature
{
    public const string Namespace = "urn:xmpp:time";

    public void Register(FeatureRegistry registry)
    {
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("time", Namespace, HandleAsync, IqTarget.Server);
    }

    private static ValueTask HandleAsync(IqRequest request)
    {
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
            return ValueTask.CompletedTask;
        }
        var now = request.Server.Time.GetUtcNow();
        var offset = request.Server.Time.LocalTimeZone.GetUtcOffset(now.UtcDateTime);
        var time = new XmlElement("time", Namespace);
        time.AddElement("tzo").Add(FormatOffset(offset));
        // XEP-0082 DateTime in UTC (XEP-0202 §4 allows the fraction of a second XmppDateTime writes when non-zero).
        time.AddElement("utc").Add(XmppDateTime.Format(now));
        request.Reply(time);
        return ValueTask.CompletedTask;
    }

    /// <summary>"+hh:mm" or "-hh:mm"; UTC is "+00:00" (XEP-0202 §3 prefers it to "Z").</summary>
    internal static string FormatOffset(TimeSpan offset)
    {
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        var abs = offset.Duration();
        return sign + abs.Hours.ToString("00", CultureInfo.InvariantCulture) + ":" + abs.Minutes.ToString("00", CultureInfo.InvariantCulture);
    }
}
