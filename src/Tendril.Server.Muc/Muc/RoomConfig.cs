using System.Globalization;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>Who may send private messages to occupants (the <c>muc#roomconfig_allowpm</c> field).</summary>
public enum PrivateMessages
{
    Anyone,
    Participants,
    Moderators,
    None,
}

/// <summary>
/// A room's configuration: the <c>muc#roomconfig</c> form of XEP-0045 §10.2 (field names as in its registry, §15.5.3)
/// and what the server keeps beside it. Stored as field var → values; unknown keys in a stored map are ignored.
/// </summary>
public sealed class RoomConfig
{
    public const string FormType = MucNs.RoomConfig;

    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public string Language { get; set; } = "";
    public bool Persistent { get; set; }
    public bool Public { get; set; } = true;
    public bool MembersOnly { get; set; }
    public bool Moderated { get; set; }

    /// <summary>The password to enter, or null for none (muc#roomconfig_passwordprotectedroom + roomsecret).</summary>
    public string? Password { get; set; }

    /// <summary>Real JIDs visible to everyone (non-anonymous) or to moderators only (semi-anonymous).</summary>
    public bool WhoisAnyone { get; set; }

    /// <summary>At most this many occupants (owners and admins may enter beyond it); 0 for no limit below the service's.</summary>
    public int MaxUsers { get; set; }

    /// <summary>Participants (not only moderators) may change the subject.</summary>
    public bool ChangeSubject { get; set; }

    /// <summary>Participants (not only admins) may invite others; in a members-only room an invitation makes a member.</summary>
    public bool AllowInvites { get; set; }

    public PrivateMessages AllowPrivateMessages { get; set; } = PrivateMessages.Anyone;

    /// <summary>The roles whose presence is broadcast (muc#roomconfig_presencebroadcast); the others' is not shown.</summary>
    public HashSet<MucRole> PresenceBroadcast { get; set; } = [MucRole.Moderator, MucRole.Participant, MucRole.Visitor];

    /// <summary>Groupchat messages go to the room's archive (XEP-0313 on the room JID; persistent rooms).</summary>
    public bool Archive { get; set; } = true;

    /// <summary>Messages of history sent on join at most (muc#maxhistoryfetch).</summary>
    public int HistoryLength { get; set; } = 20;

    /// <summary>The key occupant ids are derived from (XEP-0421 §3.1: stable per room, not guessable); never shown in the form.</summary>
    public string OccupantIdSecret { get; set; } = "";

    public RoomConfig Clone()
    {
        var copy = (RoomConfig)MemberwiseClone();
        copy.PresenceBroadcast = [.. PresenceBroadcast];
        return copy;
    }

    private const string SecretKey = "tendril#occupant_id_secret";

    public Dictionary<string, IReadOnlyList<string>> ToMap()
    {
        var map = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
        {
            ["muc#roomconfig_roomname"] = [Name],
            ["muc#roomconfig_roomdesc"] = [Description],
            ["muc#roomconfig_lang"] = [Language],
            ["muc#roomconfig_persistentroom"] = [Bool(Persistent)],
            ["muc#roomconfig_publicroom"] = [Bool(Public)],
            ["muc#roomconfig_membersonly"] = [Bool(MembersOnly)],
            ["muc#roomconfig_moderatedroom"] = [Bool(Moderated)],
            ["muc#roomconfig_passwordprotectedroom"] = [Bool(Password is not null)],
            ["muc#roomconfig_roomsecret"] = [Password ?? ""],
            ["muc#roomconfig_whois"] = [WhoisAnyone ? "anyone" : "moderators"],
            ["muc#roomconfig_maxusers"] = [MaxUsers == 0 ? "none" : MaxUsers.ToString(CultureInfo.InvariantCulture)],
            ["muc#roomconfig_changesubject"] = [Bool(ChangeSubject)],
            ["muc#roomconfig_allowinvites"] = [Bool(AllowInvites)],
            ["muc#roomconfig_allowpm"] = [PmName(AllowPrivateMessages)],
            ["muc#roomconfig_presencebroadcast"] = PresenceBroadcast.OrderByDescending(r => r).Select(r => r.Name()).ToArray(),
            ["muc#maxhistoryfetch"] = [HistoryLength.ToString(CultureInfo.InvariantCulture)],
            ["muc#roomconfig_enablearchiving"] = [Bool(Archive)],
            [SecretKey] = [OccupantIdSecret],
        };
        return map;
    }

    /// <summary>A stored map back to a configuration (what a map lacks keeps its default).</summary>
    public static RoomConfig FromMap(IReadOnlyDictionary<string, IReadOnlyList<string>> map, int historyLimit)
    {
        var config = new RoomConfig();
        config.Apply(map, historyLimit, out _);
        if (map.TryGetValue(SecretKey, out var secret) && secret.Count == 1) config.OccupantIdSecret = secret[0];
        return config;
    }

    /// <summary>
    /// Applies submitted fields (a submitted form, XEP-0045 §10.2). A field not submitted keeps its value. Returns false
    /// with <paramref name="problem"/> on a value the field cannot take — having applied part of the form: apply it to a
    /// copy (<see cref="Clone"/>) and keep the copy only on success.
    /// </summary>
    public bool Apply(IReadOnlyDictionary<string, IReadOnlyList<string>> fields, int historyLimit, out string? problem)
    {
        problem = null;
        foreach (var (var, values) in fields)
        {
            var value = values.Count > 0 ? values[0] : "";
            switch (var)
            {
                case "muc#roomconfig_roomname": Name = value; break;
                case "muc#roomconfig_roomdesc": Description = value; break;
                case "muc#roomconfig_lang": Language = value; break;
                case "muc#roomconfig_persistentroom": if (!ParseBool(value, var, b => Persistent = b, ref problem)) return false; break;
                case "muc#roomconfig_publicroom": if (!ParseBool(value, var, b => Public = b, ref problem)) return false; break;
                case "muc#roomconfig_membersonly": if (!ParseBool(value, var, b => MembersOnly = b, ref problem)) return false; break;
                case "muc#roomconfig_moderatedroom": if (!ParseBool(value, var, b => Moderated = b, ref problem)) return false; break;
                case "muc#roomconfig_changesubject": if (!ParseBool(value, var, b => ChangeSubject = b, ref problem)) return false; break;
                case "muc#roomconfig_allowinvites": if (!ParseBool(value, var, b => AllowInvites = b, ref problem)) return false; break;
                case "muc#roomconfig_enablearchiving": if (!ParseBool(value, var, b => Archive = b, ref problem)) return false; break;
                case "muc#roomconfig_passwordprotectedroom": break; // decided below with the secret
                case "muc#roomconfig_roomsecret": break;
                case "muc#roomconfig_whois":
                    if (value is not ("anyone" or "moderators")) { problem = $"{var} must be 'moderators' or 'anyone'."; return false; }
                    WhoisAnyone = value == "anyone";
                    break;
                case "muc#roomconfig_maxusers":
                    if (value is "" or "none" or "0") MaxUsers = 0;
                    else if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var max) && max > 0) MaxUsers = max;
                    else { problem = $"{var} must be a positive number or 'none'."; return false; }
                    break;
                case "muc#roomconfig_allowpm":
                    if (!TryParsePm(value, out var pm)) { problem = $"{var} must be anyone, participants, moderators or none."; return false; }
                    AllowPrivateMessages = pm;
                    break;
                case "muc#roomconfig_presencebroadcast":
                    var roles = new HashSet<MucRole>();
                    foreach (var v in values)
                    {
                        if (!MucNames.TryParseRole(v, out var role) || role == MucRole.None) { problem = $"{var}: '{v}' is not a role."; return false; }
                        roles.Add(role);
                    }
                    PresenceBroadcast = roles;
                    break;
                case "muc#maxhistoryfetch" or "muc#roomconfig_historylength":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var history)) { problem = $"{var} must be a number."; return false; }
                    HistoryLength = Math.Min(history, historyLimit);
                    break;
            }
        }
        // The password: protected with a secret, or no password. Protected without a secret is refused (§10.2 does
        // not say; an empty password would let everyone in while the room says it is protected).
        var protect = fields.TryGetValue("muc#roomconfig_passwordprotectedroom", out var p) && p.Count > 0 ? DataForm.ParseBool(p[0]) : null;
        var secret = fields.TryGetValue("muc#roomconfig_roomsecret", out var s) && s.Count > 0 ? s[0] : null;
        if (protect == false) Password = null;
        else if (protect == true || (protect is null && secret is not null))
        {
            var password = secret ?? Password;
            if (protect == true && string.IsNullOrEmpty(password)) { problem = "A password-protected room needs muc#roomconfig_roomsecret."; return false; }
            Password = string.IsNullOrEmpty(password) ? null : password;
        }
        return true;
    }

    /// <summary>The form an owner fills in (§10.2), with the current values, the owners and admins lists included.</summary>
    public XmlElement BuildForm(string roomJid, IEnumerable<string> owners, IEnumerable<string> admins)
    {
        static DataForm.Field F(string var, string type, string label, params string[] values) => new(var, type, values, label);
        var fields = new List<DataForm.Field>
        {
            F("muc#roomconfig_roomname", "text-single", "Name", Name),
            F("muc#roomconfig_roomdesc", "text-single", "Description", Description),
            F("muc#roomconfig_lang", "text-single", "Language of discussion", Language),
            F("muc#roomconfig_persistentroom", "boolean", "Keep the room when the last occupant leaves", Bool(Persistent)),
            F("muc#roomconfig_publicroom", "boolean", "List the room in the directory", Bool(Public)),
            F("muc#roomconfig_membersonly", "boolean", "Only members may enter", Bool(MembersOnly)),
            F("muc#roomconfig_moderatedroom", "boolean", "Only participants with voice may send messages", Bool(Moderated)),
            F("muc#roomconfig_passwordprotectedroom", "boolean", "A password is needed to enter", Bool(Password is not null)),
            F("muc#roomconfig_roomsecret", "text-private", "Password", Password ?? ""),
            new("muc#roomconfig_whois", "list-single", [WhoisAnyone ? "anyone" : "moderators"], "Who may see real JIDs", ["moderators", "anyone"]),
            new("muc#roomconfig_maxusers", "list-single", [MaxUsers == 0 ? "none" : MaxUsers.ToString(CultureInfo.InvariantCulture)], "Maximum occupants",
                ["10", "20", "30", "50", "100", "500", "1000", "none"]),
            F("muc#roomconfig_changesubject", "boolean", "Participants may change the subject", Bool(ChangeSubject)),
            F("muc#roomconfig_allowinvites", "boolean", "Participants may invite others", Bool(AllowInvites)),
            new("muc#roomconfig_allowpm", "list-single", [PmName(AllowPrivateMessages)], "Who may send private messages", ["anyone", "participants", "moderators", "none"]),
            new("muc#roomconfig_presencebroadcast", "list-multi", PresenceBroadcast.OrderByDescending(r => r).Select(r => r.Name()).ToArray(),
                "Roles whose presence is shown", ["moderator", "participant", "visitor"]),
            F("muc#maxhistoryfetch", "text-single", "Messages of history sent on entering", HistoryLength.ToString(CultureInfo.InvariantCulture)),
            F("muc#roomconfig_enablearchiving", "boolean", "Archive the messages (persistent rooms)", Bool(Archive)),
            new("muc#roomconfig_roomowners", "jid-multi", owners.ToArray(), "Owners"),
            new("muc#roomconfig_roomadmins", "jid-multi", admins.ToArray(), "Admins"),
        };
        return DataForm.Build("form", FormType, fields, title: $"Configuration of {roomJid}");
    }

    private static string Bool(bool b) => b ? "1" : "0";

    private static bool ParseBool(string value, string var, Action<bool> set, ref string? problem)
    {
        if (DataForm.ParseBool(value) is { } b)
        {
            set(b);
            return true;
        }
        problem = $"{var} must be a boolean (1 or 0).";
        return false;
    }

    private static string PmName(PrivateMessages pm) => pm switch
    {
        PrivateMessages.Participants => "participants",
        PrivateMessages.Moderators => "moderators",
        PrivateMessages.None => "none",
        _ => "anyone",
    };

    private static bool TryParsePm(string value, out PrivateMessages pm)
    {
        pm = value switch
        {
            "anyone" => PrivateMessages.Anyone,
            "participants" => PrivateMessages.Participants,
            "moderators" => PrivateMessages.Moderators,
            "none" => PrivateMessages.None,
            _ => (PrivateMessages)(-1),
        };
        return pm != (PrivateMessages)(-1);
    }
}
