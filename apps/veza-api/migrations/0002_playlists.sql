-- Ordered playlists of tracks.
CREATE TABLE playlists (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE playlist_tracks (
  playlist_id bigint NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
  position    integer NOT NULL CHECK (position >= 0),
  track_id    text NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
  PRIMARY KEY (playlist_id, position)
);
