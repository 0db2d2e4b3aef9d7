-- Who reaches which case (hhc_chassis.access): kept by every service from intake's case
-- events, so each can answer "may this caller see this case?" on its own. No personal data.
CREATE TABLE case_access (
    case_id           uuid PRIMARY KEY,
    team              text        NOT NULL,
    survivor_is_staff boolean     NOT NULL DEFAULT false,
    safeguarding      boolean     NOT NULL DEFAULT false,
    taken_by          text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every look at personal data, and every refused attempt (hhc_chassis.audit). Each record
-- carries the hash of the one before, so a changed or missing record shows; the service
-- may only add records.
CREATE TABLE audit_log (
    id            bigint PRIMARY KEY,
    recorded_at   timestamptz NOT NULL,
    subject       text        NOT NULL,
    roles         text[]      NOT NULL,
    team          text,
    case_id       uuid,
    operation     text        NOT NULL,
    fields        text[]      NOT NULL,
    purpose       text,
    outcome       text        NOT NULL,
    request_id    text,
    trace_id      text,
    previous_hash text        NOT NULL,
    record_hash   text        NOT NULL
);

CREATE INDEX audit_log_case ON audit_log (case_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
