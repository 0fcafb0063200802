-- A key stores its request's outcome as the use case gave it (the result as JSON, or the
-- refusal's code and message) and the time it was decided; the API renders it, the first time
-- and on every replay alike. Answers stored as HTTP bytes before cannot be read that way and
-- are dropped (docs/decisions/0026-one-coupon-issue-path-and-sealed-outcomes.md
-- says what that costs).

DELETE FROM idempotency_keys WHERE status IS NOT NULL;

ALTER TABLE idempotency_keys
    CHANGE COLUMN status refused BOOLEAN NULL,
    CHANGE COLUMN body outcome MEDIUMTEXT NULL;
