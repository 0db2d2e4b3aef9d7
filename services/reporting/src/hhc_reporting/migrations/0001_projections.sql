-- Reporting keeps projections only, and never personal data: ids, types, times,
-- classifications (design.md, "Shape"; policy 5).
CREATE TABLE case_events (
    event_id    uuid PRIMARY KEY,
    case_id     uuid,
    event_type  text        NOT NULL,
    producer    text        NOT NULL,
    topic       text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX case_events_case ON case_events (case_id, occurred_at);

CREATE TABLE case_facts (
    case_id           uuid PRIMARY KEY,
    reported_at       timestamptz,
    channel           text,
    classification    text,
    track             text,
    perceived_motivation text[],
    risk_level        text,
    first_response_at timestamptz
);

CREATE INDEX case_facts_reported ON case_facts (reported_at);
