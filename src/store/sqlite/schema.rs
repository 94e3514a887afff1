//! The versioned SQLite schema. `MIGRATIONS[n]` takes a database from `user_version` n to n + 1; released
//! migrations are never edited, only appended to.

pub const APPLICATION_ID: i64 = 0x4657_5254; // "FWRT": marks the file as feedwright's

pub const MIGRATIONS: &[&str] = &[
    // 1: items, the listing links that lead to them, and HTTP validators.
    "CREATE TABLE items (
        source        TEXT NOT NULL,
        id            TEXT NOT NULL,
        url           TEXT NOT NULL,
        title         TEXT NOT NULL,
        published     TEXT NOT NULL,
        published_ts  INTEGER NOT NULL,
        date_source   TEXT NOT NULL,
        updated       TEXT NOT NULL,
        author        TEXT,
        summary       TEXT NOT NULL,
        content_html  TEXT NOT NULL,
        image         TEXT,
        image_caption TEXT,
        content_hash  TEXT NOT NULL,
        first_seen    TEXT NOT NULL,
        last_seen     TEXT NOT NULL,
        last_checked  TEXT NOT NULL,
        PRIMARY KEY (source, id)
    ) WITHOUT ROWID;
    CREATE INDEX items_newest ON items (source, published_ts DESC, id);
    CREATE INDEX items_updated ON items (source, updated);
    CREATE TABLE links (
        source  TEXT NOT NULL,
        url     TEXT NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (source, url)
    ) WITHOUT ROWID;
    CREATE TABLE validators (
        url           TEXT PRIMARY KEY,
        etag          TEXT,
        last_modified TEXT
    ) WITHOUT ROWID;",
    // 2: one record per source per run, for health and `status`.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        started     TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        outcome     TEXT NOT NULL,
        reason      TEXT,
        links       INTEGER NOT NULL,
        new         INTEGER NOT NULL,
        updated     INTEGER NOT NULL,
        failed      INTEGER NOT NULL,
        with_date   INTEGER NOT NULL,
        with_body   INTEGER NOT NULL,
        fetched     INTEGER NOT NULL,
        requests    INTEGER NOT NULL,
        listing     TEXT NOT NULL,
        errors      TEXT NOT NULL
    );
    CREATE INDEX runs_by_source ON runs (source, id DESC);",
    // 3: events waiting for delivery, one row per notify target, written in the run's transaction.
    "CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY,
        target     TEXT NOT NULL,
        event      TEXT NOT NULL,
        created    TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );",
    // 4: robots.txt per host, so a run within a day of the last fetch does not ask again.
    "CREATE TABLE robots (
        host    TEXT PRIMARY KEY,
        body    TEXT,
        fetched TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 5: listed article links that failed (or were skipped), to retry with backoff and to tell from new links.
    "CREATE TABLE failed_links (
        source       TEXT NOT NULL,
        url          TEXT NOT NULL,
        title        TEXT,
        date_text    TEXT,
        first_failed TEXT NOT NULL,
        last_failed  TEXT NOT NULL,
        attempts     INTEGER NOT NULL,
        error        TEXT NOT NULL,
        PRIMARY KEY (source, url)
    ) WITHOUT ROWID;",
    // 6: when an item's content last changed after it was first stored (NULL: never edited), for the web page.
    "ALTER TABLE items ADD COLUMN edited TEXT;",
    // 7: the last fetched text of each listing page and of each article in the feed window (brotli), so a rules
    // change re-extracts without asking the site again and `snapshot` has pages to save; and the fingerprint of
    // the extraction rules each source's last committed run used.
    "CREATE TABLE pages (
        source     TEXT NOT NULL,
        url        TEXT NOT NULL,
        kind       TEXT NOT NULL,
        start      TEXT,
        number     INTEGER,
        item_id    TEXT,
        link_title TEXT,
        link_date  TEXT,
        final_url  TEXT NOT NULL,
        encoding   TEXT NOT NULL,
        fetched    TEXT NOT NULL,
        body       BLOB NOT NULL,
        size       INTEGER NOT NULL,
        UNIQUE (source, url)
    );
    CREATE INDEX pages_by_item ON pages (source, item_id);
    CREATE TABLE rules (
        source      TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        since       TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 8: what a run loads and a commit's merge reads, from indexes instead of the rows with their bodies: the known
    // links' ids, hashes and times (`items_known`), and the times retention prunes by (`items_seen`).
    "CREATE INDEX items_known ON items (source, id, content_hash, first_seen, last_checked, updated, published,
        date_source);
    CREATE INDEX items_seen ON items (source, last_seen, published_ts);",
    // 9: an item's categories (a JSON array of strings) and its lead image's size and media type where a feed
    // stated them.
    "ALTER TABLE items ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE items ADD COLUMN image_length INTEGER;
    ALTER TABLE items ADD COLUMN image_type TEXT;",
    // 10: the digest of what each source's feed files were last written from, cleared by a commit that adds or edits
    // an item, so a run that changed nothing renders nothing.
    "ALTER TABLE rules ADD COLUMN published TEXT;",
    // 11: the claims of workers sharing a store (`postgres/claims.rs`). SQLite has one writer at a time (its file
    // lock) and never reads it: the table is here so that a version number means the same tables in both backends.
    "CREATE TABLE claims (
        source      TEXT PRIMARY KEY,
        host        TEXT NOT NULL,
        holder      TEXT,
        lease_until INTEGER,
        started     INTEGER,
        done        INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX claims_by_host ON claims (host);",
    // 12: the published feeds themselves (`feeds.rs`), which `serve` answers from; the digests are forgotten so the
    // first run after the upgrade renders, and keeps, every feed.
    "CREATE TABLE feeds (
        feed     TEXT NOT NULL,
        ext      TEXT NOT NULL,
        etag     TEXT NOT NULL,
        modified TEXT NOT NULL,
        body     BLOB NOT NULL,
        PRIMARY KEY (feed, ext)
    ) WITHOUT ROWID;
    UPDATE rules SET published = NULL;",
];
