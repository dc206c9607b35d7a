// Versioned schema migrations. PRAGMA user_version holds the applied version; each step has an up and a down.
// Steps are append-only: never edit a released one, add a new step instead.
export interface Migration {
  version: number;
  description: string;
  up: string;
  down: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'products, shots, shot features, stations, results, audit log',
    up: `
      CREATE TABLE products (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        recipe_id INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL UNIQUE,
        threshold REAL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE shots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
        png BLOB NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        source TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX shots_product ON shots(product_id);
      CREATE TABLE shot_features (
        shot_id INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
        pack_sha TEXT NOT NULL,
        features BLOB NOT NULL,
        loo_score REAL,
        computed_at INTEGER NOT NULL,
        PRIMARY KEY (shot_id, pack_sha)
      );
      CREATE TABLE stations (
        id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL DEFAULT 0,
        active_product_id INTEGER REFERENCES products(id) ON DELETE SET NULL,
        reference_version INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE results (
        result_id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL,
        result_seq INTEGER NOT NULL,
        camera_id TEXT NOT NULL,
        frame_seq INTEGER NOT NULL,
        part_id TEXT NOT NULL,
        trigger_seq INTEGER NOT NULL,
        product_id INTEGER,
        recipe_id INTEGER NOT NULL,
        reference_version INTEGER NOT NULL,
        pack_id TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('PASS','FAIL','NO_VERDICT')),
        reason TEXT,
        verdict_code INTEGER NOT NULL,
        mode TEXT NOT NULL,
        shots INTEGER NOT NULL,
        score REAL NOT NULL,
        threshold REAL NOT NULL,
        defect_count INTEGER NOT NULL,
        defect_area_px INTEGER NOT NULL,
        bbox TEXT NOT NULL,
        captured_at INTEGER NOT NULL,
        decided_at INTEGER NOT NULL,
        queue_ms REAL,
        inference_ms REAL,
        total_ms REAL NOT NULL,
        mask_png BLOB,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        UNIQUE (station_id, result_seq)
      );
      CREATE INDEX results_decided ON results(decided_at);
      CREATE INDEX results_station_outcome ON results(station_id, outcome, decided_at);
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
      );
    `,
    down: `
      DROP TABLE audit; DROP TABLE results; DROP TABLE stations; DROP TABLE shot_features;
      DROP TABLE shots; DROP TABLE products;
    `,
  },
  {
    version: 2,
    description: 'find results by part id (traceability: "what did the agent say about part X?")',
    up: 'CREATE INDEX results_part ON results(part_id, decided_at);',
    down: 'DROP INDEX results_part;',
  },
  {
    version: 3,
    description: 'frames in flight: on record before they are queued, so a crash cannot make them vanish',
    up: `
      CREATE TABLE frames_in_flight (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        station_id TEXT NOT NULL,
        camera_id TEXT NOT NULL,
        frame_seq INTEGER NOT NULL,
        part_id TEXT NOT NULL,
        trigger_seq INTEGER NOT NULL,
        product_id INTEGER,
        recipe_id INTEGER NOT NULL,
        recipe_name TEXT NOT NULL,
        reference_version INTEGER NOT NULL,
        shots INTEGER NOT NULL,
        threshold REAL NOT NULL,
        captured_at INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL
      );
    `,
    down: 'DROP TABLE frames_in_flight;',
  },
  {
    version: 4,
    description: "the adapters' tables, owned by the store from now on: the MQTT outbox and the OPC UA station state",
    // Agents of schema 3 let the adapters create these tables with these very statements; IF NOT EXISTS keeps those
    // tables and their rows (results waiting for the broker, the PLC handshake state) exactly as they are.
    up: `
      CREATE TABLE IF NOT EXISTS mqtt_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('verdict','mask','alarm')),
        station_id TEXT NOT NULL,
        result_id TEXT,
        result_seq INTEGER,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        props TEXT,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS mqtt_outbox_result ON mqtt_outbox(kind, result_id) WHERE result_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS mqtt_outbox_kind ON mqtt_outbox(kind, id);
      CREATE INDEX IF NOT EXISTS mqtt_outbox_age ON mqtt_outbox(created_at);
      CREATE TABLE IF NOT EXISTS opcua_station_state (station_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
    `,
    down: 'DROP TABLE opcua_station_state; DROP TABLE mqtt_outbox;',
  },
  {
    version: 5,
    description: "evidence for every verdict: the part's frame (JPEG) and fused anomaly map (8-bit PNG) in a side table; product name, threshold source, branch scores and defect regions on the result",
    // Old rows keep everything they had; the new columns are NULL for them (the product name then comes from products).
    // pruned_at marks an image removed by retention, so "none kept" and "removed" answer differently.
    up: `
      ALTER TABLE results ADD COLUMN recipe_name TEXT;
      ALTER TABLE results ADD COLUMN threshold_source TEXT;
      ALTER TABLE results ADD COLUMN branches TEXT;
      ALTER TABLE results ADD COLUMN defect_regions TEXT;
      CREATE TABLE result_images (
        result_id TEXT PRIMARY KEY REFERENCES results(result_id) ON DELETE CASCADE,
        station_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        decided_at INTEGER NOT NULL,
        frame_jpeg BLOB,
        frame_width INTEGER,
        frame_height INTEGER,
        map_png BLOB,
        map_size INTEGER,
        bytes INTEGER NOT NULL,
        pruned_at INTEGER
      );
      CREATE INDEX result_images_decided ON result_images(decided_at) WHERE frame_jpeg IS NOT NULL OR map_png IS NOT NULL;
      CREATE INDEX result_images_rejects ON result_images(station_id, outcome, decided_at);
    `,
    down: `
      DROP TABLE result_images;
      ALTER TABLE results DROP COLUMN defect_regions;
      ALTER TABLE results DROP COLUMN branches;
      ALTER TABLE results DROP COLUMN threshold_source;
      ALTER TABLE results DROP COLUMN recipe_name;
    `,
  },
  // ---- migration 6 (reference sets): owned by the shot-capture work ----
  {
    version: 6,
    description: "versioned reference sets: every change of a product's shots makes a new set; shots an earlier set names are retired, never deleted; leave-one-out results keyed by the shots they were judged against, with their maps",
    // Products with shots get set 1 with those shots, so restore has a starting point. loo_others names the shots a
    // leave-one-out score was judged against: a score for another set is stale and computed again.
    up: `
      CREATE TABLE reference_sets (
        product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (product_id, version)
      );
      CREATE TABLE reference_set_shots (
        product_id INTEGER NOT NULL,
        version INTEGER NOT NULL,
        shot_id INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
        PRIMARY KEY (product_id, version, shot_id),
        FOREIGN KEY (product_id, version) REFERENCES reference_sets(product_id, version) ON DELETE CASCADE
      );
      CREATE INDEX reference_set_shots_shot ON reference_set_shots(shot_id);
      ALTER TABLE shots ADD COLUMN retired_at INTEGER;
      ALTER TABLE shot_features ADD COLUMN loo_others TEXT;
      ALTER TABLE shot_features ADD COLUMN loo_map BLOB;
      INSERT INTO reference_sets (product_id, version, action, detail, created_by, created_at)
        SELECT p.id, 1, 'migrated', 'the shots registered before reference sets existed', 'migration', CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM products p WHERE EXISTS (SELECT 1 FROM shots s WHERE s.product_id = p.id);
      INSERT INTO reference_set_shots (product_id, version, shot_id) SELECT product_id, 1, id FROM shots;
    `,
    down: `
      DROP TABLE reference_set_shots;
      DROP TABLE reference_sets;
      DELETE FROM shots WHERE retired_at IS NOT NULL;
      ALTER TABLE shot_features DROP COLUMN loo_map;
      ALTER TABLE shot_features DROP COLUMN loo_others;
      ALTER TABLE shots DROP COLUMN retired_at;
    `,
  },
  // ---- migration 7 (inspection regions): owned by the region work ----
  {
    version: 7,
    description: "inspection region per reference set: the rectangle inspected, ignore areas and minimum defect area (JSON, NULL = whole frame); shot features keyed by the crop they were computed on",
    // A region change makes a new reference set like a shot change, so restoring a set restores its region. Features
    // depend on the crop: a row computed for another roi is stale and computed again.
    up: `
      ALTER TABLE reference_sets ADD COLUMN region TEXT;
      ALTER TABLE shot_features ADD COLUMN roi TEXT NOT NULL DEFAULT '';
    `,
    down: `
      ALTER TABLE shot_features DROP COLUMN roi;
      ALTER TABLE reference_sets DROP COLUMN region;
    `,
  },
  // ---- migration 8 (shift counters): owned by the overview work; migration 7 (inspection regions) goes before it ----
  {
    version: 8,
    description: "shift counters: when each station's shift started, who or what started it; counts come from the results since then",
    up: `
      CREATE TABLE shift_starts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        station_id TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        cause TEXT NOT NULL
      );
      CREATE INDEX shift_starts_station ON shift_starts(station_id, started_at);
      CREATE INDEX results_station_decided ON results(station_id, decided_at, outcome, reason);
    `,
    down: 'DROP INDEX results_station_decided; DROP TABLE shift_starts;',
  },
  {
    version: 9,
    description: "kept evidence records the inspection region it was judged with (the map covers the region, not the frame)",
    up: 'ALTER TABLE result_images ADD COLUMN region TEXT;',
    down: 'ALTER TABLE result_images DROP COLUMN region;',
  },
];

export const LATEST_VERSION = MIGRATIONS.at(-1)!.version;
