"""Retention run over N seeded rows (half past their time): `python -m tests.privacy.bench_retention URL N`.

Not a test (pytest does not collect it); results in docs/BENCHMARKS.md "Personal data".
"""
import sys
import time
from datetime import timedelta
from volunteer_hub import create_app
from volunteer_hub.db import db, utcnow, transaction
url = sys.argv[1]
app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x", "ID_HASH_KEY": "x",
                  "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI="})
N = int(sys.argv[2])
with app.app_context():
    from sqlalchemy import inspect, text
    if "users" in inspect(db.engine).get_table_names() and db.session.execute(
            text("SELECT COUNT(*) FROM users")).scalar():
        sys.exit("This database holds users: the benchmark empties its database; give another.")
    db.drop_all()
    db.create_all()
    from volunteer_hub.notify.models import OutboxMessage
    from volunteer_hub.accounts.models import IdempotencyRecord, User
    from volunteer_hub.privacy.models import PersonalDataAccess
    from volunteer_hub.privacy.retention import run_retention
    u = User(display_name="x", phone="13700000000"); db.session.add(u); db.session.commit()
    old = (utcnow() - timedelta(days=400)).replace(tzinfo=None)
    new = (utcnow() - timedelta(days=1)).replace(tzinfo=None)
    om = OutboxMessage.__table__
    db.session.execute(om.insert(), [dict(event_key=f"e{i}", recipient_id=u.id, channel="sms", subject="", locale="zh_Hans", urgent=False, attempts=0,
        status="sent", created_at=old if i % 2 else new) for i in range(N)])
    db.session.execute(IdempotencyRecord.__table__.insert(), [dict(scope="s", key=f"k{i}", method="POST", path="/", request_hash="h", status=201, body="",
        created_at=old if i % 2 else new) for i in range(N // 2)])
    db.session.execute(PersonalDataAccess.__table__.insert(), [dict(kind="id_reveal", subject_user_id=u.id, route="r",
        at=(utcnow() - timedelta(days=1200 if i % 2 else 10)).replace(tzinfo=None)) for i in range(N // 4)])
    db.session.commit()
    started = time.perf_counter()
    with transaction():
        run = run_retention(trigger="bench")
    print(url.split(":")[0], N, "rows seeded; run", round(time.perf_counter() - started, 2), "s", run.counts)
    db.drop_all()
