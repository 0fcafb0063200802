// The original's coupon test: many users racing for one coupon of limited quantity.
import { sleep } from "k6";
import { COUPON_ID, anyUser, post } from "./shop.js";

export default function () {
  const userId = anyUser();
  post(`/api/coupons/${COUPON_ID}/issue`, "/api/coupons/{couponId}/issue", { userId },
    (b) => b.couponId === COUPON_ID && b.userId === userId && b.userCouponId !== undefined && b.remainingQuantity >= 0,
    { user: userId });
  sleep(0.2 + Math.random() * 0.4);
}
