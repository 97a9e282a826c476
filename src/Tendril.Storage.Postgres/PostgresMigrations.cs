namespace Tendril.Storage.Postgres;

/// <summary>One schema step. <see cref="Version"/> values are 1, 2, 3... in order; a step is never edited once released.</summary>
/// <param name="Version">The schema version this step produces.</param>
/// <param name="Description">Recorded in <c>schema_version</c> for operators.</param>
/// <param name="Sql">Statements run inside the migration transaction (PostgreSQL DDL is transactional).</param>
public sealed record PostgresMigration(int Version, string Description, string Sql);

/// <summary>
/// The ordered schema migrations of the PostgreSQL backend: the same tables, steps and numbering as the SQLite backend
/// (<c>SqliteMigrations</c>), in PostgreSQL types. Append new steps, never change or reorder one. Text that is
/// compared or sorted uses <c>COLLATE "C"</c> (byte order, like SQLite's BINARY), so both backends order alike whatever
/// the database's locale; times are Unix milliseconds (<c>bigint</c>) as in SQLite. Per-account tables reference
/// <c>accounts</c> with <c>ON DELETE CASCADE</c>.
/// </summary>
public static class PostgresMigrations
{
    public static IReadOnlyList<PostgresMigration> All { get; } =
    [
        new(1, "accounts", """
            CREATE TABLE accounts (
                domain              text COLLATE "C" NOT NULL,
                username            text COLLATE "C" NOT NULL,
                created_at          bigint  NOT NULL, -- Unix time, milliseconds, UTC
                sha1_salt           bytea   NOT NULL,
                sha1_iterations     integer NOT NULL,
                sha1_stored_key     bytea   NOT NULL,
                sha1_server_key     bytea   NOT NULL,
                sha256_salt         bytea   NOT NULL,
                sha256_iterations   integer NOT NULL,
                sha256_stored_key   bytea   NOT NULL,
                sha256_server_key   bytea   NOT NULL,
                PRIMARY KEY (domain, username)
            );
            """),
        new(2, "pubsub", """
            CREATE TABLE pubsub_nodes (
                service     text COLLATE "C" NOT NULL,
                node        text COLLATE "C" NOT NULL,
                config      text   NOT NULL, -- JSON object: field var -> array of values
                creator     text   NOT NULL,
                created_at  bigint NOT NULL, -- Unix time, milliseconds, UTC
                PRIMARY KEY (service, node)
            );
            CREATE TABLE pubsub_items (
                seq          bigserial PRIMARY KEY, -- publication order; a republished item takes a new value
                service      text COLLATE "C" NOT NULL,
                node         text COLLATE "C" NOT NULL,
                item_id      text COLLATE "C" NOT NULL,
                publisher    text   NOT NULL,
                payload      text   NOT NULL,
                published_at bigint NOT NULL,
                FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
            );
            CREATE UNIQUE INDEX pubsub_items_by_id ON pubsub_items (service, node, item_id);
            CREATE INDEX pubsub_items_by_seq ON pubsub_items (service, node, seq);
            CREATE TABLE pubsub_subscriptions (
                service  text COLLATE "C" NOT NULL,
                node     text COLLATE "C" NOT NULL,
                jid      text COLLATE "C" NOT NULL,
                subid    text COLLATE "C" NOT NULL,
                state    text NOT NULL, -- subscribed | pending | unconfigured
                options  text NOT NULL, -- JSON object
                PRIMARY KEY (service, node, jid, subid),
                FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
            );
            CREATE TABLE pubsub_affiliations (
                service      text COLLATE "C" NOT NULL,
                node         text COLLATE "C" NOT NULL,
                jid          text COLLATE "C" NOT NULL,
                affiliation  text NOT NULL,
                PRIMARY KEY (service, node, jid),
                FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
            );
            """),
        new(3, "rosters and pending subscription requests", """
            CREATE TABLE roster_versions (
                domain      text COLLATE "C" NOT NULL,
                username    text COLLATE "C" NOT NULL,
                version     bigint NOT NULL,
                PRIMARY KEY (domain, username),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            CREATE TABLE roster_items (
                domain       text COLLATE "C" NOT NULL,
                username     text COLLATE "C" NOT NULL,
                jid          text COLLATE "C" NOT NULL,
                name         text,
                subscription smallint NOT NULL, -- 0 none, 1 to, 2 from, 3 both
                ask          boolean  NOT NULL, -- the user's subscription request is pending
                approved     boolean  NOT NULL, -- pre-approved (RFC 6121 §3.4)
                groups       text[]   NOT NULL,
                PRIMARY KEY (domain, username, jid),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            CREATE TABLE roster_pending_in (
                domain      text COLLATE "C" NOT NULL,
                username    text COLLATE "C" NOT NULL,
                jid         text COLLATE "C" NOT NULL,
                stanza      text   NOT NULL,
                received_at bigint NOT NULL, -- Unix time, milliseconds, UTC
                PRIMARY KEY (domain, username, jid),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            """),
        new(4, "offline messages", """
            CREATE TABLE offline_messages (
                id        bigserial PRIMARY KEY,
                domain    text COLLATE "C" NOT NULL,
                username  text COLLATE "C" NOT NULL,
                stored_at bigint NOT NULL, -- Unix time, milliseconds, UTC
                stanza    text   NOT NULL,
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            CREATE INDEX offline_messages_account ON offline_messages (domain, username, id);
            """),
        new(5, "per-account documents (vCard, private XML, last activity, blocklist)", """
            CREATE TABLE account_data (
                domain    text COLLATE "C" NOT NULL,
                username  text COLLATE "C" NOT NULL,
                store     text COLLATE "C" NOT NULL, -- e.g. vcard, private, last, blocklist
                key       text COLLATE "C" NOT NULL,
                value     text NOT NULL,
                PRIMARY KEY (domain, username, store, key),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            """),
        new(6, "message archive (XEP-0313)", """
            CREATE TABLE archive_messages (
                seq        bigserial PRIMARY KEY, -- archive order
                domain     text COLLATE "C" NOT NULL,
                username   text COLLATE "C" NOT NULL,
                archive_id text COLLATE "C" NOT NULL, -- server-generated, unique per account
                stamp      bigint   NOT NULL, -- Unix time, milliseconds, UTC
                with_bare  text COLLATE "C" NOT NULL, -- the other party's bare JID
                with_full  text COLLATE "C" NOT NULL, -- the other party's JID as in the stanza
                direction  smallint NOT NULL, -- 0 incoming, 1 outgoing
                stanza     text     NOT NULL,
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            CREATE UNIQUE INDEX archive_messages_id ON archive_messages (domain, username, archive_id);
            CREATE INDEX archive_messages_stamp ON archive_messages (domain, username, stamp, seq);
            CREATE INDEX archive_messages_with ON archive_messages (domain, username, with_bare, seq);
            CREATE INDEX archive_messages_age ON archive_messages (stamp);
            CREATE TABLE archive_preferences (
                domain        text COLLATE "C" NOT NULL,
                username      text COLLATE "C" NOT NULL,
                default_mode  smallint NOT NULL, -- 0 always, 1 never, 2 roster
                always_jids   text[]   NOT NULL, -- bare JIDs
                never_jids    text[]   NOT NULL, -- bare JIDs
                PRIMARY KEY (domain, username),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            """),
        new(7, "roster versioning: per-item versions, removals kept, the oldest version deltas start from", """
            ALTER TABLE roster_items ADD COLUMN version bigint NOT NULL DEFAULT 0; -- roster version of its last change
            ALTER TABLE roster_versions ADD COLUMN horizon bigint NOT NULL DEFAULT 0; -- changes after it are all known
            UPDATE roster_versions SET horizon = version; -- what changed before this step is not known
            CREATE TABLE roster_removed (
                domain      text COLLATE "C" NOT NULL,
                username    text COLLATE "C" NOT NULL,
                jid         text COLLATE "C" NOT NULL,
                version     bigint NOT NULL, -- the roster version the removal produced
                PRIMARY KEY (domain, username, jid),
                FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
            );
            """),
        new(8, "group chat rooms and their archives (XEP-0045, XEP-0313)", """
            CREATE TABLE muc_rooms (
                service     text COLLATE "C" NOT NULL,
                name        text COLLATE "C" NOT NULL,
                config      text    NOT NULL, -- JSON object: field var -> array of values
                public      boolean NOT NULL, -- listed in the service's disco#items
                title       text,
                creator     text COLLATE "C" NOT NULL, -- bare JID
                created_at  bigint  NOT NULL, -- Unix time, milliseconds, UTC
                subject     text,
                subject_by  text,
                subject_at  bigint,
                PRIMARY KEY (service, name)
            );
            CREATE INDEX muc_rooms_public ON muc_rooms (service, public, name);
            CREATE INDEX muc_rooms_creator ON muc_rooms (service, creator);
            CREATE TABLE muc_affiliations (
                service     text COLLATE "C" NOT NULL,
                name        text COLLATE "C" NOT NULL,
                jid         text COLLATE "C" NOT NULL, -- bare JID
                affiliation text NOT NULL, -- owner, admin, member, outcast, none (a reserved nick only)
                nick        text,
                reason      text,
                PRIMARY KEY (service, name, jid),
                FOREIGN KEY (service, name) REFERENCES muc_rooms (service, name) ON DELETE CASCADE
            );
            -- A room's archive (XEP-0313 on the room JID): archive_messages' columns, domain = the service, username = the room.
            CREATE TABLE muc_archive (
                seq        bigserial PRIMARY KEY, -- archive order
                domain     text COLLATE "C" NOT NULL,
                username   text COLLATE "C" NOT NULL,
                archive_id text COLLATE "C" NOT NULL, -- the stanza-id the room stamped
                stamp      bigint   NOT NULL, -- Unix time, milliseconds, UTC
                with_bare  text COLLATE "C" NOT NULL, -- the room JID
                with_full  text COLLATE "C" NOT NULL, -- room/nick of the sender
                direction  smallint NOT NULL, -- 0 (a message to the room)
                stanza     text     NOT NULL,
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
