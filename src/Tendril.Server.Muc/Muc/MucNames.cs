namespace Tendril.Server.Features.Muc;

/// <summary>The namespaces of multi-user chat (XEP-0045 §19) and the extensions a room speaks.</summary>
public static class MucNs
{
    public const string Muc = "http://jabber.org/protocol/muc";
    public const string User = "http://jabber.org/protocol/muc#user";
    public const string Admin = "http://jabber.org/protocol/muc#admin";
    public const string Owner = "http://jabber.org/protocol/muc#owner";
    public const string RoomConfig = "http://jabber.org/protocol/muc#roomconfig";
    public const string RoomInfo = "http://jabber.org/protocol/muc#roominfo";
    public const string Request = "http://jabber.org/protocol/muc#request";
    public const string Register = "http://jabber.org/protocol/muc#register";
    public const string Unique = "http://jabber.org/protocol/muc#unique";
    public const string StableId = "http://jabber.org/protocol/muc#stable_id";
    public const string SelfPingOptimization = "http://jabber.org/protocol/muc#self-ping-optimization";
    public const string IqRegister = "jabber:iq:register";
    public const string Conference = "jabber:x:conference";
    public const string OccupantId = "urn:xmpp:occupant-id:0";
    public const string StanzaId = "urn:xmpp:sid:0";
}

/// <summary>A long-lived relation of a bare JID to a room (XEP-0045 §5.2), in order of privilege.</summary>
public enum MucAffiliation
{
    Outcast = -1,
    None = 0,
    Member = 1,
    Admin = 2,
    Owner = 3,
}

/// <summary>An occupant's role for the visit (XEP-0045 §5.1), in order of privilege.</summary>
public enum MucRole
{
    None = 0,
    Visitor = 1,
    Participant = 2,
    Moderator = 3,
}

/// <summary>The XEP-0045 status codes the service sends (§15.6.2 registry).</summary>
public static class MucStatus
{
    public const int NonAnonymous = 100;
    public const int ConfigurationChanged = 104;
    public const int Logged = 170;
    public const int NotLogged = 171;
    public const int Self = 110;
    public const int Created = 201;
    public const int NickAssigned = 210;
    public const int Banned = 301;
    public const int NickChanged = 303;
    public const int Kicked = 307;
    public const int AffiliationRemoved = 321;
    public const int MembersOnlyRemoved = 322;
    public const int Shutdown = 332;
    public const int Error = 333;
    public const int NowNonAnonymous = 172;
    public const int NowSemiAnonymous = 173;
}

internal static class MucNames
{
    public static string Name(this MucAffiliation a) => a switch
    {
        MucAffiliation.Owner => "owner",
        MucAffiliation.Admin => "admin",
        MucAffiliation.Member => "member",
        MucAffiliation.Outcast => "outcast",
        _ => "none",
    };

    public static string Name(this MucRole r) => r switch
    {
        MucRole.Moderator => "moderator",
        MucRole.Participant => "participant",
        MucRole.Visitor => "visitor",
        _ => "none",
    };

    public static bool TryParseAffiliation(string? text, out MucAffiliation affiliation)
    {
        affiliation = text switch
        {
            "owner" => MucAffiliation.Owner,
            "admin" => MucAffiliation.Admin,
            "member" => MucAffiliation.Member,
            "outcast" => MucAffiliation.Outcast,
            "none" => MucAffiliation.None,
            _ => (MucAffiliation)int.MinValue,
        };
        return affiliation != (MucAffiliation)int.MinValue;
    }

    public static bool TryParseRole(string? text, out MucRole role)
    {
        role = text switch
        {
            "moderator" => MucRole.Moderator,
            "participant" => MucRole.Participant,
            "visitor" => MucRole.Visitor,
            "none" => MucRole.None,
            _ => (MucRole)int.MinValue,
        };
        return role != (MucRole)int.MinValue;
    }
}
