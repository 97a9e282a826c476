namespace Tendril.Storage.Sqlite;

/// <summary>One schema step. <see cref="Version"/> values are 1, 2, 3... in order; a step is never edited once released.</summary>
/// <param name="Version">The schema version this step produces.</param>
/// <param name="Description">Recorded in <c>schema_version</c> for operators.</param>
/// <param name="Sql">Statements run inside the migration transaction.</param>
public sealed record SqliteMigration(int Version, string Description, string Sql);

/// <summary>
/// The ordered list of schema migrations. To add tables for a new feature (rosters, offline messages, archives, pubsub),
/// append a new <see cref="SqliteMigration"/> with the next version number; never change or reorder an existing entry.
/// Tables holding per-account data should reference <c>accounts(domain, username)</c> with <c>ON DELETE CASCADE</c>
/// so <see cref="IAccountStore.DeleteAsync"/> removes everything stored for the account.
/// </summary>
public static class SqliteMigrations
{
    public static IReadOnlyList<SqliteMigration> All { get; } =
    [
        new(1, "accounts", """
            CREATE TABLE accounts (
                domain              TEXT    NOT NULL,
                username            TEXT    NOT NULL,
                created_at          INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                sha1_salt           BLOB    NOT NULL,
                sha1_iterations     INTEGER NOT NULL,
                sha1_stored_key     BLOB    NOT NULL,
                sha1_server_key     BLOB    NOT NULL,
                sha256_salt         BLOB    NOT NULL,
                sha256_iterations   INTEGER NOT NULL,
                sha256_stored_key   BLOB    NOT NULL,
                sha256_server_key   BLOB    NOT NULL,
                PRIMARY KEY (domain, username)
            ) WITHOUT ROWID;
            """),
        new(2, "pubsub", """
            CREATE TABLE pubsub_nodes (
                service     TEXT    NOT NULL,
                node        TEXT    NOT NULL,
                config      TEXT    NOT NULL, -- JSON object: field var -> array of values
                creator     TEXT    NOT NULL,
                created_at  INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                PRIMARY KEY (service, node)
            ) WITHOUT ROWID;
            CREATE TABLE pubsub_items (
                seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- publication order
                service      TEXT    NOT NULL,
                node         TEXT    NOT NULL,
                item_id      TEXT    NOT NULL,
                publisher    TEXT    NOT NULL,
                payload      TEXT    NOT NULL,
                published_at INTEGER NOT NULL,
                FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
            );
            CREATE UNIQUE INDEX pubsub_items_by_id ON pubsub_items (service, node, item_id);
            CREATE INDEX pubsub_items_by_seq ON pubsub_items (service, node, seq);
            CREATE TABLE pubsub_subscriptions (
                service  TEXT NOT NULL,
                node     TEXT NOT NULL,
                jid      TEXT NOT NULL,
                subid    TEXT NOT NULL,
                state    TEXT NOT NULL, -- subscribed | pending | unconfigured
                options  TEXT NOT NULL, -- JSON object
                PRIMARY KEY (service, node, jid, subid),
                FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
            ) WITHOUT ROWID;
            CREATE TABLE pubsub_affiliations (
                service      TEXT NOT NULL,
                node         TEXT NOT NULL,
                jid          TEXT NOT NULL,
                affiliation  TEXT NOT NULL,
                PRIMARY KEY (service, node, jid),
                FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
            ) WITHOUT ROWID;
            """),
        new(3, "rosters and pending subscription requests", """
            CREATE TABLE roster_versions (
                domain      TEXT    NOT NULL,
                username    TEXT    NOT NULL,
                version     INTEGER NOT NULL,
                PRIMARY KEY (domain, username),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            ) WITHOUT ROWID;
            CREATE TABLE roster_items (
                domain       TEXT    NOT NULL,
                username     TEXT    NOT NULL,
                jid          TEXT    NOT NULL,
                name         TEXT,
                subscription INTEGER NOT NULL, -- 0 none, 1 to, 2 from, 3 both
                ask          INTEGER NOT NULL, -- 1: the user's subscription request is pending
                approved     INTEGER NOT NULL, -- 1: pre-approved (RFC 6121 §3.4)
                groups       TEXT    NOT NULL, -- JSON array of group names
                PRIMARY KEY (domain, username, jid),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            ) WITHOUT ROWID;
            CREATE TABLE roster_pending_in (
                domain      TEXT    NOT NULL,
                username    TEXT    NOT NULL,
                jid         TEXT    NOT NULL,
                stanza      TEXT    NOT NULL,
                received_at INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                PRIMARY KEY (domain, username, jid),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            ) WITHOUT ROWID;
            """),
        new(4, "offline messages", """
            CREATE TABLE offline_messages (
                id        INTEGER PRIMARY KEY AUTOINCREMENT,
                domain    TEXT    NOT NULL,
                username  TEXT    NOT NULL,
                stored_at INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                stanza    TEXT    NOT NULL,
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            CREATE INDEX offline_messages_account ON offline_messages (domain, username, id);
            """),
        new(5, "per-account documents (vCard, private XML, last activity, blocklist)", """
            CREATE TABLE account_data (
                domain    TEXT NOT NULL,
                username  TEXT NOT NULL,
                store     TEXT NOT NULL, -- e.g. vcard, private, last, blocklist
                key       TEXT NOT NULL,
                value     TEXT NOT NULL,
                PRIMARY KEY (domain, username, store, key),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            ) WITHOUT ROWID;
            """),
        new(6, "message archive (XEP-0313)", """
            CREATE TABLE archive_messages (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- archive order
                domain     TEXT    NOT NULL,
                username   TEXT    NOT NULL,
                archive_id TEXT    NOT NULL, -- server-generated, unique per account
                stamp      INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                with_bare  TEXT    NOT NULL, -- the other party's bare JID
                with_full  TEXT    NOT NULL, -- the other party's JID as in the stanza
                direction  INTEGER NOT NULL, -- 0 incoming, 1 outgoing
                stanza     TEXT    NOT NULL,
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            CREATE UNIQUE INDEX archive_messages_id ON archive_messages (domain, username, archive_id);
            CREATE INDEX archive_messages_stamp ON archive_messages (domain, username, stamp, seq);
            CREATE INDEX archive_messages_with ON archive_messages (domain, username, with_bare, seq);
            CREATE INDEX archive_messages_age ON archive_messages (stamp);
            CREATE TABLE archive_preferences (
                domain        TEXT    NOT NULL,
                username      TEXT    NOT NULL,
                default_mode  INTEGER NOT NULL, -- 0 always, 1 never, 2 roster
                always_jids   TEXT    NOT NULL, -- JSON array of bare JIDs
                never_jids    TEXT    NOT NULL, -- JSON array of bare JIDs
                PRIMARY KEY (domain, username),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            ) WITHOUT ROWID;
            """),
        new(7, "roster versioning: per-item versions, removals kept, the oldest version deltas start from", """
            ALTER TABLE roster_items ADD COLUMN version INTEGER NOT NULL DEFAULT 0; -- roster version of its last change
            ALTER TABLE roster_versions ADD COLUMN horizon INTEGER NOT NULL DEFAULT 0; -- changes after it are all known
            UPDATE roster_versions SET horizon = version; -- what changed before this step is not known
            CREATE TABLE roster_removed (
                domain      TEXT    NOT NULL,
                username    TEXT    NOT NULL,
                jid         TEXT    NOT NULL,
                version     INTEGER NOT NULL, -- the roster version the removal produced
                PRIMARY KEY (domain, username, jid),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            ) WITHOUT ROWID;
            """),
        new(8, "group chat rooms and their archives (XEP-0045, XEP-0313)", """
            CREATE TABLE muc_rooms (
                service     TEXT    NOT NULL,
                name        TEXT    NOT NULL,
                config      TEXT    NOT NULL, -- JSON object: field var -> array of values
                public      INTEGER NOT NULL, -- 1 when listed in the service's disco#items
                title       TEXT,
                creator     TEXT    NOT NULL, -- bare JID
                created_at  INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                subject     TEXT,
                subject_by  TEXT,
                subject_at  INTEGER,
                PRIMARY KEY (service, name)
            ) WITHOUT ROWID;
            CREATE INDEX muc_rooms_public ON muc_rooms (service, public, name);
            CREATE INDEX muc_rooms_creator ON muc_rooms (service, creator);
            CREATE TABLE muc_affiliations (
                service     TEXT NOT NULL,
                name        TEXT NOT NULL,
                jid         TEXT NOT NULL, -- bare JID
                affiliation TEXT NOT NULL, -- owner, admin, member, outcast, none (a reserved nick only)
                nick        TEXT,
                reason      TEXT,
                PRIMARY KEY (service, name, jid),
                FOREIGN KEY (service, name) REFERENCES muc_rooms (service, name) ON DELETE CASCADE
            ) WITHOUT ROWID;
            -- A room's archive (XEP-0313 on the room JID): archive_messages' columns, domain = the service, username = the room.
            CREATE TABLE muc_archive (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- archive order
                domain     TEXT    NOT NULL,
                username   TEXT    NOT NULL,
                archive_id TEXT    NOT NULL, -- the stanza-id the room stamped
                stamp      INTEGER NOT NULL, -- Unix time, milliseconds, UTC
                with_bare  TEXT    NOT NULL, -- the room JID
                with_full  TEXT    NOT NULL, -- room/nick of the sender
                direction  INTEGER NOT NULL, -- 0 (a message to the room)
                stanza     TEXT    NOT NULL,
                FOREIGN KEY (domain, username) REFERENCES muc_rooms (service, name) ON DELETE CASCADE
            );
            CREATE UNIQUE INDEX muc_archive_id ON muc_archive (domain, username, archive_id);
            CREATE INDEX muc_archive_stamp ON muc_archive (domain, username, stamp, seq);
            CREATE INDEX muc_archive_with ON muc_archive (domain, username, with_bare, seq);
            CREATE INDEX muc_archive_age ON muc_archive (stamp);
            """),
    ];

    /// <summary>The schema version a database has once every migration is applied.</summary>
    public static int LatestVersion => All[^1].Version;
}
