-- Per-user token revocation (docs/decisions/0034-token-lifecycle.md): a user's tokens issued
-- before not_before (unix seconds) are refused. Every process reads the rows that can still
-- matter (not_before within the longest token lifetime) every few seconds.

CREATE TABLE token_revocations (
    user_id    VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    not_before BIGINT      NOT NULL,
    revoked_at DATETIME(6) NOT NULL,
    KEY idx_token_revocations_not_before (not_before)
) ENGINE=InnoDB;
