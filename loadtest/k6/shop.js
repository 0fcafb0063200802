// What the three scripts share: the shop's URL, the data set, one judged call per request.
// Stages and thresholds are not here: `python -m loadtest k6` generates them (k6 --config) from
// loadtest/traffic/profiles.py and loadtest/slo/thresholds/<scenario>.toml, as the locust gate.
import http from "k6/http";
import { check } from "k6";
import { SharedArray } from "k6/data";

export const BASE = __ENV.BASE_URL || "http://127.0.0.1:8081";
export const USERS = parseInt(__ENV.USERS || "100000", 10);
export const COUPON_ID = __ENV.COUPON_ID || "test-coupon-1";
// Business rejections each request may meet (loadtest/traffic/contract.py REJECTIONS).
const REJECTIONS = JSON.parse(__ENV.REJECTIONS || "{}");

// A rejection is an expected answer, not a failed request (locust counts them apart too).
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

// Bearer tokens of test-user-1..USERS (index n-1), minted by `python -m loadtest k6` with the
// load-test tools' own secret, as locust's users send them: a shop that authenticates wants one.
const TOKENS = new SharedArray("tokens", () => JSON.parse(open(__ENV.TOKENS_FILE)));

export function anyUser() {
  return `test-user-${1 + Math.floor(Math.random() * USERS)}`;
}

// POST `body` to `path` as request `name`, signed in as test user `user`; the answer's body when
// the contract's fields hold, null for a business rejection (its code in `last.code`) or a
// failure (the check fails). `idempotent` sends a fresh Idempotency-Key, as a careful client does.
export const last = { code: "" };
export function post(path, name, body, fields, { user, idempotent = false }) {
  const headers = {
    "Content-Type": "application/json",
    Authorization: `Bearer ${TOKENS[parseInt(user.slice("test-user-".length), 10) - 1]}`,
  };
  if (idempotent) headers["Idempotency-Key"] = crypto.randomUUID();
  const res = http.post(`${BASE}${path}`, JSON.stringify(body), { headers, tags: { name } });
  let answer = null;
  try {
    answer = res.json();
  } catch (e) {
    answer = null;
  }
  last.code = res.status >= 400 && answer ? answer.code : "";
  const rejected = res.status >= 400 && res.status < 500 && (REJECTIONS[name] || []).includes(last.code);
  check(res, { [`${name} per contract`]: () => rejected || (res.status === 200 && answer !== null && fields(answer)) }, { name });
  return res.status === 200 ? answer : null;
}
