"""The dispatcher: claim due outbox rows, send them outside any transaction, record results.

Delivery guarantee: at-least-once toward providers, made exactly-once by idempotent
receivers. A worker claims a batch in one short transaction (PostgreSQL: `SELECT ... FOR
UPDATE SKIP LOCKED`, so any number of workers on any number of machines share the queue
without waiting on each other; SQLite: one worker, the same code without SKIP LOCKED), marks
the rows 'sending' with a lease (`claimed_until`, also stored in `next_attempt_at`) and a
claim token, and commits. It then sends without holding a transaction and records every
result in a second transaction, guarded by the claim token so a worker whose lease ran out
cannot overwrite the newer claim. If the worker dies between claim and record, its rows
become due again when the lease ends and another worker sends them again with the same
idempotency key (the outbox id): the SMS gateway and the SMTP receiver drop the copy. The
lease must comfortably exceed the time to send one batch.

Retries: a transient failure waits base * 2^(attempts-1) seconds (30 s, 60 s, ... capped at
1 h); after `max_attempts` claims the row is 'dead' (admins can list and retry it) and the
next channel is tried. A permanent failure ('failed') falls back at once.

Circuit breakers (channels.CircuitBreaker, one per channel): a provider that stops answering
pauses its channel after a few requests in a row got no answer. Its messages are then neither
claimed nor sent, and those already claimed go back to 'pending' without counting an attempt,
so the other channels keep the send threads; after a cool-down one probe request tries again.
Waiting is bounded: a message still deferred once it is older than its retries would have
lasted (the backoff schedule up to `max_attempts`) is given up as 'dead' and falls back to the
next channel, as it would have without the breaker (a hung SMS gateway must not keep a
call-out's alerts from ever reaching e-mail or the inbox).

Web Push: the claim also reads the recipients' live subscriptions, so the channel sends
without the database; what each push service answered is recorded with the results
(404/410: the subscription is gone and is not used again).
"""
from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from volunteer_hub.db import db, is_postgresql, transaction
from volunteer_hub.notify import fanout, registry, services
from volunteer_hub.notify.channels import (
    DEFERRED, Channel, CircuitBreaker, Outgoing, PushTarget, Result, TokenBucket, sms_segments,
)
from volunteer_hub.notify.models import OutboxMessage, PushSubscription, claimable, now

log = logging.getLogger(__name__)
table = OutboxMessage.__table__


def build_channels(config: services.Settings, app=None) -> dict[str, Channel]:
    """A sender for every declared channel the server is set up for (registry)."""
    built = {name: spec.build(config, app) for name, spec in registry.SPECS.items()}
    return {name: channel for name, channel in built.items() if channel is not None}


class Dispatcher:
    """One worker process's dispatcher; call its methods inside an app context."""

    def __init__(self, app, *, batch: int | None = None, threads: int | None = None,
                 channels: dict[str, Channel] | None = None):
        self.app = app
        self.config = services.settings(app)
        self.batch = batch or self.config.batch
        self.channels = (channels if channels is not None
                         else build_channels(self.config, app))
        self.buckets = {name: TokenBucket(spec.rate(self.config))
                        for name, spec in registry.SPECS.items()
                        if spec.rate(self.config) is not None}
        self.breakers = {name: CircuitBreaker(
            name, app.config["NOTIFY_BREAKER_FAILURES"],
            float(app.config["NOTIFY_BREAKER_COOL_DOWN_SECONDS"])) for name in self.channels}
        self.pool = ThreadPoolExecutor(max_workers=threads or self.config.send_threads,
                                       thread_name_prefix="notify-send")
        self.worker_id = uuid.uuid4().hex[:12]
        self.stopping = threading.Event()
        self.last_expiry_check = 0.0

    # -- claim ------------------------------------------------------------------------------
    def claim(self) -> tuple[str, list[Outgoing]]:
        """Claim up to `batch` due rows and commit; returns the claim token and the messages."""
        moment = now()
        lease = moment + timedelta(seconds=self.config.lease_seconds)
        token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
        query = (select(table.c.id, table.c.event_key, table.c.channel, table.c.address,
                        table.c.subject, table.c.body, table.c.locale, table.c.recipient_id,
                        table.c.urgent, table.c.link, table.c.ref_id)
                 .where(claimable(), table.c.next_attempt_at <= moment)
                 .order_by(table.c.next_attempt_at, table.c.id).limit(self.batch))
        paused = self.paused_channels()
        if paused:  # their messages wait in the outbox, the batch goes to the others
            query = query.where(table.c.channel.not_in(paused))
        if is_postgresql():  # the one place the engines differ: workers skip each other's rows
            query = query.with_for_update(skip_locked=True)
        with transaction():  # short: on SQLite it holds the write lock (BEGIN IMMEDIATE)
            rows = db.session.execute(query).all()
            if rows:
                db.session.execute(
                    update(table).where(table.c.id.in_([r.id for r in rows]))
                    .values(status="sending", claimed_by=token, claimed_until=lease,
                            next_attempt_at=lease, attempts=table.c.attempts + 1))
            targets = self._push_targets([r.recipient_id for r in rows
                                          if registry.get(r.channel).live_rule is not None])
            # Shared texts and links, read in this transaction: none stays open while
            # sending, and a failure here leaves the rows unclaimed.
            texts = fanout.render(rows)
        prefix = self.config.idempotency_prefix
        return token, [Outgoing(id=r.id, channel=r.channel, address=r.address,
                                subject=shown.subject, body=shown.body, locale=r.locale,
                                idempotency_key=f"{prefix}{r.id}", urgent=bool(r.urgent),
                                link=shown.link, event_key=r.event_key,
                                push_targets=tuple(targets.get(r.recipient_id, ())))
                       for r, shown in zip(rows, texts)]

    def paused_channels(self) -> list[str]:
        return sorted(name for name, breaker in self.breakers.items()
                      if not breaker.accepting())

    def _push_targets(self, user_ids: list[int]) -> dict[int, list[PushTarget]]:
        if not user_ids:
            return {}
        subscriptions = db.session.execute(
            select(PushSubscription.id, PushSubscription.user_id, PushSubscription.endpoint,
                   PushSubscription.p256dh, PushSubscription.auth)
            .where(PushSubscription.user_id.in_(set(user_ids)),
                   PushSubscription.gone_at.is_(None))
            .order_by(PushSubscription.id)).all()
        targets: dict[int, list[PushTarget]] = {}
        for s in subscriptions:
            targets.setdefault(s.user_id, []).append(PushTarget(s.id, s.endpoint, s.p256dh,
                                                                s.auth))
        return targets

    # -- send -------------------------------------------------------------------------------
    def _send_one(self, message: Outgoing) -> Result:
        if registry.get(message.channel).delivered_on_commit:
            return Result(ok=True, delivered=True)
        channel = self.channels.get(message.channel)
        if channel is None:
            return Result(ok=False, permanent=True,
                          error=f"channel {message.channel} is not configured")
        breaker = self.breakers[message.channel]
        if not breaker.allow():
            return DEFERRED
        bucket = self.buckets.get(message.channel)
        if bucket is not None:
            bucket.take()
        try:
            result = channel.send(message)
        except Exception as error:  # a channel bug must not kill the batch
            log.exception("notify: sending %s failed", message.id)
            result = Result(ok=False, error=f"{type(error).__name__}: {error}")
        breaker.record(answered=not result.unanswered)
        return result

    def _send_batch(self, messages: list[Outgoing]) -> list[Result]:
        """Messages of one batching channel in one request."""
        channel = self.channels[messages[0].channel]
        breaker = self.breakers[channel.name]
        if not breaker.allow():
            return [DEFERRED] * len(messages)
        bucket = self.buckets.get(channel.name)
        if bucket is not None:
            bucket.take(len(messages))
        try:
            results = channel.send_many(messages)
        except Exception as error:  # a channel bug must not kill the batch
            log.exception("notify: sending %s messages failed", len(messages))
            results = [Result(ok=False, error=f"{type(error).__name__}: {error}")] * len(
                messages)
        breaker.record(answered=not all(result.unanswered for result in results))
        return results

    def _requests(self, messages: list[Outgoing]) -> list[list[Outgoing]]:
        """The claimed messages as the requests that send them: one message each, except
        on a channel that takes batches."""
        requests, batched = [], {}
        for message in messages:
            channel = self.channels.get(message.channel)
            if channel is not None and channel.batch_size > 1:
                batched.setdefault(message.channel, []).append(message)
            else:
                requests.append([message])
        for name, group in batched.items():
            size = self.channels[name].batch_size
            bucket = self.buckets.get(name)
            if bucket is not None and bucket.rate > 0:  # one request never outruns the limit
                size = max(1, min(size, int(bucket.capacity)))
            requests += [group[i:i + size] for i in range(0, len(group), size)]
        return requests

    def _send_request(self, request: list[Outgoing]) -> list[Result]:
        if len(request) == 1:
            return [self._send_one(request[0])]
        return self._send_batch(request)

    def send(self, messages: list[Outgoing]) -> list[tuple[Outgoing, Result]]:
        requests = self._requests(messages)
        return [(message, result) for request, results in
                zip(requests, self.pool.map(self._send_request, requests))
                for message, result in zip(request, results)]

    # -- record -----------------------------------------------------------------------------
    def record(self, token: str, results: list[tuple[Outgoing, Result]]) -> None:
        """Store results in one transaction; rows claimed by someone else meanwhile are left."""
        moment = now()
        deadlines = {name: moment + timedelta(seconds=spec.receipt_timeout(self.config))
                     for name, spec in registry.SPECS.items()}
        sent, delivered, deferred, others = [], [], [], []
        deferred_messages = {}
        for message, result in results:
            segments = (sms_segments(message.body)
                        if registry.get(message.channel).billed_in_segments else None)
            if result.ok and result.delivered:
                delivered.append({"b_id": message.id, "b_provider": result.provider_message_id,
                                  "b_segments": segments})
            elif result.deferred:
                deferred.append({"b_id": message.id})
                deferred_messages[message.id] = message
            elif result.ok:
                sent.append({"b_id": message.id, "b_provider": result.provider_message_id,
                             "b_segments": segments,
                             "b_deadline": deadlines[message.channel]
                             if result.awaits_receipt else None})
            else:
                others.append((message, result))
        claimed = (table.c.id == bindparam("b_id")) & (table.c.claimed_by == token) & (
            table.c.status == "sending")
        with transaction():
            if sent:
                db.session.execute(
                    update(table).where(claimed).values(
                        status="sent", sent_at=moment, provider_message_id=bindparam("b_provider"),
                        segments=bindparam("b_segments"),
                        ack_deadline=bindparam("b_deadline"), last_error=None,
                        claimed_until=None, next_attempt_at=None),
                    sent, execution_options={"synchronize_session": False})
            if delivered:
                db.session.execute(
                    update(table).where(claimed).values(
                        status="delivered", sent_at=moment, delivered_at=moment,
                        provider_message_id=bindparam("b_provider"),
                        segments=bindparam("b_segments"), claimed_until=None,
                        next_attempt_at=None),
                    delivered, execution_options={"synchronize_session": False})
            overdue = self._waited_too_long(list(deferred_messages), moment)
            deferred = [row for row in deferred if row["b_id"] not in overdue]
            for message_id in sorted(overdue):
                self._record_failure(token, deferred_messages[message_id], Result(
                    ok=False, error=f"{DEFERRED.error} longer than its retries would last"),
                    moment, give_up=True)
            if deferred:  # due again at once; claims skip the channel while it is paused
                db.session.execute(
                    update(table).where(claimed).values(
                        status="pending", attempts=table.c.attempts - 1, claimed_until=None,
                        next_attempt_at=moment, last_error=DEFERRED.error),
                    deferred, execution_options={"synchronize_session": False})
            for message, result in others:
                self._record_failure(token, message, result, moment)
            # What the push services said is true whoever owns the row now: always kept.
            services.record_push_outcomes(
                [o for _message, result in results for o in result.push_outcomes], moment)

    def _waited_too_long(self, message_ids: list[int], moment) -> set[int]:
        """The deferred messages older than their whole retry schedule."""
        if not message_ids:
            return set()
        patience = sum((services.backoff(attempt, self.config.backoff_base,
                                         self.config.backoff_cap)
                        for attempt in range(1, self.config.max_attempts)), timedelta())
        return set(db.session.execute(select(table.c.id).where(
            table.c.id.in_(message_ids), table.c.created_at < moment - patience)).scalars())

    def _record_failure(self, token: str, message: Outgoing, result: Result, moment, *,
                        give_up: bool = False) -> None:
        row = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.id == message.id,
                                        OutboxMessage.claimed_by == token,
                                        OutboxMessage.status == "sending")
        ).scalar_one_or_none()
        if row is None:
            return  # the lease ran out and another worker owns the row now
        row.last_error = (result.error or "unknown error")[:2000]
        row.claimed_until = None
        if result.permanent:
            row.status, row.next_attempt_at = "failed", None
        elif give_up or row.attempts >= self.config.max_attempts:
            row.status, row.next_attempt_at = "dead", None
        else:
            row.status = "pending"
            row.next_attempt_at = moment + services.backoff(
                row.attempts, self.config.backoff_base, self.config.backoff_cap)
            return
        log.warning("notify: message %s %s: %s", row.id, row.status, row.last_error)
        db.session.flush()
        services.fallback(row, row.last_error)

    # -- loops ------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim, send and record one batch; returns how many messages it handled."""
        token, messages = self.claim()
        if messages:
            self.record(token, self.send(messages))
        return len(messages)

    def check_acknowledgements(self, every: float = 5.0) -> int:
        if time.monotonic() - self.last_expiry_check < every:
            return 0
        self.last_expiry_check = time.monotonic()
        with transaction():
            return services.expire_unacknowledged()

    def drain(self) -> int:
        """Send everything due now, then return the number handled (`worker --once`)."""
        total = 0
        self.check_acknowledgements(every=0)
        while not self.stopping.is_set():
            handled = self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    def run_forever(self, idle: float = 1.0) -> None:
        while not self.stopping.is_set():
            try:
                self.check_acknowledgements()
                handled = self.run_once()
            except Exception:  # the database may be restarting: wait and go on
                log.exception("notify: dispatcher loop failed; retrying")
                db.session.remove()
                handled = 0
                self.stopping.wait(idle * 5)
            if handled == 0:
                self.stopping.wait(idle)

    def stop(self, *_args) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for channel in self.channels.values():
            channel.close()
