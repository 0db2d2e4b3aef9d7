-- Enforcement wired to its pure domain (issue 11, items 1, 2, 3, 5, 6): alleged
-- perpetrators as records of their own, the reports that concern a case, the validity of
-- anonymous reports (3.2.5), the evidence log (2.5), proposals and decisions of the
-- ladder, the steps a named person recorded as taken, and the risk actions they answer.
-- Personal data: perpetrators.reference and .description, evidence_items' source,
-- reference, storage_reference and summary, the reasons and notes. Never published
-- outside an event's ``personal`` part.

-- Two identified perpetrators of one case on one route are two enforcement cases (each
-- against its own tenancy, contract or employment); perpetrators not yet identified share
-- their case's (hhc_enforcement.ladder.case_to_join). Opening is serialised per case by a
-- transaction advisory lock (hhc_enforcement.store.lock_case) instead of the constraint.
ALTER TABLE enforcement_cases DROP CONSTRAINT enforcement_cases_case_id_route_key;
ALTER TABLE enforcement_cases
    ADD COLUMN closed_at     timestamptz,
    ADD COLUMN closed_reason text;
CREATE INDEX enforcement_cases_case ON enforcement_cases (case_id);

-- What each report of a case says that enforcement decides on (intake.report-received).
CREATE TABLE case_reports (
    report_id         uuid PRIMARY KEY,
    case_id           uuid        NOT NULL,
    received_at       timestamptz NOT NULL,
    track             text        NOT NULL,
    classification    text        NOT NULL,
    immediate_danger  boolean     NOT NULL,
    perpetrator_kinds text[]      NOT NULL
);
CREATE INDEX case_reports_case ON case_reports (case_id, received_at);

-- 3.2.5: whether the investigation found an anonymous report valid; the latest stands.
CREATE TABLE validity_findings (
    finding_id  uuid PRIMARY KEY,
    case_id     uuid        NOT NULL,
    valid       boolean     NOT NULL,
    reason      text        NOT NULL,
    recorded_by text        NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX validity_findings_case ON validity_findings (case_id, recorded_at);

CREATE TABLE perpetrators (
    perpetrator_id uuid PRIMARY KEY,
    kind           text        NOT NULL,
    reference      text,
    -- The reference as compared (hhc_enforcement.ladder.reference_key): spacing and case
    -- ignored. NULL while not identified.
    reference_key  text,
    description    text,
    known_since    timestamptz NOT NULL,
    recorded_by    text        NOT NULL,
    identified_by  text,
    identified_at  timestamptz,
    merged_into    uuid REFERENCES perpetrators,
    CHECK ((reference IS NULL) = (reference_key IS NULL))
);
CREATE INDEX perpetrators_reference ON perpetrators (reference_key)
    WHERE reference_key IS NOT NULL AND merged_into IS NULL;

-- Which cases concern a perpetrator, which reports (incidents) of each named them, and the
-- enforcement case that acts on it; NULL while an anonymous report awaits its validity
-- (3.2.5). A link left (left_at) is history: the perpetrator moved to another enforcement
-- case (their kind, hence route, became known) or was found to be someone already known.
CREATE TABLE perpetrator_cases (
    link_id             uuid PRIMARY KEY,
    perpetrator_id      uuid        NOT NULL REFERENCES perpetrators,
    case_id             uuid        NOT NULL,
    enforcement_case_id uuid REFERENCES enforcement_cases,
    report_ids          uuid[]      NOT NULL DEFAULT '{}',
    linked_by           text        NOT NULL,
    linked_at           timestamptz NOT NULL,
    left_at             timestamptz
);
CREATE UNIQUE INDEX perpetrator_cases_current ON perpetrator_cases (perpetrator_id, case_id)
    WHERE left_at IS NULL;
CREATE INDEX perpetrator_cases_case ON perpetrator_cases (case_id);
CREATE INDEX perpetrator_cases_enforcement_case ON perpetrator_cases (enforcement_case_id);

-- Risk's actions for enforcement (risk.action-required, carried out by enforcement),
-- answered only when a named person records a step that answers them as taken.
CREATE TABLE enforcement_requests (
    action_id           uuid PRIMARY KEY,
    case_id             uuid        NOT NULL,
    kind                text        NOT NULL,
    enforcement_case_id uuid REFERENCES enforcement_cases,
    required_at         timestamptz NOT NULL,
    due_at              timestamptz NOT NULL,
    received_at         timestamptz NOT NULL,
    answered_at         timestamptz,
    answered_by_step_id uuid
);
CREATE INDEX enforcement_requests_case ON enforcement_requests (case_id);

CREATE TABLE evidence_items (
    evidence_id         uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    kind                text        NOT NULL,
    strength            text        NOT NULL,
    source              text        NOT NULL,
    occurred_at         timestamptz,
    reference           text,
    storage_reference   text,
    media_type          text,
    summary             text,
    recorded_by         text        NOT NULL,
    recorded_at         timestamptz NOT NULL
);
CREATE INDEX evidence_items_enforcement_case ON evidence_items (enforcement_case_id, recorded_at);

-- A step asked for. One decider's step is decided as it is proposed; a notice of seeking
-- possession or a possession claim waits, pending, for a second, different person.
CREATE TABLE enforcement_proposals (
    proposal_id         uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    step                text        NOT NULL,
    reason              text        NOT NULL,
    skip_reason         text,
    serious_hate_crime  boolean     NOT NULL,
    proposed_by         text        NOT NULL,
    proposed_by_roles   text[]      NOT NULL,
    proposed_at         timestamptz NOT NULL,
    status              text        NOT NULL CHECK (status IN ('pending', 'decided', 'declined')),
    answered_by         text,
    answered_at         timestamptz
);
CREATE UNIQUE INDEX enforcement_proposals_one_pending
    ON enforcement_proposals (enforcement_case_id, step) WHERE status = 'pending';

CREATE TABLE enforcement_decisions (
    decision_id         uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    proposal_id         uuid        NOT NULL REFERENCES enforcement_proposals,
    route               text        NOT NULL,
    step                text        NOT NULL,
    clause              text        NOT NULL,
    decided_by          text[]      NOT NULL,
    reason              text        NOT NULL,
    skip_reason         text,
    skipped_steps       text[]      NOT NULL,
    serious_hate_crime  boolean     NOT NULL,
    evidence_level      text        NOT NULL,
    decided_at          timestamptz NOT NULL,
    review_at           timestamptz,
    target_at           timestamptz,
    within_target       boolean
);
CREATE INDEX enforcement_decisions_enforcement_case
    ON enforcement_decisions (enforcement_case_id, decided_at);

-- A step carried out, as the named member of staff who recorded it says (the deed). Rows
-- from before this migration were written by the service itself, with no person and no
-- step of the ladder (step IS NULL); they are kept as history and count for nothing.
ALTER TABLE enforcement_steps
    ADD COLUMN step        text,
    ADD COLUMN decision_id uuid UNIQUE REFERENCES enforcement_decisions,
    ADD COLUMN recorded_by text,
    ADD COLUMN recorded_at timestamptz,
    ADD COLUMN note        text;
