"""Delivering notifications: each (notification, channel) pair is claimed in the database, sent
with a timeout and a bounded number of attempts with back-off, and its outcome logged (status,
attempts, response code, error). Channels are sent concurrently, each in its own thread, so a
slow or failing one never delays the others."""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import psycopg
import urllib3

from logsight.alerting.channels import SPECS
from logsight.alerting.channels.base import Email, HttpPost, Outgoing
from logsight.alerting.http import GuardedClient, Refused, parse_networks
from logsight.alerting.message import Notice
from logsight.alerting.secret_box import SecretBox, SecretBoxError
from logsight.config import Settings
from logsight.storage import alerts as writes

log = logging.getLogger(__name__)
MAX_PARALLEL = 16


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # "sent" or "failed"
    attempts: int
    response_code: int | None = None
    error: str | None = None


class _Retryable(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Sender:
    """Sends one rendered request, retrying what may succeed later (timeouts, connection
    errors, 429 and 5xx); a refused destination or another answer is final."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = GuardedClient(
            parse_networks(settings.alerts_allowed_networks), settings.alerts_http_timeout_seconds
        )
        self._sleep = sleep
        self._ses: Any = None

    def send(self, outgoing: Outgoing) -> Outcome:
        attempts = self.settings.alerts_delivery_attempts
        wait = self.settings.alerts_retry_backoff_seconds
        last = Outcome("failed", 0, None, "not attempted")
        for attempt in range(1, attempts + 1):
            try:
                code = self._once(outgoing)
                return Outcome("sent", attempt, code)
            except Refused as exc:
                return Outcome("failed", attempt, None, f"refused: {exc}")
            except _Retryable as exc:
                last = Outcome("failed", attempt, exc.code, str(exc))
            except _Final as exc:
                return Outcome("failed", attempt, exc.code, str(exc))
            if attempt < attempts:
                self._sleep(wait)
                wait *= 2
        return last

    def _once(self, outgoing: Outgoing) -> int | None:
        if isinstance(outgoing, HttpPost):
            return self._post(outgoing)
        self._email(outgoing)
        return None

    def _post(self, request: HttpPost) -> int:
        try:
            response = self.client.post(request.url, request.body, request.headers)
        except urllib3.exceptions.TimeoutError as exc:
            raise _Retryable(
                f"timed out after {self.settings.alerts_http_timeout_seconds}s"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise _Retryable(f"connection failed: {type(exc).__name__}") from exc
        code = response.status
        if 200 <= code < 300:
            return code
        detail = response.body[:200].decode("utf-8", "replace")
        if 300 <= code < 400:
            raise _Final(f"HTTP {code}: redirects are not followed", code)
        if code == 429 or code >= 500:
            raise _Retryable(f"HTTP {code}: {detail}", code)
        raise _Final(f"HTTP {code}: {detail}", code)

    def _email(self, email: Email) -> None:
        if self.settings.alerts_email_transport == "ses":
            self._send_ses(email)
            return
        message = EmailMessage()
        message["From"] = self.settings.alerts_email_from
        message["To"] = ", ".join(email.to)
        message["Subject"] = email.subject
        message.set_content(email.text)
        try:
            with smtplib.SMTP(
                self.settings.smtp_host,
                self.settings.smtp_port,
                timeout=self.settings.alerts_http_timeout_seconds,
            ) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise _Final(f"SMTP {exc.smtp_code}", exc.smtp_code) from exc
            raise _Retryable(f"SMTP {exc.smtp_code}", exc.smtp_code) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _Retryable(f"SMTP: {type(exc).__name__}: {exc}") from exc

    def _send_ses(self, email: Email) -> None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        if self._ses is None:
            self._ses = boto3.client("ses")
        try:
            self._ses.send_email(
                Source=self.settings.alerts_email_from,
                Destination={"ToAddresses": email.to},
                Message={
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code in ("Throttling", "ServiceUnavailable"):
                raise _Retryable(f"SES: {code}") from exc
            raise _Final(f"SES: {code}") from exc
        except BotoCoreError as exc:
            raise _Retryable(f"SES: {type(exc).__name__}") from exc


class _Final(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def render(row: dict[str, Any], box: SecretBox, settings: Settings) -> Outgoing:
    spec = SPECS[row["type"]]
    secret = box.open(row["secret"]) if row["secret"] is not None else {}
    return spec.render(Notice.model_validate(row["payload"]), row["config"], secret, settings)


class Deliverer:
    def __init__(self, settings: Settings, box: SecretBox, sender: Sender | None = None) -> None:
        self.settings = settings
        self.box = box
        self.sender = sender or Sender(settings)

    def _deliver_one(self, row: dict[str, Any]) -> Outcome:
        try:
            outgoing = render(row, self.box, self.settings)
        except SecretBoxError as exc:
            return Outcome("failed", 0, None, str(exc))
        except Exception as exc:  # a stored channel the current code cannot render
            log.exception("cannot render delivery %s", row["id"])
            return Outcome("failed", 0, None, f"cannot render: {type(exc).__name__}")
        return self.sender.send(outgoing)

    def run(
        self, conn: psycopg.Connection, notification_ids: list[UUID] | None = None
    ) -> dict[int, Outcome]:
        """Claim and send the pending deliveries (of these notifications, or all)."""
        claimed = writes.claim_deliveries(conn, notification_ids)
        if not claimed:
            return {}
        outcomes: dict[int, Outcome] = {}
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(claimed))) as pool:
            futures = {pool.submit(self._deliver_one, row): row["id"] for row in claimed}
            # Logged as each finishes, by this thread alone (the connection is not shared).
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[futures[future]] = outcome
                writes.finish_delivery(
                    conn,
                    futures[future],
                    status=outcome.status,
                    attempts=outcome.attempts,
                    response_code=outcome.response_code,
                    error=outcome.error,
                )
        return outcomes
