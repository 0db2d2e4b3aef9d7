-- Court and legal tracking (policy 2.6, 3.3.1, 4.2): hearings listed, orders made with
-- their terms and expiry, breaches of them, and the reminders before hearings and expiries.
-- decision_id names the ladder decision a row belongs to (enforcement_decisions), when
-- known; it has no foreign key, so this migration stands on enforcement_cases alone.

CREATE TABLE hearings (
    hearing_id          uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    step                text        NOT NULL,
    decision_id         uuid,
    hearing_at          timestamptz NOT NULL,
    court               text        NOT NULL,
    recorded_by         text        NOT NULL,
    recorded_at         timestamptz NOT NULL,
    -- The same application is not listed twice for the same moment (a second click).
    UNIQUE (enforcement_case_id, step, hearing_at)
);

CREATE TABLE court_orders (
    order_id            uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    step                text        NOT NULL,
    decision_id         uuid,
    made_on             date        NOT NULL,
    expires_on          date CHECK (expires_on > made_on),
    terms               text,
    recorded_by         text        NOT NULL,
    recorded_at         timestamptz NOT NULL
);

CREATE INDEX court_orders_enforcement_case ON court_orders (enforcement_case_id, made_on);

-- A breach is of an order, or of an agreement the ladder recorded (decision_id).
CREATE TABLE breaches (
    breach_id           uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    order_id            uuid REFERENCES court_orders,
    decision_id         uuid,
    reported_at         timestamptz NOT NULL,
    source              text        NOT NULL CHECK (source IN ('staff', 'later_report')),
    report_id           uuid,
    summary             text,
    recorded_by         text,
    recorded_at         timestamptz NOT NULL,
    CHECK (order_id IS NOT NULL OR decision_id IS NOT NULL),
    CHECK ((source = 'later_report') = (report_id IS NOT NULL)),
    -- One breach per later report, however often the report's event is delivered.
    UNIQUE (enforcement_case_id, report_id)
);

CREATE INDEX breaches_enforcement_case ON breaches (enforcement_case_id, reported_at);

-- Durable clocks: the reminder scheduler reads them here, and publishes each one once.
CREATE TABLE reminders (
    reminder_id         uuid PRIMARY KEY,
    enforcement_case_id uuid        NOT NULL REFERENCES enforcement_cases,
    case_id             uuid        NOT NULL,
    about               text        NOT NULL,
    hearing_id          uuid REFERENCES hearings,
    order_id            uuid REFERENCES court_orders,
    decision_id         uuid,
    event_at            timestamptz,
    due_at              timestamptz NOT NULL,
    reported_at         timestamptz
);

CREATE INDEX reminders_enforcement_case ON reminders (enforcement_case_id);
CREATE INDEX reminders_awaiting ON reminders (due_at) WHERE reported_at IS NULL;

-- Wake the reminder scheduler when a reminder is set, so a short clock is not missed.
CREATE TRIGGER reminder_set AFTER INSERT ON reminders
    FOR EACH STATEMENT EXECUTE FUNCTION notify_channel('reminders');
