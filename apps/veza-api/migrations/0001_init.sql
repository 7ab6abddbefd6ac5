-- Accounts and the tracks they upload.
CREATE TABLE users (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email        text NOT NULL UNIQUE CHECK (position('@' in email) > 1),
  display_name text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tracks (
  id               text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  owner_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title            text NOT NULL,
  duration_seconds numeric(9, 3) NOT NULL CHECK (duration_seconds > 0),
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tracks_owner_id_idx ON tracks (owner_id);
