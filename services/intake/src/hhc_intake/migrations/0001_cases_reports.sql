-- Intake owns reports, cases and the personal data in them (design.md, "Shape").
CREATE SEQUENCE case_reference_seq;

CREATE TABLE cases (
    case_id        uuid PRIMARY KEY,
    reference      text        NOT NULL UNIQUE,
    status         text        NOT NULL DEFAULT 'open',
    track          text        NOT NULL,
    track_clauses  text[]      NOT NULL,
    classification text        NOT NULL,
    consent_to_share text      NOT NULL,
    opened_at      timestamptz NOT NULL
);

CREATE TABLE reports (
    report_id   uuid PRIMARY KEY,
    case_id     uuid        NOT NULL REFERENCES cases (case_id),
    received_at timestamptz NOT NULL,
    channel     text        NOT NULL,
    reporter_role text      NOT NULL,
    -- The report as submitted, personal data included; never leaves intake except in the
    -- personal part of report-received.
    body        jsonb       NOT NULL
);

CREATE INDEX reports_case ON reports (case_id, received_at);

-- A retried submission with the same Idempotency-Key gets the first answer back.
CREATE TABLE idempotency_keys (
    key         text PRIMARY KEY,
    request_hash text       NOT NULL,
    case_id     uuid        NOT NULL,
    response    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
