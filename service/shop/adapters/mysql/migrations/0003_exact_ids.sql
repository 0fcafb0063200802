-- One identity per id (docs/decisions/0032-exact-ids.md): every column that holds a user,
-- product or coupon id compares byte for byte. utf8mb4_unicode_ci made `TEST-USER-1`,
-- `test-user-1 ` and full-width look-alikes the same row as `test-user-1`, while the per-user
-- locks, idempotency keys and token principals compare exactly. utf8mb4_nopad_bin, not
-- utf8mb4_bin: the _bin collations are PAD SPACE and still ignore trailing spaces.
-- Each MODIFY restates the column whole; the indexes on these columns are rebuilt unchanged.

ALTER TABLE users
    MODIFY user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE balance_history
    MODIFY user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE products
    MODIFY product_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE carts
    MODIFY user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE cart_items
    MODIFY product_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE coupons
    MODIFY coupon_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE user_coupons
    MODIFY coupon_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    MODIFY user_id   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE orders
    MODIFY user_id   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    MODIFY coupon_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

ALTER TABLE order_items
    MODIFY product_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE payments
    MODIFY user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

-- ascii_bin is PAD SPACE too: `key` and `key ` were one idempotency key.
ALTER TABLE idempotency_keys
    MODIFY user_id  VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    MODIFY idem_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL;
