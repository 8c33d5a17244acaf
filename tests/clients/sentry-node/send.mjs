// Sends with the official @sentry/node SDK to the DSN given as argv[2]:
//   node send.mjs DSN MARKER          one exception
//   node send.mjs DSN MARKER LEVEL    a message (captureMessage) at LEVEL, then a log record
//   node send.mjs DSN MARKER secrets  one exception carrying secrets in extra data and tags
// and prints the event id. @sentry/node puts auth in the query string and streams the body
// (chunked, no length).
import * as Sentry from "@sentry/node";

const [dsn, marker, level] = process.argv.slice(2);
Sentry.init({ dsn, release: "node-app@2.0.0", environment: "test", defaultIntegrations: false });
Sentry.setUser({ id: "node-user-7", email: "grace@example.com" });
Sentry.setTag("marker", marker);
Sentry.addBreadcrumb({ category: "job", message: "processing order", level: "info" });

function chargeCard(order) {
  throw new TypeError(`card declined for order ${order}`);
}

if (level === "secrets") {
  Sentry.setExtra("password", `pw-${marker}`);
  Sentry.setExtra("request_line", `GET /pay?api_key=ak-${marker}&amount=3`);
  Sentry.setExtra("payment", { cardNumber: `cn-${marker}`, card: "4111 1111 1111 1111" });
  Sentry.setTag("upstream_auth", `Bearer bt${marker}0123456789`);
  try {
    chargeCard(1234);
  } catch (error) {
    console.log(Sentry.captureException(error));
  }
} else if (level) {
  console.log(Sentry.captureMessage(`queue ${marker} is backing up`, level));
  Sentry.logger.info(`log record ${marker}`);
} else {
  try {
    chargeCard(1234);
  } catch (error) {
    console.log(Sentry.captureException(error));
  }
}
const flushed = await Sentry.flush(10000);
process.exit(flushed ? 0 : 1);
