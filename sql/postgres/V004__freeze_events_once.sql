-- The freeze monitor keeps an outbox: when Kafka does not acknowledge, it writes the same events again on its
-- next look. Record each event once: (scope, kind, at) identifies it, and inserts skip what is there.
DELETE FROM freeze_events a USING freeze_events b
 WHERE a.id > b.id AND a.scope = b.scope AND a.kind = b.kind AND a.at = b.at;
CREATE UNIQUE INDEX IF NOT EXISTS freeze_events_once ON freeze_events (scope, kind, at);
