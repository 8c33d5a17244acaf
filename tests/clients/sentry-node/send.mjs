// Sends one exception with the official @sentry/node SDK to the DSN given as argv[2].
// @sentry/node puts auth in the query string and streams the body (chunked, no length).
import * as Sentry from "@sentry/node";

const [dsn, marker] = process.argv.slice(2);
Sentry.init({ dsn, release: "node-app@2.0.0", environment: "test", defaultIntegrations: false });
Sentry.setUser({ id: "node-user-7", email: "grace@example.com" });
Sentry.setTag("marker", marker);
Sentry.addBreadcrumb({ category: "job", message: "processing order", level: "info" });

function chargeCard(order) {
  throw new TypeError(`card declined for order ${order}`);
}

try {
  chargeCard(1234);
} catch (error) {
  const id = Sentry.captureException(error);
  console.log(id);
}
const flushed = await Sentry.flush(10000);
process.exit(flushed ? 0 : 1);
