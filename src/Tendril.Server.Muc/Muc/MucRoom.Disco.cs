using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>Room discovery (§6.4 disco#info with the muc#roominfo form, XEP-0128; §6.5 items; §7.12 reserved nick).</summary>
public sealed partial class MucRoom
{
    private XmlElement DiscoInfo(string? node, Jid from)
    {
        var query = new XmlElement("query", Ns.DiscoInfo);
        if (node == "x-roomuser-item")
        {
            // §7.12: the nick reserved for the requester, if any.
            query.SetAttribute("node", node);
            if (ReservedNickOf(from.Bare) is { } nick) query.AddElement("identity").SetAttribute("category", "conference").SetAttribute("type", "text").SetAttribute("name", nick);
            return query;
        }
        if (node is not null) throw MucException.Of(StanzaErrorCondition.ItemNotFound, "The room has no such node.");
        query.AddElement("identity").SetAttribute("category", "conference").SetAttribute("type", "text").SetAttribute("name", Title);
        foreach (var feature in Features()) query.AddElement("feature").SetAttribute("var", feature);
        var fields = new List<DataForm.Field>
        {
            new("muc#roominfo_description", "text-single", [Config.Description], "Description"),
            new("muc#roominfo_occupants", "text-single", [_byNick.Count.ToString(CultureInfo.InvariantCulture)], "Number of occupants"),
            new("muc#roominfo_subject", "text-single", [Subject ?? ""], "Subject"),
            new("muc#roominfo_changesubject", "boolean", [Config.ChangeSubject ? "1" : "0"], "Occupants may change the subject"),
            new("muc#roomconfig_roomname", "text-single", [Config.Name], "Name"),
        };
        if (Config.Language.Length > 0) fields.Add(new("muc#roominfo_lang", "text-single", [Config.Language], "Language of discussion"));
        if (Config.MaxUsers > 0) fields.Add(new("muc#maxusers", "text-single", [Config.MaxUsers.ToString(CultureInfo.InvariantCulture)], "Maximum occupants"));
        query.Add(DataForm.Build("result", MucNs.RoomInfo, fields));
        return query;
    }

    private IEnumerable<string> Features()
    {
        yield return MucNs.Muc;
        yield return MucNs.StableId;
        yield return MucNs.SelfPingOptimization;
        yield return MucNs.OccupantId;
        yield return MucNs.StanzaId;
        yield return MucNs.IqRegister;
        yield return MucNs.Request;
        yield return Ns.DiscoInfo;
        yield return Ns.Ping;
        yield return ModerateNs;
        yield return RetractNs;
        if (Archives) yield return Archive.ArchiveQueries.Namespace;
        yield return Config.Public ? "muc_public" : "muc_hidden";
        yield return Config.Persistent ? "muc_persistent" : "muc_temporary";
        yield return Config.MembersOnly ? "muc_membersonly" : "muc_open";
        yield return Config.Moderated ? "muc_moderated" : "muc_unmoderated";
        yield return Config.WhoisAnyone ? "muc_nonanonymous" : "muc_semianonymous";
        yield return Config.Password is not null ? "muc_passwordprotected" : "muc_unsecured";
    }

    /// <summary>§6.5: the occupants' room JIDs to occupants and, in a public open room, to anyone; nothing otherwise.</summary>
    private XmlElement DiscoItems(Occupant? requester)
    {
        var query = new XmlElement("query", Ns.DiscoItems);
        if (requester is null && (!Config.Public || Config.MembersOnly)) return query;
        foreach (var occupant in _byNick.Values.OrderBy(o => o.Nick, StringComparer.Ordinal))
        {
            if (!Config.PresenceBroadcast.Contains(occupant.Role)) continue;
            query.AddElement("item").SetAttribute("jid", OccupantJid(occupant.Nick).ToString()).SetAttribute("name", occupant.Nick);
        }
        return query;
    }
}
