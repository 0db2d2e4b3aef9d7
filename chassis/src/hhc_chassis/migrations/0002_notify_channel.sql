-- A statement trigger that wakes listeners on "<schema>_<argument>" at commit; services
-- use it for their own wake-ups (e.g. risk's deadlines) as the outbox does for its relay.
CREATE FUNCTION notify_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_' || TG_ARGV[0], '');
    RETURN NULL;
END;
$$;
