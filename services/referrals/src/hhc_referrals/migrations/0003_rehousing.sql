-- Rehousing (policy 3.3.2, 3.4): the evidence a case holds, the requests for priority
-- banding made with it, and requests to set a tenancy rule aside (3.4.2, 3.4.3).
-- Cases reported before this migration have only what is reported or assessed after it.

-- Every report of an incident, from intake's report-received (the description is
-- personal data: never logged).
CREATE TABLE case_incidents (
    report_id   uuid PRIMARY KEY,
    case_id     uuid        NOT NULL,
    occurred_at timestamptz,
    received_at timestamptz NOT NULL,
    categories  text[]      NOT NULL,
    description text
);
CREATE INDEX case_incidents_case ON case_incidents (case_id);

-- Every risk assessment, from risk's risk-assessed.
CREATE TABLE case_assessments (
    assessment_id uuid PRIMARY KEY,
    case_id       uuid        NOT NULL,
    risk_level    text        NOT NULL,
    assessed_at   timestamptz NOT NULL
);
CREATE INDEX case_assessments_case ON case_assessments (case_id);

-- Requests for priority banding sent to the housing allocations system, each with
-- exactly the evidence it carried.
CREATE TABLE rehousing_requests (
    request_id         uuid PRIMARY KEY,
    case_id            uuid        NOT NULL,
    banding            text        NOT NULL
        CHECK (banding IN ('emergency', 'priority', 'standard')),
    notes              text,
    requested_by       text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    highest_risk_level text,
    evidence           jsonb       NOT NULL
);
CREATE INDEX rehousing_requests_case ON rehousing_requests (case_id, requested_at);

-- Requests to set a tenancy rule aside (3.4.2): with the statutory or multi-agency
-- support recorded (3.4.3), decided once, by a manager who is not the one who asked.
CREATE TABLE exemption_requests (
    exemption_id      uuid PRIMARY KEY,
    case_id           uuid        NOT NULL,
    rule              text        NOT NULL,
    reason            text        NOT NULL,
    supported_by      text        NOT NULL CHECK (btrim(supported_by) <> ''),
    support_reference text,
    requested_by      text        NOT NULL,
    requested_at      timestamptz NOT NULL,
    status            text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'refused')),
    decided_by        text,
    decided_at        timestamptz,
    decision_reason   text,
    CHECK ((status = 'pending') = (decided_by IS NULL AND decided_at IS NULL)),
    CHECK (decided_by IS DISTINCT FROM requested_by)
);
CREATE INDEX exemption_requests_case ON exemption_requests (case_id, requested_at);
