// The original's order test: add to cart, one in ten with a coupon, order; no think time.
import { COUPON_ID, anyUser, last, post } from "./shop.js";

export default function () {
  const userId = anyUser();
  const productId = `test-product-${1 + Math.floor(Math.random() * 10)}`;
  const added = post("/api/cart/items", "/api/cart/items", { userId, productId, quantity: 1 },
    (b) => b.productId === productId && b.subtotal === b.price * b.quantity, { user: userId });
  if (added === null) return;
  const order = { userId };
  if (Math.random() < 0.1) {
    const issued = post(`/api/coupons/${COUPON_ID}/issue`, "/api/coupons/{couponId}/issue", { userId },
      (b) => b.couponId === COUPON_ID && b.remainingQuantity >= 0, { user: userId });
    if (issued !== null || last.code === "C006") order.couponId = COUPON_ID;
  }
  post("/api/orders", "/api/orders", order,
    (b) => b.status === "PAID" && b.items.length > 0 && b.finalAmount === b.totalAmount - b.discountAmount,
    { user: userId, idempotent: true });
}
