// The original's charge test: first ten hot users (the per-user lock under contention), then
// charges spread over every user. HOT_SECONDS (scaled) is when the spread begins.
import { sleep } from "k6";
import exec from "k6/execution";
import { anyUser, post } from "./shop.js";

const HOT_SECONDS = parseFloat(__ENV.HOT_SECONDS || "60");

export default function () {
  const hot = (Date.now() - exec.scenario.startTime) / 1000 < HOT_SECONDS;
  const userId = hot ? `test-user-${1 + Math.floor(Math.random() * 10)}` : anyUser();
  const amount = 1000 + Math.floor(Math.random() * 9001);
  post(`/api/users/${userId}/balance/charge`, "/api/users/{userId}/balance/charge", { amount },
    (b) => b.userId === userId && b.chargedAmount === amount && b.currentBalance === b.previousBalance + b.chargedAmount,
    { user: userId, idempotent: true });
  sleep(0.1 + Math.random() * 0.2);
}
