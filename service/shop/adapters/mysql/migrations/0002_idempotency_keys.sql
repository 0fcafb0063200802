-- Idempotency keys (Stripe's semantics): one row per (user, key). The claim is committed on its
-- own so every replica sees a request in flight; the answer is written in the same transaction
-- as the effect, so a committed effect always has its answer stored beside it.
-- idem_key is ASCII and case-sensitive (keys are opaque client tokens, usually UUIDs). The
-- fingerprint is hex and the body text (JSON) because aiomysql cannot bind bytes parameters.

CREATE TABLE idempotency_keys (
    user_id      VARCHAR(64)  NOT NULL,
    idem_key     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    fingerprint  CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    claim_token  CHAR(32)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    claimed_at   DATETIME(6)  NOT NULL,
    status       SMALLINT     NULL,
    body         MEDIUMTEXT   NULL,
    created_at   DATETIME(6)  NOT NULL,
    completed_at DATETIME(6)  NULL,
    PRIMARY KEY (user_id, idem_key),
    KEY idx_idempotency_keys_created (created_at)
) ENGINE=InnoDB;
