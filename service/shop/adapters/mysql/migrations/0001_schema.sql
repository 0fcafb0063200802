-- The shop's tables. Money and quantities are BIGINT/INT won and units; times are UTC DATETIME(6).
-- Foreign keys are left out on purpose: rows are never deleted from the parent tables, and FK
-- checks would add shared locks on users/products to every hot insert.

CREATE TABLE users (
    user_id     VARCHAR(64)  NOT NULL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    balance     BIGINT       NOT NULL DEFAULT 0,
    created_at  DATETIME(6)  NOT NULL,
    CONSTRAINT chk_users_balance CHECK (balance BETWEEN 0 AND 1000000000000)
) ENGINE=InnoDB;

CREATE TABLE balance_history (
    id               BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id          VARCHAR(64) NOT NULL,
    amount           BIGINT      NOT NULL,
    previous_balance BIGINT      NOT NULL,
    current_balance  BIGINT      NOT NULL,
    reason           ENUM('CHARGE', 'PAYMENT', 'REFUND') NOT NULL,
    order_id         BIGINT      NULL,
    created_at       DATETIME(6) NOT NULL,
    KEY idx_balance_history_user (user_id, id)
) ENGINE=InnoDB;

CREATE TABLE products (
    product_id  VARCHAR(64)  NOT NULL PRIMARY KEY,
    name        VARCHAR(200) NOT NULL,
    price       BIGINT       NOT NULL,
    stock       BIGINT       NOT NULL,
    category    VARCHAR(50)  NOT NULL,
    sales_count BIGINT       NOT NULL DEFAULT 0,
    created_at  DATETIME(6)  NOT NULL,
    CONSTRAINT chk_products_stock CHECK (stock >= 0),
    CONSTRAINT chk_products_price CHECK (price >= 0),
    KEY idx_products_category (category)
) ENGINE=InnoDB;

CREATE TABLE carts (
    cart_id    BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY uq_carts_user (user_id)
) ENGINE=InnoDB;

-- idx_cart_items_cart serves every cart read (the original's full-scan incident); the unique key
-- leads with product_id so that it cannot stand in for it when the index is dropped on purpose.
CREATE TABLE cart_items (
    cart_item_id BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    cart_id      BIGINT      NOT NULL,
    product_id   VARCHAR(64) NOT NULL,
    quantity     INT         NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    CONSTRAINT chk_cart_items_quantity CHECK (quantity BETWEEN 1 AND 999),
    UNIQUE KEY uq_cart_items_product_cart (product_id, cart_id),
    KEY idx_cart_items_cart (cart_id)
) ENGINE=InnoDB;

CREATE TABLE coupons (
    coupon_id        VARCHAR(64)  NOT NULL PRIMARY KEY,
    name             VARCHAR(200) NOT NULL,
    discount_type    ENUM('FIXED', 'PERCENT') NOT NULL,
    discount_value   BIGINT       NOT NULL,
    min_order_amount BIGINT       NOT NULL DEFAULT 0,
    total_quantity   INT          NOT NULL,
    issued_quantity  INT          NOT NULL DEFAULT 0,
    expires_at       DATETIME(6)  NOT NULL,
    created_at       DATETIME(6)  NOT NULL,
    CONSTRAINT chk_coupons_issued CHECK (issued_quantity BETWEEN 0 AND total_quantity),
    KEY idx_coupons_expires (expires_at)
) ENGINE=InnoDB;

-- The unique key is the last word on "never to one user twice", whatever runs in front of it.
CREATE TABLE user_coupons (
    user_coupon_id BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    coupon_id      VARCHAR(64) NOT NULL,
    user_id        VARCHAR(64) NOT NULL,
    status         ENUM('AVAILABLE', 'USED') NOT NULL DEFAULT 'AVAILABLE',
    issued_at      DATETIME(6) NOT NULL,
    used_at        DATETIME(6) NULL,
    order_id       BIGINT      NULL,
    UNIQUE KEY uq_user_coupons_coupon_user (coupon_id, user_id),
    KEY idx_user_coupons_user (user_id, user_coupon_id)
) ENGINE=InnoDB;

CREATE TABLE orders (
    order_id        BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id         VARCHAR(64) NOT NULL,
    status          ENUM('PENDING', 'PAID', 'CANCELLED') NOT NULL,
    total_amount    BIGINT      NOT NULL,
    discount_amount BIGINT      NOT NULL,
    final_amount    BIGINT      NOT NULL,
    coupon_id       VARCHAR(64) NULL,
    created_at      DATETIME(6) NOT NULL,
    KEY idx_orders_user (user_id, order_id),
    KEY idx_orders_user_status (user_id, status, order_id)
) ENGINE=InnoDB;

-- Covering index for "popular products": a range on created_at reads product_id and quantity
-- from the index alone. Rows exist only for paid orders (an order is written whole or not at all).
CREATE TABLE order_items (
    order_item_id BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id      BIGINT       NOT NULL,
    product_id    VARCHAR(64)  NOT NULL,
    product_name  VARCHAR(200) NOT NULL,
    price         BIGINT       NOT NULL,
    quantity      INT          NOT NULL,
    created_at    DATETIME(6)  NOT NULL,
    KEY idx_order_items_order (order_id),
    KEY idx_order_items_sales (created_at, product_id, quantity)
) ENGINE=InnoDB;

CREATE TABLE payments (
    payment_id BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id   BIGINT      NOT NULL,
    user_id    VARCHAR(64) NOT NULL,
    amount     BIGINT      NOT NULL,
    status     ENUM('COMPLETED', 'REFUNDED') NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY uq_payments_order (order_id)
) ENGINE=InnoDB;
