CREATE TABLE enforcement_cases (
    enforcement_case_id uuid PRIMARY KEY,
    case_id             uuid        NOT NULL,
    route               text        NOT NULL,
    perpetrator_kind    text        NOT NULL,
    opened_at           timestamptz NOT NULL,
    UNIQUE (case_id, route)
);

CREATE TABLE enforcement_steps (
    step_id             uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    action              text        NOT NULL,
    action_id           uuid        UNIQUE,
    taken_at            timestamptz NOT NULL
);
