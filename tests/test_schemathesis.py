"""A bounded, seeded property-based run over the whole OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid, as an admin and anonymously,
against a small demo district; no answer may be a server error or differ from the documented
response schemas. The figures are printed (pytest -s) for the record.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import empty_all_tables
from volunteer_hub.accounts import services as accounts
from volunteer_hub.accounts.models import ApiToken, RoleGrant
from volunteer_hub.db import db
from volunteer_hub.demo import build_demo
from volunteer_hub.extensions import limiter
from volunteer_hub.orgs.models import Org

# Requests per operation and generation mode; SCHEMATHESIS_EXAMPLES raises it for a longer run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance, response_headers_conformance]


@dataclass
class Tally:
    operations: int = 0
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict = field(default_factory=dict)  # (operation, check) -> first example
    failing_cases: Counter = field(default_factory=Counter)  # by check

    def record(self, label: str, case, error: BaseException) -> None:
        for failure in getattr(error, "exceptions", [error]):
            kind = type(failure).__name__
            self.failing_cases[kind] += 1
            self.failures.setdefault((label, kind), f"{case.as_curl_command()}\n{failure}")


@pytest.fixture(scope="module")
def district(app):
    """The demo district, small: orgs, teams, a flood plan, beneficiaries with needs."""
    with app.app_context():
        empty_all_tables(db.engine)
        build_demo(volunteers=40, seed=11)
        db.session.commit()
    yield
    with app.app_context():
        db.session.remove()
        empty_all_tables(db.engine)


class Admin:
    """The city admin's bearer header, restored when a generated request revoked the token
    or the role grant (both are reachable by ids the generator tries)."""

    def __init__(self):
        self.user_id = self.token_id = None
        self.headers = {}

    def ensure(self) -> dict:
        token = db.session.get(ApiToken, self.token_id) if self.token_id else None
        granted = self.user_id and db.session.execute(db.select(RoleGrant).filter_by(
            user_id=self.user_id, role="admin")).first()
        if token is None or token.revoked_at is not None or not granted or not token.user.active:
            self._new_admin()
        return self.headers

    def _new_admin(self) -> None:
        city = db.session.execute(db.select(Org).filter_by(level="city")).scalars().first()
        user = accounts.create_user(display_name="schemathesis admin",
                                    password="schemathesis-2026",
                                    phone=f"1990000{self.token_id or 0:04d}"[-11:])
        accounts.grant_role(user, city, "admin", by=None)
        record, token = accounts.create_token(user, "schemathesis")
        db.session.commit()
        self.user_id, self.token_id = user.id, record.id
        self.headers = {"Authorization": f"Bearer {token}"}


def _run(app, as_admin: bool) -> Tally:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    tally, admin = Tally(), Admin()
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations += 1
        for mode in MODES:
            _run_operation(operation, mode, tally, admin if as_admin else None)
    return tally


def _run_operation(operation, mode, tally: Tally, admin: Admin | None) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def each(case):
        headers = admin.ensure() if admin else {}
        limiter.reset()  # the login limit would turn the rest of a run into 429s
        response = case.call(headers=headers)
        tally.cases += 1
        tally.statuses[f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (FailureGroup, Failure) as error:  # collected: the run goes on
            tally.record(operation.label, case, error)
        finally:
            db.session.rollback()

    try:
        each()
    except Unsatisfiable:  # nothing to make invalid: an operation without any input
        assert mode is GenerationMode.NEGATIVE, operation.label


def _report(engine: str, caller: str, tally: Tally) -> str:
    failing = tally.failing_cases
    return (f"schemathesis {engine} as {caller}: {tally.operations} operations, "
            f"{tally.cases} cases, statuses {dict(sorted(tally.statuses.items()))}, "
            f"server errors {failing['ServerError']}, response-schema violations "
            f"{failing['JsonSchemaError']}, all failing checks {dict(failing)}")


@pytest.mark.parametrize("caller", ["admin", "anonymous"])
def test_every_operation_holds_under_generated_requests(app, district, caller):
    with app.app_context():
        tally = _run(app, as_admin=caller == "admin")
        print("\n" + _report(db.engine.dialect.name, caller, tally))
    details = "\n\n".join(f"{label} [{kind}]\n{example}"
                          for (label, kind), example in sorted(tally.failures.items()))
    assert not tally.failures, details
