-- The relay keeps order per key (case), parks rows that can never be published as they
-- are, and old rows are purged (OUTBOX_RETENTION, INBOX_RETENTION).
ALTER TABLE outbox
    ADD COLUMN parked_at       timestamptz,
    ADD COLUMN first_failed_at timestamptz;

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_unpublished_by_key ON outbox (message_key, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX inbox_received_at ON inbox (received_at);
CREATE INDEX dead_letters_at ON dead_letters (dead_lettered_at);

-- At most one NOTIFY per transaction, however many statements write to the outbox.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('hhc.outbox_notified', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('hhc.outbox_notified', 'yes', true);
        PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    END IF;
    RETURN NULL;
END;
$$;
