-- Dead letters operators can list, show and replay (hhc_chassis.dead_letters): each row
-- points at the one record of the message on "<topic>.dlq" (where the value is, which may
-- hold personal data), and says whether, when and by whom it was replayed. Metadata only,
-- as before: this table never held the message's value, so there is no payload to clear.
ALTER TABLE dead_letters
    ADD COLUMN message_key   text,
    ADD COLUMN reason_class  text,
    ADD COLUMN dlq_topic     text,
    ADD COLUMN dlq_partition integer,
    ADD COLUMN dlq_offset    bigint,
    ADD COLUMN replayed_at   timestamptz,
    ADD COLUMN replayed_by   text,
    ADD COLUMN replay_count  integer NOT NULL DEFAULT 0;

-- A permanent error's message was kept as the reason; written by code, it may still name
-- a person. Every other reason was built without the message's values (field names, counts,
-- error classes) and stays.
UPDATE dead_letters
   SET reason = 'permanent-error: ' || error_class
 WHERE error_class <> 'InvalidMessage'
   AND reason NOT LIKE 'transient-gave-up:%'
   AND reason NOT LIKE 'handler failed % times: %';

UPDATE dead_letters
   SET reason_class = CASE
       WHEN reason LIKE 'untrusted-event%' THEN 'untrusted-event'
       WHEN error_class = 'InvalidMessage' THEN 'invalid-message'
       WHEN reason LIKE 'transient-gave-up:%' THEN 'transient-gave-up'
       WHEN reason LIKE 'handler failed % times: %' THEN 'handler-failed'
       ELSE 'permanent-error' END;

ALTER TABLE dead_letters ALTER COLUMN reason_class SET NOT NULL;

-- One row per consumer and source record: a redelivery after a crash finds the row (and,
-- once written, the record's place on the dead-letter topic) instead of copying it again.
DELETE FROM dead_letters later
 USING dead_letters first
 WHERE later.consumer = first.consumer
   AND later.topic = first.topic
   AND later.kafka_partition = first.kafka_partition
   AND later.kafka_offset = first.kafka_offset
   AND later.id > first.id;

CREATE UNIQUE INDEX dead_letters_source
    ON dead_letters (consumer, topic, kafka_partition, kafka_offset);
CREATE INDEX dead_letters_by_topic_reason ON dead_letters (topic, reason_class);
