-- stepwise PostgreSQL schema, version 4
CREATE TABLE IF NOT EXISTS "public"."stepwise_records" (
  run_id             text PRIMARY KEY,
  workflow_name      text NOT NULL,
  foreign_id         text NOT NULL,
  run_state          smallint NOT NULL,
  status             integer NOT NULL,
  object             bytea NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  version            integer NOT NULL,
  run_state_reason   text NOT NULL DEFAULT '',
  status_description text NOT NULL DEFAULT '',
  trace_origin       text NOT NULL DEFAULT '',
  seq                bigserial NOT NULL,
  trace_parent       text NOT NULL DEFAULT '',
  trace_state        text NOT NULL DEFAULT '',
  workflow_version   integer NOT NULL DEFAULT 1
);
-- Tables of layouts 1 and 2 lack the W3C trace context of the span that wrote each version ('' for none).
ALTER TABLE "public"."stepwise_records" ADD COLUMN IF NOT EXISTS trace_parent text NOT NULL DEFAULT '';
ALTER TABLE "public"."stepwise_records" ADD COLUMN IF NOT EXISTS trace_state text NOT NULL DEFAULT '';
-- Tables of layouts 1 to 3 lack the version of the workflow definition that wrote each run: theirs read as 1.
ALTER TABLE "public"."stepwise_records" ADD COLUMN IF NOT EXISTS workflow_version integer NOT NULL DEFAULT 1;
-- At most one unfinished run per workflow and foreign id: concurrent triggers yield one run.
CREATE UNIQUE INDEX IF NOT EXISTS "stepwise_records_unfinished" ON "public"."stepwise_records" (workflow_name, foreign_id)
  WHERE run_state NOT IN (4, 5, 6, 7);
CREATE INDEX IF NOT EXISTS "stepwise_records_foreign_id" ON "public"."stepwise_records" (workflow_name, foreign_id, created_at, seq);
CREATE INDEX IF NOT EXISTS "stepwise_records_created" ON "public"."stepwise_records" (workflow_name, created_at, seq);
CREATE INDEX IF NOT EXISTS "stepwise_records_status" ON "public"."stepwise_records" (workflow_name, status, created_at, seq);
CREATE INDEX IF NOT EXISTS "stepwise_records_run_state" ON "public"."stepwise_records" (workflow_name, run_state, created_at, seq);

CREATE TABLE IF NOT EXISTS "public"."stepwise_outbox" (
  id            bigserial PRIMARY KEY,
  workflow_name text NOT NULL,
  foreign_id    text NOT NULL,
  type          integer NOT NULL,
  headers       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS "stepwise_outbox_workflow" ON "public"."stepwise_outbox" (workflow_name, id);

CREATE TABLE IF NOT EXISTS "public"."stepwise_timeouts" (
  id            bigserial PRIMARY KEY,
  workflow_name text NOT NULL,
  foreign_id    text NOT NULL,
  run_id        text NOT NULL,
  status        integer NOT NULL,
  timeout_index integer NOT NULL DEFAULT 0,
  completed     boolean NOT NULL DEFAULT false,
  cancelled     boolean NOT NULL DEFAULT false,
  expire_at     timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- Tables of layout 1 lack timeout_index: every row in them was its status's only timeout, index 0.
ALTER TABLE "public"."stepwise_timeouts" ADD COLUMN IF NOT EXISTS timeout_index integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS "stepwise_timeouts_active" ON "public"."stepwise_timeouts" (workflow_name, status, expire_at)
  WHERE NOT completed AND NOT cancelled;

-- tx is the writing transaction's id. Readers take events in (tx, id) order and only below the
-- oldest transaction still in flight, so an event committed late is never skipped.
CREATE TABLE IF NOT EXISTS "public"."stepwise_events" (
  id         bigserial PRIMARY KEY,
  tx         xid8 NOT NULL DEFAULT pg_current_xact_id(),
  topic      text NOT NULL,
  foreign_id text NOT NULL,
  type       integer NOT NULL,
  headers    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS "stepwise_events_topic" ON "public"."stepwise_events" (topic, tx, id);

CREATE TABLE IF NOT EXISTS "public"."stepwise_cursors" (
  topic text NOT NULL,
  name  text NOT NULL,
  tx    xid8 NOT NULL,
  id    bigint NOT NULL,
  PRIMARY KEY (topic, name)
);

CREATE TABLE IF NOT EXISTS "public"."stepwise_schema_version" (
  version    integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO "public"."stepwise_schema_version" (version) VALUES (4) ON CONFLICT DO NOTHING;
