using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Muc
{
    /// <summary>Who may create rooms (<c>Tendril:Muc:RoomCreation</c>).</summary>
    public enum RoomCreation
    {
        /// <summary>Any account of the server's domain.</summary>
        Local,

        /// <summary>Only the server's admins (<c>Tendril:Admin:Users</c>) and the accounts in <c>Tendril:Muc:Creators</c>.</summary>
        Restricted,
    }

    /// <summary>Multi-user chat (XEP-0045): bound from <c>Tendril:Muc</c>.</summary>
    public sealed class MucOptions : IFeatureOptions
    {
        /// <summary>Runs the group chat service (on by default).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>The service's JID; <c>{Domain}</c> is the server's domain.</summary>
        public string Service { get; set; } = "conference.{Domain}";

        /// <summary>The service's name in disco#info.</summary>
        public string Name { get; set; } = "Chatrooms";

        public RoomCreation RoomCreation { get; set; } = RoomCreation.Local;

        /// <summary>Bare JIDs that may create rooms when <see cref="RoomCreation"/> is Restricted (besides the admins).</summary>
        public List<string> Creators { get; set; } = [];

        /// <summary>Persistent rooms one account may create (admins are not limited); 0 for no limit.</summary>
        public int MaxRoomsPerCreator { get; set; } = 100;

        /// <summary>Occupants a room may hold at most, whatever its configuration says.</summary>
        public int MaxOccupants { get; set; } = 10_000;

        /// <summary>Messages of history a room may keep and send on join at most.</summary>
        public int MaxHistory { get; set; } = 100;

        /// <summary>Groupchat and private messages an occupant may send per second, averaged over 10 s; 0 for no limit.</summary>
        public double MessagesPerSecond { get; set; } = 10;

        /// <summary>Defaults of a new room (an owner changes them in the room's configuration form).</summary>
        public bool DefaultPersistent { get; set; }

        public bool DefaultPublic { get; set; } = true;

        public bool DefaultMembersOnly { get; set; }

        public int DefaultHistory { get; set; } = 20;

        /// <summary>A new room archives its messages (XEP-0313; only persistent rooms keep an archive).</summary>
        public bool DefaultArchive { get; set; } = true;

        /// <summary>Days a room's archived message is kept (swept hourly); 0 keeps them for good.</summary>
        public int ArchiveRetentionDays { get; set; }

        /// <summary>Room archive records queued for the store at most; beyond it senders wait (back-pressure, as for accounts' archives).</summary>
        public int ArchiveQueueCapacity { get; set; } = 8192;

        public void Validate(List<string> problems)
        {
            if (!Service.Contains('.', StringComparison.Ordinal) || Service.Contains('@', StringComparison.Ordinal) || Service.Contains('/', StringComparison.Ordinal))
                problems.Add("Tendril:Muc:Service must be a domain such as conference.{Domain}");
            if (MaxRoomsPerCreator < 0) problems.Add("Tendril:Muc:MaxRoomsPerCreator must not be negative");
            if (MaxOccupants is < 1 or > 1_000_000) problems.Add("Tendril:Muc:MaxOccupants must be 1..1000000");
            if (MaxHistory is < 0 or > 10_000) problems.Add("Tendril:Muc:MaxHistory must be 0..10000");
            if (DefaultHistory < 0 || DefaultHistory > MaxHistory) problems.Add("Tendril:Muc:DefaultHistory must be 0..MaxHistory");
            if (MessagesPerSecond < 0) problems.Add("Tendril:Muc:MessagesPerSecond must not be negative");
            if (ArchiveRetentionDays < 0) problems.Add("Tendril:Muc:ArchiveRetentionDays must be 0 or more");
            if (ArchiveQueueCapacity is < 1 or > 1_000_000) problems.Add("Tendril:Muc:ArchiveQueueCapacity must be 1..1000000");
            foreach (var creator in Creators)
            {
                if (!Tendril.Protocol.Jid.TryParse(creator, out var jid) || jid.Local is null || jid.Resource is not null)
                    problems.Add($"Tendril:Muc:Creators: '{creator}' is not a bare JID");
            }
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Muc</c> options as a property of the server's options.</summary>
    public static class MucOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Muc.MucOptions Muc => options.Feature<Tendril.Server.Features.Muc.MucOptions>();
        }
    }
}
