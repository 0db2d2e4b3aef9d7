-- Audited looks wait here, written in the request's own transaction without any lock,
-- until the service's chainer adds them to audit_log's hash chain (hhc_chassis.audit), a
-- batch per transaction: the chain's lock is the chainer's alone, no request waits for it.
CREATE TABLE audit_pending (
    seq           bigserial   PRIMARY KEY,
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
    trace_carrier jsonb       NOT NULL DEFAULT '{}'
);

CREATE TRIGGER audit_pending_added AFTER INSERT ON audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION notify_channel('audit');
