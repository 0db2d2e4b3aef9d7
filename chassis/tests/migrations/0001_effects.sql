-- The effect a test handler has, so tests can count how often it happened.
CREATE TABLE effects (
    id         bigserial PRIMARY KEY,
    event_id   uuid NOT NULL,
    case_id    uuid,
    label      text NOT NULL
);
