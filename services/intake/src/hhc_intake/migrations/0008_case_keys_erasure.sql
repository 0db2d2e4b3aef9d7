-- Crypto-shredding and disposal (policy 3.5.2; hhc_intake.case_keys, hhc_intake.erasure).
--
-- Each case's own key, wrapped by the key-encryption key (CASE_KEY_KEK, named by kek_id);
-- never stored unwrapped. Destroyed: wrapped_key NULL, the row kept so that no new key is
-- ever made for the case. A case erased before it had a key gets a destroyed row with no
-- kek_id.
CREATE TABLE case_keys (
    case_id         uuid PRIMARY KEY REFERENCES cases (case_id),
    wrapped_key     bytea,
    kek_id          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    destroyed_at    timestamptz,
    destroyed_basis text,
    CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

-- A case whose personal data was erased: on the survivor's request (the data protection
-- officer's words, which stay in intake and are never published) or at the end of its
-- retention period.
CREATE TABLE case_erasures (
    case_id      uuid PRIMARY KEY REFERENCES cases (case_id),
    basis        text        NOT NULL,
    reason       text        NOT NULL CHECK (length(reason) <= 2000),
    requested_by text        NOT NULL,
    erased_at    timestamptz NOT NULL
);

-- A legal hold stops a case's disposal, by request or by schedule, while it is active
-- (not lifted): litigation, a police investigation, an inquiry.
CREATE TABLE legal_holds (
    id        uuid PRIMARY KEY,
    case_id   uuid        NOT NULL REFERENCES cases (case_id),
    reason    text        NOT NULL CHECK (length(reason) <= 2000),
    placed_by text        NOT NULL,
    placed_at timestamptz NOT NULL,
    lifted_by text,
    lifted_at timestamptz,
    CHECK ((lifted_by IS NULL) = (lifted_at IS NULL))
);

CREATE INDEX legal_holds_case ON legal_holds (case_id, placed_at);
CREATE INDEX legal_holds_active ON legal_holds (case_id) WHERE lifted_at IS NULL;

-- The retention schedule looks for closed cases, oldest closure first.
CREATE INDEX cases_closed ON cases (closed_at) WHERE status = 'closed';
