"""Dispatch of a call-out's SMS alerts through each SMS provider client, msg/s.

    python -m bench.mobilization.run --members 20000 --skip-intake --skip-board \\
        --dispatch --providers webhook,aliyun,tencent [--gateway-batch 100] [--workers 2]

The same alerts (each with the person's own short link, made at send time) are sent once per
provider: reset to pending between runs, through `--workers` real `volunteer-hub worker`
processes, to that provider's local server from the test suite (tests/sms/servers.py for
Alibaba Cloud and Tencent Cloud: each request's signature is recomputed and its template and
parameters checked, as in the tests; tests/notify/servers.py for the webhook). The time runs
from the server's first request until every alert row is 'sent'.

A batch means: the webhook's {"messages": [...]}, Alibaba Cloud's SendBatchSms (at most 100
numbers, a parameter set each); Tencent Cloud's SendSms takes many numbers but ONE parameter
set, so alerts with personal links go one request each whatever the batch size.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, update

PROVIDERS = ("webhook", "aliyun", "tencent")


def _servers(provider: str):
    """The local server of `provider` and the settings that point the workers at it."""
    from tests.sms.conftest import ALIYUN_CODES, TENCENT_IDS, tencent_wording, wording
    from tests.sms.servers import AliyunSms, TencentSms
    from volunteer_hub.sms.kinds import KINDS

    if provider == "aliyun":
        server = AliyunSms({ALIYUN_CODES[k.name]: wording(k) for k in KINDS}).start()
        return server, {"SMS_PROVIDER": "aliyun", "SMS_SIGN_NAME": server.sign_name,
                        "ALIYUN_SMS_ACCESS_KEY_ID": server.key_id,
                        "ALIYUN_SMS_ACCESS_KEY_SECRET": server.key_secret,
                        "ALIYUN_SMS_ENDPOINT": server.url,
                        "SMS_TEMPLATES": json.dumps({"aliyun": ALIYUN_CODES})}
    server = TencentSms({TENCENT_IDS[k.name]: tencent_wording(k) for k in KINDS}).start()
    return server, {"SMS_PROVIDER": "tencent", "SMS_SIGN_NAME": server.sign_name,
                    "TENCENT_SMS_SECRET_ID": server.secret_id,
                    "TENCENT_SMS_SECRET_KEY": server.secret_key,
                    "TENCENT_SMS_SDK_APP_ID": server.sdk_app_id,
                    "TENCENT_SMS_ENDPOINT": server.url,
                    "SMS_TEMPLATES": json.dumps({"tencent": TENCENT_IDS})}


def reset_alerts(db, condition) -> None:
    """The alerts pending again, as if just written (a run per provider sends the same)."""
    from volunteer_hub.notify.models import OutboxMessage, now

    db.session.execute(update(OutboxMessage).where(condition).values(
        status="pending", attempts=0, next_attempt_at=now(), claimed_by=None,
        claimed_until=None, provider_message_id=None, ack_deadline=None, sent_at=None,
        last_error=None, segments=None))
    db.session.commit()


def run_provider(app, db, condition, total: int, *, provider: str, workers: int,
                 batch_size: int, threads: int = 8, claim: int = 200) -> dict:
    from volunteer_hub.notify.models import OutboxMessage

    server, settings = _servers(provider)
    env = dict(os.environ, VOLUNTEER_HUB_DATABASE_URL=app.config["DATABASE_URL"],
               VOLUNTEER_HUB_SECRET_KEY=app.config["SECRET_KEY"],
               VOLUNTEER_HUB_ID_HASH_KEY=app.config["ID_HASH_KEY"],
               VOLUNTEER_HUB_DATA_ENCRYPTION_KEY=app.config["DATA_ENCRYPTION_KEY"],
               VOLUNTEER_HUB_EMERGENCY_BASE_URL=app.config["EMERGENCY_BASE_URL"],
               VOLUNTEER_HUB_SMS_RATE="0", VOLUNTEER_HUB_EMAIL_RATE="0",
               VOLUNTEER_HUB_NOTIFY_SEND_THREADS=str(threads),
               VOLUNTEER_HUB_SMS_BATCH=str(batch_size),
               **{f"VOLUNTEER_HUB_{key}": value for key, value in settings.items()})
    env.pop("VOLUNTEER_HUB_SMS_GATEWAY_URL", None)
    exe = str(Path(sys.executable).with_name("volunteer-hub"))
    processes = [subprocess.Popen([exe, "worker", "--batch", str(claim)], env=env,
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(f"/tmp/vh-sms-worker-{i}.log", "w"))
                 for i in range(workers)]
    sent = select(func.count()).where(OutboxMessage.status == "sent", condition)
    try:
        while not server.requests:
            if any(p.poll() is not None for p in processes):
                raise SystemExit("a worker died: see /tmp/vh-sms-worker-*.log")
            time.sleep(0.005)
        started = time.perf_counter()
        while True:
            db.session.commit()
            if db.session.execute(sent).scalar_one() == total:
                break
            if server.refused:
                raise SystemExit(f"{provider} refused: {server.refused[:3]}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        server.stop()
    return {"messages": total, "seconds": elapsed, "per_second": total / elapsed,
            "requests": server.requests, "delivered": len(server.sent)}
